import Basics
import Coordination
import FoundationEssentials

/// The GLM architecture hyper-parameters, read from `config.json` beside a checkpoint's `latest` file.
/// Field names follow the official GLM-130B argument names (snake_case lives only in `CodingKeys`).
public struct ModelConfiguration: Codable, Sendable, Equatable {
    /// The architecture file that computes the model; GLMCluster's own GLM-130B `config.json` does not name it.
    public var architecture: ArchitectureKind = .glm130B
    public var numLayers: Int
    public var hiddenSize: Int
    public var numAttentionHeads: Int
    /// GeGLU inner size f: `dense_h_to_4h` has 2f output rows.
    public var innerHiddenSize: Int
    /// Embedding rows (tokenizer ids, command tokens and padding).
    public var vocabSize: Int
    public var maxSequenceLength: Int
    public var layernormEpsilon: Float
    public var tokenizer: TokenizerConfiguration

    enum CodingKeys: String, CodingKey {
        case architecture
        case numLayers = "num_layers"
        case hiddenSize = "hidden_size"
        case numAttentionHeads = "num_attention_heads"
        case innerHiddenSize = "inner_hidden_size"
        case vocabSize = "vocab_size"
        case maxSequenceLength = "max_sequence_length"
        case layernormEpsilon = "layernorm_epsilon"
        case tokenizer
    }

    public init(
        numLayers: Int, hiddenSize: Int, numAttentionHeads: Int, innerHiddenSize: Int, vocabSize: Int,
        maxSequenceLength: Int, layernormEpsilon: Float = 1e-5, tokenizer: TokenizerConfiguration
    ) {
        self.numLayers = numLayers
        self.hiddenSize = hiddenSize
        self.numAttentionHeads = numAttentionHeads
        self.innerHiddenSize = innerHiddenSize
        self.vocabSize = vocabSize
        self.maxSequenceLength = maxSequenceLength
        self.layernormEpsilon = layernormEpsilon
        self.tokenizer = tokenizer
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        architecture = try container.decodeIfPresent(ArchitectureKind.self, forKey: .architecture) ?? .glm130B
        numLayers = try container.decode(Int.self, forKey: .numLayers)
        hiddenSize = try container.decode(Int.self, forKey: .hiddenSize)
        numAttentionHeads = try container.decode(Int.self, forKey: .numAttentionHeads)
        innerHiddenSize = try container.decode(Int.self, forKey: .innerHiddenSize)
        vocabSize = try container.decode(Int.self, forKey: .vocabSize)
        maxSequenceLength = try container.decode(Int.self, forKey: .maxSequenceLength)
        layernormEpsilon = try container.decode(Float.self, forKey: .layernormEpsilon)
        tokenizer = try container.decode(TokenizerConfiguration.self, forKey: .tokenizer)
    }

