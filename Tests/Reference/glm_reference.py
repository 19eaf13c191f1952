#!/usr/bin/env python3
"""Independent NumPy reference of the GLM-130B forward pass, greedy decoding and beam search.

Written from the project spec (docs: /work/shared/spec/glm-130b.md) and the facts of the
official code (THUDM/GLM-130B generate.py / evaluation/model.py / generation/strategies.py,
SwissArmyTransformer v0.2.12 model/official/glm130B_model.py and
model/position_embedding/rotary_embeddings.py). It is
the ground truth the Swift engine's tests compare against; it favours clarity over speed, but
vectorises each layer so a ~1400-token prompt through a tiny model takes well under a second.

Only numpy (and scipy, if present, for erf) is needed; torch is NOT used. Checkpoints are read
with zipfile + a restricted pickle.Unpickler.

CLI
---
  glm_reference.py logits --model DIR (--ids 1,2,3 | --ids-file F) --out FILE [--json]
      Writes the logits at the LAST input position (for a prompt ending in <sop>: the first
      decode step) as little-endian float32, vocab_size values. With --json prints a JSON
      summary (file, vocab_size, top-k) on stdout.
  glm_reference.py greedy --model DIR (--ids ... | --ids-file F) --max-new-tokens N
                   [--out FILE] [--json] [--top-k K]
      Greedy (argmax) decoding, stopping after <eop> 150005 / eos 20002 (the end token is
      included in generated_ids, and "finished" is true) or after N tokens. Prints JSON:
      {"generated_ids": [...], "finished": bool, "context_length": c, "mask_token": id|null,
       "mask_position": p|null, "use_gmask": bool, "position_ids": [...],
       "per_step_topk": [[[id, logit], ...], ...], "last_position_logits_file": FILE|null}
      where last_position_logits_file holds the first-step logits (at the last input token).
      Without --json the same object is printed minus position_ids.
      The prompt ids are used as given (they should end with <sop>); the generation mask,
      its position and use_gmask are derived from them as in the official fill_blanks.

  glm_reference.py beam --model DIR (--ids ... | --ids-file F) --num-beams B --max-new-tokens N
                   [--length-penalty 1.0] [--no-repeat-ngram-size 0] [--min-gen-length 0]
      The official GLM-130B BeamSearchStrategy (deterministic, batch 1, consider_end=True, end
      tokens <eop>/eos), in float64 over the reference's logits (see beam_search below). Prints
      JSON: {"beams": [{"tokens": [...generated ids...], "score": penalized score}, ...],
             "context_length": c}
      with the beams in the official final order (best first, at most B of them).

--ids-file accepts ids separated by commas and/or whitespace, or a JSON list.
Options --rotary {official,exact} and --gelu {erf,tanh} exist only to show that the tests can fail.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import sys
import zipfile
from collections import OrderedDict

import numpy as np

try:  # exact erf, vectorised
    from scipy.special import erf as _erf
except Exception:  # pragma: no cover - fallback without scipy
    _erf = np.vectorize(math.erf, otypes=[np.float64])

# ---------------------------------------------------------------------------------------------
# Token ids (icetk layout used by GLM-130B)
# ---------------------------------------------------------------------------------------------
MASK = 150000
GMASK = 150001
SMASK = 150002
SOP = 150004
EOP = 150005
EOS = 20002
END_TOKENS = (EOP, EOS)

# ---------------------------------------------------------------------------------------------
# Checkpoint reading: torch zip format without torch
# ---------------------------------------------------------------------------------------------
_STORAGE_DTYPES = {
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BFloat16Storage": "bfloat16",  # no numpy dtype: read as uint16, widened below
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "ShortStorage": np.int16,
    "IntStorage": np.int32,
    "LongStorage": np.int64,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands in for a torch.*Storage class named in the pickle."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """Replacement for torch._utils._rebuild_tensor_v2: a numpy view of the storage."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    flat = storage
    if len(size) == 0:
        return flat[storage_offset].copy()
    needed = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else storage_offset
    if needed > flat.size:
        raise ValueError(f"tensor of size {size}, stride {stride}, offset {storage_offset} "
                         f"exceeds its storage of {flat.size} elements")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[storage_offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False)
    return np.array(view)  # own, contiguous copy


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a torch.save() data.pkl allowing only the few globals a state dict needs."""

    def __init__(self, file, zf: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(file)
        self._zf = zf
        self._prefix = prefix
        self._byteorder = byteorder
        self._storages = {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a checkpoint")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        stype, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {stype!r}")
        cache_key = key
        if cache_key not in self._storages:
            raw = self._zf.read(f"{self._prefix}/data/{key}")
            if stype.dtype == "bfloat16":
                u16 = np.frombuffer(raw, dtype=np.dtype("<u2" if self._byteorder == "little" else ">u2"))
                arr = (u16.astype(np.uint32) << 16).view(np.float32)
            else:
                dt = np.dtype(stype.dtype)
                dt = dt.newbyteorder("<" if self._byteorder == "little" else ">")
                arr = np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="), copy=False)
            if arr.size < numel:
                raise pickle.UnpicklingError(f"storage {key}: {arr.size} elements, expected {numel}")
            self._storages[cache_key] = arr[:numel]
        return self._storages[cache_key]


def load_torch_file(path: str):
    """Reads a zip-format torch.save() file into nested dicts of numpy arrays."""
    with zipfile.ZipFile(path) as zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        if len(pkls) != 1:
            raise ValueError(f"{path}: expected one */data.pkl, found {pkls}")
        prefix = pkls[0][: -len("/data.pkl")]
        byteorder = "little"
        if f"{prefix}/byteorder" in zf.namelist():
            byteorder = zf.read(f"{prefix}/byteorder").decode().strip()
        with zf.open(pkls[0]) as f:
            return _RestrictedUnpickler(f, zf, prefix, byteorder).load()


# ---------------------------------------------------------------------------------------------
# Model directory: latest, iteration folder, shards, config.json; tensor-parallel merge
# ---------------------------------------------------------------------------------------------
def load_config(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    for k in ("num_layers", "hidden_size", "num_attention_heads", "inner_hidden_size", "vocab_size"):
        if k not in cfg:
            raise ValueError(f"config.json lacks {k}")
    cfg.setdefault("layernorm_epsilon", 1e-5)
    return cfg


def shard_paths(model_dir: str):
    with open(os.path.join(model_dir, "latest")) as f:
        iteration = f.read().strip()
    folder = os.path.join(model_dir, iteration)
    names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"mp_rank_\d+_model_states\.pt", n))
    ranks = [int(re.search(r"\d+", n).group()) for n in names]
    if not names or ranks != list(range(len(names))):
        raise ValueError(f"{folder}: shards must be mp_rank_00..mp_rank_{len(names)-1:02d}, found {names}")
    return [os.path.join(folder, n) for n in names]


def _layer_name(key: str) -> str:
    parts = key.split(".")
    return ".".join(parts[3:] if key.startswith("transformer.layers.") else parts[1:])


_QUANTIZABLE = ("attention.query_key_value.weight", "attention.dense.weight",
                "mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight")


def _dequantize(key, w, scale, local_in):
    """Official weight-only quantization: int8 q, or int4 packed two per byte (element 2i in the
    high nibble), times an fp16 per-row scale; the official kernel's product is fp16."""
    w = np.asarray(w)
    if w.dtype != np.int8:
        raise ValueError(f"{key}: quantized weight must be int8, got {w.dtype}")
    if w.shape[1] == local_in:
        q = w.astype(np.float32)
    elif w.shape[1] * 2 == local_in:
        high = (w >> 4).astype(np.int8)                      # arithmetic shift: sign-extended
        low = ((w << 4).astype(np.int8) >> 4).astype(np.int8)
        q = np.empty((w.shape[0], local_in), dtype=np.float32)
        q[:, 0::2] = high
        q[:, 1::2] = low
    else:
        raise ValueError(f"{key}: quantized shape {w.shape} does not fit input dim {local_in}")
    return (q * scale.astype(np.float32)[:, None]).astype(np.float16)


