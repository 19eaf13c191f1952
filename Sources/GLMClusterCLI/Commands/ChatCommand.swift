import ArgumentParser
import Distributed
import Generation

/// `glmcluster chat`: an interactive chat with a chat model on rank 0's terminal, under any `mpirun`.
struct ChatCommand: ClusterCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a chat model (ChatGLM) on the terminal.",
        discussion: """
            Each line is a message; answers stream as they are generated, in the model's official chat format with \
            the history kept. /reset clears the history, /exit or the end of input ends the chat, Ctrl-C stops the \
            answer being generated. Unset sampling options take the model's chat defaults.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var cluster: ClusterOptions
    @OptionGroup var generation: GenerationOptionGroup

    func execute() throws {
        let session = try ClusterSession(model: model.source, cluster: cluster.settings(job: "chat"))
        let console = session.isCoordinator ? TerminalChatConsole() : nil
        defer { console?.close() }
        try session.chat(settings: generation.settings(over: session.generationDefaults), console: console)
    }
}
