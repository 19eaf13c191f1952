"""Writes a GLM-4 release (Benchmarks/peers/make_model.py) as an F16 GGUF of llama.cpp's `chatglm` architecture,
with numpy and the gguf-py of the vendored llama.cpp tree only (no torch, no transformers).

What llama.cpp's own converter (conversion/chatglm.py, ChatGLMModel, through convert_hf_to_gguf.py) writes for
THUDM/glm-4-9b-chat, reproduced: the `transformer.` prefix dropped and the names mapped by gguf-py's tensor map
(token_embd, blk.N.attn_norm, blk.N.attn_qkv weight + bias, blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_up holding
[gate | up] as dense_h_to_4h does, blk.N.ffn_down, output_norm, output); 2-D tensors F16, 1-D tensors (norms,
QKV bias) F32; metadata context length = seq_length, rope dimension count = head_dim / 2 (partial rotary 0.5),
rope base 10000 x rope_ratio, RMS eps, head_count_kv = multi_query_group_num, add_bos false, file type F16.

The tokenizer metadata is synthetic, since the benchmark's ids are random: a `gpt2` BPE vocabulary of
padded_vocab_size tokens (the 256 byte tokens of GPT-2's byte-to-unicode map, then placeholder tokens, and GLM-4's
special tokens at their GLM-4 ids: <|endoftext|> 151329 as eos, <|user|> 151336 as eot), pre-tokenizer
`chatglm-bpe`, and one merge (llama.cpp refuses a BPE vocabulary without a merges array).

Q8_0 and Q4_0 files are made from this F16 file by llama.cpp's own `llama-quantize` (compare.sh does it), which
applies llama.cpp's recipe for the output layer and token embeddings.

usage: convert_gguf.py RELEASE_DIR OUT.gguf --gguf-py DIR
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from release import Release  # noqa: E402

GLM4_SPECIAL = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
                "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
                "<|end_of_video|>"]
GLM4_FIRST_SPECIAL_ID = 151329


def byte_tokens():
    """GPT-2's bytes_to_unicode: the 256 byte-level token strings."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, (chr(c) for c in cs)))
    return [table[b] for b in range(256)]


def vocabulary(gguf, size):
    tokens = byte_tokens() + ["Ġt"]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    first_special = GLM4_FIRST_SPECIAL_ID if size > GLM4_FIRST_SPECIAL_ID + len(GLM4_SPECIAL) else size - len(GLM4_SPECIAL)
    while len(tokens) < size:
        i = len(tokens)
        if first_special <= i < first_special + len(GLM4_SPECIAL):
            tokens.append(GLM4_SPECIAL[i - first_special])
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(f"<|tok{i}|>")
            types.append(gguf.TokenType.NORMAL)
    return tokens, types, first_special


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("release")
    parser.add_argument("out")
    parser.add_argument("--gguf-py", required=True, help="gguf-py folder of the llama.cpp tree")
    a = parser.parse_args()
    sys.path.insert(0, a.gguf_py)
    import gguf

    r = Release(a.release)
    w = gguf.GGUFWriter(a.out + ".partial", "chatglm")
    w.add_name("glmcluster-peers random GLM-4 architecture")
    w.add_context_length(r.config.get("seq_length", 8192))
    w.add_embedding_length(r.hidden)
    w.add_feed_forward_length(r.ffn)
    w.add_block_count(r.layers)
    w.add_head_count(r.heads)
    w.add_head_count_kv(r.groups)
    w.add_layer_norm_rms_eps(r.eps)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_rope_dimension_count(r.head_dim // 2)
    w.add_add_bos_token(False)
    w.add_rope_freq_base(r.rope_theta)

    tokens, types, first_special = vocabulary(gguf, r.vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("chatglm-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["Ġ t"])
    w.add_eos_token_id(first_special)  # <|endoftext|>
    w.add_eot_token_id(first_special + GLM4_SPECIAL.index("<|user|>"))
    w.add_unk_token_id(first_special)

    def f32(x):
        return np.asarray(x, dtype=np.float32)

    w.add_tensor("token_embd.weight", r.tensor("transformer.embedding.word_embeddings.weight"))
    for i in range(r.layers):
        p = f"transformer.encoder.layers.{i}."
        w.add_tensor(f"blk.{i}.attn_norm.weight", f32(r.tensor(p + "input_layernorm.weight")))
        w.add_tensor(f"blk.{i}.attn_qkv.weight", r.tensor(p + "self_attention.query_key_value.weight"))
        w.add_tensor(f"blk.{i}.attn_qkv.bias", f32(r.tensor(p + "self_attention.query_key_value.bias")))
        w.add_tensor(f"blk.{i}.attn_output.weight", r.tensor(p + "self_attention.dense.weight"))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", f32(r.tensor(p + "post_attention_layernorm.weight")))
        w.add_tensor(f"blk.{i}.ffn_up.weight", r.tensor(p + "mlp.dense_h_to_4h.weight"))
        w.add_tensor(f"blk.{i}.ffn_down.weight", r.tensor(p + "mlp.dense_4h_to_h.weight"))
    w.add_tensor("output_norm.weight", f32(r.tensor("transformer.encoder.final_layernorm.weight")))
    w.add_tensor("output.weight", r.tensor("transformer.output_layer.weight"))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file(progress=False)
    w.close()
    os.replace(a.out + ".partial", a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