def load_model(model_dir: str):
    """Returns (config, weights) with weights merged to MP=1, as float32 numpy arrays."""
    cfg = load_config(model_dir)
    paths = shard_paths(model_dir)
    p = len(paths)
    h, f = cfg["hidden_size"], cfg["inner_hidden_size"]
    local_in = {"attention.query_key_value.weight": h, "mlp.dense_h_to_4h.weight": h,
                "attention.dense.weight": h // p, "mlp.dense_4h_to_h.weight": f // p}
    shards = []
    for path in paths:
        obj = load_torch_file(path)
        sd = obj["module"] if isinstance(obj, dict) and "module" in obj else obj
        sd = dict(sd)
        for key in list(sd):
            if key.endswith("_scale") and key[: -len("_scale")] in sd:
                base = key[: -len("_scale")]
                sd[base] = _dequantize(base, sd[base], sd.pop(key), local_in[_layer_name(base)])
        shards.append(sd)

    weights = {}
    for key in shards[0]:
        name = _layer_name(key)
        if name == "attention.rotary_emb.inv_freq":
            continue  # always recomputed
        parts = [s[key] for s in shards]
        if name in ("attention.dense.weight", "mlp.dense_4h_to_h.weight"):
            merged = np.concatenate(parts, axis=1)          # column (input-dim) parallel
        elif name in ("mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias"):
            halves = [np.split(x, 2, axis=0) for x in parts]  # GLU-aware: [x1_r ; x2_r] per rank
            merged = np.concatenate([a for a, _ in halves] + [b for _, b in halves], axis=0)
        elif key == "transformer.word_embeddings.weight" or name.startswith("attention.query_key_value."):
            merged = np.concatenate(parts, axis=0)          # row parallel, plain
        else:
            merged = parts[0]                               # replicated
            for x in parts[1:]:
                if x.shape != merged.shape:
                    raise ValueError(f"{key}: replicated tensor differs in shape across ranks")
        weights[key] = np.ascontiguousarray(merged, dtype=np.float32)  # fp16 -> fp32 exactly

    n_layers, n, V = cfg["num_layers"], cfg["num_attention_heads"], cfg["vocab_size"]
    expect = {"transformer.word_embeddings.weight": (V, h), "transformer.final_layernorm.weight": (h,)}
    for i in range(n_layers):
        pre = f"transformer.layers.{i}."
        expect[pre + "attention.query_key_value.weight"] = (3 * h, h)
        expect[pre + "attention.dense.weight"] = (h, h)
        expect[pre + "mlp.dense_h_to_4h.weight"] = (2 * f, h)
        expect[pre + "mlp.dense_4h_to_h.weight"] = (h, f)
    for k, shape in expect.items():
        if k not in weights or weights[k].shape != shape:
            raise ValueError(f"{k}: expected shape {shape}, got {None if k not in weights else weights[k].shape}")
    assert h % n == 0
    return cfg, weights


# ---------------------------------------------------------------------------------------------
# Rotary table
# ---------------------------------------------------------------------------------------------
def rotary_table(num_positions: int, head_dim: int, base: float = 10000.0, mode: str = "official"):
    """cos, sin tables [num_positions, head_dim] (float32 holding the values used).

    official: SwissArmyTransformer v0.2.12 RotaryEmbedding with fp16 (and also fp32) models:
      inv_freq = (1 / base ** (arange(0, d, 2).float() / d)) in fp32, then .half()
      t        = arange(seq_len) created directly in fp16 (inv_freq's dtype)
      freqs    = einsum('i,j->ij', t, inv_freq) in fp16 (one rounding of the exact product)
      emb      = cat(freqs, freqs)            -> dim i and i + d/2 share the angle
      cos/sin  = emb.cos(), emb.sin() on an fp16 tensor (evaluated in float32, rounded to fp16)
    exact: float64 angles, no rounding (NOT the official table; used to show the tests can fail).
    """
    half = head_dim // 2
    if mode == "official":
        exponent = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
        inv_freq = (np.float32(1.0) / np.power(np.float32(base), exponent)).astype(np.float16)
        t = np.arange(num_positions, dtype=np.float64).astype(np.float16)
        freqs = (t.astype(np.float32)[:, None] * inv_freq.astype(np.float32)[None, :]).astype(np.float16)
        emb = np.concatenate([freqs, freqs], axis=1).astype(np.float64)
        # cos/sin rounded once, from float64, to fp16. torch evaluates fp16 cos/sin through a
        # float32 libm (not correctly rounded) and rounds that to fp16; the two agree except
        # where the value lies within a float32 ulp of an fp16 rounding tie. For head dim 8 the
        # only such entry is sin(300) (j = 0): the exact value -0.99975584 rounds to fp16
        # -0.9995, a correctly rounded float32 would be the tie -0.999755859375 -> -1.0; the
        # official fixture logits match -0.9995 (max error 2e-5, vs 1.3e-4 with -1.0). For head
        # dim 128 there are 48 such entries of 262144 (one fp16 ulp each; negligible).
        cos = np.cos(emb).astype(np.float16).astype(np.float32)
        sin = np.sin(emb).astype(np.float16).astype(np.float32)
    elif mode == "exact":
        inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
        freqs = np.arange(num_positions, dtype=np.float64)[:, None] * inv_freq[None, :]
        emb = np.concatenate([freqs, freqs], axis=1)
        cos, sin = np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)
    else:
        raise ValueError(f"unknown rotary mode {mode}")
    assert cos.shape == (num_positions, 2 * half)
    return cos, sin


