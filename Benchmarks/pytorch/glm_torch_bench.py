#!/usr/bin/env python3
"""GLM-130B architecture in plain PyTorch on CPU: the baseline GLMCluster is compared against.

The same model as /work/shared/spec/glm-130b.md section 2 and Tests/Reference/glm_reference.py, at any size given by
a GLMCluster config.json (num_layers, hidden_size, num_attention_heads, inner_hidden_size, vocab_size,
max_sequence_length, layernorm_epsilon):

  x0 = E[id]; per layer: a = LN_in(x); y = alpha*a + Attn(a); m = LN_post(y); x = alpha*m + GeGLU(m)
  alpha = sqrt(2L) (DeepNorm); QKV rows interleaved per head [q|k|v]; rotary on all head dims, rotate-half,
  base 10000, with the official fp16-rounded cos/sin table; attention 1/sqrt(d), GLM mask (context
  bidirectional, <sop> and generated tokens causal); GeGLU with the FIRST half linear and exact-erf GELU on
  the second; biases on every linear; final LayerNorm; logits = x @ E^T (tied, no bias).

It is written the way a user would run it fast in eager PyTorch: `torch.inference_mode()`, weights as plain
tensors of the chosen dtype (fp32: MKL sgemm; bf16: oneDNN matmul, which uses AVX512-BF16 / AMX where the
CPU has them), `F.linear`, `F.scaled_dot_product_attention` (the fused CPU flash-attention kernel), and a
preallocated (static) KV cache written in place, so a decode step does no concatenation. Only the last
position's logits are computed (prefill and decode alike), then argmax (greedy).

Benchmark (random weights, seeded; random prompt ids):
  glm_torch_bench.py --config Benchmarks/configs/glm-1b.json --dtype bf16 --prompt-tokens 512 \
      --gen-tokens 32 --repeat 3 --threads 16 [--format json|md]
  One warm-up run (prefill + a few decode steps), then R repeats of: prefill P tokens (timed; includes the
  logits at the last position and the argmax that picks the first generated token), then G greedy decode
  steps through the KV cache (each timed; a step feeds one token, runs every layer against the cache and
  takes the argmax of its logits). Reports median/min/max over the repeats of prefill tokens/s and of the
  repeat's mean decode ms/token.

Math check against the NumPy reference (fp32, a checkpoint directory such as the tiny fixture):
  glm_torch_bench.py --check-reference Tests/Fixtures/glm-tiny-icetk/mp1
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

MASK, GMASK, SMASK, SOP = 150000, 150001, 150002, 150004
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
CONFIG_KEYS = ("num_layers", "hidden_size", "num_attention_heads", "inner_hidden_size", "vocab_size")


# ---------------------------------------------------------------------------------------------------------------
# Configuration and weights
# ---------------------------------------------------------------------------------------------------------------
def load_config(path: str) -> dict:
    with open(path) as f:
        cfg = json.load(f)
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise SystemExit(f"{path}: config lacks {', '.join(missing)}")
    cfg.setdefault("max_sequence_length", 2048)
    cfg.setdefault("layernorm_epsilon", 1e-5)
    if cfg["hidden_size"] % cfg["num_attention_heads"]:
        raise SystemExit("hidden_size must be a multiple of num_attention_heads")
    return cfg


def parameter_count(cfg: dict) -> int:
    L, h, f, V = cfg["num_layers"], cfg["hidden_size"], cfg["inner_hidden_size"], cfg["vocab_size"]
    per_layer = (3 * h * h + 3 * h) + (h * h + h) + (2 * f * h + 2 * f) + (h * f + h) + 4 * h
    return V * h + L * per_layer + 2 * h


def random_weights(cfg: dict, dtype: torch.dtype, seed: int) -> dict:
    """Seeded random weights under the official key names. Matrices ~ N(0, 0.02^2) (generated in fp32, then cast),
    biases ~ N(0, 0.01^2), LayerNorm weights 1 + N(0, 0.01^2), LayerNorm biases N(0, 0.01^2)."""
    g = torch.Generator().manual_seed(seed)
    L, h, f, V = cfg["num_layers"], cfg["hidden_size"], cfg["inner_hidden_size"], cfg["vocab_size"]

    def mat(*shape, std=0.02):
        return (torch.randn(*shape, generator=g, dtype=torch.float32) * std).to(dtype)

    def ln(prefix):
        return {prefix + ".weight": (1 + mat(h, std=0.01).float()).to(dtype), prefix + ".bias": mat(h, std=0.01)}

    w = {"transformer.word_embeddings.weight": mat(V, h)}
    for i in range(L):
        p = f"transformer.layers.{i}."
        w.update(ln(p + "input_layernorm"))
        w[p + "attention.query_key_value.weight"] = mat(3 * h, h)
        w[p + "attention.query_key_value.bias"] = mat(3 * h, std=0.01)
        w[p + "attention.dense.weight"] = mat(h, h)
        w[p + "attention.dense.bias"] = mat(h, std=0.01)
        w.update(ln(p + "post_attention_layernorm"))
        w[p + "mlp.dense_h_to_4h.weight"] = mat(2 * f, h)
        w[p + "mlp.dense_h_to_4h.bias"] = mat(2 * f, std=0.01)
        w[p + "mlp.dense_4h_to_h.weight"] = mat(h, f)
        w[p + "mlp.dense_4h_to_h.bias"] = mat(h, std=0.01)
    w.update(ln("transformer.final_layernorm"))
    return w


# ---------------------------------------------------------------------------------------------------------------
# Rotary table (official SwissArmyTransformer v0.2.12 roundings, see the spec and glm_reference.rotary_table)
# ---------------------------------------------------------------------------------------------------------------
def official_rotary_table(num_positions: int, head_dim: int, base: float = 10000.0):
    """cos, sin [num_positions, head_dim] as float32 holding the official fp16 values:
    inv_freq = fp16(1 / base^(2j/d)) (computed in fp32), t = fp16(position), angle = fp16(t * inv_freq)
    (the fp32 product of two fp16 values is exact, so this is one rounding), cos/sin = fp16(cos/sin(angle)) with
    cos/sin evaluated in float64 and rounded once to fp16, exactly as glm_reference.rotary_table does."""
    import numpy as np  # float64 -> fp16 in one rounding (torch's double -> half goes through float: two)

    exponent = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    inv_freq = (np.float32(1.0) / np.power(np.float32(base), exponent)).astype(np.float16)
    t = np.arange(num_positions, dtype=np.float64).astype(np.float16)
    freqs = (t.astype(np.float32)[:, None] * inv_freq.astype(np.float32)[None, :]).astype(np.float16)
    emb = np.concatenate([freqs, freqs], axis=1).astype(np.float64)
    cos = np.cos(emb).astype(np.float16).astype(np.float32)
    sin = np.sin(emb).astype(np.float16).astype(np.float32)
    return torch.from_numpy(cos), torch.from_numpy(sin)


# ---------------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------------
class GLMTorch:
    """GLM-130B forward pass with a static KV cache (batch 1). All weights in `dtype`; the rotary table is rounded
    to fp16 officially and then held in `dtype`."""

    def __init__(self, cfg: dict, weights: dict, dtype: torch.dtype, max_tokens: int | None = None):
        self.cfg = cfg
        self.dtype = dtype
        self.L, self.h, self.n = cfg["num_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
        self.d = self.h // self.n
        self.eps = float(cfg["layernorm_epsilon"])
        self.alpha = math.sqrt(2.0 * self.L)
        self.max_positions = int(cfg["max_sequence_length"])
        self.max_tokens = int(max_tokens or self.max_positions)

        def t(key):
            return weights[key].to(dtype).contiguous()

        self.embedding = t("transformer.word_embeddings.weight")
        self.layers = []
        for i in range(self.L):
            p = f"transformer.layers.{i}."
            self.layers.append(
                {
                    "ln_in_w": t(p + "input_layernorm.weight"),
                    "ln_in_b": t(p + "input_layernorm.bias"),
                    "qkv_w": t(p + "attention.query_key_value.weight"),
                    "qkv_b": t(p + "attention.query_key_value.bias"),
                    "dense_w": t(p + "attention.dense.weight"),
                    "dense_b": t(p + "attention.dense.bias"),
                    "ln_post_w": t(p + "post_attention_layernorm.weight"),
                    "ln_post_b": t(p + "post_attention_layernorm.bias"),
                    "h4h_w": t(p + "mlp.dense_h_to_4h.weight"),
                    "h4h_b": t(p + "mlp.dense_h_to_4h.bias"),
                    "4hh_w": t(p + "mlp.dense_4h_to_h.weight"),
                    "4hh_b": t(p + "mlp.dense_4h_to_h.bias"),
                }
            )
        self.final_w = t("transformer.final_layernorm.weight")
        self.final_b = t("transformer.final_layernorm.bias")
        cos, sin = official_rotary_table(self.max_positions, self.d)
        self.cos, self.sin = cos.to(dtype), sin.to(dtype)
        # Static KV cache, post-rotary keys: [1, heads, max_tokens, head_dim] per layer.
        shape = (1, self.n, self.max_tokens, self.d)
        self.k_cache = [torch.zeros(shape, dtype=dtype) for _ in range(self.L)]
        self.v_cache = [torch.zeros(shape, dtype=dtype) for _ in range(self.L)]
        self.length = 0  # tokens in the cache

    def weight_bytes(self) -> int:
        tensors = [self.embedding, self.final_w, self.final_b] + [x for layer in self.layers for x in layer.values()]
        return sum(x.numel() * x.element_size() for x in tensors)

    def kv_cache_bytes(self) -> int:
        return sum(x.numel() * x.element_size() for x in self.k_cache + self.v_cache)

    def reset(self):
        self.length = 0

    @staticmethod
    def _rotate(x, cos, sin):
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    def forward(self, ids: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor | None = None,
                all_logits: bool = False) -> torch.Tensor:
        """Appends `ids` (int64 [s]) at cache offset self.length with position ids `positions` ([s]). `mask`: bool
        [s, length + s], True where row i may attend to column j (None: every row sees every cached column and
        itself, as for a decode step). Returns logits of the last row ([V]) or of every row ([s, V])."""
        s = ids.shape[0]
        start, end = self.length, self.length + s
        if end > self.max_tokens:
            raise ValueError(f"KV cache holds {self.max_tokens} tokens, need {end}")
        n, d = self.n, self.d
        cos = self.cos[positions].unsqueeze(1)  # [s, 1, d]
        sin = self.sin[positions].unsqueeze(1)
        attn_mask = None if mask is None else mask.view(1, 1, s, end)
        x = F.embedding(ids, self.embedding)  # [s, h], no scaling
        for li, w in enumerate(self.layers):
            a = F.layer_norm(x, (self.h,), w["ln_in_w"], w["ln_in_b"], self.eps)
            qkv = F.linear(a, w["qkv_w"], w["qkv_b"]).view(s, n, 3, d)  # per head [q | k | v]
            q = self._rotate(qkv[:, :, 0], cos, sin)
            k = self._rotate(qkv[:, :, 1], cos, sin)
            kc, vc = self.k_cache[li], self.v_cache[li]
            kc[0, :, start:end] = k.transpose(0, 1)
            vc[0, :, start:end] = qkv[:, :, 2].transpose(0, 1)
            ctx = F.scaled_dot_product_attention(
                q.transpose(0, 1).unsqueeze(0), kc[:, :, :end], vc[:, :, :end], attn_mask=attn_mask
            )  # [1, n, s, d], scale 1/sqrt(d)
            ctx = ctx[0].transpose(0, 1).reshape(s, self.h)  # heads concatenated in order
            y = torch.add(F.linear(ctx, w["dense_w"], w["dense_b"]), a, alpha=self.alpha)
            m = F.layer_norm(y, (self.h,), w["ln_post_w"], w["ln_post_b"], self.eps)
            u1, u2 = F.linear(m, w["h4h_w"], w["h4h_b"]).chunk(2, dim=-1)  # first half linear, second GELU
            x = torch.add(F.linear(u1 * F.gelu(u2), w["4hh_w"], w["4hh_b"]), m, alpha=self.alpha)
        self.length = end
        rows = x if all_logits else x[-1:]
        out = F.linear(F.layer_norm(rows, (self.h,), self.final_w, self.final_b, self.eps), self.embedding)
        return out if all_logits else out[0]


def glm_visibility(context_length: int, total: int, start: int = 0) -> torch.Tensor:
    """Rows start..total-1 of the GLM mask over columns 0..total-1: tokens 0..c-2 bidirectional among themselves,
    <sop> (c-1) and later tokens causal."""
    i = torch.arange(start, total)[:, None]
    j = torch.arange(total)[None, :]
    return (j <= i) | (j < context_length - 1)


# ---------------------------------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------------------------------
def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def onednn_bf16_probe(threads: int) -> dict:
    """Runs one bf16 F.linear in a subprocess with ONEDNN_VERBOSE=1 and reports the ISA oneDNN chose and the
    matmul implementation it dispatched (e.g. brg_matmul:avx512_core_bf16 or ...amx)."""
    code = (
        "import torch, torch.nn.functional as F\n"
        f"torch.set_num_threads({threads})\n"
        "with torch.inference_mode():\n"
        "    x = torch.randn(64, 1024).bfloat16(); w = torch.randn(1024, 1024).bfloat16()\n"
        "    F.linear(x, w); F.linear(x[:1], w)\n"
    )
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    except Exception as e:  # pragma: no cover
        return {"error": str(e)}
    isa, impls = None, []
    for line in out.stdout.splitlines():
        if "info,cpu,isa:" in line:
            isa = line.split("isa:", 1)[1].strip()
        elif ",exec,cpu,matmul," in line or ",exec,cpu,inner_product," in line:
            parts = line.split(",")  # onednn_verbose,v1,primitive,exec,cpu,matmul,brg_matmul:avx512_core_bf16,...
            i = parts.index("exec") + 3
            shape = parts[-2] if len(parts) > 2 else ""
            entry = f"{parts[i]} ({shape})" if i < len(parts) else line
            if entry not in impls:
                impls.append(entry)
    return {"isa": isa, "bf16_linear_impl": impls or None, "used_onednn_for_bf16_linear": bool(impls)}


def run_bench(args) -> dict:
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    dtype = DTYPES[args.dtype]
    P, G = args.prompt_tokens, args.gen_tokens
    if P < 1 or G < 0 or P + G > cfg["max_sequence_length"]:
        raise SystemExit(f"need 1 <= P and P + G <= max_sequence_length ({cfg['max_sequence_length']})")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    model = GLMTorch(cfg, random_weights(cfg, dtype, args.seed), dtype, max_tokens=P + G)
    build_s = time.perf_counter() - t0

    gen = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(0, min(150000, cfg["vocab_size"]), (P,), generator=gen)
    positions = torch.arange(P + G)  # [gMASK]-style prompt: plain positions
    mask = glm_visibility(P, P)  # context bidirectional, last prompt token (<sop>) causal

    def one_run(gen_tokens):
        model.reset()
        t = time.perf_counter()
        tok = model.forward(ids, positions[:P], mask).argmax()
        prefill_s = time.perf_counter() - t
        steps, out = [], []
        for g in range(gen_tokens):
            t = time.perf_counter()
            tok = model.forward(tok.view(1), positions[P + g : P + g + 1]).argmax()
            out.append(int(tok))  # int() waits for the value (eager CPU is synchronous anyway)
            steps.append(time.perf_counter() - t)
        return prefill_s, steps, out

    with torch.inference_mode():
        for _ in range(args.warmup):
            one_run(min(G, 4))
        prefill_s, decode_ms, generated = [], [], None
        for _ in range(args.repeat):
            p_s, steps, generated = one_run(G)
            prefill_s.append(p_s)
            if steps:
                decode_ms.append(1000.0 * sum(steps) / len(steps))

    result = {
        "engine": "pytorch",
        "torch_version": torch.__version__,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "prompt_tokens": P,
        "gen_tokens": G,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "prefill": {
            "tokens_per_second": spread([P / s for s in prefill_s]),
            "seconds": spread(prefill_s),
        },
        "decode": {
            "ms_per_token": spread(decode_ms) if decode_ms else None,
            "tokens_per_second_median": (1000.0 / statistics.median(decode_ms)) if decode_ms else None,
        },
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn_enabled": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
        "mkldnn_bf16_supported": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        "blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "attention": "F.scaled_dot_product_attention, static KV cache",
        "model": {
            "config": os.path.abspath(args.config),
            **{k: cfg[k] for k in CONFIG_KEYS + ("max_sequence_length", "layernorm_epsilon")},
            "parameters": parameter_count(cfg),
            "weight_bytes": model.weight_bytes(),
            "kv_cache_bytes": model.kv_cache_bytes(),
            "seed": args.seed,
        },
        "build_seconds": build_s,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "generated_ids_head": (generated or [])[:8],
        "machine": {
            "cpu_model": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "hostname": platform.node(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            # other processes on the machine skew the timings: 1-minute load average before and after the run
            "loadavg_1min_before_after": [load_before[0], os.getloadavg()[0]],
        },
    }
    if args.dtype == "bf16" and not args.no_probe:
        result["onednn"] = onednn_bf16_probe(args.threads)
    return result


def markdown(r: dict) -> str:
    pf, dc = r["prefill"]["tokens_per_second"], r["decode"]["ms_per_token"]
    dc_txt = f"{dc['median']:.1f} ({dc['min']:.1f}-{dc['max']:.1f})" if dc else "n/a"
    lines = [
        f"PyTorch {r['torch_version']} on {r['machine']['cpu_model']}, {r['threads']} threads, "
        f"capability {r['cpu_capability']}, {r['model']['parameters'] / 1e9:.2f} B parameters, "
        f"P={r['prompt_tokens']} G={r['gen_tokens']} R={r['repeat']}",
        "",
        "| engine | dtype | prefill tok/s median (min-max) | decode ms/token median (min-max) | weight GB |",
        "|---|---|---|---|---|",
        f"| pytorch | {r['dtype']} | {pf['median']:.1f} ({pf['min']:.1f}-{pf['max']:.1f}) | {dc_txt} | "
        f"{r['model']['weight_bytes'] / 1e9:.2f} |",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Math check against Tests/Reference/glm_reference.py
# ---------------------------------------------------------------------------------------------------------------
def check_reference(model_dir: str, reference_path: str, gen_tokens: int) -> int:
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("glm_reference", reference_path)
    ref_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref_mod)
    ref = ref_mod.GLMReference(model_dir)
    cfg = dict(ref.cfg)
    cfg.setdefault("max_sequence_length", 2048)
    weights = {k: torch.from_numpy(v) for k, v in ref.w.items()}
    rng = np.random.default_rng(7)
    text = [int(x) for x in rng.integers(20100, 150000, size=40)]
    prompts = {
        "gmask": text + [GMASK, SOP],
        "mask_mid": text[:20] + [MASK] + text[20:] + [GMASK, SOP],  # [MASK] wins: positions frozen at its index
        "long_gmask": [int(x) for x in rng.integers(20100, 150000, size=1498)] + [GMASK, SOP],  # rotary to ~1500
    }
    ok = True
    report = {"model": model_dir, "torch_version": torch.__version__, "cases": []}
    for dtype_name in ("fp32", "bf16"):
        model = GLMTorch(cfg, weights, DTYPES[dtype_name], max_tokens=1600)
        for name, ids in prompts.items():
            c = len(ids)
            _, mpos, use_gmask = ref_mod.generation_mask_of(ids)
            ref_result, ref_first = ref.greedy(ids, gen_tokens, top_k=1)
            total = c + len(ref_result["generated_ids"])
            pos = torch.tensor(ref_mod.position_ids_for(c, total + 1, mpos, use_gmask))
            # Prefill the whole prompt, then decode the reference's tokens one at a time through the cache
            # (teacher forcing), comparing every step's logits and argmax with the reference's full recomputation.
            with torch.inference_mode():
                model.reset()
                first = model.forward(torch.tensor(ids), pos[:c], glm_visibility(c, c)).float().numpy()
                errs = [float(np.abs(first - ref_first).max())]
                scale = float(np.abs(ref_first).max())
                ours = [int(first.argmax())]
                step_ref_top = [s[0] for s in ref_result["per_step_topk"]]
                for g, tok in enumerate(ref_result["generated_ids"][:-1]):
                    lg = model.forward(torch.tensor([tok]), pos[c + g : c + g + 1]).float().numpy()
                    ours.append(int(lg.argmax()))
                    errs.append(abs(float(lg[step_ref_top[g + 1][0]]) - step_ref_top[g + 1][1]))
            agree = ours == ref_result["generated_ids"]
            tol = 1e-4 * max(1.0, scale) if dtype_name == "fp32" else None
            passed = agree and errs[0] <= tol and max(errs) <= tol if tol is not None else None
            if dtype_name == "fp32":
                ok &= bool(passed)
            report["cases"].append({
                "dtype": dtype_name, "prompt": name, "context_length": c,
                "first_step_max_abs_logit_diff": errs[0], "max_logit_abs": scale,
                "decode_steps_compared": len(ours), "max_top1_logit_diff_over_steps": max(errs),
                "greedy_ids_agree": agree, "tolerance": tol, "pass": passed,
            })
    report["pass"] = ok
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(repo, "Benchmarks", "configs", "glm-1b.json"))
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--format", choices=("json", "md"), default="json")
    ap.add_argument("--no-probe", action="store_true", help="skip the ONEDNN_VERBOSE probe of the bf16 matmul path")
    ap.add_argument("--check-reference", metavar="MODEL_DIR",
                    help="compare with Tests/Reference/glm_reference.py on this checkpoint instead of benchmarking")
    ap.add_argument("--reference", default=os.path.join(repo, "Tests", "Reference", "glm_reference.py"))
    ap.add_argument("--check-gen-tokens", type=int, default=8)
    args = ap.parse_args(argv)
    if args.check_reference:
        return check_reference(args.check_reference, args.reference, args.check_gen_tokens)
    if args.repeat < 1 or args.threads < 1:
        ap.error("--repeat and --threads must be positive")
    result = run_bench(args)
    print(json.dumps(result, indent=1) if args.format == "json" else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