    /// GLM-130B's file as before (no `architecture` field); other architectures name theirs.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(architecture == .glm130B ? nil : architecture, forKey: .architecture)
        try container.encode(numLayers, forKey: .numLayers)
        try container.encode(hiddenSize, forKey: .hiddenSize)
        try container.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try container.encode(innerHiddenSize, forKey: .innerHiddenSize)
        try container.encode(vocabSize, forKey: .vocabSize)
        try container.encode(maxSequenceLength, forKey: .maxSequenceLength)
        try container.encode(layernormEpsilon, forKey: .layernormEpsilon)
        try container.encode(tokenizer, forKey: .tokenizer)
    }

    public var headDimension: Int { hiddenSize / numAttentionHeads }

    /// Every field, as batch jobs fingerprint the model with it. GLM-130B's reads as it did before configurations
    /// named an architecture, so that a batch job started by an earlier version resumes (its results keep their
    /// fingerprints).
    public var identity: String {
        let text = String(describing: self)
        guard architecture == .glm130B else { return text }
        return text.replacing("architecture: Configuration.ArchitectureKind.glm130B, ", with: "")
    }

    /// The real GLM-130B values, for `--preset glm-130b` when a checkpoint has no config.json.
    public static let glm130B = ModelConfiguration(
        numLayers: 70, hiddenSize: 12288, numAttentionHeads: 96, innerHiddenSize: 32768, vocabSize: 150528,
        maxSequenceLength: 2048, layernormEpsilon: 1e-5, tokenizer: .icetk)

    /// The first of the sizes a tensor-parallel degree must divide (heads, FFN size, vocabulary) that `degree`
    /// does not divide, with its official field name; nil when every rank gets an equal share.
    public func fieldNotDivided(by degree: Int) -> (field: String, value: Int)? {
        let sizes = [
            ("num_attention_heads", numAttentionHeads), ("inner_hidden_size", innerHiddenSize),
            ("vocab_size", vocabSize),
        ]
        return sizes.first { $0.1 % degree != 0 }.map { (field: $0.0, value: $0.1) }
    }

    /// Checks that `degree` parts give every rank an equal share of the heads, the FFN and the vocabulary.
    /// `degreeName` says where the degree came from ("tensor-parallel degree", "--tp", "--mp"), `source` where this
    /// configuration came from (a config.json path or a preset).
    public func checkDivisible(by degree: Int, degreeName: String, source: String) throws(ConfigurationError) {
        if let (field, value) = fieldNotDivided(by: degree) {
            throw .notDivisible(degreeName: degreeName, degree: degree, field: field, value: value, source: source)
        }
    }

    /// The largest sizes a configuration may give.
    public static let limits = (
        layers: 10_000, hidden: 1 << 20, innerHidden: 1 << 22, vocabulary: 1 << 24, sequence: 1 << 24
    )

    /// Named presets accepted by `--preset`.
    public static let presets: [String: ModelConfiguration] = ["glm-130b": .glm130B]

    /// Checks every value that the model's shapes depend on; the error names the field and what was expected.
    public func validate(source: String) throws(ConfigurationError) {
        func require(_ ok: Bool, _ field: String, _ expected: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError.invalidValue(file: source, field: field, expected: expected) }
        }
        /// A size in `1...limit`: the limits are far above every released GLM (GLM-130B: 70 layers, hidden 12288,
        /// FFN 32768, vocabulary 150528, 2048 positions) and keep every shape product and key list within reach.
        func size(_ value: Int, _ field: String, limit: Int) throws(ConfigurationError) {
            try require(value > 0, field, "a positive integer, got \(value)")
            try require(value <= limit, field, "at most \(limit) (the largest supported), got \(value)")
        }
        try size(numLayers, "num_layers", limit: Self.limits.layers)
        try size(hiddenSize, "hidden_size", limit: Self.limits.hidden)
        try size(numAttentionHeads, "num_attention_heads", limit: Self.limits.hidden)
        try require(
            hiddenSize % max(numAttentionHeads, 1) == 0, "num_attention_heads",
            "a divisor of hidden_size \(hiddenSize), got \(numAttentionHeads)")
        try require(
            headDimension % 2 == 0, "num_attention_heads",
            "a divisor of hidden_size giving an even head dimension (rotary pairs), got \(numAttentionHeads): "
                + "\(hiddenSize) / \(numAttentionHeads) = \(headDimension)")
        try size(innerHiddenSize, "inner_hidden_size", limit: Self.limits.innerHidden)
        try size(vocabSize, "vocab_size", limit: Self.limits.vocabulary)
        try require(maxSequenceLength > 1, "max_sequence_length", "an integer above 1, got \(maxSequenceLength)")
        try require(
            maxSequenceLength <= Self.limits.sequence, "max_sequence_length",
            "at most \(Self.limits.sequence) (the largest supported), got \(maxSequenceLength)")
        try require(
            layernormEpsilon > 0 && layernormEpsilon.isFinite, "layernorm_epsilon",
            "a positive number, got \(layernormEpsilon)")
        try tokenizer.validate(source: source, vocabSize: vocabSize)
    }

    /// Reads and validates `config.json`; unknown fields are ignored.
    public static func load(from url: URL) throws(ConfigurationError) -> ModelConfiguration {
        if let problem = RegularFile.problem(at: url.path) {
            throw ConfigurationError.unreadable(file: url.path, reason: problem)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigurationError.unreadable(file: url.path, reason: error.explanation)
        }
        return try decode(data, source: url.path)
    }

    /// Decodes and validates the contents of a `config.json`; `source` names it in errors.
    public static func decode(_ data: Data, source: String) throws(ConfigurationError) -> ModelConfiguration {
        let family = try checkJSONShape(data, file: source)
        let configuration: ModelConfiguration
        do {
            switch family {
            case .chatGLM6B:
                configuration = try JSONDecoder().decode(ChatGLM6BConfiguration.self, from: data)
                    .modelConfiguration(source: source)
            default:
                configuration = try JSONDecoder().decode(ModelConfiguration.self, from: data)
            }
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError.malformed(file: source, reason: describe(error))
        }
        try configuration.validate(source: source)
        return configuration
    }

    /// Writes `config.json` with the official field names.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url)
    }
}