def rotate_half(x):
    d2 = x.shape[-1] // 2
    return np.concatenate([-x[..., d2:], x[..., :d2]], axis=-1)


# ---------------------------------------------------------------------------------------------
# Masks and positions (official get_masks_and_position_ids, generate.py)
# ---------------------------------------------------------------------------------------------
def generation_mask_of(ids):
    """(mask_token, mask_position, use_gmask) derived from the ids like fill_blanks():
    [MASK] beats [sMASK] beats [gMASK]; first occurrence. mask_token None if the ids hold none."""
    ids = list(ids)
    for tok in (MASK, SMASK):
        if tok in ids:
            return tok, ids.index(tok), False
    if GMASK in ids:
        return GMASK, ids.index(GMASK), True
    return None, None, True


def position_ids_for(context_length: int, total_length: int, mask_position, use_gmask: bool):
    pos = np.arange(total_length, dtype=np.int64)
    if not use_gmask:
        pos[context_length - 1:] = mask_position
    return pos


def visibility_mask(context_length: int, total_length: int):
    """visible[i, j]: row i may attend to column j. Tokens 0..c-2 bidirectional among themselves;
    <sop> (index c-1) and generated tokens causal (and everyone sees the whole context 0..c-2)."""
    i = np.arange(total_length)[:, None]
    j = np.arange(total_length)[None, :]
    return (j <= i) | (j < context_length - 1)


