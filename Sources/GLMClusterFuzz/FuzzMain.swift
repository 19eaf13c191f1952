import Basics
import FoundationEssentials
import FuzzTargets
import Glibc

/// `glmcluster-fuzz TARGET [FILE...]`: replays saved inputs through a fuzz target (a file that crashes it
/// reproduces the finding). Built by scripts/fuzz.sh with `-sanitize=fuzzer -DFUZZING`, it is the libFuzzer
/// binary instead: the target comes from GLMCLUSTER_FUZZ_TARGET, the tokenizer from GLMCLUSTER_FUZZ_MODEL, and
/// every argument is libFuzzer's.
@main
enum FuzzMain {
    static func main() throws {
        #if FUZZING
            let environment = ProcessInfo.processInfo.environment
            guard let name = environment["GLMCLUSTER_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
                fail("set GLMCLUSTER_FUZZ_TARGET to one of: \(targetNames)")
            }
            Fuzzing.target = target
            Fuzzing.context = try FuzzContext(model: environment["GLMCLUSTER_FUZZ_MODEL"].map(URL.init(fileURLWithPath:)))
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runLibFuzzer(&argc, &argv) { data, size in
                Fuzzing.target.run(UnsafeRawBufferPointer(start: data, count: size), context: Fuzzing.context)
                return 0
            })
        #else
            let arguments = CommandLine.arguments.dropFirst()
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
                fail("usage: glmcluster-fuzz TARGET [FILE...] (targets: \(targetNames))")
            }
            let model = ProcessInfo.processInfo.environment["GLMCLUSTER_FUZZ_MODEL"]
            let context = try FuzzContext(model: model.map(URL.init(fileURLWithPath:)))
            for path in arguments.dropFirst() {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                bytes.withUnsafeBytes { target.run($0, context: context) }
                print("\(path): no crash")
            }
        #endif
    }

    static let targetNames = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")

    static func fail(_ message: String) -> Never {
        StandardError.writeLine("Error: \(message)")
        exit(64)
    }
}

#if FUZZING
    /// The target and context of this process, set once before libFuzzer starts calling back.
    enum Fuzzing {
        nonisolated(unsafe) static var target = FuzzTarget.checkpoint
        nonisolated(unsafe) static var context = try! FuzzContext(model: nil)
    }

    /// libFuzzer's driver, for a binary whose `main` is its own (libclang_rt.fuzzer).
    @_silgen_name("LLVMFuzzerRunDriver")
    func runLibFuzzer(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32
#endif