/// Rank 0 sends its configuration to ranks that cannot read config.json (`--weights-from coordinator`).
extension ModelConfiguration: WireMessage {}

/// The icetk text tokenizer's layout inside the embedding table.
public struct TokenizerConfiguration: Codable, Sendable, Equatable {
    /// SentencePiece model path, relative to the directory of config.json.
    public var model: String
    /// Ids below this belong to image tokens; text id = SentencePiece id + numImageTokens.
    public var numImageTokens: Int
    /// `[MASK] [gMASK] [sMASK] eod sop eop ENC dBLOCK` take consecutive ids from here.
    public var commandTokensStart: Int
    public var eos: Int

    enum CodingKeys: String, CodingKey {
        case model
        case numImageTokens = "num_image_tokens"
        case commandTokensStart = "command_tokens_start"
        case eos
    }

    public init(model: String, numImageTokens: Int, commandTokensStart: Int, eos: Int) {
        self.model = model
        self.numImageTokens = numImageTokens
        self.commandTokensStart = commandTokensStart
        self.eos = eos
    }

    /// The official icetk layout: 20000 image tokens, command tokens from 150000, eos 20002.
    public static let icetk = TokenizerConfiguration(
        model: "ice_text.model", numImageTokens: 20000, commandTokensStart: 150000, eos: 20002)

    /// Number of command tokens (`[MASK]` ... `dBLOCK`).
    public static let commandTokenCount = 8

    public func validate(source: String, vocabSize: Int) throws(ConfigurationError) {
        if model.isEmpty {
            throw .invalidValue(file: source, field: "tokenizer.model", expected: "a SentencePiece model path")
        }
        if numImageTokens < 0 {
            throw .invalidValue(
                file: source, field: "tokenizer.num_image_tokens",
                expected: "a non-negative integer, got \(numImageTokens)")
        }
        // Compared by subtraction: a start near Int.max must be an error, not an overflow.
        if commandTokensStart < numImageTokens || commandTokensStart > vocabSize - Self.commandTokenCount {
            throw .invalidValue(
                file: source, field: "tokenizer.command_tokens_start",
                expected:
                    "an id in [num_image_tokens, vocab_size - \(Self.commandTokenCount)] = [\(numImageTokens), \(vocabSize - Self.commandTokenCount)], got \(commandTokensStart)"
            )
        }
        if eos < 0 || eos >= vocabSize {
            throw .invalidValue(
                file: source, field: "tokenizer.eos", expected: "an id below vocab_size \(vocabSize), got \(eos)")
        }
    }
}

/// What went wrong reading a configuration, with the file and field it concerns.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case malformed(file: String, reason: String)
    case invalidValue(file: String, field: String, expected: String)
    case unknownPreset(String)
    /// A release of a model family this version does not run yet, or of none it knows.
    case unsupportedFamily(file: String, family: String)
    /// A tensor-parallel (or model-parallel) degree that would give the ranks unequal shares.
    case notDivisible(degreeName: String, degree: Int, field: String, value: Int, source: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "cannot read configuration \(file): \(reason)"
        case .malformed(let file, let reason): "malformed configuration \(file): \(reason)"
        case .invalidValue(let file, let field, let expected):
            "invalid configuration \(file): field \"\(field)\" must be \(expected)"
        case .unsupportedFamily(let file, let family):
            "\(file) describes \(family), which this version of GLMCluster does not run (it runs "
                + ModelFamily.allCases.filter(\.isSupported).map(\.rawValue).joined(separator: ", ") + ")"
        case .unknownPreset(let name):
            "unknown preset \"\(name)\"; known presets: \(ModelConfiguration.presets.keys.sorted().joined(separator: ", "))"
        case .notDivisible(let degreeName, let degree, let field, let value, let source):
            "\(degreeName) \(degree) does not divide \(field) = \(value) (from \(source)); valid degrees divide "
                + "num_attention_heads, inner_hidden_size and vocab_size, so that each rank holds an equal share"
        }
    }
}

