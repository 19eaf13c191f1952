import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `glmcluster batch`: results equal to `generate` one prompt at a time, the same at TP=2, malformed lines
/// reported and skipped, and a job killed with SIGKILL at several points (and left with a torn last line) that,
/// rerun until done, holds exactly one line per id, equal to an uninterrupted run.
@Suite(.serialized) struct BatchCommandTests {
    static var model: String { BeamSearchTests.models["eos"]! }

    /// Twelve requests: greedy, seeded sampling, beams, [gMASK]/[MASK]/[sMASK], two blanks, per-line limits.
    static let inputLines: [String] = [
        #"{"id": 1, "prompt": "The capital of France is", "greedy": true, "max_new_tokens": 6}"#,
        #"{"id": "two", "prompt": "Tsinghua University is located in [MASK], China.", "num_beams": 3}"#,
        #"{"id": 3, "prompt": "[MASK] is the capital of France.", "temperature": 0.8, "top_k": 30, "seed": 3}"#,
        #"{"id": 4, "prompt": "The quick brown fox [MASK]", "greedy": true, "max_length": 20}"#,
        #"{"id": 5, "prompt": "A [MASK] and a [MASK] walk to school.", "seed": 5}"#,
        #"{"id": 6, "prompt": "The library opens early, and [sMASK] until late.", "greedy": true}"#,
        #"{"id": 7, "prompt": "清华大学位于中国北京", "top_p": 0.9, "seed": 7}"#,
        #"{"id": 8, "prompt": "Water boils at one hundred degrees", "num_beams": 2, "no_repeat_ngram_size": 2}"#,
        #"{"id": 9, "prompt": "The morning train leaves at seven [MASK]", "greedy": true, "max_new_tokens": 12}"#,
        #"{"id": 10, "prompt": "Rain falls on the [MASK] hills.", "seed": 10, "temperature": 1.2}"#,
        #"{"id": 11, "prompt": "Numbers: one two three", "greedy": true, "max_new_tokens": 10}"#,
        #"{"id": 12, "prompt": "Tell me about [MASK].", "seed": 12}"#,
    ]
    static let options = ["--max-new-tokens", "8", "--max-batch", "4", "--threads", "1"]

    static func writeInput(_ lines: [String], in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("input.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Output lines keyed by id, timings removed (they differ run to run) and beam scores rounded to 1e-3
    /// (fp32 sums in another order, e.g. at another TP degree, move them by about 1e-6).
    static func results(_ path: String) throws -> [String: String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var byId: [String: String] = [:]
        for line in text.split(separator: "\n") {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            object["timings"] = nil
            if let beams = object["beams"] as? [[String: Any]] {
                object["beams"] = beams.map { beam in
                    var beam = beam
                    beam["score"] = String(format: "%.3f", beam["score"] as! Double)
                    return beam
                }
            }
            let id = "\(object["id"]!)"
            #expect(byId[id] == nil, "id \(id) written twice")
            byId[id] = String(
                decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        return byId
    }

    static func batch(input: String, output: String, extra: [String] = []) throws -> CommandRunner.Result {
        try CommandRunner.glm(
            ["batch", "--model", model, "--input", input, "--output", output] + options + extra)
    }

    @Test func resultsEqualGenerateAndTensorParallelRuns() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-equal")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = try Self.writeInput(Self.inputLines, in: scratch)
        let output = scratch.appendingPathComponent("out.jsonl").path
        let run = try Self.batch(input: input, output: output)
        try #require(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("[batch] 12/12 done"))
        let results = try Self.results(output)
        #expect(results.count == 12)

        // Each answer equals `generate` with the same settings, one prompt alone.
        for (id, arguments) in [
            ("1", ["--prompt", "The capital of France is", "--greedy", "--max-new-tokens", "6"]),
            (
                "two",
                [
                    "--prompt", "Tsinghua University is located in [MASK], China.", "--num-beams", "3",
                    "--max-new-tokens", "8",
                ]
            ),
            (
                "3",
                [
                    "--prompt", "[MASK] is the capital of France.", "--temperature", "0.8", "--top-k", "30", "--seed",
                    "3", "--max-new-tokens", "8",
                ]
            ),
            ("5", ["--prompt", "A [MASK] and a [MASK] walk to school.", "--seed", "5", "--max-new-tokens", "8"]),
        ] {
            let alone = try CommandRunner.glm(["generate", "--model", Self.model, "--json"] + arguments)
            try #require(alone.status == 0, "\(alone.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any])
            let line = try #require(
                try JSONSerialization.jsonObject(with: Data(results[id]!.utf8)) as? [String: Any])
            #expect(line["answer"] as? String == report["answer_text"] as? String, "id \(id)")
            let blanks = try #require(report["blanks"] as? [[String: Any]])
            let ids = blanks.flatMap { $0["generated_ids"] as! [Int] }
            #expect(line["generated_ids"] as? [Int] == ids, "id \(id)")
        }

        // TP=2 under mpirun writes the same lines.
        let tpOutput = scratch.appendingPathComponent("out-tp2.jsonl").path
        let tp = try CommandRunner.mpirun(
            2, ["batch", "--model", Self.model, "--input", input, "--output", tpOutput] + Self.options)
        try #require(tp.status == 0, "\(tp.stderr)")
        #expect(try Self.results(tpOutput) == results)
    }

    @Test func malformedLinesAreReportedSkippedAndSummarised() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-malformed")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let lines = [
            Self.inputLines[0], "{not json", #"{"id": 2}"#, Self.inputLines[3],
            #"{"id": 9, "prompt": "x", "max_tokens": 4}"#,
            #"{"id": 10, "prompt": "\#(String(repeating: "long text ", count: 1200))"}"#,
        ]
        let input = try Self.writeInput(lines, in: scratch)
        let output = scratch.appendingPathComponent("out.jsonl").path
        let run = try Self.batch(input: input, output: output)
        #expect(run.status == 3, "\(run.stderr)")
        #expect(run.stderr.contains("input.jsonl:2: not valid JSON; skipped"))
        #expect(run.stderr.contains("input.jsonl:3: missing \"prompt\" (or \"messages\"); skipped"))
        #expect(run.stderr.contains("input.jsonl:5: unknown field \"max_tokens\""))
        #expect(run.stderr.contains("malformed input lines skipped: 2, 3, 5"))
        let results = try Self.results(output)
        #expect(Set(results.keys) == ["1", "4", "10"])
        #expect(results["10"]!.contains("\"error\":\"prompt too long"))
        // A rerun has nothing left to do: it does not even load the weights, and writes nothing.
        let again = try Self.batch(input: input, output: output)
        #expect(again.status == 3)
        #expect(again.stderr.contains("nothing to run, 3 results already in"))
        #expect(try Self.results(output) == results)
        // A missing input file fails at once, naming it, with nothing written.
        let missing = try Self.batch(input: scratch.appendingPathComponent("nope.jsonl").path, output: output)
        #expect(missing.status != 0 && missing.stderr.contains("nope.jsonl"))
    }

