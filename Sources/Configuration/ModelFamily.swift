import Basics

/// The model families of Zhipu AI's GLM line, recognised from a `config.json` as each release writes it:
/// GLMCluster's own GLM-130B configuration (with a `tokenizer` object), ChatGLM-6B's (`model_type` "chatglm" with
/// `inner_hidden_size` and 2D positions), ChatGLM2-6B's, which ChatGLM3-6B and GLM-4-9B share (`model_type`
/// "chatglm" with multi-query attention), and GLM-4 in transformers' own layout (`GlmForCausalLM`).
public enum ModelFamily: String, Sendable, CaseIterable {
    case glm130B = "GLM-130B"
    case chatGLM6B = "ChatGLM-6B"
    case chatGLM2 = "ChatGLM2-6B/ChatGLM3-6B/GLM-4-9B"
    case glm4Transformers = "GLM-4 (transformers GlmForCausalLM)"

    /// The family a configuration's fields name, or nil when they name none of these.
    public static func recognise(_ fields: [String: JSONValue]) -> ModelFamily? {
        let modelType = fields["model_type"]?.stringValue
        let architectures = fields["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if modelType == nil && fields["architectures"] == nil {
            return fields["tokenizer"] == nil ? nil : .glm130B
        }
        if modelType == "glm" || architectures.contains("GlmForCausalLM") { return .glm4Transformers }
        guard modelType == "chatglm" || architectures.contains(where: { $0.hasPrefix("ChatGLM") }) else { return nil }
        let multiQuery = ["multi_query_attention", "multi_query_group_num", "ffn_hidden_size", "padded_vocab_size"]
        if multiQuery.contains(where: { fields[$0] != nil }) { return .chatGLM2 }
        // ChatGLM-6B's own fields (`inner_hidden_size`, `position_encoding_2d`); one without them is still read as
        // ChatGLM-6B, whose configuration type then names what is missing.
        return .chatGLM6B
    }

    /// Whether this version of GLMCluster runs the family.
    public var isSupported: Bool { true }
}
