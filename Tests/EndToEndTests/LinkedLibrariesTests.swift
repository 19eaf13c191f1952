import Foundation
import Testing

/// The binary links FoundationEssentials but not full Foundation: libFoundation, libFoundationInternationalization
/// and ICU would cost each MPI rank about 6 MiB resident (docs/DESIGN.md). One `import Foundation` anywhere in
/// Sources (or in a new dependency) brings them back.
@Suite struct LinkedLibrariesTests {
    @Test func noFullFoundation() throws {
        let result = try CommandRunner.run("/usr/bin/env", ["ldd", CommandRunner.glmcluster], timeout: 60)
        try #require(result.status == 0, "ldd failed: \(result.stderr)")
        #expect(result.stdout.contains("libFoundationEssentials.so"), "\(result.stdout)")
        for library in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so"] {
            #expect(
                !result.stdout.contains(library),
                """
                \(library) is linked. If no file in Sources imports Foundation, the debug build may be stale: an \
                incremental build keeps the link entries of unchanged files compiled while another file of their \
                module still imported Foundation (rm -rf .build/debug/*.build and build again).
                \(result.stdout)
                """)
        }
    }
}
