import Coordination
import Foundation
import Generation
import Testing
import Tokenization

/// Generation settings: what the options turn into, every validation message, and a request's fields over the job's
/// settings (as batch lines and server requests use them).
@Suite struct GenerationSettingsTests {
    @Test func defaultsAreTheOfficialScriptsSampling() {
        let options = GenerationSettings().options
        #expect(options.sampling == SamplingParameters(temperature: 1, topK: 0, topP: 0.7, seed: 1234))
        #expect(options.maxLength == nil && options.maxNewTokens == nil && options.beamSearch == nil)
    }

    @Test func greedyAndBeamSearchBecomeTheirParameters() {
        var settings = GenerationSettings()
        settings.greedy = true
        #expect(settings.options.sampling == .greedy)
        settings.greedy = false
        settings.numBeams = 4
        settings.lengthPenalty = 0.5
        settings.noRepeatNgramSize = 2
        settings.minGenLength = 3
        #expect(
            settings.options.beamSearch
                == BeamSearchParameters(beams: 4, lengthPenalty: 0.5, noRepeatNgramSize: 2, minGenLength: 3))
    }

    static let invalid: [(String, @Sendable (inout GenerationSettings) -> Void)] = [
        (
            "use either --max-length or --max-new-tokens, not both",
            {
                $0.maxLength = 10; $0.maxNewTokens = 5
            }
        ),
        ("--max-length must be positive, got 0", { $0.maxLength = 0 }),
        ("--max-new-tokens must not be negative, got -1", { $0.maxNewTokens = -1 }),
        ("--temperature must be positive, got 0.0", { $0.temperature = 0 }),
        ("--temperature must be positive, got nan", { $0.temperature = .nan }),
        ("--temperature must be a finite number (at most 3.4028235e+38), got inf", { $0.temperature = .infinity }),
        ("--num-beams must be at most 256, got 257", { $0.numBeams = 257 }),
        ("--top-k must not be negative, got -2", { $0.topK = -2 }),
        ("--top-p must be in [0, 1], got 1.5", { $0.topP = 1.5 }),
        ("--num-beams must be at least 1, got 0", { $0.numBeams = 0 }),
        (
            "--greedy and --num-beams exclude each other",
            {
                $0.numBeams = 2; $0.greedy = true
            }
        ),
        ("--no-repeat-ngram-size must not be negative, got -1", { $0.noRepeatNgramSize = -1 }),
        ("--min-gen-length must not be negative, got -3", { $0.minGenLength = -3 }),
        ("--length-penalty must be a number in [-20, 20], got inf", { $0.lengthPenalty = .infinity }),
        ("--length-penalty must be a number in [-20, 20], got -200.0", { $0.lengthPenalty = -200 }),
        (
            "--temperature must be at least 0.0001, got 9.5367431640625e-07; --greedy draws the most likely token",
            {
                $0.temperature = 1.0 / 1024 / 1024
            }
        ),
    ]

    @Test(arguments: 0..<invalid.count)
    func everyInvalidValueNamesItsOption(index: Int) {
        var settings = GenerationSettings()
        Self.invalid[index].1(&settings)
        #expect(throws: GenerationSettingsError(description: Self.invalid[index].0)) { try settings.validate() }
    }

    @Test func aRequestsLengthLimitReplacesBothOfTheJobs() throws {
        var job = GenerationSettings()
        job.maxNewTokens = 8
        var request = RequestParameters()
        request.maxLength = 64
        let options = try job.options(overriddenBy: request)
        #expect(options.maxLength == 64 && options.maxNewTokens == nil)
    }

    @Test func aRequestsGreedyOrBeamsReplaceTheJobsStrategy() throws {
        var job = GenerationSettings()
        job.numBeams = 3
        var greedy = RequestParameters()
        greedy.greedy = true
        #expect(try job.options(overriddenBy: greedy).beamSearch == nil)
        #expect(try job.options(overriddenBy: greedy).sampling == .greedy)

        var sampledJob = GenerationSettings()
        sampledJob.greedy = true
        var beams = RequestParameters()
        beams.numBeams = 2
        #expect(try sampledJob.options(overriddenBy: beams).beamSearch?.beams == 2)

        var sampling = RequestParameters()
        sampling.temperature = 0.5
        sampling.topK = 7
        sampling.seed = 99
        let options = try GenerationSettings().options(overriddenBy: sampling)
        #expect(options.sampling == SamplingParameters(temperature: 0.5, topK: 7, topP: 0.7, seed: 99))
    }

    @Test func aRequestsInvalidFieldIsNamedAsTheRequestSpellsIt() {
        var request = RequestParameters()
        request.maxLength = 0
        #expect(throws: GenerationSettingsError(description: "\"max_length\" must be positive, got 0")) {
            try GenerationSettings().options(overriddenBy: request)
        }
        var both = RequestParameters()
        both.greedy = true
        var job = GenerationSettings()
        job.numBeams = 2
        both.numBeams = 2
        #expect(throws: GenerationSettingsError(description: "\"greedy\" and \"num_beams\" exclude each other")) {
            try job.options(overriddenBy: both)
        }
    }
}

