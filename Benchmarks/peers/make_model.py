"""Writes the peer comparison's random-weights GLM-4-architecture model (issue 19, item 6) in THUDM/glm-4-9b-chat's
release layout: config.json, two fp16 safetensors shards with model.safetensors.index.json, and the tokenizer files
of a tiny GLM-4 release (the benchmark's token ids are random, so a tiny tokenizer serves).

Same key names and weight scales as Tests/Reference/make_glm4_release.py, but streamed: each tensor is drawn in
float32 row blocks and written straight to its shard, so a ~1B model needs well under 2 GB of memory (the test
generator builds every array in float64 at once, ~11 GB for this shape). Fixed seed, deterministic output.

usage: make_model.py OUT TOKENIZER_DIR [--heads 16] [--groups 2] [--head-dim 128] [--layers 16] [--ffn 5632]
                     [--vocab 151552] [--rope-ratio 1] [--eps 1e-5] [--seed 7]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

BLOCK_ELEMENTS = 1 << 24  # 16 M weights per drawn block (64 MB of float32)


def plan(a):
    """(name, shape, kind) for every tensor, in the release's order."""
    h, d = a.heads * a.head_dim, a.head_dim
    qkv = (a.heads + 2 * a.groups) * d
    tensors = [("transformer.embedding.word_embeddings.weight", (a.vocab, h), ("normal", 1.0))]
    for i in range(a.layers):
        p = f"transformer.encoder.layers.{i}."
        tensors += [
            (p + "input_layernorm.weight", (h,), ("norm",)),
            (p + "self_attention.query_key_value.weight", (qkv, h), ("normal", 1.5 / np.sqrt(h))),
            (p + "self_attention.query_key_value.bias", (qkv,), ("normal", 0.1)),
            (p + "self_attention.dense.weight", (h, h), ("normal", 1 / np.sqrt(h))),
            (p + "post_attention_layernorm.weight", (h,), ("norm",)),
            (p + "mlp.dense_h_to_4h.weight", (2 * a.ffn, h), ("normal", 1 / np.sqrt(h))),
            (p + "mlp.dense_4h_to_h.weight", (h, a.ffn), ("normal", 1 / np.sqrt(a.ffn))),
        ]
    tensors += [
        ("transformer.encoder.final_layernorm.weight", (h,), ("norm",)),
        ("transformer.output_layer.weight", (a.vocab, h), ("normal", 1 / np.sqrt(h))),
    ]
    return tensors


def write_tensor(f, rng, shape, kind):
    rows = shape[0]
    cols = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    step = max(1, BLOCK_ELEMENTS // cols)
    for start in range(0, rows, step):
        n = min(step, rows - start)
        block = rng.standard_normal((n, cols), dtype=np.float32)
        if kind[0] == "norm":
            block = 1 + 0.1 * block
        else:
            block *= np.float32(kind[1])
        f.write(block.astype("<f2").tobytes())


def write_shard(path, rng, entries):
    header, offset = {}, 0
    for name, shape, _ in entries:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".partial", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, kind in entries:
            write_tensor(f, rng, shape, kind)
    os.replace(path + ".partial", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("tokenizer_dir")
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--ffn", type=int, default=5632)
    parser.add_argument("--vocab", type=int, default=151552)
    parser.add_argument("--rope-ratio", type=float, default=1.0)
    parser.add_argument("--eps", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=7)
    a = parser.parse_args()
    rng = np.random.default_rng(a.seed)
    tensors = plan(a)
    os.makedirs(a.out, exist_ok=True)
    half = len(tensors) // 2
    shards = [tensors[:half], tensors[half:]]
    weight_map = {}
    for index, shard in enumerate(shards):
        file = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(a.out, file), rng, shard)
        weight_map.update({name: file for name, _, _ in shard})
    total = sum(2 * int(np.prod(s)) for _, s, _ in tensors)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(a.tokenizer_dir, "config.json")) as f:
        config = json.load(f)
    config.update(
        hidden_size=a.heads * a.head_dim, num_attention_heads=a.heads, kv_channels=a.head_dim,
        multi_query_group_num=a.groups, num_layers=a.layers, num_hidden_layers=a.layers, ffn_hidden_size=a.ffn,
        padded_vocab_size=a.vocab, rope_ratio=a.rope_ratio, layernorm_epsilon=a.eps, seq_length=8192,
        torch_dtype="float16")
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ["tokenizer.model", "tokenizer_config.json", "generation_config.json"]:
        shutil.copy(os.path.join(a.tokenizer_dir, name), os.path.join(a.out, name))
    print(f"wrote {a.out}: {sum(int(np.prod(s)) for _, s, _ in tensors) / 1e9:.3f} B parameters, {total / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
