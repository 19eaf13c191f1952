#!/usr/bin/env python3
"""Independent NumPy reference of ChatGLM-6B's forward pass and greedy decoding.

Written from THUDM/chatglm-6b's `modeling_chatglm.py` (hub revision 8b7d33596d18c5e83e2da052d05ca4db02e60620,
read through the public mirror named in ../shared/fixtures/chatglm/provenance.json), without torch: the release
folder is read with zipfile and the restricted unpickler of glm_reference.py. It is the reference the engine's
ChatGLM-6B tests compare against, and it documents the math:

- the word embeddings (no scaling); DeepNorm blocks: a = LN(x); x = alpha a + Attention(a); m = LN(x);
  x = alpha m + MLP(m), alpha = sqrt(2 x 28): GLMBlock's num_layers defaults to 28 and ChatGLMModel never passes
  the configured count, so the release's own 28 layers fix alpha for every model of this code, however many layers
  it has; a final LayerNorm; the output layer is the word embeddings (the release also stores them as
  lm_head.weight);
- QKV per head interleaved ([q | k | v] of each head, as GLM-130B); 2D rotary positions: the first half of each
  head's query and key is rotated by the position id, the second half by the block position id, each with
  rotate-half pairs over its d/2 dimensions and inverse frequencies 1 / 10000^(2j / (d/2)) rounded to fp16 (the
  module rounds them when it is built and ignores the stored copy); angles and cos/sin then in the compute
  precision (fp32 here, as the official fixture ran);
- positions: with context length c (the index of <sop>) and mask position p (the first [gMASK], else [MASK]),
  position ids are 0..c-1 then p for <sop> and every generated token; block position ids are 0 in the context
  and 1, 2, ... from <sop> on; tokens before <sop> see each other both ways, <sop> and later tokens causally;
- attention softmax(q k^T / sqrt(d)) (the official layer-index scaling cancels), masked scores -10000;
- MLP dense_4h_to_h(gelu_tanh(dense_h_to_4h(m))), no gating.

CLI: chatglm6b_reference.py logits --model DIR --ids 1,2,3 --out FILE   (last-position logits, float32)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_reference import load_torch_file, layer_norm  # noqa: E402


# The layer count behind DeepNorm's alpha in the official code, whatever num_layers says (see above).
DEEPNORM_LAYERS = 28


def gelu_tanh(x):
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + np.tanh(0.7978845608028654 * x64 * (1.0 + 0.044715 * x64 * x64)))).astype(np.float32)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def load_release(model_dir: str) -> dict:
    """Every tensor of the release as float32, from pytorch_model.bin.index.json's files (or one pytorch_model.bin).

    Official quantized releases (chatglm-6b-int8/-int4: `quantization_bit` in config.json) store each layer matrix
    as int8 levels with a `<key>_scale` of one fp16 scale per row; 4 bits pack two levels per byte, element 2i in
    the high nibble (the `compress_int4_weight` of the release's quantization_kernels.c). They are dequantized as
    the release's CPU kernels (`extract_int8/int4_weight_to_float`) do: float(scale) * level.
    """
    index = os.path.join(model_dir, "pytorch_model.bin.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["pytorch_model.bin"]
    raw = {}
    for name in files:
        state = load_torch_file(os.path.join(model_dir, name))
        state = state.get("module", state) if isinstance(state, dict) else state
        raw.update(state)
    weights = {}
    for key, value in raw.items():
        if key.endswith("_scale"):
            continue
        scale_key = key + "_scale"
        if scale_key in raw:
            weights[key] = dequantize(np.asarray(value), np.asarray(raw[scale_key]), logical_columns(key, model_dir))
        else:
            weights[key] = np.asarray(value, dtype=np.float32)
    return weights


def logical_columns(key: str, model_dir: str) -> int:
    """The input width of a layer matrix, from config.json (what tells packed int4 from int8)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    return config["inner_hidden_size"] if key.endswith("dense_4h_to_h.weight") else config["hidden_size"]


def dequantize(levels, scales, columns):
    levels = levels.astype(np.int8)
    if levels.shape[1] * 2 == columns:
        high = levels >> 4                                           # arithmetic shift: the signed high nibble
        low = (levels.astype(np.uint8) << 4).astype(np.int8) >> 4    # the signed low nibble
        unpacked = np.empty((levels.shape[0], columns), dtype=np.int8)
        unpacked[:, 0::2] = high
        unpacked[:, 1::2] = low
        levels = unpacked
    assert levels.shape[1] == columns, f"levels {levels.shape} for {columns} columns"
    return scales.astype(np.float32)[:, None] * levels.astype(np.float32)


class ChatGLM6BReference:
    def __init__(self, model_dir: str):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        self.w = load_release(model_dir)
        c = self.config
        self.layers = c["num_layers"]
        self.hidden = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.head_dim = self.hidden // self.heads
        self.eps = np.float32(c.get("layernorm_epsilon", 1e-5))
        rotary_dim = self.head_dim // 2
        inv = 1.0 / (10000.0 ** (np.arange(0, rotary_dim, 2, dtype=np.float32) / rotary_dim))
        self.inv_freq = inv.astype(np.float16).astype(np.float32)

    def positions(self, ids):
        bos, gmask, mask = self.config["bos_token_id"], self.config["gmask_token_id"], self.config["mask_token_id"]
        context = ids.index(bos)
        mask_position = ids.index(gmask if gmask in ids else mask)
        position = [i if i < context else mask_position for i in range(len(ids))]
        block = [0 if i < context else i - context + 1 for i in range(len(ids))]
        return np.array(position), np.array(block), context

    def rotary(self, x, pos):
        angles = pos.astype(np.float32)[:, None] * self.inv_freq[None, :]
        emb = np.concatenate([angles, angles], axis=-1)
        cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
        return x * cos + rotate_half(x) * sin

    def forward(self, ids):
        """Logits of every position, [len(ids), vocab]."""
        w, n, d, h = self.w, len(ids), self.head_dim, self.heads
        position, block, context = self.positions(ids)
        alpha = np.float32(math.sqrt(2 * DEEPNORM_LAYERS))
        visible = np.tril(np.ones((n, n), dtype=bool))
        visible[:, :context] = True
        x = w["transformer.word_embeddings.weight"][np.array(ids)]
        for layer in range(self.layers):
            p = f"transformer.layers.{layer}."
            a = layer_norm(x, w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], self.eps)
            qkv = a @ w[p + "attention.query_key_value.weight"].T + w[p + "attention.query_key_value.bias"]
            qkv = qkv.reshape(n, h, 3 * d)
            q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
            half = d // 2
            q = np.concatenate([self.rotary(q[..., :half], position), self.rotary(q[..., half:], block)], axis=-1)
            k = np.concatenate([self.rotary(k[..., :half], position), self.rotary(k[..., half:], block)], axis=-1)
            scores = np.einsum("ihd,jhd->hij", q, k) / np.float32(math.sqrt(d))
            scores = np.where(visible[None], scores, np.float32(-10000.0))
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context_layer = np.einsum("hij,jhd->ihd", probs, v).reshape(n, h * d)
            attention = context_layer @ w[p + "attention.dense.weight"].T + w[p + "attention.dense.bias"]
            x = a * alpha + attention
            m = layer_norm(x, w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"],
                           self.eps)
            u = gelu_tanh(m @ w[p + "mlp.dense_h_to_4h.weight"].T + w[p + "mlp.dense_h_to_4h.bias"])
            x = m * alpha + (u @ w[p + "mlp.dense_4h_to_h.weight"].T + w[p + "mlp.dense_4h_to_h.bias"])
        x = layer_norm(x, w["transformer.final_layernorm.weight"], w["transformer.final_layernorm.bias"], self.eps)
        return x @ w["transformer.word_embeddings.weight"].T

    def greedy(self, ids, steps):
        """`steps` argmax tokens, and the logits each was drawn from."""
        ids, drawn, logits = list(ids), [], []
        for _ in range(steps):
            last = self.forward(ids)[-1]
            token = int(np.argmax(last))
            logits.append(last)
            drawn.append(token)
            ids.append(token)
        return drawn, np.stack(logits)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["logits"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    ids = [int(x) for x in args.ids.replace(",", " ").split()]
    np.asarray(ChatGLM6BReference(args.model).forward(ids)[-1], dtype="<f4").tofile(args.out)


if __name__ == "__main__":
    main()