# ---------------------------------------------------------------------------------------------
# Forward pass (float32, full recomputation)
# ---------------------------------------------------------------------------------------------
def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / np.sqrt(var + np.float32(eps)) * w + b


def gelu(x, mode="erf"):
    if mode == "erf":
        return (0.5 * x * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(np.float32)
    if mode == "tanh":
        x64 = x.astype(np.float64)
        return (0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)))).astype(np.float32)
    raise ValueError(mode)


class GLMReference:
    def __init__(self, model_dir: str, rotary: str = "official", gelu_mode: str = "erf"):
        self.cfg, self.w = load_model(model_dir)
        self.rotary = rotary
        self.gelu_mode = gelu_mode
        c = self.cfg
        self.L, self.h, self.n = c["num_layers"], c["hidden_size"], c["num_attention_heads"]
        self.d = self.h // self.n
        self.eps = c["layernorm_epsilon"]
        self.alpha = np.float32(math.sqrt(2.0 * self.L))
        self._rope_cache = (0, None, None)

    def _rope(self, n_pos):
        if self._rope_cache[0] < n_pos:
            cos, sin = rotary_table(max(n_pos, 2048), self.d, mode=self.rotary)
            self._rope_cache = (cos.shape[0], cos, sin)
        return self._rope_cache[1], self._rope_cache[2]

    def hidden_states(self, ids, positions, visible):
        """Final-LayerNorm output [s, h] for token ids with position ids and visibility mask."""
        W = self.w
        ids = np.asarray(ids, dtype=np.int64)
        positions = np.asarray(positions, dtype=np.int64)
        s, h, n, d = len(ids), self.h, self.n, self.d
        cos_t, sin_t = self._rope(int(positions.max()) + 1)
        cos = cos_t[positions][:, None, :]  # [s, 1, d]
        sin = sin_t[positions][:, None, :]
        x = W["transformer.word_embeddings.weight"][ids]  # [s, h], no scaling
        for l in range(self.L):
            p = f"transformer.layers.{l}."
            a = layer_norm(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], self.eps)
            qkv = a @ W[p + "attention.query_key_value.weight"].T + W[p + "attention.query_key_value.bias"]
            qkv = qkv.reshape(s, n, 3, d)  # per head: [q | k | v], each d wide
            q, k, v = qkv[:, :, 0, :], qkv[:, :, 1, :], qkv[:, :, 2, :]
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            qh, kh, vh = (t.transpose(1, 0, 2) for t in (q, k, v))  # [n, s, d]
            scores = (qh @ kh.transpose(0, 2, 1)) / np.float32(math.sqrt(d))  # [n, s, s]
            # masked entries -10000 (official: masked_fill(-10000) on q k^T / (sqrt(d) (l+1)),
            # then * (l+1) in fp32, i.e. -10000 (l+1); identical after softmax since no row is
            # fully masked)
            scores = np.where(visible[None], scores, np.float32(-10000.0))
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ vh).transpose(1, 0, 2).reshape(s, h)  # heads concatenated in order
            attn = ctx @ W[p + "attention.dense.weight"].T + W[p + "attention.dense.bias"]
            y = self.alpha * a + attn  # DeepNorm: alpha scales the normalised input
            m = layer_norm(y, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], self.eps)
            u = m @ W[p + "mlp.dense_h_to_4h.weight"].T + W[p + "mlp.dense_h_to_4h.bias"]
            u1, u2 = np.split(u, 2, axis=-1)  # first half linear, second half through GELU
            mlp = (u1 * gelu(u2, self.gelu_mode)) @ W[p + "mlp.dense_4h_to_h.weight"].T + W[p + "mlp.dense_4h_to_h.bias"]
            x = (self.alpha * m + mlp).astype(np.float32)
        return layer_norm(x, W["transformer.final_layernorm.weight"], W["transformer.final_layernorm.bias"], self.eps)

    def logits_from_hidden(self, hid_rows):
        return hid_rows @ self.w["transformer.word_embeddings.weight"].T  # tied, no bias

    # -- prompt-level helpers ------------------------------------------------------------------
    def last_logits(self, ids):
        """Logits at the last input position (the <sop> for a fill_blanks prompt)."""
        ids = list(ids)
        c = len(ids)
        _, mpos, use_gmask = generation_mask_of(ids)
        pos = position_ids_for(c, c, mpos, use_gmask)
        hid = self.hidden_states(ids, pos, visibility_mask(c, c))
        return self.logits_from_hidden(hid[-1:])[0]

    def greedy(self, ids, max_new_tokens: int, top_k: int = 5):
        ids = list(ids)
        c = len(ids)
        tok, mpos, use_gmask = generation_mask_of(ids)
        seq = list(ids)
        generated, per_step, first_logits, finished = [], [], None, False
        for _ in range(max_new_tokens):
            T = len(seq)
            pos = position_ids_for(c, T, mpos, use_gmask)
            hid = self.hidden_states(seq, pos, visibility_mask(c, T))
            logits = self.logits_from_hidden(hid[-1:])[0]
            if first_logits is None:
                first_logits = logits
            order = np.argsort(-logits, kind="stable")[:top_k]
            per_step.append([[int(i), float(logits[i])] for i in order])
            nxt = int(np.argmax(logits))  # first maximal index, like torch.topk(1)/argmax ties aside
            seq.append(nxt)
            generated.append(nxt)
            if nxt in END_TOKENS:
                finished = True
                break
        return {
            "generated_ids": generated,
            "finished": finished,
            "context_length": c,
            "mask_token": tok,
            "mask_position": mpos,
            "use_gmask": use_gmask,
            "position_ids": position_ids_for(c, len(seq), mpos, use_gmask).tolist(),
            "per_step_topk": per_step,
        }, first_logits

    def beam(self, context_ids, num_beams: int, max_new_tokens: int, length_penalty: float = 1.0,
             no_repeat_ngram_size: int = 0, min_gen_length: int = 0):
        """Official beam search (see beam_search) over this model, end tokens END_TOKENS.

        Every candidate sequence is recomputed from scratch with the same positions and
        visibility as greedy(): c = len(context_ids) fixes the bidirectional part and the
        generation mask's position; the logits are those of the sequence's last row, in float64.
        Returns {"beams": [{"tokens": [...], "score": float}, ...], "context_length": c}."""
        context = list(context_ids)
        c = len(context)
        _, mpos, use_gmask = generation_mask_of(context)

        def next_logits(seq):
            T = len(seq)
            pos = position_ids_for(c, T, mpos, use_gmask)
            hid = self.hidden_states(seq, pos, visibility_mask(c, T))
            return self.logits_from_hidden(hid[-1:])[0].astype(np.float64)

        beams = beam_search(next_logits, context, num_beams, max_new_tokens, END_TOKENS,
                            length_penalty=length_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
                            min_gen_length=min_gen_length)
        return {"beams": beams, "context_length": c}


