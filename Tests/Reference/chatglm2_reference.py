#!/usr/bin/env python3
"""Independent NumPy reference of the ChatGLM2 architecture's forward pass (ChatGLM2-6B, ChatGLM3-6B, GLM-4-9B).

Written from the releases' `modeling_chatglm.py` (the mirrors named in ../shared/fixtures/chatglm/provenance.json),
without torch: `.bin` files are read with zipfile and the restricted unpickler of glm_reference.py, safetensors with
json and numpy. It is the reference the engine's quantized ChatGLM2-family tests compare against, and it documents
the math:

- the word embeddings (no scaling); pre-norm blocks: x = x + Attention(RMSNorm(x)); x = x + MLP(RMSNorm(x)); a
  final RMSNorm; a separate output layer. RMSNorm(x) = w * x / sqrt(mean(x^2) + eps).
- QKV: one fused projection with bias whose rows are all query heads, then the key heads of the
  multi_query_group_num groups, then their value heads; query head h reads group h // (heads / groups).
- rotary on the first half of each head (d/2 dimensions), pairs (2i, 2i+1) interleaved, theta_i =
  1 / base^(2i / (d/2)), base = 10000 x rope_ratio, position ids 0, 1, 2, ... over the whole sequence, in fp32.
- attention softmax(q k^T / sqrt(d)), causal over the whole sequence (the prompt too).
- MLP: dense_h_to_4h gives [gate | up]; dense_4h_to_h(silu(gate) * up); no biases besides QKV.

Official quantized releases (chatglm2-6b-int4: `quantization_bit` in config.json) store each layer matrix as int8
levels with `<key>_scale`, 4 bits two per byte (element 2i in the high nibble); they are dequantized as
float(scale) * level, as the release's CPU kernels do.

CLI: chatglm2_reference.py logits --model DIR --ids 1,2,3 --out FILE   (last-position logits, float32)
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatglm6b_reference import dequantize  # noqa: E402
from glm_reference import load_torch_file  # noqa: E402

TRANSFORMERS_NAMES = {
    "model.embed_tokens.weight": "transformer.embedding.word_embeddings.weight",
    "lm_head.weight": "transformer.output_layer.weight",
    "model.norm.weight": "transformer.encoder.final_layernorm.weight",
}


def read_safetensors(path):
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        raw = np.frombuffer(data[start:end], dtype={"F16": "<f2", "F32": "<f4", "BF16": "<u2"}[entry["dtype"]])
        if entry["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = raw.astype(np.float32).reshape(entry["shape"])
    return tensors


def from_transformers(tensors):
    """GlmForCausalLM's keys as the original release's: renamed, q/k/v stacked into query_key_value."""
    out = {}
    layers = sorted({int(k.split(".")[2]) for k in tensors if k.startswith("model.layers.")})
    for key, value in tensors.items():
        if key in TRANSFORMERS_NAMES:
            out[TRANSFORMERS_NAMES[key]] = value
    for i in layers:
        src, dst = f"model.layers.{i}.", f"transformer.encoder.layers.{i}."
        for kind in ["weight", "bias"]:
            out[dst + f"self_attention.query_key_value.{kind}"] = np.concatenate(
                [tensors[src + f"self_attn.{p}_proj.{kind}"] for p in "qkv"], axis=0)
        out[dst + "self_attention.dense.weight"] = tensors[src + "self_attn.o_proj.weight"]
        out[dst + "mlp.dense_h_to_4h.weight"] = tensors[src + "mlp.gate_up_proj.weight"]
        out[dst + "mlp.dense_4h_to_h.weight"] = tensors[src + "mlp.down_proj.weight"]
        for norm in ["input_layernorm", "post_attention_layernorm"]:
            out[dst + norm + ".weight"] = tensors[src + norm + ".weight"]
    return out


def load_release(model_dir: str, columns) -> dict:
    """Every tensor as float32 under the original keys, from .bin or safetensors files (one or an index)."""
    names = os.listdir(model_dir)
    raw = {}
    if "model.safetensors" in names or "model.safetensors.index.json" in names:
        if "model.safetensors" in names:
            files = ["model.safetensors"]
        else:
            with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        for name in files:
            raw.update(read_safetensors(os.path.join(model_dir, name)))
        return from_transformers(raw) if "model.embed_tokens.weight" in raw else raw
    if "pytorch_model.bin" in names:
        files = ["pytorch_model.bin"]
    else:
        with open(os.path.join(model_dir, "pytorch_model.bin.index.json")) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    for name in files:
        state = load_torch_file(os.path.join(model_dir, name))
        raw.update(state.get("module", state) if isinstance(state, dict) else state)
    weights = {}
    for key, value in raw.items():
        if key.endswith("_scale"):
            continue
        if key + "_scale" in raw:
            weights[key] = dequantize(np.asarray(value), np.asarray(raw[key + "_scale"]), columns(key))
        else:
            weights[key] = np.asarray(value, dtype=np.float32)
    return weights


class ChatGLM2Reference:
    def __init__(self, model_dir: str):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        if c.get("model_type") == "glm":  # transformers' field names
            c = dict(num_layers=c["num_hidden_layers"], hidden_size=c["hidden_size"],
                     num_attention_heads=c["num_attention_heads"], multi_query_group_num=c["num_key_value_heads"],
                     ffn_hidden_size=c["intermediate_size"], layernorm_epsilon=c["rms_norm_eps"],
                     rope_ratio=c["rope_theta"] / 10000)
        self.layers = c["num_layers"]
        self.hidden = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.groups = c.get("multi_query_group_num", self.heads) if c.get("multi_query_attention", True) else \
            self.heads
        self.head_dim = self.hidden // self.heads
        self.ffn = c["ffn_hidden_size"]
        self.eps = np.float32(c.get("layernorm_epsilon", 1e-5))
        base = np.float32(10000 * c.get("rope_ratio", 1))
        rotary = self.head_dim // 2
        self.theta = (np.float32(1) / base ** (np.arange(0, rotary, 2, dtype=np.float32) / np.float32(rotary)))
        self.theta = self.theta.astype(np.float32)
        self.w = load_release(model_dir, lambda key: self.ffn if key.endswith("dense_4h_to_h.weight") else self.hidden)

    def rms_norm(self, x, weight):
        x64 = x.astype(np.float64)
        inverse = (1.0 / np.sqrt((x64 * x64).mean(axis=-1, keepdims=True) + np.float64(self.eps))).astype(np.float32)
        return weight * (x * inverse)

    def rotary(self, x, positions):
        """x: [tokens, heads, d]; the first d/2 dimensions rotate in interleaved pairs."""
        angles = (positions.astype(np.float32)[:, None] * self.theta[None, :]).astype(np.float32)
        cos = np.cos(angles.astype(np.float64)).astype(np.float32)[:, None, :]
        sin = np.sin(angles.astype(np.float64)).astype(np.float32)[:, None, :]
        rotated = x.copy()
        half = self.head_dim // 2
        a, b = x[..., 0:half:2], x[..., 1:half:2]
        rotated[..., 0:half:2] = a * cos - b * sin
        rotated[..., 1:half:2] = b * cos + a * sin
        return rotated

    def forward(self, ids):
        w, n, d = self.w, len(ids), self.head_dim
        positions = np.arange(n)
        x = w["transformer.embedding.word_embeddings.weight"][np.asarray(ids)]
        mask = np.triu(np.ones((n, n), dtype=bool), k=1)
        per_group = self.heads // self.groups
        for i in range(self.layers):
            p = f"transformer.encoder.layers.{i}."
            a = self.rms_norm(x, w[p + "input_layernorm.weight"])
            qkv = a @ w[p + "self_attention.query_key_value.weight"].T + w[p + "self_attention.query_key_value.bias"]
            q = qkv[:, : self.heads * d].reshape(n, self.heads, d)
            k = qkv[:, self.heads * d: (self.heads + self.groups) * d].reshape(n, self.groups, d)
            v = qkv[:, (self.heads + self.groups) * d:].reshape(n, self.groups, d)
            q, k = self.rotary(q, positions), self.rotary(k, positions)
            context = np.empty((n, self.heads, d), dtype=np.float32)
            for h in range(self.heads):
                g = h // per_group
                scores = (q[:, h] @ k[:, g].T) / np.float32(np.sqrt(d))
                scores[mask] = -np.inf
                scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
                context[:, h] = (scores / scores.sum(axis=-1, keepdims=True)) @ v[:, g]
            x = x + context.reshape(n, self.hidden) @ w[p + "self_attention.dense.weight"].T
            m = self.rms_norm(x, w[p + "post_attention_layernorm.weight"])
            u = m @ w[p + "mlp.dense_h_to_4h.weight"].T
            gate, up = u[:, : self.ffn], u[:, self.ffn:]
            x = x + ((gate / (1 + np.exp(-gate))) * up) @ w[p + "mlp.dense_4h_to_h.weight"].T
        x = self.rms_norm(x, w["transformer.encoder.final_layernorm.weight"])
        return x @ w["transformer.output_layer.weight"].T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["logits"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    ids = [int(x) for x in args.ids.replace(",", " ").split()]
    np.asarray(ChatGLM2Reference(args.model).forward(ids)[-1], dtype="<f4").tofile(args.out)


if __name__ == "__main__":
    main()
