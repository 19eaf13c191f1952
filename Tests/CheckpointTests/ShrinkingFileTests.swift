import Foundation
import Testing

@testable import Checkpoint

/// A mapped checkpoint file that another process truncates while it is read: the next read past the new end is a
/// SIGBUS, which must end the process with an error naming the file (exit status 1), not a crash.
@Suite struct ShrinkingFileTests {
    @Test func aFileTruncatedWhileMappedIsNamedNotACrash() async throws {
        let result = await #expect(processExitsWith: .exitCode(1), observing: [\.standardErrorContent]) {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("shrinking-\(getpid()).bin")
            try Data(repeating: 7, count: 1 << 20).write(to: url)
            let file = try MappedFile(path: url.path)
            #expect(file.bytes[1000] == 7)
            truncate(url.path, 4096)
            // Past the new end: the kernel raises SIGBUS.
            let value = file.bytes[1 << 19]
            print(value)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("shrinking-") && stderr.contains("changed while it was being read"), "\(stderr)")
    }
}