# ---------------------------------------------------------------------------------------------
# Beam search (official generation/strategies.py BeamSearchStrategy)
# ---------------------------------------------------------------------------------------------
BANNED_LOGIT = -65504.0  # the official "minus infinity" (fp16 lowest), also used in fp32


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def _penalized(score, total_length, length_penalty):
    """OpenNMT length penalty as in the official _add_end_beams: total_length counts the WHOLE
    sequence, context included (the official beam tensor holds context + generated tokens)."""
    return score / ((5.0 + total_length) / 6) ** length_penalty


def _add_ended(ended, penalized, tokens, num_beams):
    """Official _add_end_beams insertion: scan i from len(ended) down to 0, stop at i == 0 or
    when penalized < ended[i-1]; insert at i; keep the first num_beams. ended stays sorted
    descending and a newcomer goes BEFORE existing entries with an equal score."""
    i = len(ended)
    while i > 0 and not penalized < ended[i - 1][0]:
        i -= 1
    ended.insert(i, (penalized, tokens))
    del ended[num_beams:]


def _ngram_prefix(seq, n):
    """The n-gram ban key: the last n-1 tokens of seq. The official code slices
    tokens[-(n-1):], which for n == 1 is tokens[-0:] = the WHOLE sequence (a TODO there, so no
    ban could ever match); here n == 1 uses the empty prefix instead: every token generated
    before is banned (the evident intent of no_repeat_ngram_size = 1)."""
    return tuple(seq[max(0, len(seq) - (n - 1)):]) if n > 1 else ()


