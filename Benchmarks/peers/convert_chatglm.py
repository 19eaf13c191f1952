"""Writes a GLM-4 release (Benchmarks/peers/make_model.py) in chatglm.cpp's own GGML file format, as chatglm-cpp
0.4.2's chatglm_cpp/convert.py (ChatGLM4Converter) writes it for THUDM/glm-4-9b-chat, with numpy only (no torch).

Layout (little-endian int32 unless noted), read by chatglm.cpp's Pipeline (chatglm.cpp, Pipeline::Pipeline):
  b"ggml", model type 4 (CHATGLM4), config version 2, then ModelConfigRecordV2 ("iiiiiiififiii"): ggml type of the
  weights, padded_vocab_size, hidden_size, num_attention_heads, multi_query_group_num, num_layers,
  ffn_hidden_size, layernorm_epsilon (float), num_virtual_tokens 0, rope_theta = 10000 x rope_ratio (float),
  seq_length, eos_token_id, pad_token_id;
  the tokenizer: int32 length + the tiktoken vocabulary text ("base64-token rank" per line; chatglm.cpp appends
  GLM-4's 14 special tokens after the last rank);
  then each tensor: int32 name length, name, int32 ndim, the shape in PyTorch order, int32 ggml type, padding to a
  16-byte boundary, the data. The weights are used in place from the memory-mapped file (no repacking).
Tensor order and types as convert.py: word_embeddings, per layer input_layernorm (F32), query_key_value weight,
query_key_value bias (F32), dense, post_attention_layernorm (F32), dense_h_to_4h, dense_4h_to_h, then
final_layernorm (F32) and output_layer. Every 2-D tensor, the embeddings and output layer included, takes the
chosen type: chatglm.cpp creates lm_head with the model's dtype and checks the byte size on load, so a file whose
output layer stays f16 under q8_0/q4_0 layers does not load.

q8_0 / q4_0 blocks are ggml's (block_q8_0: fp16 scale + 32 int8, 34 bytes; block_q4_0: fp16 scale + 16 bytes, low
nibbles elements 0-15, high nibbles 16-31, 18 bytes), computed as convert.py's quantize_q8_0 / quantize_q4_0 do
(round half to even, q4_0 scale = signed absmax / -8).

The tokenizer is synthetic (the benchmark's ids are random): padded_vocab_size distinct byte strings (256 single
bytes, then pairs, then triples), so chatglm.cpp's special tokens get ids from padded_vocab_size on, which a
greedy decode never produces (a random model would otherwise stop at <|user|> or <|observation|>); eos_token_id and
pad_token_id in the config record are <|endoftext|>'s id.

usage: convert_chatglm.py RELEASE_DIR OUT.bin --type f16|q8_0|q4_0
"""
import argparse
import base64
import itertools
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from release import Release  # noqa: E402

GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}
CHATGLM4 = 4
ROWS_PER_CHUNK = 4096


def quantize_q8_0(x):
    """ggml block_q8_0 rows, as chatglm_cpp.convert.quantize_q8_0."""
    blocks = x.reshape(-1, 32)
    scale = np.abs(blocks).max(axis=1, keepdims=True) / 127
    q = np.clip(np.round(blocks / scale), -128, 127).astype(np.int8)
    out = np.concatenate([scale.astype("<f2").view(np.uint8), q.view(np.uint8)], axis=1)
    return out.reshape(x.shape[0], -1)


def quantize_q4_0(x):
    """ggml block_q4_0 rows, as chatglm_cpp.convert.quantize_q4_0."""
    blocks = x.reshape(-1, 32)
    index = np.abs(blocks).argmax(axis=1)[:, None]
    scale = np.take_along_axis(blocks, index, axis=1) / -8
    q = np.clip(np.round(blocks / scale + 8), 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = np.concatenate([scale.astype("<f2").view(np.uint8), packed], axis=1)
    return out.reshape(x.shape[0], -1)


def tensor_bytes(array, ggml_type):
    """Yields the tensor's data in row chunks, converted to `ggml_type`."""
    if array.ndim == 1:
        yield np.asarray(array, dtype="<f4" if ggml_type == "f32" else "<f2").tobytes()
        return
    for start in range(0, array.shape[0], ROWS_PER_CHUNK):
        rows = array[start:start + ROWS_PER_CHUNK]
        if ggml_type == "f16":
            yield np.asarray(rows, dtype="<f2").tobytes()
        elif ggml_type == "f32":
            yield np.asarray(rows, dtype="<f4").tobytes()
        elif ggml_type == "q8_0":
            yield quantize_q8_0(np.asarray(rows, dtype=np.float32)).tobytes()
        elif ggml_type == "q4_0":
            yield quantize_q4_0(np.asarray(rows, dtype=np.float32)).tobytes()
        else:
            raise ValueError(ggml_type)


def vocabulary_text(size):
    """A tiktoken-format vocabulary of `size` distinct byte strings, ranks 0..size-1."""
    lines = []
    for length in itertools.count(1):
        for combo in itertools.product(range(256), repeat=length):
            if len(lines) == size:
                return "".join(lines).encode()
            lines.append(f"{base64.b64encode(bytes(combo)).decode()} {len(lines)}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("release")
    parser.add_argument("out")
    parser.add_argument("--type", required=True, choices=["f16", "q8_0", "q4_0"])
    a = parser.parse_args()
    r = Release(a.release)
    eos = r.vocab  # <|endoftext|>, the first special token after the synthetic vocabulary
    with open(a.out + ".partial", "wb") as f:
        f.write(b"ggml")
        f.write(struct.pack("i", CHATGLM4))
        f.write(struct.pack(
            "iiiiiiiififiii", 2, GGML_TYPES[a.type], r.vocab, r.hidden, r.heads, r.groups, r.layers, r.ffn, r.eps, 0,
            r.rope_theta, r.config.get("seq_length", 8192), eos, eos))
        text = vocabulary_text(r.vocab)
        f.write(struct.pack("i", len(text)))
        f.write(text)

        order = [("transformer.embedding.word_embeddings.weight", a.type)]
        for i in range(r.layers):
            p = f"transformer.encoder.layers.{i}."
            order += [
                (p + "input_layernorm.weight", "f32"),
                (p + "self_attention.query_key_value.weight", a.type),
                (p + "self_attention.query_key_value.bias", "f32"),
                (p + "self_attention.dense.weight", a.type),
                (p + "post_attention_layernorm.weight", "f32"),
                (p + "mlp.dense_h_to_4h.weight", a.type),
                (p + "mlp.dense_4h_to_h.weight", a.type),
            ]
        order += [("transformer.encoder.final_layernorm.weight", "f32"), ("transformer.output_layer.weight", a.type)]
        for name, ggml_type in order:
            array = r.tensor(name)
            f.write(struct.pack("i", len(name.encode())))
            f.write(name.encode())
            f.write(struct.pack("i" * (2 + array.ndim), array.ndim, *array.shape, GGML_TYPES[ggml_type]))
            f.seek((f.tell() + 15) // 16 * 16)
            for chunk in tensor_bytes(array, ggml_type):
                f.write(chunk)
    os.replace(a.out + ".partial", a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
