import Coordination
import GLM
import Generation
import Tokenization

/// Where an interactive chat's messages come from and its answers go: the coordinator's terminal.
public protocol ChatConsole: AnyObject {
    /// Whether answers stream as they are generated (a person reading), or come whole, post-processed as the
    /// official `chat()` returns them (a script reading).
    var streamsAnswers: Bool { get }
    /// The user's next message, as typed; nil ends the chat (end of input).
    func readMessage() -> String?
    /// More of the answer being generated.
    func write(answer text: String)
    /// The answer is complete (or stopped).
    func endAnswer()
    /// A line about the session (history cleared, a message the model cannot take).
    func note(_ text: String)
    /// Whether the user asked to stop the answer (Ctrl-C) since the previous call.
    func takeStopRequest() -> Bool
    /// Why the chat cannot go on (its input or output failed), once `readMessage` has returned nil for it.
    var failure: String? { get }
}

/// Rank 0's decision after reading the terminal: the next request, or the end of the chat (with the error that
/// ended it, if one did).
struct ChatTurn: Codable, WireMessage {
    var request: GenerationRequest?
    var failure: String?
}

extension ClusterSession {
    /// An interactive chat on the model's official chat format: rank 0 reads messages from `console` and streams
    /// the answers to it, keeping the history (`/reset` clears it, `/exit` or the end of input ends the chat);
    /// every rank computes each answer in lockstep. A stop request (Ctrl-C) ends the answer being generated, not
    /// the chat: rank 0 shares it with every rank after each token. `console` is used on rank 0 only.
    public func chat(settings: GenerationSettings, console: ChatConsole?) throws {
        // A model without a chat format is refused before its weights load.
        try runtime.agree("checking the chat format") {
            if let tokenizer { _ = try tokenizer.chatPrompt([ChatMessage(role: "user", content: "")]) }
        }
        let model = try loadModel()
        let filler = blankFiller(model)
        var history: [ChatMessage] = []
        while true {
            var question = ""
            var prompt: BlankPrompt?
            let read = runtime.waitForCoordinator("waiting for the next message") { () -> ChatTurn in
                guard let console, let tokenizer else { return ChatTurn(request: nil, failure: nil) }
                while let line = console.readMessage() {
                    let text = String(line.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
                    switch text {
                    case "": continue
                    case "/exit": return ChatTurn(request: nil, failure: nil)
                    case "/reset":
                        history.removeAll()
                        console.note("(history cleared)")
                        continue
                    default: break
                    }
                    do {
                        let built = try tokenizer.checkedChatPrompt(
                            history + [ChatMessage(role: "user", content: text)],
                            maxSequenceLength: configuration.maxSequenceLength)
                        question = text
                        prompt = built
                        return ChatTurn(
                            request: GenerationRequest(prompt: built, options: settings.options), failure: nil)
                    } catch {
                        console.note("\(error); /reset clears the history")
                    }
                }
                return ChatTurn(request: nil, failure: console.failure)
            }
            let turn = coordinator.share { read! }
            if let failure = turn.failure { throw ClusterError.failedOnRanks(phase: "chatting", errors: [0: failure]) }
            guard let request = turn.request else { return }
            let answer = try answer(
                request, prompt: prompt ?? request.prompt, model: model, filler: filler, console: console)
            if let answer {
                history += [
                    ChatMessage(role: "user", content: question), ChatMessage(role: "assistant", content: answer),
                ]
            }
        }
    }

    /// Generates one answer token by token, streaming it to `console` on rank 0; returns the answer as the
    /// history keeps it (rank 0 only).
    private func answer(
        _ request: GenerationRequest, prompt: BlankPrompt, model: GLMModel, filler: BlankFiller, console: ChatConsole?
    ) throws -> String? {
        let task = try filler.makeTask(prompt: prompt, options: request.options)
        let sampling = task as? SamplingTask
        let special = filler.special
        var shown = ""
        func text(_ ids: [Int]) -> String {
            tokenizer?.detokenize(ids.filter { !special.endTokens.contains($0) }) ?? ""
        }
        runtime.setPhase("answering")
        var lastTokens: [Int] = []
        while !task.isFinished {
            try task.consume(model.forward(batch: task.nextSegments()))
            if let sampling, !sampling.tokensSoFar.isEmpty { lastTokens = sampling.tokensSoFar }
            if let console, console.streamsAnswers, sampling != nil {
                // Held back until more tokens come: a partial character (a byte-fallback piece decodes as U+FFFD
                // until its last byte arrives) and trailing spaces (decoding joins " ." into ".").
                var partial = Substring(text(lastTokens))
                while let last = partial.last, last == "\u{FFFD}" || last.isWhitespace { partial.removeLast() }
                if partial.hasPrefix(shown), partial.count > shown.count {
                    console.write(answer: String(partial.dropFirst(shown.count)))
                    shown = String(partial)
                }
            }
            let stop = coordinator.share { console?.takeStopRequest() ?? false }
            if stop { break }
        }
        guard let console, let tokenizer else { return nil }
        let raw = task.result.map { $0.answer.answer } ?? text(lastTokens)
        let response = tokenizer.chatResponse(raw)
        if !console.streamsAnswers {
            console.write(answer: response)
        } else if raw.hasPrefix(shown) {
            console.write(answer: String(raw.dropFirst(shown.count)))
        }
        console.endAnswer()
        return response
    }
}