def beam_search(next_logits, context, num_beams, max_new_tokens, end_tokens, length_penalty=1.0,
                no_repeat_ngram_size=0, min_gen_length=0):
    """The official GLM-130B BeamSearchStrategy, deterministic mode, batch size 1,
    consider_end=True, driven like the official generation loop, in float64.

    next_logits(seq) -> logits over the full vocabulary that follow the token list seq (context
    + a beam's generated tokens). Returns the official result, best first:
    [{"tokens": [generated ids, with the final end token if any], "score": penalized score}].

    Semantics (official line by line, noted where it deviates or is quirky):
      * one beam with no tokens and score 0 to start; every step each beam's logits get
        end tokens -> -65504 while length_generated < min_gen_length, and its n-gram bans ->
        -65504 once len(context) + length_generated > n; candidate score = log_softmax + the
        beam's cumulative score.
      * candidates: all (beam, token) ranked by score descending, ties by the smaller flattened
        index beam * vocab + token; the first K = (max(1, #end tokens) + 1) * num_beams (capped
        at the number of candidates; the official topk would raise there) are walked in order:
        an end token goes to `ended` (penalized by the whole length, context included), any other
        token continues the beam while fewer than num_beams continue, and the walk stops at the
        first non-end candidate after that. Note an end token ranked BELOW the continuing beams
        is still recorded, as long as it comes before the stopping candidate.
      * done when `ended` is full and its worst penalized score >= the best continuing score
        penalized at the current total length; the loop stops when done or after
        max_new_tokens steps.
      * finalize quirk: if not done, only the FIRST (best) continuing beam is added to `ended`
        (official `for i in range(batch_size)` with batch size 1).
    """
    context = list(context)
    end_tokens = [int(t) for t in end_tokens]
    n = int(no_repeat_ngram_size)
    k_candidates = (max(1, len(end_tokens)) + 1) * num_beams

    beams = [([], 0.0)]        # continuing beams: (generated tokens, cumulative log-prob)
    bans = [{}]                # per beam: n-gram prefix tuple -> list of banned next tokens
    ended = []                 # (penalized score, generated tokens), sorted descending
    length_generated = 0
    done = False

    while not done and length_generated < max_new_tokens:
        seq_len = len(context) + length_generated  # official tokens.shape[-1]
        rows = []
        for (tokens, score), ban in zip(beams, bans):
            seq = context + tokens
            logits = np.array(next_logits(seq), dtype=np.float64)  # own float64 copy
            if min_gen_length > length_generated:
                for e in end_tokens:
                    logits[e] = BANNED_LOGIT
            if n > 0 and seq_len > n:
                for t in ban.get(_ngram_prefix(seq, n), []):
                    logits[t] = BANNED_LOGIT
            rows.append(log_softmax(logits) + score)
        vocab = rows[0].size
        flat = np.concatenate(rows)
        # descending score, ties by the smaller flattened index (stable sort of the negation)
        order = np.argsort(-flat, kind="stable")[:k_candidates]

        new_beams, new_bans = [], []
        for idx in order:
            parent, token = divmod(int(idx), vocab)
            score = float(flat[idx])
            parent_tokens = beams[parent][0]
            new_tokens = parent_tokens + [token]
            if not done and token in end_tokens:
                total = len(context) + len(new_tokens)
                _add_ended(ended, _penalized(score, total, length_penalty), new_tokens, num_beams)
            elif len(new_beams) < num_beams:
                new_beams.append((new_tokens, score))
                if n > 0:
                    b = dict(bans[parent])  # shallow copy; lists are replaced, never mutated
                    prefix = _ngram_prefix(context + parent_tokens, n)
                    b[prefix] = b.get(prefix, []) + [token]
                    new_bans.append(b)
                else:
                    new_bans.append({})
            else:
                break

        beams, bans = new_beams, new_bans
        length_generated += 1
        if not beams:
            done = True  # cannot happen with vocab >= K; the official code would fail here
        elif len(ended) == num_beams:
            best = max(s for _, s in beams)
            done = ended[-1][0] >= _penalized(best, len(context) + length_generated, length_penalty)

    if not done and beams:
        # official finalize: only beam 0 of the batch-size loop, i.e. the best continuing beam
        tokens, score = beams[0]
        _add_ended(ended, _penalized(score, len(context) + len(tokens), length_penalty), tokens,
                   num_beams)
    return [{"tokens": list(tokens), "score": float(p)} for p, tokens in ended]


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def parse_ids(text: str):
    text = text.strip()
    if text.startswith("["):
        return [int(v) for v in json.loads(text)]
    return [int(v) for v in re.split(r"[,\s]+", text) if v]


