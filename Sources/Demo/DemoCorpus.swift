/// An original bilingual (English and Chinese) corpus for training the tiny SentencePiece models of the project's
/// demo and test checkpoints: one sentence per line, varied topics, digits and punctuation. Written for this
/// project; it is training data for a toy tokenizer, not a benchmark.
public enum DemoCorpus {
    /// One sentence per line.
    public static let text = """
        The kettle clicked off just as the first light reached the kitchen window.
        Maria keeps her bicycle in the hallway because the shed leaks when it rains.
        A cluster of computers can share one large model by splitting every matrix into slices.
        The ferry to the island leaves at 7:45 and returns shortly after noon.
        Our neighbour grows tomatoes, beans, and a surprising number of pumpkins.
        Please close the door quietly; the baby has only just fallen asleep.
        The museum opens a new exhibition about ancient maps next Thursday.
        He measured the flour twice, but the bread still came out flat.
        Every token in the prompt attends to every other token before generation starts.
        The river rose by almost two metres after three days of heavy rain.
        She wrote the report in the morning and checked the numbers after lunch.
        Small models are useful for tests because they load in a fraction of a second.
        The old lighthouse has been turned into a café with a view of the harbour.
        If the train is late again, we will take the bus to the conference.
        Children in the village learn to swim in the lake during the summer.
        The recipe asks for 250 grams of rice, two onions, and a pinch of salt.
        A good map shows not only the roads but also the hills between them.
        Why does the sky look red at sunset? Because blue light is scattered away.
        The library lends tools as well as books: drills, ladders, and sewing machines.
        We counted 48 birds on the wire, then a truck passed and they all flew off.
        The program reads a configuration file, checks every field, and reports the first error.
        My grandmother tells the same story every winter, and we still laugh at the ending.
        The mountain path is steep, narrow, and covered with loose stones.
        A teacher asked the class to describe the colour of the sea without using the word blue.
        The store on the corner sells fresh bread until eight in the evening.
        Engineers tested the bridge by driving twenty loaded trucks across it at once.
        When the power went out, the whole street gathered around a single candle.
        The first version of the software crashed whenever the input file was empty.
        Tea grows best on slopes where the mist lingers in the morning.
        The cat ignored the expensive toy and played with the cardboard box instead.
        There are 365 days in a common year and 366 in a leap year.
        The orchestra tuned their instruments while the audience found their seats.
        A thin layer of ice formed on the pond during the night.
        Students often study in the reading room until the lights are switched off.
        The farmer repaired the fence before the sheep discovered the gap.
        Weights are stored in half precision, so each number takes two bytes.
        On Sundays the market fills the square with fruit, flowers, and music.
        The pilot announced that we would land twenty minutes early.
        Nobody knew who had left the umbrella on the bench by the fountain.
        The spacecraft sent back pictures of a moon covered in frozen craters.
        A careful cook tastes the soup before adding more salt.
        The museum guard has worked there for thirty-one years.
        Rain drummed on the tin roof all night long.
        Please send the invoice to the address printed at the top of this letter.
        The puzzle has 1000 pieces, and half of them are the same shade of grey.
        The doctor recommended walking for half an hour every day.
        Our team fixed the bug by checking the length of the buffer before copying.
        The wind carried the smell of pine trees down into the valley.
        In autumn the maple leaves turn orange, then red, then brown.
        The bakery's owner wakes up at four to prepare the dough.
        He forgot his keys, his wallet, and, somehow, one of his shoes.
        The bus driver waited for the old man who was running across the road.
        Light travels about 300,000 kilometres in a single second.
        A quiet evening with a good book is my idea of a holiday.
        The coach told the players to keep their eyes on the ball.
        Snow fell softly on the roofs of the sleeping town.
        The gardener planted tulips in rows of twelve along the path.
        Scientists measured the temperature of the lake at ten different depths.
        The printer jammed again, so I copied the notes by hand.
        Two friends shared an umbrella and still arrived soaked.
        The new road will connect the port with the northern villages.
        Every morning the fishermen mend their nets on the beach.
        The child asked how many stars there are, and nobody could answer.
        The hotel room was small but clean, with a window facing the sea.
        She speaks English at work, Chinese at home, and French with her cousins.
        A sudden storm forced the sailors to return to the harbour.
        The encyclopedia on the top shelf is older than the house itself.
        The engine starts slowly on cold mornings.
        Good documentation explains why the code does something, not only what it does.
        The volunteers planted five hundred trees along the river bank.
        At midnight the city was quiet except for the sound of a distant train.
        The professor drew a long curve on the blackboard and asked what it meant.
        My phone battery lasts two days if I do not watch videos.
        The children built a snowman with a carrot nose and stone buttons.
        The shop was closed for repairs, so we bought apples at the market instead.
        A dictionary lists words; a grammar explains how to put them together.
        The lantern swayed in the wind and threw long shadows across the yard.
        Each layer of the network normalises its input before the attention step.
        The painter mixed yellow and blue until the green looked exactly like spring grass.
        On the third day of the journey we finally saw the mountains.
        The firefighters arrived within five minutes of the call.
        He practises the piano for an hour before dinner.
        The soup was too hot, so we waited and talked about the weather.
        Water boils at 100 degrees Celsius at sea level.
        The path through the forest is marked with small white stones.
        The waiter brought two cups of coffee and a plate of biscuits.
        This sentence has commas, semicolons; colons: and a question mark?
        Is the meeting on Monday or on Tuesday?
        Yes! The results arrived this morning, and they look excellent.
        The seeds need warmth, water, and patience.
        A long queue formed outside the cinema before the premiere.
        The old clock in the station has not been wrong in forty years.
        The map was drawn by hand in 1872 and is still surprisingly accurate.
        The hikers shared their last sandwich at the top of the hill.
        Her first novel tells the story of a lighthouse keeper and his daughter.
        The tide comes in twice a day and covers the rocks completely.
        The server answered every request in less than ten milliseconds.
        Please remember to water the plants while I am away.
        The students argued about the experiment until the bell rang.
        A fox crossed the field at dawn and disappeared into the hedge.
        The company moved its office to a quieter part of the city.
        Every spring the swallows return to the same barn.
        The translation kept the meaning but lost the rhythm of the poem.
        The mechanic listened to the engine and smiled: it was only a loose belt.
        The runners started at nine, and the fastest finished before ten.
        The cake recipe came from a notebook that belonged to my great-aunt.
        The valley was filled with fog, and only the church tower rose above it.
        A tiny model with random weights still follows the same rules as a large one.
        The model predicts the next word from all the words that came before it.
        The tokenizer splits text into pieces and maps each piece to a number.
        The scientist wrote her results in a small green notebook.
        The park closes at sunset, but the gates are rarely locked.
        Four students, three teachers, and one dog went on the school trip.
        The road was blocked by fallen trees after the storm.
        An apple a day may not keep the doctor away, but it is a good snack.
        The stars were so bright that we could see the path without a torch.
        The harvest festival begins with a parade through the main street.
        The student solved the equation and then checked it by substitution.
        A kind stranger helped us carry our luggage up the stairs.
        The radio played old songs while we cleaned the kitchen.
        The ship's captain kept a detailed log of every voyage.
        The machine sorts letters by reading the postal code on each envelope.
        The violin was older than the musician who played it.
        It took the team six months to build the first prototype.
        The frost painted feathers of ice on the window pane.
        The village well has fresh water even in the driest summer.
        She smiled, waved, and disappeared into the crowd.
        The numbers 2, 4, 8, 16, and 32 are all powers of two.
        The hospital opened a new wing for children last year.
        The kite climbed higher and higher until it was only a dot.
        A broken link on the website sent visitors to an empty page.
        The ancient wall stretches for thousands of kilometres across the hills.
        We watched the fireworks from the roof of our building.
        Dinner is at seven, so please do not be late.
        The carpenter measured the wood three times before cutting it once.
        The mountain lake is so clear that you can see the fish from the shore.
        The manual says to restart the device after every update.
        Bees visit hundreds of flowers to make a single spoonful of honey.
        The lecture was long, but the examples made it easy to follow.
        The desert is cold at night even though the days are very hot.
        He wrote a letter to his future self and sealed it in a tin box.
        The lamp on my desk is the only light in the room.
        The chef sliced the vegetables thinly and fried them quickly.
        The clouds parted and the sun lit up the whole valley.
        Our train passed fields of yellow flowers for over an hour.
        The post office is next to the bank, opposite the pharmacy.
        Reading before bed helps me fall asleep more easily.
        The boat drifted slowly towards the sandy shore.
        A single mistake in the index shifted every value by one position.
        The sum of the angles in a triangle is 180 degrees.
        My brother collects stamps from countries he has never visited.
        The choir sang in the cathedral, and the echo lasted for seconds.
        The shop assistant wrapped the gift in bright red paper.
        Thick smoke rose from the chimney of the cottage.
        The hedgehog curled into a ball when the dog came near.
        The cyclists rested under a tree and shared a bottle of water.
        The old bridge was closed, so the detour added ten kilometres.
        The festival lanterns were shaped like fish, birds, and flowers.
        The library's oldest book is kept in a glass case.
        The software update fixed the clock but broke the calendar.
        A warm wind blew across the fields and dried the wet laundry.
        The rabbit nibbled the lettuce at the edge of the garden.
        The students prepared a short play for the end of the term.
        Someone left a note on the fridge: buy milk, eggs, and rice.
        Each checkpoint file holds one slice of every weight matrix.
        The attention heads are divided equally among the processes.
        The results were identical on one, two, and four processes.
        The greedy strategy always picks the most likely next token.
        Sampling with a temperature makes the output more varied.
        The last sentence of the story surprised every reader.
        清晨的阳光照进厨房，水壶刚好烧开了。
        我们每周六早上去附近的市场买新鲜的蔬菜。
        这座城市的地铁四通八达，出行非常方便。
        下雨的时候，小猫总是躲在窗台下面睡觉。
        老师让同学们用三句话描述自己的家乡。
        图书馆周一到周五早上八点开门，晚上十点关门。
        他把自行车停在楼下，然后快步走进了办公室。
        这道菜需要两个鸡蛋、一勺盐和一点葱花。
        春天来了，公园里的桃花和樱花都开了。
        我们在山顶上看到了非常美丽的日出。
        妈妈每天晚上都会给孩子讲一个故事。
        这台电脑的内存不够，程序运行得很慢。
        今天的会议推迟到下午三点半。
        河边的柳树在风中轻轻摇摆。
        请把这封信寄到信封上写的地址。
        他学了五年中文，现在可以读报纸了。
        这个村子里的人都会做很好吃的面条。
        冬天的北方常常下大雪，路上很滑。
        火车晚点了四十分钟，大家都有些着急。
        小明的作业写得又快又好，老师表扬了他。
        这家书店里有很多关于历史和地理的书。
        周末我们一起去海边散步，看看大海。
        科学家在湖里测量了十个不同深度的水温。
        这个模型有两层，每层有四个注意力头。
        分词器把一句话切成若干片段，再把每个片段变成一个数字。
        模型根据前面所有的词来预测下一个词。
        奶奶在院子里种了西红柿、黄瓜和辣椒。
        一年有十二个月，每个月大约有三十天。
        他每天早上跑步半个小时，身体越来越好。
        我们的球队在比赛的最后一分钟进了一个球。
        夜晚的城市很安静，只能听到远处的火车声。
        这座桥已经有一百多年的历史了。
        学生们在教室里认真地做实验。
        秋天的时候，山上的树叶变成了红色和黄色。
        超市里的苹果今天特别便宜。
        姐姐会说英语、法语和一点日语。
        这条小路通向森林深处的一个湖。
        医生建议他多喝水，早点休息。
        我们在博物馆里看到了很多古代的地图。
        飞机将在二十分钟后降落，请系好安全带。
        这个程序先读取配置文件，再检查每一个字段。
        他打开窗户，让新鲜的空气进来。
        孩子们在雪地里堆了一个大雪人。
        这本小说讲的是一个灯塔看守人和他女儿的故事。
        农民们在秋天收获了很多稻谷。
        商店门口排起了长长的队伍。
        天空中飘着几朵白云，风很轻。
        你明天有空吗？我们一起去看电影吧！
        这个问题很难，但是我们一定能解决。
        她在日记里写下了今天发生的每一件事。
        从这里到火车站大约需要十五分钟。
        爷爷喜欢在茶馆里和朋友们下棋。
        小狗看到主人回家，高兴地跑了过去。
        我们把旧书送给了村里的小学。
        湖面上结了一层薄薄的冰。
        这个城市的夏天又热又潮湿。
        工程师们花了六个月做出了第一个样机。
        请在晚上七点以前把报告发给我。
        他忘了带钥匙，只好在门口等家人回来。
        每个检查点文件保存每个权重矩阵的一部分。
        注意力头被平均分配到各个进程上。
        在一个、两个和四个进程上得到的结果完全相同。
        贪心策略总是选择概率最大的下一个词。
        温度越高，生成的句子越多样。
        山里的空气很清新，晚上能看到很多星星。
        这家面包店每天凌晨四点开始做面包。
        我们在河边野餐，吃了三明治和水果。
        这条新路把港口和北方的村庄连在了一起。
        她一边听音乐，一边整理房间。
        雨下了一整夜，第二天早上河水涨了很多。
        这个游戏的规则很简单，但是很难赢。
        他把数字二、四、八、十六写在黑板上。
        老房子的墙上挂着一张很旧的照片。
        今天是晴天，气温二十五度，很适合出去玩。
        这只鸟每年春天都会飞回同一个屋檐下。
        他在信里说，他很想念家乡的饭菜。
        学校门口有一家小小的文具店。
        工人们正在修理被大风吹倒的树。
        我们坐船去了对面的小岛。
        这个软件更新以后，时钟正常了，日历却出了问题。
        一个小错误让所有的数据都向后移了一位。
        他把面粉称了两次，面包还是没有发起来。
        海边的渔民每天早上都在沙滩上补网。
        这座古城的城墙保存得非常完整。
        孩子问天上有多少颗星星，没有人能回答。
        我们在山脚下的一家小旅馆住了一晚。
        灯笼做成了鱼、鸟和花的形状。
        春节的时候，全家人一起包饺子。
        中秋节晚上，我们一边吃月饼一边赏月。
        这条河从山里流出来，一直流到大海。
        他的房间虽然很小，但是很干净。
        明天早上八点在学校门口集合。
        昨天的考试比我想象的容易一些。
        她用红色的纸把礼物包好，放在桌子上。
        小猫把毛线球推到了沙发底下。
        火车穿过一片片金黄色的油菜花田。
        我们在操场上放风筝，风筝飞得很高。
        他在公园的长椅上发现了一把雨伞。
        图书馆里最古老的书放在一个玻璃柜里。
        这位老师已经教了三十年的数学。
        早饭有豆浆、油条和一个煮鸡蛋。
        为什么天是蓝色的？因为空气把蓝光散射开了。
        这台机器能读出信封上的邮政编码，自动分拣信件。
        暴风雨过后，路上到处是倒下的树枝。
        他每天晚上练一个小时钢琴。
        医院去年新建了一栋儿童楼。
        我们在屋顶上看烟花，非常漂亮。
        这里的井水即使在最干旱的夏天也不会干。
        厨师把蔬菜切得很细，然后很快地炒好。
        说明书上写着，每次更新以后都要重新启动设备。
        蜜蜂要采几百朵花才能酿出一勺蜂蜜。
        沙漠里白天很热，晚上却很冷。
        他给未来的自己写了一封信，放进了铁盒里。
        书桌上的台灯是房间里唯一的光。
        云散开了，阳光照亮了整个山谷。
        邮局在银行旁边，对面是药店。
        睡前读书能让我更容易入睡。
        小船慢慢地漂向沙滩。
        三角形三个内角的和是一百八十度。
        哥哥收集了很多国家的邮票。
        合唱团在教堂里唱歌，回声持续了好几秒。
        小刺猬看到狗走过来，马上缩成了一个球。
        骑车的人在树下休息，分享一瓶水。
        旧桥关闭了，绕路要多走十公里。
        温暖的风吹过田野，把湿衣服吹干了。
        兔子在菜园边上啃生菜。
        学生们准备了一个小话剧，在期末演出。
        冰箱上贴着一张纸条：买牛奶、鸡蛋和大米。
        故事的最后一句话让每个读者都很惊讶。
        清华大学和北京大学都在北京的西北边。
        长江是中国最长的河流，全长六千多公里。
        这个城市有一千多万人口。
        我喜欢喝绿茶，他喜欢喝咖啡。
        今天下午有小雨，出门记得带伞。
        这家餐厅的饺子又大又好吃。
        他们在山上走了三个小时才到达山顶。
        这本书一共有三百二十页。
        她把笔记本电脑放进了背包里。
        我们用了两周时间才把这个问题找出来。
        每个人都应该学会游泳。
        The word 模型 means model, and 数据 means data.
        Mixed text such as GLM 模型 and 2048 个 tokens should also be handled.
        In Beijing the autumn is short, dry, and sunny. 北京的秋天很短，但是天气很好。
        She said “thank you” and he replied “不客气”.
        Prices rose by 3.5% last year, while wages rose by 2.1%.
        The password must have at least 8 characters, including a digit.
        Email me at the usual address, or call after 6 p.m.
        Chapter 12 explains matrices; chapter 13 explains vectors.
        The temperature dropped from 21°C to 4°C overnight.
        The train leaves from platform 9 at 10:15.
        Version 1.2.3 fixed three bugs and added two features.
        The box weighs 12.5 kg and measures 40 × 30 × 20 cm.
        Tsinghua University is located in Beijing, and Fudan University is in Shanghai.
        Quentin, Ursula, Xavier, Yolanda, Zachary, Jasmine and Kenji met at the Quiet Zebra Jazz Klub.
        Uppsala, Zurich, Kyoto, Jakarta, Quebec and Xiamen are cities on four continents.
        JSON, XML, UTF-8, GPU, CPU, MPI, BLAS and GLM are acronyms an engineer meets every week.
        The quick brown fox jumps over the lazy dog; THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.
        """
}
