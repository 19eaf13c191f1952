"""The three-engine table of Benchmarks/peers/compare.sh: reads the per-run JSON files of an --out folder
(round-N/<engine>-<format>.json, and round-N/<engine>-<format>.triad.json beside each peer run) and prints Markdown
(or JSON with --format json): per engine and format, prefill tokens/s, decode ms/token and tokens/s (medians over
rounds, with min-max), bytes read per decoded token, the fraction of the triad, and each peer's speed over
GLMCluster's for the same format.

Bytes read per decoded token are computed from the model shape (config.json of the release) and each engine's
storage of the format, not measured: the four layer matrices (QKV, attention dense, dense_h_to_4h, dense_4h_to_h)
and the output layer at the format's bytes per weight (fp16 2; ggml Q8_0 34 per 32; Q4_0 18 per 32; Q6_K 210 per 256;
GLMCluster int8 1 and int4 0.5 per weight plus one fp16 scale per row), plus the norms and QKV bias in fp32, plus
the KV cache read by attention at the mean decode context (P + (G + 1) / 2 positions, K and V, all layers, the KV
groups x head_dim per position, in the engine's cache type). Token embeddings are looked up, not read, and do not
count. The fraction of the triad is bytes per token / seconds per token / triad bytes per second, with the triad
measured beside the run (GLMCluster: its own triad passes around its decode; peers: Benchmarks/peers/triad.c just
before the run, same thread count).

usage: report.py OUT_DIR --model RELEASE_DIR [--format md|json]
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from release import Release  # noqa: E402

FORMATS = ["f16", "q8_0", "q4_0"]
FORMAT_NAMES = {"f16": ("fp16", "F16", "f16"), "q8_0": ("int8", "Q8_0", "q8_0"), "q4_0": ("int4", "Q4_0", "q4_0")}
ENGINES = ["glmcluster", "llama.cpp", "llama.cpp-f16out", "chatglm.cpp"]
ENGINE_NOTES = {
    "glmcluster": "GLMCluster",
    "llama.cpp": "llama.cpp (its recipe: Q8_0 output Q8_0, Q4_0 output Q6_K)",
    "llama.cpp-f16out": "llama.cpp, output layer F16 (byte-matched to GLMCluster)",
    "chatglm.cpp": "chatglm.cpp (output layer in the format too)",
}
# Bytes per weight of each storage, and per-row extras.
Q8_0, Q4_0, Q6_K = 34 / 32, 18 / 32, 210 / 256


def storage(engine, fmt, kv_bytes_glmcluster):
    """(layer bytes per weight, layer extra bytes per row, output bytes per weight, KV cache bytes per value)."""
    if engine == "glmcluster":
        layer, per_row = {"f16": (2.0, 0), "q8_0": (1.0, 2), "q4_0": (0.5, 2)}[fmt]
        return layer, per_row, 2.0, kv_bytes_glmcluster
    layer = {"f16": 2.0, "q8_0": Q8_0, "q4_0": Q4_0}[fmt]
    if engine == "llama.cpp":
        output = {"f16": 2.0, "q8_0": Q8_0, "q4_0": Q6_K}[fmt]
    elif engine == "llama.cpp-f16out":
        output = 2.0
    else:  # chatglm.cpp quantizes the output layer like the layers
        output = layer
    return layer, 0, output, 2  # both peers keep an fp16 KV cache


def bytes_per_token(r, engine, fmt, prompt, gen, kv_bytes_glmcluster):
    layer_bpw, per_row, output_bpw, kv_bytes = storage(engine, fmt, kv_bytes_glmcluster)
    h, qkv = r.hidden, (r.heads + 2 * r.groups) * r.head_dim
    matrices = [(qkv, h), (h, h), (2 * r.ffn, h), (h, r.ffn)]
    layers = sum(rows * cols * layer_bpw + rows * per_row for rows, cols in matrices) * r.layers
    small = (2 * h + qkv) * 4 * r.layers + h * 4
    output = r.vocab * h * output_bpw
    context = prompt + (gen + 1) / 2
    kv = 2 * r.layers * r.groups * r.head_dim * context * kv_bytes
    return {"weights": layers + small + output, "kv_cache": kv, "total": layers + small + output + kv}


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def load_runs(out):
    runs = {}
    for path in sorted(glob.glob(os.path.join(out, "round-*", "*.json"))):
        name = os.path.basename(path)
        m = re.match(r"(.+)-(f16|q8_0|q4_0)\.json$", name)
        if not m or name.endswith(".triad.json"):
            continue
        engine, fmt = m.groups()
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        triad = None
        triad_path = path[: -len(".json")] + ".triad.json"
        if os.path.exists(triad_path):
            with open(triad_path) as f:
                triad = json.load(f)["triad_gb_per_s"]
        run = normalise(engine, data, triad)
        if run:
            runs.setdefault((engine, fmt), []).append(run)
    return runs


def normalise(engine, data, triad):
    """{prefill_tps, decode_ms, triad, kv_bytes} from one engine's own JSON."""
    if engine == "glmcluster":
        decode = data["decode"]
        beside = [r["triad_gb_per_s"] for r in decode.get("by_repeat", [])]
        kv = {"fp32": 4, "fp16": 2, "bf16": 2}.get(data.get("kv_cache"), 4)
        return {"prefill_tps": data["prefill"]["tokens_per_second"]["median"],
                "decode_ms": decode["ms_per_token"]["median"],
                "triad": statistics.median(beside) if beside else data["machine"]["triad_gb_per_s"],
                "kv_bytes": kv, "reported_weight_bytes": decode.get("weight_bytes_per_token"),
                "route": (data.get("routes") or {}).get("decode")}
    if engine.startswith("llama.cpp"):
        prefill = [t for t in data if t.get("n_prompt", 0) > 0 and t.get("n_gen", 0) == 0]
        gen = [t for t in data if t.get("n_gen", 0) > 0]
        if not prefill or not gen:
            return None
        tg = gen[0]
        return {"prefill_tps": prefill[0]["avg_ts"], "decode_ms": 1e3 / tg["avg_ts"], "triad": triad,
                "depth": tg.get("n_depth"), "kv_bytes": 2}
    return {"prefill_tps": data["prefill_tokens_per_second"], "decode_ms": data["decode_ms_per_token"],
            "triad": triad, "kv_bytes": 2}