def write_f32(path, arr):
    np.asarray(arr, dtype="<f4").tofile(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("logits", "greedy"):
        sp = sub.add_parser(name)
        sp.add_argument("--model", required=True, help="checkpoint dir holding latest and config.json")
        g = sp.add_mutually_exclusive_group(required=True)
        g.add_argument("--ids", help="comma-separated token ids (context ending with <sop> 150004)")
        g.add_argument("--ids-file", help="file of ids (commas/whitespace or a JSON list)")
        sp.add_argument("--out", help="little-endian float32 logits at the last input position")
        sp.add_argument("--json", action="store_true", help="print a JSON result on stdout")
        sp.add_argument("--top-k", type=int, default=5)
        sp.add_argument("--rotary", choices=("official", "exact"), default="official")
        sp.add_argument("--gelu", choices=("erf", "tanh"), default="erf")
        if name == "greedy":
            sp.add_argument("--max-new-tokens", type=int, required=True)
    sp = sub.add_parser("beam", help="official beam search; prints JSON")
    sp.add_argument("--model", required=True, help="checkpoint dir holding latest and config.json")
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--ids", help="comma-separated token ids (context ending with <sop> 150004)")
    g.add_argument("--ids-file", help="file of ids (commas/whitespace or a JSON list)")
    sp.add_argument("--num-beams", type=int, required=True)
    sp.add_argument("--max-new-tokens", type=int, required=True)
    sp.add_argument("--length-penalty", type=float, default=1.0)
    sp.add_argument("--no-repeat-ngram-size", type=int, default=0)
    sp.add_argument("--min-gen-length", type=int, default=0)
    sp.add_argument("--rotary", choices=("official", "exact"), default="official")
    sp.add_argument("--gelu", choices=("erf", "tanh"), default="erf")
    args = ap.parse_args(argv)

    if args.ids is not None:
        ids = parse_ids(args.ids)
    else:
        with open(args.ids_file) as f:
            ids = parse_ids(f.read())
    if not ids:
        ap.error("no ids given")

    ref = GLMReference(args.model, rotary=args.rotary, gelu_mode=args.gelu)
    if args.cmd == "beam":
        if args.num_beams < 1 or args.max_new_tokens < 0:
            ap.error("--num-beams must be >= 1 and --max-new-tokens >= 0")
        print(json.dumps(ref.beam(ids, args.num_beams, args.max_new_tokens,
                                  length_penalty=args.length_penalty,
                                  no_repeat_ngram_size=args.no_repeat_ngram_size,
                                  min_gen_length=args.min_gen_length)))
    elif args.cmd == "logits":
        if not args.out:
            ap.error("logits needs --out")
        logits = ref.last_logits(ids)
        write_f32(args.out, logits)
        if args.json:
            order = np.argsort(-logits, kind="stable")[: args.top_k]
            print(json.dumps({"file": os.path.abspath(args.out), "vocab_size": int(logits.size),
                              "position": len(ids) - 1,
                              "topk": [[int(i), float(logits[i])] for i in order]}))
        else:
            print(os.path.abspath(args.out))
    else:
        result, first = ref.greedy(ids, args.max_new_tokens, top_k=args.top_k)
        result["last_position_logits_file"] = None
        if args.out and first is not None:
            write_f32(args.out, first)
            result["last_position_logits_file"] = os.path.abspath(args.out)
        if args.json:
            print(json.dumps(result))
        else:
            out = dict(result)
            out.pop("position_ids")
            print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
