import FoundationEssentials

/// What the ChatGLM family's chat formats share: the `[Round N]` text of ChatGLM-6B and ChatGLM2 with its turn rule,
/// the roles of the role-token chats (ChatGLM3, GLM-4), and their `process_response`.
enum ChatRoles {
    /// Messages alternate user and assistant, starting and ending with user (the `[Round N]` chats, which have no
    /// system prompt).
    static func checkTurns(_ messages: [ChatMessage], model: String) throws(ChatFormatError) {
        for (index, message) in messages.enumerated() {
            let expected = index % 2 == 0 ? "user" : "assistant"
            guard message.role == expected else {
                throw ChatFormatError(
                    description: "message \(index) has role \"\(message.role)\"; \(model)'s chat takes user and "
                        + "assistant messages in turn, starting and ending with user (it has no system prompt)")
            }
        }
        guard messages.count % 2 == 1 else {
            throw ChatFormatError(description: "the last message must be the user's (the model answers it)")
        }
    }

    /// The `[Round N]` text of `build_prompt`: each earlier exchange as `[Round i]{s}问：{q}{s}答：{a}{s}` and the
    /// question as `[Round n]{s}问：{q}{s}答：`, rounds counted from `firstRound`, `{s}` the `separator` (ChatGLM-6B:
    /// from 0 with one newline; ChatGLM2: from 1 with two). Messages as `checkTurns` requires.
    static func roundsText(_ messages: [ChatMessage], firstRound: Int, separator s: String) -> String {
        var text = ""
        for round in 0..<(messages.count / 2) {
            text +=
                "[Round \(firstRound + round)]\(s)问：\(messages[2 * round].content)\(s)答："
                + "\(messages[2 * round + 1].content)\(s)"
        }
        return text + "[Round \(firstRound + messages.count / 2)]\(s)问：\(messages[messages.count - 1].content)\(s)答："
    }

    static let roles: Set<String> = ["system", "user", "assistant", "observation"]

    /// Every role is one of `roles`; the model answers the last message, which is the user's or an observation.
    static func check(_ messages: [ChatMessage], model: String) throws(ChatFormatError) {
        for (index, message) in messages.enumerated() where !roles.contains(message.role) {
            throw ChatFormatError(
                description: "message \(index) has role \"\(message.role)\"; \(model)'s chat takes system, user, "
                    + "assistant and observation messages")
        }
        guard let last = messages.last, last.role == "user" || last.role == "observation" else {
            throw ChatFormatError(description: "the last message must be the user's (the model answers it)")
        }
    }

    /// ChatGLM2's `process_response`: trimmed, `[[训练时间]]` as `2023年`.
    static func trimmed(_ answer: String) -> String {
        let text = String(answer.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        return text.replacing("[[训练时间]]", with: "2023年")
    }

    /// ChatGLM3's and GLM-4's `process_response` for a plain answer: the part after the last `<|assistant|>`; a
    /// first line there is metadata (a tool's name), and without one the content is trimmed. A tool call keeps its
    /// content as generated.
    static func roleResponse(_ answer: String) -> String {
        let response =
            answer.split(separator: "<|assistant|>", omittingEmptySubsequences: false).last.map(String.init) ?? answer
        guard let newline = response.firstIndex(of: "\n") else { return trimmed(response) }
        let metadata = response[..<newline]
        let content = String(response[response.index(after: newline)...])
        return metadata.allSatisfy(\.isWhitespace) ? trimmed(content) : content
    }
}