def build(out, model, prompt, gen):
    r = Release(model)
    runs = load_runs(out)
    rows = []
    for fmt in FORMATS:
        base = None
        for engine in ENGINES:
            got = runs.get((engine, fmt))
            if not got:
                continue
            kv = got[0].get("kv_bytes", 2)
            b = bytes_per_token(r, engine, fmt, prompt, gen, kv)
            prefill = spread([g["prefill_tps"] for g in got])
            decode = spread([g["decode_ms"] for g in got])
            fractions = [b["total"] / (g["decode_ms"] / 1e3) / (g["triad"] * 1e9) for g in got if g.get("triad")]
            row = {
                "format": fmt, "engine": engine, "engine_format": FORMAT_NAMES[fmt][0 if engine == "glmcluster" else
                                                                                    (2 if engine == "chatglm.cpp" else 1)],
                "rounds": len(got), "prefill_tokens_per_second": prefill, "decode_ms_per_token": decode,
                "decode_tokens_per_second": 1e3 / decode["median"], "bytes_per_token": b,
                "triad_gb_per_s": spread([g.get("triad") for g in got]),
                "triad_fraction": spread(fractions),
                "reported_weight_bytes": got[0].get("reported_weight_bytes"),
                "kv_cache_bytes_per_value": kv,
                "decode_route": got[0].get("route"),
            }
            if engine == "glmcluster":
                base = row
            if base is not None:
                row["decode_speed_over_glmcluster"] = base["decode_ms_per_token"]["median"] / decode["median"]
                row["prefill_speed_over_glmcluster"] = (prefill["median"] /
                                                        base["prefill_tokens_per_second"]["median"])
            rows.append(row)
    return rows


def markdown(rows, prompt, gen):
    def f(x, digits=1):
        return "—" if x is None else f"{x:.{digits}f}"

    def s(sp, digits=1):
        if sp is None:
            return "—"
        if sp["n"] == 1:
            return f(sp["median"], digits)
        return f"{f(sp['median'], digits)} ({f(sp['min'], digits)}–{f(sp['max'], digits)})"

    out = [f"Prefill of P = {prompt} tokens, decode of G = {gen} tokens after it; medians over rounds (min–max).",
           "\"speed / GLMCluster\" is the peer's tokens/s over GLMCluster's in the same format (above 1: the peer is "
           "faster).", "",
           "| format | engine | rounds | prefill tok/s | decode ms/token | decode tok/s | bytes/token (GB) | "
           "triad GB/s | / triad | decode speed / GLMCluster | prefill speed / GLMCluster |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        out.append(
            f"| {row['engine_format']} | {ENGINE_NOTES[row['engine']]} | {row['rounds']} | "
            f"{s(row['prefill_tokens_per_second'])} | {s(row['decode_ms_per_token'])} | "
            f"{f(row['decode_tokens_per_second'], 2)} | {f(row['bytes_per_token']['total'] / 1e9, 3)} | "
            f"{s(row['triad_gb_per_s'])} | {s(row['triad_fraction'], 2)} | "
            f"{f(row.get('decode_speed_over_glmcluster'), 2)} | {f(row.get('prefill_speed_over_glmcluster'), 2)} |")
    routes = [f"{r['engine_format']}: {r['decode_route']}" for r in rows if r.get("decode_route")]
    if routes:
        out += ["", "GLMCluster decode routes: " + "; ".join(routes) + "."]
    out += ["", "Bytes per token: layer matrices and output layer at each engine's storage of the format, norms and "
            "QKV bias (fp32), and the KV cache at the mean decode context; token embeddings are looked up and not "
            "counted (see Benchmarks/peers/report.py)."]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--format", choices=["md", "json"], default="md")
    a = parser.parse_args()
    rows = build(a.out, a.model, a.prompt_tokens, a.gen_tokens)
    if a.format == "json":
        print(json.dumps({"prompt_tokens": a.prompt_tokens, "gen_tokens": a.gen_tokens, "rows": rows}, indent=1))
    else:
        print(markdown(rows, a.prompt_tokens, a.gen_tokens))


if __name__ == "__main__":
    main()