/// What rank 0 sends every rank for a generation, through the wire encoding.
@Suite struct GenerationRequestWireTests {
    @Test func requestsRoundTripWithEveryOption() throws {
        var settings = GenerationSettings()
        settings.numBeams = 4
        settings.maxNewTokens = 17
        let beamRequest = GenerationRequest(
            prompt: BlankPrompt(
                ids: [150_001, 20_000, 150_005], generationMask: .gMask, useGMask: true, displayText: "",
                isEnglish: false),
            options: settings.options)
        #expect(try GenerationRequest(wireBytes: beamRequest.wireBytes()) == beamRequest)

        var sampled = GenerationSettings()
        sampled.temperature = 1e-30
        sampled.maxLength = 2048
        sampled.seed = .max
        let sampledRequest = GenerationRequest(
            prompt: BlankPrompt(ids: [7], generationMask: .mask, useGMask: false, displayText: "", isEnglish: true),
            options: sampled.options)
        #expect(try GenerationRequest(wireBytes: sampledRequest.wireBytes()) == sampledRequest)
        #expect(
            try [GenerationRequest](wireBytes: [beamRequest, sampledRequest].wireBytes()) == [
                beamRequest, sampledRequest,
            ])
    }
}

/// The family defaults and a release's generation_config.json (transformers' GenerationConfig fields).
@Suite struct GenerationDefaultsTests {
    @Test func familiesHaveTheirOfficialDefaults() {
        let glm = GenerationSettings(defaultsOf: .glm130B)
        #expect(glm == GenerationSettings())
        #expect(glm.options.maxLength == nil && glm.options.sampling.temperature == 1)
        let chat = GenerationSettings(defaultsOf: .chatGLM6B)
        #expect(chat.temperature == 0.95 && chat.topP == 0.7 && chat.options.maxLength == 2048)
        var limited = chat
        limited.maxNewTokens = 5
        #expect(limited.options.maxLength == nil && limited.options.maxNewTokens == 5)
    }

    /// transformers' rules: `max_new_tokens` wins over `max_length`; `top_p` 0 keeps the most likely token alone;
    /// fields that would change the generation but are not applied are named.
    @Test func generationConfigLimitsAndUnappliedFields() throws {
        let limits = Data(#"{"max_new_tokens": 3, "max_length": 100, "top_p": 0}"#.utf8)
        var settings = try GenerationSettings(defaultsOf: .chatGLM6B, generationConfig: limits, source: "g.json")
        #expect(settings.options.maxNewTokens == 3 && settings.options.maxLength == nil && settings.greedy)
        settings.maxLength = 10
        #expect(settings.options.maxLength == 10 && settings.options.maxNewTokens == nil)
        let extra = Data(#"{"num_beams": 3, "repetition_penalty": 1.0, "eos_token_id": [993, 2], "top_k": 5}"#.utf8)
        #expect(GenerationSettings.unappliedKeys(in: extra, eos: [993]) == ["eos_token_id", "num_beams"])
        #expect(GenerationSettings.unappliedKeys(in: Data(#"{"eos_token_id": 993}"#.utf8), eos: [993]).isEmpty)
    }

    @Test func generationConfigFieldsOverTheFamilyDefaults() throws {
        let data = Data(
            #"{"do_sample": false, "temperature": 0.8, "top_p": 0.9, "top_k": 40, "max_length": 512, "eos_token_id": [2, 3]}"#
                .utf8)
        let settings = try GenerationSettings(defaultsOf: .chatGLM6B, generationConfig: data, source: "g.json")
        #expect(settings.greedy && settings.temperature == 0.8 && settings.topP == 0.9 && settings.topK == 40)
        #expect(settings.options.maxLength == 512 && settings.options.sampling.isGreedy)
        for (text, fragment) in [
            (#"{"do_sample": 1}"#, "\"do_sample\" must be true or false"),
            (#"{"temperature": "hot"}"#, "\"temperature\" must be a number"),
            (#"{"top_k": 2.5}"#, "\"top_k\" must be an integer"),
            (#"{"max_length": 0}"#, "\"max_length\" must be positive"),
            (#"{"temperature": 0}"#, "--temperature must be positive"),
            ("[1]", "not a JSON object"),
        ] {
            let error = #expect(throws: GenerationSettingsError.self) {
                try GenerationSettings(defaultsOf: .chatGLM6B, generationConfig: Data(text.utf8), source: "g.json")
            }
            #expect(error?.description.hasPrefix("g.json: ") == true, "\(text)")
            #expect(error?.description.contains(fragment) == true, "\(text): \(error?.description ?? "")")
        }
    }
}
