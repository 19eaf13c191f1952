// Generation module placeholder