/// Catches what JSONDecoder reports badly: text that is not JSON, a top level that is not an object, and
/// non-integral numbers in integer fields (which JSONDecoder calls "not valid JSON").
/// Returns the family the file names (GLM-130B when it names none).
private func checkJSONShape(_ data: Data, file: String) throws(ConfigurationError) -> ModelFamily {
    guard let value = JSONValue.parse(data) else {
        throw ConfigurationError.malformed(file: file, reason: "not valid JSON")
    }
    guard case .object(let top) = value else {
        throw ConfigurationError.malformed(
            file: file, reason: "the top level must be a JSON object with the model fields")
    }
    // A release names its family (`model_type`, `architectures`); GLMCluster's own GLM-130B file names none.
    var recognised = ModelFamily.glm130B
    if top["model_type"] != nil || top["architectures"] != nil {
        let family = ModelFamily.recognise(top)
        recognised = family ?? .glm130B
        if family?.isSupported != true {
            let named = ["model_type", "architectures"].compactMap { field in
                top[field].map { "\(field) \(render($0))" }
            }
            throw ConfigurationError.unsupportedFamily(
                file: file,
                family: family?.rawValue
                    ?? "a model of no GLM family it knows (" + named.joined(separator: ", ") + ")")
        }
    }
    if let (key, object) = JSONValue.firstDuplicateKey(in: data) {
        throw ConfigurationError.malformed(
            file: file, reason: "field \"\(object.isEmpty ? key : object + "." + key)\" appears twice")
    }
    let integers = [
        "num_layers", "hidden_size", "num_attention_heads", "inner_hidden_size", "vocab_size", "max_sequence_length",
    ]
    func check(_ object: [String: JSONValue], _ fields: [String], prefix: String) throws(ConfigurationError) {
        for field in fields {
            guard let value = object[field]?.numberValue else { continue }
            if value.rounded() != value {
                throw ConfigurationError.invalidValue(
                    file: file, field: prefix + field, expected: "an integer, got \(value)")
            }
        }
    }
    try check(top, integers, prefix: "")
    if case .object(let tokenizer)? = top["tokenizer"] {
        try check(tokenizer, ["num_image_tokens", "command_tokens_start", "eos"], prefix: "tokenizer.")
    }
    try check(
        top, ["bos_token_id", "eos_token_id", "mask_token_id", "gmask_token_id", "quantization_bit"], prefix: "")
    return recognised
}

/// A short JSON rendering of a name or a list of names, for messages.
private func render(_ value: JSONValue) -> String {
    switch value {
    case .string(let text): "\"\(text)\""
    case .array(let items): "[" + items.map(render).joined(separator: ", ") + "]"
    default: "\(value)"
    }
}

/// Names a decoded type the way a user reads it.
private func describeType(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type: "an integer"
    case is Float.Type, is Double.Type: "a number"
    case is String.Type: "a string"
    case is TokenizerConfiguration.Type: "an object"
    case is Bool.Type: "true or false"
    default: "\(type)"
    }
}

/// Turns a `DecodingError` into a sentence naming the JSON field path.
private func describe(_ error: Error) -> String {
    func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case DecodingError.keyNotFound(let key, let context):
        let prefix = path(context.codingPath)
        return "missing field \"\(prefix.isEmpty ? key.stringValue : prefix + "." + key.stringValue)\""
    case DecodingError.typeMismatch(let type, let context):
        return "field \"\(path(context.codingPath))\" must be \(describeType(type))"
    case DecodingError.valueNotFound(let type, let context):
        return "field \"\(path(context.codingPath))\" must be \(describeType(type)), not null"
    case DecodingError.dataCorrupted(let context):
        return context.codingPath.isEmpty
            ? "not valid JSON (\(context.debugDescription))"
            : "field \"\(path(context.codingPath))\": \(context.debugDescription)"
    default:
        return "\(error)"
    }
}
