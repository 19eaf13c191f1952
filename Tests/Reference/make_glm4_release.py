"""Writes a random-weight GLM-4 release (THUDM/glm-4-9b-chat's layout: config.json, safetensors shards with
model.safetensors.index.json, the tokenizer files copied from a tiny release) of a chosen shape, for tests that need
more heads than the official tiny fixture has (tensor parallelism over 8 ranks with 2 key/value groups).

usage: make_glm4_release.py OUT TOKENIZER_DIR [--heads 8] [--groups 2] [--head-dim 16] [--layers 2] [--ffn 96]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = array.astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("tokenizer_dir")
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=16)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--ffn", type=int, default=96)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=7)
    a = parser.parse_args()
    rng = np.random.default_rng(a.seed)
    h, d = a.heads * a.head_dim, a.head_dim
    qkv = (a.heads + 2 * a.groups) * d

    def normal(*shape, scale=None):
        return rng.standard_normal(shape) * (scale if scale is not None else 1 / np.sqrt(shape[-1]))

    tensors = {"transformer.embedding.word_embeddings.weight": normal(a.vocab, h, scale=1.0)}
    for i in range(a.layers):
        p = f"transformer.encoder.layers.{i}."
        tensors[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
        tensors[p + "self_attention.query_key_value.weight"] = normal(qkv, h, scale=1.5 / np.sqrt(h))
        tensors[p + "self_attention.query_key_value.bias"] = 0.1 * rng.standard_normal(qkv)
        tensors[p + "self_attention.dense.weight"] = normal(h, h)
        tensors[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
        tensors[p + "mlp.dense_h_to_4h.weight"] = normal(2 * a.ffn, h)
        tensors[p + "mlp.dense_4h_to_h.weight"] = normal(h, a.ffn)
    tensors["transformer.encoder.final_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
    tensors["transformer.output_layer.weight"] = normal(a.vocab, h)

    os.makedirs(a.out, exist_ok=True)
    names = list(tensors)
    shards = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map = {}
    for index, shard in enumerate(shards):
        file = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(a.out, file), {n: tensors[n] for n in shard})
        weight_map.update({n: file for n in shard})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    with open(os.path.join(a.tokenizer_dir, "config.json")) as f:
        config = json.load(f)
    config.update(
        hidden_size=h, num_attention_heads=a.heads, kv_channels=d, multi_query_group_num=a.groups,
        num_layers=a.layers, num_hidden_layers=a.layers, ffn_hidden_size=a.ffn, padded_vocab_size=a.vocab)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ["tokenizer.model", "tokenizer_config.json", "generation_config.json"]:
        shutil.copy(os.path.join(a.tokenizer_dir, name), os.path.join(a.out, name))


if __name__ == "__main__":
    main()
