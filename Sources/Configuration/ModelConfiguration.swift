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
    /// Key/value heads shared by groups of query heads (ChatGLM2's `multi_query_group_num`); nil: one per head.
    public var keyValueGroups: Int?
    /// The rotary base (ChatGLM2's 10000 x `rope_ratio`); nil: the architecture's own (10000).
    public var rotaryBase: Double?

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
        case keyValueGroups = "key_value_groups"
        case rotaryBase = "rotary_base"
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
        keyValueGroups = try container.decodeIfPresent(Int.self, forKey: .keyValueGroups)
        rotaryBase = try container.decodeIfPresent(Double.self, forKey: .rotaryBase)
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
        try container.encodeIfPresent(keyValueGroups, forKey: .keyValueGroups)
        try container.encodeIfPresent(rotaryBase, forKey: .rotaryBase)
    }

    public var headDimension: Int { hiddenSize / numAttentionHeads }

    /// Key/value heads: `keyValueGroups`, or one per query head.
    public var keyValueHeads: Int { keyValueGroups ?? numAttentionHeads }

    /// Every field, as batch jobs fingerprint the model with it. GLM-130B's reads as it did before configurations
    /// named an architecture, so that a batch job started by an earlier version resumes (its results keep their
    /// fingerprints).
    public var identity: String {
        // Fields that only later architectures set read as before where they are unset.
        let text = String(describing: self).replacing(", keyValueGroups: nil, rotaryBase: nil", with: "")
            .replacing(", release: nil, namedTokens: nil, endTokens: nil", with: "")
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
        if let (field, value) = sizes.first(where: { $0.1 % degree != 0 }) { return (field, value) }
        // Each rank holds the key/value groups its query heads use: a whole number of groups, or one group that
        // several ranks share.
        if let groups = keyValueGroups, groups % degree != 0, degree % groups != 0 {
            return ("multi_query_group_num", groups)
        }
        return nil
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
        if let keyValueGroups {
            try require(
                keyValueGroups > 0 && numAttentionHeads % keyValueGroups == 0, "multi_query_group_num",
                "a positive divisor of num_attention_heads \(numAttentionHeads), got \(keyValueGroups)")
        }
        if let rotaryBase {
            try require(rotaryBase > 1 && rotaryBase.isFinite, "rope_ratio", "a positive number, got \(rotaryBase)")
        }
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
            case .chatGLM2:
                configuration = try JSONDecoder().decode(ChatGLM2Configuration.self, from: data)
                    .modelConfiguration(source: source)
            case .glm4Transformers:
                configuration = try JSONDecoder().decode(GLM4TransformersConfiguration.self, from: data)
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

/// The tokenizer code of a ChatGLM2-architecture release: each builds prompts and chats its own way.
public enum TokenizerRelease: String, Codable, Sendable {
    /// ChatGLM2-6B: SentencePiece BPE, `[MASK] [gMASK] [sMASK] sop eop` after its pieces, `[Round N]` chat.
    case chatGLM2 = "chatglm2"
    /// ChatGLM3-6B: as ChatGLM2 with the role tokens after them and a role-token chat with a system prompt.
    case chatGLM3 = "chatglm3"
    /// GLM-4: tiktoken-format byte-level BPE with its added special tokens, chat template with roles.
    case glm4 = "glm4"
}

/// A special token of a release's tokenizer: its text and id (a list of these crosses the wire, where dictionaries
/// have no encoding).
public struct NamedToken: Codable, Sendable, Equatable {
    public var text: String
    public var id: Int

    public init(text: String, id: Int) {
        self.text = text
        self.id = id
    }
}

/// The text tokenizer's layout inside the embedding table.
public struct TokenizerConfiguration: Codable, Sendable, Equatable {
    /// SentencePiece model path, relative to the directory of config.json.
    public var model: String
    /// Ids below this belong to image tokens; text id = SentencePiece id + numImageTokens.
    public var numImageTokens: Int
    /// `[MASK] [gMASK] [sMASK] eod sop eop ENC dBLOCK` take consecutive ids from here.
    public var commandTokensStart: Int
    public var eos: Int
    /// The release whose tokenizer code reads `model` (ChatGLM2 on); nil for the icetk families.
    public var release: TokenizerRelease?
    /// Special tokens by their text, where their ids follow the vocabulary instead of `commandTokensStart`'s layout
    /// (ChatGLM2 on): `[MASK]`, `[gMASK]`, `<sop>`, `<eop>`, the role tokens.
    public var namedTokens: [NamedToken]?
    /// Every id that ends an answer (the official `chat()`'s `eos_token_id` list); nil: `<eop>` and `eos`.
    public var endTokens: [Int]?

    enum CodingKeys: String, CodingKey {
        case model
        case numImageTokens = "num_image_tokens"
        case commandTokensStart = "command_tokens_start"
        case eos
        case release
        case namedTokens = "named_tokens"
        case endTokens = "end_tokens"
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

    /// The id of the special token spelled `text`: from `namedTokens` where the release names its tokens, else
    /// nil.
    public func namedToken(_ text: String) -> Int? { namedTokens?.first { $0.text == text }?.id }

    /// `namedTokens` by text.
    public var namedTokenIds: [String: Int] {
        Dictionary((namedTokens ?? []).map { ($0.text, $0.id) }, uniquingKeysWith: { first, _ in first })
    }

    /// Number of command tokens (`[MASK]` ... `dBLOCK`).
    public static let commandTokenCount = 8

    public func validate(source: String, vocabSize: Int) throws(ConfigurationError) {
        if model.isEmpty {
            throw .invalidValue(file: source, field: "tokenizer.model", expected: "a SentencePiece model path")
        }
        for token in namedTokens ?? [] where token.id < 0 || token.id >= vocabSize {
            let (name, id) = (token.text, token.id)
            throw .invalidValue(
                file: source, field: "tokenizer \(name)", expected: "an id below vocab_size \(vocabSize), got \(id)")
        }
        for id in endTokens ?? [] where id < 0 || id >= vocabSize {
            throw .invalidValue(
                file: source, field: "eos_token_id", expected: "ids below vocab_size \(vocabSize), got \(id)")
        }
        if namedTokens != nil { return }
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
            field == "multi_query_group_num"
                ? "\(degreeName) \(degree) neither divides nor is a multiple of \(field) = \(value) (from \(source)); "
                    + "each rank holds the key/value groups its query heads read: a share of them, or one group shared "
                    + "by several ranks"
                : "\(degreeName) \(degree) does not divide \(field) = \(value) (from \(source)); valid degrees divide "
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