    /// Resuming after the input changed: an id whose line now asks for something else keeps its old result and is
    /// refused by name (it used to keep the stale result without a word); unchanged ids are skipped, new ids run.
    @Test func aChangedRequestIsRefusedOnResume() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-changed")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("out.jsonl").path
        let first = try Self.writeInput([Self.inputLines[0], Self.inputLines[3]], in: scratch)
        let run = try Self.batch(input: first, output: output)
        try #require(run.status == 0, "\(run.stderr)")
        let before = try Self.results(output)
        #expect(before.values.allSatisfy { $0.contains("\"request_fingerprint\"") })

        let changed = #"{"id": 4, "prompt": "The quick brown fox [MASK]", "greedy": true, "max_length": 24}"#
        let second = try Self.writeInput([Self.inputLines[0], changed, Self.inputLines[4]], in: scratch)
        let rerun = try Self.batch(input: second, output: output)
        #expect(rerun.status == 3, "\(rerun.stderr)")
        #expect(
            rerun.stderr.contains("input.jsonl:2: id 4 already has a result in \(output) for a different request"),
            "\(rerun.stderr)")
        let after = try Self.results(output)
        #expect(Set(after.keys) == ["1", "4", "5"])
        #expect(after["4"] == before["4"] && after["1"] == before["1"])
    }

    /// Lines that used to end the whole job or be computed wrongly are error lines now, and the other lines run:
    /// a temperature whose reciprocal overflows, a length penalty that makes beam scores infinite, a prompt of
    /// hundreds of kilobytes (refused before tokenizing, and echoed shortened).
    @Test func hostileLinesBecomeErrorLines() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-hostile")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let huge = String(repeating: "many words ", count: 60_000)
        let lines = [
            Self.inputLines[0], #"{"id": 2, "prompt": "hi", "temperature": 1e-50}"#,
            #"{"id": 3, "prompt": "hi", "num_beams": 2, "length_penalty": -200}"#,
            #"{"id": 4, "prompt": "\#(huge)"}"#,
        ]
        let input = try Self.writeInput(lines, in: scratch)
        let output = scratch.appendingPathComponent("out.jsonl").path
        let started = Date()
        let run = try Self.batch(input: input, output: output)
        #expect(run.status == 3 && Date().timeIntervalSince(started) < 30, "\(run.stderr)")
        let results = try Self.results(output)
        #expect(Set(results.keys) == ["1", "2", "3", "4"])
        #expect(results["1"]!.contains("\"answer\""))
        #expect(results["2"]!.contains("\"error\"") && results["2"]!.contains("temperature"), "\(results["2"]!)")
        #expect(results["3"]!.contains("length_penalty"), "\(results["3"]!)")
        #expect(results["4"]!.contains("bytes"), "\(results["4"]!.prefix(300))")
        #expect(results["4"]!.utf8.count < 6000, "the refused prompt is echoed in full")
    }

    /// Resuming with another model or other computing settings used to keep the old answers beside the new ones
    /// under one fingerprint: the model and its settings are part of each result's fingerprint now.
    @Test func resumingWithAnotherModelOrQuantizationIsRefused() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-other-model")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = try Self.writeInput(Array(Self.inputLines.prefix(2)), in: scratch)
        let output = scratch.appendingPathComponent("out.jsonl").path
        let first = try Self.batch(input: input, output: output)
        #expect(first.status == 0, "\(first.stderr)")
        let before = try String(contentsOfFile: output, encoding: .utf8)
        let quantized = try Self.batch(input: input, output: output, extra: ["--quantize", "int8"])
        #expect(quantized.status == 3, "\(quantized.stderr)")
        #expect(quantized.stderr.contains("for a different request"), "\(quantized.stderr)")
        #expect(try String(contentsOfFile: output, encoding: .utf8) == before, "the old results were changed")
        let same = try Self.batch(input: input, output: output)
        #expect(same.status == 0 && same.stderr.contains("nothing to run"), "\(same.stderr)")
    }

    /// An output that is the input, or holds lines that are not results, is refused: every request looked done.
    @Test func outputsThatAreNotResultFilesAreRefused() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-outputs")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = try Self.writeInput(Array(Self.inputLines.prefix(2)), in: scratch)
        let same = try Self.batch(input: input, output: input)
        #expect(same.status == 1 && same.stderr.contains("is the input file"), "\(same.stderr)")
        let link = scratch.appendingPathComponent("link.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: input)
        let linked = try Self.batch(input: input, output: link)
        #expect(linked.status == 1 && linked.stderr.contains("is the input file"), "\(linked.stderr)")
        let notResults = scratch.appendingPathComponent("out.jsonl").path
        try #"{"id": 1}"#.appending("\n").write(toFile: notResults, atomically: true, encoding: .utf8)
        let refused = try Self.batch(input: input, output: notResults)
        #expect(refused.status == 1 && refused.stderr.contains("is not a result line"), "\(refused.stderr)")
    }

    /// Two jobs on one output file: the second stops at once instead of running everything again beside the first.
    @Test func aSecondJobOnTheSameOutputStopsAtOnce() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-lock")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let output = scratch.appendingPathComponent("out.jsonl").path
        let input = try Self.writeInput(Self.inputLines, in: scratch)
        let first = Process()
        first.executableURL = URL(fileURLWithPath: CommandRunner.glmcluster)
        first.arguments =
            ["batch", "--model", Self.model, "--input", input, "--output", output, "--quiet"]
            + Self.options + ["--max-new-tokens", "200"]
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { first.terminate() } }
        // The first job holds the lock once its output file exists and it has read its input.
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: output) && Date() < deadline { usleep(20_000) }
        usleep(300_000)
        let started = Date()
        let second = try Self.batch(input: input, output: output)
        #expect(second.status != 0 && Date().timeIntervalSince(started) < 10, "\(second.stderr)")
        #expect(second.stderr.contains("another batch job is writing \(output)"), "\(second.stderr)")
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        #expect(try Self.results(output).count == Self.inputLines.count)
    }

    @Test func killedAtSeveralPointsAndRerunEqualsAnUninterruptedRun() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-kill")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = try Self.writeInput(Self.inputLines, in: scratch)
        let reference = scratch.appendingPathComponent("reference.jsonl").path
        let uninterrupted = try Self.batch(input: input, output: reference, extra: ["--max-batch", "3"])
        try #require(uninterrupted.status == 0, "\(uninterrupted.stderr)")
        let expected = try Self.results(reference)

        let output = scratch.appendingPathComponent("out.jsonl").path
        // Kill after 0 (while loading), 2, 5 and 9 complete lines, then once more after adding a torn line.
        for killAfter in [0, 2, 5, 9] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandRunner.glmcluster)
            process.arguments =
                ["batch", "--model", Self.model, "--input", input, "--output", output, "--quiet"]
                + Self.options + ["--max-batch", "3"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning && Date() < deadline {
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                if text.filter({ $0 == "\n" }).count >= killAfter { break }
                usleep(2_000)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let partial = try Self.results(output)
        #expect(partial.count < 12, "the kills came too late to interrupt anything")
        // A write cut short: half a line at the end.
        let handle = try #require(FileHandle(forWritingAtPath: output))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"id": 12, "answer": "half"#.utf8))
        try handle.close()

        let finish = try Self.batch(input: input, output: output)
        try #require(finish.status == 0, "\(finish.stderr)")
        #expect(finish.stderr.contains("cut a torn last line"))
        #expect(finish.stderr.contains("already in"))
        #expect(try Self.results(output) == expected)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.hasSuffix("}\n") && text.split(separator: "\n").count == 12)
    }

    /// deploy/slurm/glmcluster-batch.sbatch outside Slurm (mpirun launcher, a stub `scontrol`): USR1 (Slurm's
    /// time-limit warning) stops the step and requeues the job; the restarted script finishes the file.
    @Test func slurmScriptRequeuesOnTheTimeLimitAndResumes() throws {
        let scratch = try CommandRunner.temporaryDirectory("batch-slurm")
        defer { try? FileManager.default.removeItem(at: scratch) }
        // Enough work (24 requests of 16 tokens, two at a time) that the signal lands mid-job. The reference runs
        // at TP=1 and the script at TP=2: top-k 20 keeps sampling away from the random model's thousands of
        // exactly tied zero-embedding tokens, where fp32 rounding of the hidden state (which differs between TP
        // degrees by ~1e-6) can move a draw to the neighbouring tied id.
        let lines = (1...24).map {
            #"{"id": \#($0), "prompt": "Request \#($0) [MASK]", "seed": \#($0), "top_k": 20, "max_new_tokens": 16}"#
        }
        let input = try Self.writeInput(lines, in: scratch)
        let reference = scratch.appendingPathComponent("reference.jsonl").path
        try #require(try Self.batch(input: input, output: reference, extra: ["--max-batch", "2"]).status == 0)
        let output = scratch.appendingPathComponent("out.jsonl").path
        let calls = scratch.appendingPathComponent("scontrol-calls").path
        let stub = scratch.appendingPathComponent("scontrol").path
        try "#!/bin/sh\necho \"$@\" >> \(calls)\n".write(toFile: stub, atomically: true, encoding: .utf8)
        chmod(stub, 0o755)
        let script = CommandRunner.packageRoot.appendingPathComponent("deploy/slurm/glmcluster-batch.sbatch").path

        let log = scratch.appendingPathComponent("script.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        func start(restart: Int) throws -> Process {
            let process = Process()
            // The test runner's children inherit some signals as ignored, and a shell cannot trap a signal
            // ignored on entry; env restores the defaults first (under Slurm they are not ignored).
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["--default-signal", "/bin/bash", script]
            var environment = ProcessInfo.processInfo.environment
            environment.merge(
                [
                    "INPUT": input, "OUTPUT": output, "MODEL_DIR": Self.model, "GLMCLUSTER": CommandRunner.glmcluster,
                    "LAUNCHER": "mpirun", "SCONTROL": stub, "SLURM_JOB_ID": "42", "SLURM_NTASKS": "2",
                    "SLURM_CPUS_PER_TASK": "1", "SLURM_RESTART_COUNT": "\(restart)",
                    "BATCH_ARGS": "--max-new-tokens 8 --max-batch 2 --quiet",
                    "MPIRUN_ARGS": "--allow-run-as-root --oversubscribe --bind-to none --hostfile "
                        + CommandRunner.packageRoot.appendingPathComponent("hostfiles/localhost").path,
                ], uniquingKeysWith: { $1 })
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            let handle = FileHandle(forWritingAtPath: log)!
            handle.seekToEndOfFile()
            process.standardError = handle
            try process.run()
            return process
        }

        let first = try start(restart: 0)
        let deadline = Date().addingTimeInterval(120)
        while first.isRunning && Date() < deadline {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if text.contains("\n") { break }
            usleep(5_000)
        }
        kill(first.processIdentifier, SIGUSR1)
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        let scriptLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(FileManager.default.fileExists(atPath: calls), "no requeue; the script's log:\n\(scriptLog)")
        #expect(try String(contentsOfFile: calls, encoding: .utf8) == "requeue 42\n")
        #expect(try Self.results(output).count < 24)

        let second = try start(restart: 1)
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        let (got, expected) = (try Self.results(output), try Self.results(reference))
        #expect(got.count == expected.count)
        for (id, line) in expected where got[id] != line {
            Issue.record("id \(id): \(got[id] ?? "missing") vs \(line)")
        }
        #expect(try String(contentsOfFile: calls, encoding: .utf8) == "requeue 42\n")
    }
}
