import Configuration
import Foundation
import ModelLoading
import TestSupport
import Testing

/// Where a model comes from: config.json or the preset, and the errors that name the directory and its option.
@Suite struct ModelSourceTests {
    @Test func theFixturesConfigurationComesFromItsFile() throws {
        let source = ModelSource(path: Fixture.checkpointDirectory.path)
        #expect(try source.configuration() == Fixture.configuration)
        #expect(source.configurationSource == Fixture.checkpointDirectory.appendingPathComponent("config.json").path)
        let store = try source.weightStore(for: source.configuration())
        #expect(try ModelSource.isQuantized(store) == false)
        let fingerprint = try store.fingerprint()
        #expect(fingerprint.hasPrefix("checkpoint (iteration 49300; mp_rank_00_model_states.pt "), "\(fingerprint)")
        // The real size, which ranks with different files would see differently.
        let size = try FileManager.default.attributesOfItem(
            atPath: Fixture.checkpointDirectory.appendingPathComponent("49300/mp_rank_00_model_states.pt").path)[.size]
        #expect(fingerprint.contains(" \(size!) bytes") && !fingerprint.contains("-1 bytes"), "\(fingerprint)")
    }

    @Test func aMissingDirectoryIsNamedWithItsOption() {
        for option in ["--model", "--from"] {
            let source = ModelSource(path: "/nonexistent/model", optionName: option)
            #expect(throws: ModelDirectoryError.self) { try source.configuration() }
            do { _ = try source.configuration() } catch {
                #expect("\(error)" == "\(option) /nonexistent/model: no such directory")
            }
        }
    }

    @Test func aDirectoryWithoutConfigurationTakesThePresetOrAsksForIt() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("source-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        do {
            _ = try ModelSource(path: empty.path).configuration()
            Issue.record("opened a directory without config.json or preset")
        } catch {
            #expect("\(error)".contains("config.json") && "\(error)".contains("--preset glm-130b"))
        }
        #expect(throws: ConfigurationError.unknownPreset("glm-7b")) {
            try ModelSource(path: empty.path, preset: "glm-7b").configuration()
        }
        let preset = ModelSource(path: empty.path, preset: "glm-130b")
        #expect(try preset.configuration() == .glm130B)
        #expect(preset.configurationSource == "preset glm-130b")
    }
}
