"""The engine tables of Benchmarks/peers/compare.sh: reads the per-run JSON files of an --out folder and prints
Markdown (or JSON with --format json).

Files read (round-N/ for each round):
- <engine>-<format>.json: one prefill of P tokens and decode of G tokens after it (glmcluster bench's JSON for the
  GLMCluster variants glmcluster, glmcluster-fast and glmcluster-tp2; llama-bench's JSON list; chatglm_bench.py's
  object), and <engine>-<format>.triad.json beside each peer run (Benchmarks/peers/triad.c).
- <engine>-<format>-batched.json (GLMCluster variants: glmcluster bench --batch-sizes) and
  <engine>-<format>-batched.jsonl (llama.cpp: llama-batched-bench --output-format jsonl) with
  <engine>-<format>-batched.triad.json beside the latter. Folders without them get no batched table.

Main table, per engine and format: prefill tokens/s and GFLOP/s, decode ms/token and tokens/s (medians over rounds,
with min-max), bytes read per decoded token, the fraction of the triad, and each engine's speed over GLMCluster's
(the exact-precision `glmcluster` row of the same format).

Bytes read per decoded token are computed from the model shape (config.json of the release) and each engine's
storage of the format, not measured: the four layer matrices (QKV, attention dense, dense_h_to_4h, dense_4h_to_h)
and the output layer at the format's bytes per weight (fp16 2; ggml Q8_0 34 per 32; Q4_0 18 per 32; Q6_K 210 per 256;
GLMCluster int8 1 and int4 0.5 per weight plus one fp16 scale per row), plus the norms and QKV bias in fp32, plus
the KV cache read by attention at the mean decode context (P + (G + 1) / 2 positions, K and V, all layers, the KV
groups x head_dim per position, in the engine's cache type). Token embeddings are looked up, not read, and do not
count. The fraction of the triad is bytes per token / seconds per token / triad bytes per second, with the triad
measured beside the run (GLMCluster: its own triad passes around its decode, summed over ranks for TP 2; peers:
Benchmarks/peers/triad.c just before the run, same thread count).

Prefill GFLOP/s: the FLOPs of one prefill of P tokens from the model shape, as `glmcluster bench` counts them
(ModelBenchmark.prefillFLOPs in Sources/Benchmarking/ModelBenchmark.swift), the same count for every engine, times
tokens/s / P. They are set against the machine's limits measured by the single-rank GLMCluster runs of the same round
(their `machine` object): the fp32 FMA peak (the widest vfmadd231ps among its dot units), OpenBLAS sgemm, and for
glmcluster-fast's int8/int4 rows the vpdpbusd peak its prefill runs on.

Batched table, per format and engine: decode tokens/s over the whole batch at each batch size B. GLMCluster:
B / the median gap between consecutive tokens of a request (inter_token_latency_ms.p50); llama.cpp: speed_tg of
llama-batched-bench (B x GB tokens over the decode phase's wall time).

usage: report.py OUT_DIR --model RELEASE_DIR [--prompt-tokens P] [--gen-tokens G] [--batch-prompt-tokens PB]
                 [--batch-gen-tokens GB] [--threads T] [--format md|json]
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
GLM_ENGINES = ["glmcluster", "glmcluster-fast", "glmcluster-tp2"]
ENGINES = GLM_ENGINES + ["llama.cpp", "llama.cpp-f16out", "chatglm.cpp"]
ENGINE_NOTES = {
    "glmcluster": "GLMCluster",
    "glmcluster-fast": "GLMCluster, fast precision (int8/bf16 dot-product units where faster), fp16 KV cache",
    "glmcluster-tp2": "GLMCluster, TP 2 (two ranks of T/2 threads)",
    "llama.cpp": "llama.cpp (its recipe: Q8_0 output Q8_0, Q4_0 output Q6_K)",
    "llama.cpp-f16out": "llama.cpp, output layer F16 (byte-matched to GLMCluster)",
    "chatglm.cpp": "chatglm.cpp (output layer in the format too)",
}
# Bytes per weight of each storage, and per-row extras.
Q8_0, Q4_0, Q6_K = 34 / 32, 18 / 32, 210 / 256
# How far the transcribed FLOP count may stray from glmcluster bench's own before the report says so.
FLOPS_TOLERANCE = 1e-3
# Register widths in the dot units' names (glmcluster bench's MachineLimits), to pick the widest vfmadd231ps.
REGISTER_BITS = {"zmm": 512, "ymm": 256, "xmm": 128}

# <engine>-<format>.json, <engine>-<format>-batched.json / .jsonl; the greedy engine group keeps names with dashes
# (glmcluster-fast, llama.cpp-f16out) whole, and .triad.json files are turned away before the match.
RUN_FILE = re.compile(r"^(?P<engine>.+)-(?P<fmt>f16|q8_0|q4_0)(?P<batched>-batched)?\.(?P<ext>json|jsonl)$")


def is_glm(engine):
    return engine in GLM_ENGINES


def parse_name(name):
    """(engine, format, batched) of a run file's name; None for triads, stderr logs and anything else."""
    if name.endswith(".triad.json"):
        return None
    m = RUN_FILE.match(name)
    if not m or m["engine"] not in ENGINES:
        return None
    batched = m["batched"] is not None
    # One ending per kind: the main runs are JSON; batched runs JSONL for llama.cpp, JSON for GLMCluster.
    want = "jsonl" if batched and m["engine"].startswith("llama.cpp") else "json"
    if m["ext"] != want:
        return None
    return m["engine"], m["fmt"], batched


def round_of(path):
    m = re.match(r"round-(\d+)$", os.path.basename(os.path.dirname(path)))
    return int(m.group(1)) if m else 0


def read_triad(path):
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)["triad_gb_per_s"]
    except (OSError, ValueError, KeyError):
        return None


def storage(engine, fmt, kv_bytes_glmcluster):
    """(layer bytes per weight, layer extra bytes per row, output bytes per weight, KV cache bytes per value)."""
    if is_glm(engine):
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


def layer_matrices(r):
    """(rows, columns) of one layer's four matrices: QKV, attention dense, dense_h_to_4h, dense_4h_to_h."""
    h, qkv = r.hidden, (r.heads + 2 * r.groups) * r.head_dim
    return [(qkv, h), (h, r.heads * r.head_dim), (2 * r.ffn, h), (h, r.ffn)]


def bytes_per_token(r, engine, fmt, prompt, gen, kv_bytes_glmcluster):
    layer_bpw, per_row, output_bpw, kv_bytes = storage(engine, fmt, kv_bytes_glmcluster)
    h, qkv = r.hidden, (r.heads + 2 * r.groups) * r.head_dim
    layers = sum(rows * cols * layer_bpw + rows * per_row for rows, cols in layer_matrices(r)) * r.layers
    small = (2 * h + qkv) * 4 * r.layers + h * 4
    output = r.vocab * h * output_bpw
    context = prompt + (gen + 1) / 2
    kv = 2 * r.layers * r.groups * r.head_dim * context * kv_bytes
    return {"weights": layers + small + output, "kv_cache": kv, "total": layers + small + output + kv}


def prefill_flops(r, prompt):
    """FLOPs of one prefill of `prompt` tokens over the whole model, ModelBenchmark.prefillFLOPs summed over ranks:
    2 per multiply-add of the layer matrices for every prompt token, the logits projection (vocabulary x hidden)
    for the last token only, and attention's two [P, P] x head_dim products per head and layer (the whole square:
    the prompt is bidirectional)."""
    layer_weights = sum(rows * cols for rows, cols in layer_matrices(r)) * r.layers
    weights = 2 * prompt * layer_weights
    logits = 2 * r.vocab * r.hidden
    attention = 4 * prompt * prompt * r.head_dim * r.heads * r.layers
    return weights + logits + attention


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def load_files(out, batched):
    """(engine, format, round, path) of the run files of one kind, in path order."""
    found = []
    for path in sorted(glob.glob(os.path.join(out, "round-*", "*.json*"))):
        parsed = parse_name(os.path.basename(path))
        if parsed and parsed[2] == batched:
            found.append((parsed[0], parsed[1], round_of(path), path))
    return found


def load_runs(out):
    """{(engine, format): [run]} of the single-sequence runs (prefill + decode); batched files are left out."""
    runs = {}
    for engine, fmt, rnd, path in load_files(out, batched=False):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        triad = read_triad(path[: -len(".json")] + ".triad.json")
        run = normalise(engine, data, triad)
        if run:
            run["round"] = rnd
            runs.setdefault((engine, fmt), []).append(run)
    return runs


def dot_unit(machine, prefix, kind):
    """(name, peak GOP/s) of the widest dot unit of `kind` whose instruction is `prefix`, or None."""
    units = [u for u in (machine or {}).get("dot_units", [])
             if u.get("name", "").startswith(prefix) and u.get("kind") == kind and u.get("peak_gops")]
    if not units:
        return None

    def width(u):
        return max([bits for reg, bits in REGISTER_BITS.items() if reg in u["name"]] or [0])
    best = max(units, key=lambda u: (width(u), u["peak_gops"]))
    return best["name"], best["peak_gops"]


def normalise(engine, data, triad):
    """{prefill_tps, decode_ms, triad, kv_bytes, ...} from one engine's own JSON."""
    if is_glm(engine):
        decode = data["decode"]
        beside = [r["triad_gb_per_s"] for r in decode.get("by_repeat", [])]
        kv = {"fp32": 4, "fp16": 2, "bf16": 2}.get(data.get("kv_cache"), 4)
        routes = data.get("routes") or {}
        return {"prefill_tps": data["prefill"]["tokens_per_second"]["median"],
                "decode_ms": decode["ms_per_token"]["median"],
                "triad": statistics.median(beside) if beside else data["machine"]["triad_gb_per_s"],
                "kv_bytes": kv, "reported_weight_bytes": decode.get("weight_bytes_per_token"),
                "route": routes.get("decode"), "prefill_route": routes.get("prefill"),
                "reported_prefill_flops": data["prefill"].get("flops"), "prompt_tokens": data.get("prompt_tokens"),
                "tp": data.get("tp", 1), "threads": data.get("threads"),
                # Under TP the job's machine object sums sgemm over ranks but lists rank 0's dot units: only
                # single-rank runs serve as the machine's reference.
                "machine": data.get("machine") if data.get("tp", 1) == 1 else None}
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


def machine_reference(runs):
    """The machine's limits per round, the median over that round's single-rank GLMCluster runs (all formats), and
    over all rounds ("all") for rounds without one."""
    by_round = {}
    for (engine, _fmt), got in runs.items():
        if not is_glm(engine):
            continue
        for g in got:
            if g.get("machine"):
                by_round.setdefault(g["round"], []).append((engine, g["machine"]))
    every = [item for items in by_round.values() for item in items]
    groups = dict(by_round)
    if every:
        groups["all"] = every

    def summary(items):
        fma = [dot_unit(m, "vfmadd231ps", "fp32") for _, m in items]
        vnni = [dot_unit(m, "vpdpbusd", "int8") for _, m in items]
        return {
            "runs": len(items), "engines": sorted({e for e, _ in items}),
            "fma_unit": next((u[0] for u in fma if u), None),
            "fma_peak_gflops": spread([u[1] for u in fma if u]),
            "sgemm_gflops": spread([m.get("sgemm_gflops") for _, m in items]),
            "vpdpbusd_unit": next((u[0] for u in vnni if u), None),
            "vpdpbusd_peak_gops": spread([u[1] for u in vnni if u]),
        }
    return {str(k): summary(v) for k, v in groups.items()}


def reference_value(reference, rnd, key):
    for k in (str(rnd), "all"):
        sp = (reference.get(k) or {}).get(key)
        if sp:
            return sp["median"]
    return None


def build(out, model, prompt, gen):
    r = Release(model)
    runs = load_runs(out)
    reference = machine_reference(runs)
    flops = prefill_flops(r, prompt)
    checks = []
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
            gflops = [(g["round"], flops * g["prefill_tps"] / prompt / 1e9) for g in got]

            def over(key):
                values = [(x, reference_value(reference, rnd, key)) for rnd, x in gflops]
                return spread([x / ref for x, ref in values if ref])
            for g in got:
                if g.get("reported_prefill_flops"):
                    p = g.get("prompt_tokens") or prompt
                    ours, theirs = prefill_flops(r, p), g["reported_prefill_flops"]
                    checks.append({"engine": engine, "format": fmt, "round": g["round"], "prompt_tokens": p,
                                   "computed": ours, "reported": theirs, "relative_error": abs(ours - theirs) / theirs})
            row = {
                "format": fmt, "engine": engine,
                "engine_format": FORMAT_NAMES[fmt][0 if is_glm(engine) else (2 if engine == "chatglm.cpp" else 1)],
                "rounds": len(got), "prefill_tokens_per_second": prefill, "decode_ms_per_token": decode,
                "decode_tokens_per_second": 1e3 / decode["median"], "bytes_per_token": b,
                "prefill_flops": flops, "prefill_gflops": spread([x for _, x in gflops]),
                "prefill_fma_peak_fraction": over("fma_peak_gflops"),
                "prefill_sgemm_fraction": over("sgemm_gflops"),
                "triad_gb_per_s": spread([g.get("triad") for g in got]),
                "triad_fraction": spread(fractions),
                "reported_weight_bytes": got[0].get("reported_weight_bytes"),
                "kv_cache_bytes_per_value": kv,
                "decode_route": got[0].get("route"),
                "prefill_route": got[0].get("prefill_route"),
            }
            if is_glm(engine):
                row["threads_per_rank"] = got[0].get("threads")
                row["ranks"] = got[0].get("tp")
            # glmcluster-fast's int8 / int4 prefill runs on the int8 dot unit: its fraction of that unit's peak.
            if engine == "glmcluster-fast" and fmt in ("q8_0", "q4_0"):
                row["prefill_vpdpbusd_peak_fraction"] = over("vpdpbusd_peak_gops")
            if engine == "glmcluster":
                base = row
            if base is not None:
                row["decode_speed_over_glmcluster"] = base["decode_ms_per_token"]["median"] / decode["median"]
                row["prefill_speed_over_glmcluster"] = (prefill["median"] /
                                                        base["prefill_tokens_per_second"]["median"])
            rows.append(row)
    return rows, reference, checks


def load_batched(out):
    """{(engine, format): [run]} of the batched runs; run = {round, triad, points: {B: {...}}}."""
    runs = {}
    for engine, fmt, rnd, path in load_files(out, batched=True):
        points = {}
        try:
            with open(path) as f:
                if is_glm(engine):
                    data = json.load(f)
                    triad = data.get("triad_gb_per_s")
                    for p in data.get("points", []):
                        b, itl = p["max_batch"], p["inter_token_latency_ms"]["p50"]
                        points[b] = {
                            # B sequences step together: one token each per median inter-token gap.
                            "decode_tps": b / (itl / 1e3) if itl > 0 else None,
                            "output_tps": p.get("output_tokens_per_second"),
                            "roofline_tps": p.get("roofline_tokens_per_second"),
                            "roofline_fraction": p.get("roofline_fraction"),
                            "sgemm_bound_fraction": p.get("sgemm_bound_fraction"),
                            "tpot_ms": (p.get("time_per_output_token_ms") or {}).get("p50"),
                            "prompt_tokens": p.get("prompt_tokens"), "gen_tokens": p.get("gen_tokens")}
                    extra = {"sgemm_gflops": data.get("sgemm_gflops"), "threads": data.get("threads"),
                             "tp": data.get("tp")}
                else:
                    triad = read_triad(path[: -len(".jsonl")] + ".triad.json")
                    for line in f:
                        line = line.strip()
                        if not line.startswith("{"):
                            continue
                        t = json.loads(line)
                        points[t["pl"]] = {"decode_tps": t["speed_tg"], "prefill_tps": t.get("speed_pp"),
                                           "t_tg": t.get("t_tg"), "t_pp": t.get("t_pp"),
                                           "prompt_tokens": t.get("pp"), "gen_tokens": t.get("tg")}
                    extra = {}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if points:
            runs.setdefault((engine, fmt), []).append({"round": rnd, "triad": triad, "points": points, **extra})
    return runs


def build_batched(out):
    runs = load_batched(out)
    rows = []
    for fmt in FORMATS:
        base = None
        for engine in ENGINES:
            got = runs.get((engine, fmt))
            if not got:
                continue
            sizes = sorted({b for g in got for b in g["points"]})
            largest = max(sizes)

            def at(b, key):
                return spread([g["points"][b].get(key) for g in got if b in g["points"]])
            row = {"format": fmt, "engine": engine,
                   "engine_format": FORMAT_NAMES[fmt][0 if is_glm(engine) else 1], "rounds": len(got),
                   "batch_sizes": sizes, "largest_batch": largest,
                   "decode_tokens_per_second": {str(b): at(b, "decode_tps") for b in sizes},
                   "triad_gb_per_s": spread([g.get("triad") for g in got]),
                   "prompt_tokens": sorted({g["points"][b].get("prompt_tokens") for g in got for b in g["points"]
                                            if g["points"][b].get("prompt_tokens") is not None}),
                   "gen_tokens": sorted({g["points"][b].get("gen_tokens") for g in got for b in g["points"]
                                         if g["points"][b].get("gen_tokens") is not None})}
            if is_glm(engine):
                row["output_tokens_per_second"] = {str(b): at(b, "output_tps") for b in sizes}
                row["roofline_tokens_per_second"] = at(largest, "roofline_tps")
                row["roofline_fraction"] = at(largest, "roofline_fraction")
                row["sgemm_bound_fraction"] = at(largest, "sgemm_bound_fraction")
                roofline = row["roofline_tokens_per_second"]
                decode = row["decode_tokens_per_second"][str(largest)]
                row["decode_over_roofline"] = (decode["median"] / roofline["median"]
                                               if decode and roofline and roofline["median"] else None)
                row["sgemm_gflops"] = spread([g.get("sgemm_gflops") for g in got])
            else:
                row["prefill_tokens_per_second"] = {str(b): at(b, "prefill_tps") for b in sizes}
            if engine == "glmcluster":
                base = row
            if base is not None:
                mine = row["decode_tokens_per_second"].get(str(largest))
                theirs = base["decode_tokens_per_second"].get(str(largest))
                if mine and theirs and theirs["median"]:
                    row["largest_batch_speed_over_glmcluster"] = mine["median"] / theirs["median"]
            rows.append(row)
    return rows


def markdown(rows, reference, checks, batched, a):
    prompt, gen = a.prompt_tokens, a.gen_tokens

    def f(x, digits=1):
        return "—" if x is None else f"{x:.{digits}f}"

    def s(sp, digits=1):
        if sp is None:
            return "—"
        if sp["n"] == 1:
            return f(sp["median"], digits)
        return f"{f(sp['median'], digits)} ({f(sp['min'], digits)}–{f(sp['max'], digits)})"

    out = [f"Prefill of P = {prompt} tokens, decode of G = {gen} tokens after it; medians over rounds (min–max)"
           + (f"; T = {a.threads} threads per engine." if a.threads else "."),
           "\"speed / GLMCluster\" is the engine's tokens/s over the exact-precision GLMCluster row's in the same "
           "format (above 1: faster).", "",
           "| format | engine | rounds | prefill tok/s | prefill GFLOP/s | / FMA peak | / sgemm | / vpdpbusd peak | "
           "decode ms/token | decode tok/s | bytes/token (GB) | triad GB/s | / triad | decode speed / GLMCluster | "
           "prefill speed / GLMCluster |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        out.append(
            f"| {row['engine_format']} | {ENGINE_NOTES[row['engine']]} | {row['rounds']} | "
            f"{s(row['prefill_tokens_per_second'])} | {s(row['prefill_gflops'])} | "
            f"{s(row['prefill_fma_peak_fraction'], 2)} | {s(row['prefill_sgemm_fraction'], 2)} | "
            f"{s(row.get('prefill_vpdpbusd_peak_fraction'), 2)} | {s(row['decode_ms_per_token'])} | "
            f"{f(row['decode_tokens_per_second'], 2)} | {f(row['bytes_per_token']['total'] / 1e9, 3)} | "
            f"{s(row['triad_gb_per_s'])} | {s(row['triad_fraction'], 2)} | "
            f"{f(row.get('decode_speed_over_glmcluster'), 2)} | {f(row.get('prefill_speed_over_glmcluster'), 2)} |")
    if rows:
        out += ["", f"Prefill FLOPs: {rows[0]['prefill_flops'] / 1e9:.3f} GFLOP for P = {prompt}, from the model "
                "shape as `glmcluster bench` counts them (2 x P x the layer matrices' weights + 2 x vocabulary x "
                "hidden for the last token's logits + 4 x P² x head_dim x heads x layers of attention), the same "
                "count for every engine; GFLOP/s = FLOPs x tokens/s / P."]
    bad = [c for c in checks if c["relative_error"] > FLOPS_TOLERANCE]
    if checks and not bad:
        out.append(f"Check: it equals glmcluster bench's own prefill.flops in all {len(checks)} GLMCluster runs "
                   f"(within {FLOPS_TOLERANCE:.1%}).")
    for c in bad:
        out.append(f"WARNING: prefill FLOPs differ from glmcluster bench's: {c['engine']} {c['format']} round "
                   f"{c['round']} (P = {c['prompt_tokens']}): computed {c['computed']:.6g}, reported "
                   f"{c['reported']:.6g} ({c['relative_error']:.2%}).")
    if reference:
        out += ["", "Machine reference for \"/ FMA peak\", \"/ sgemm\" and \"/ vpdpbusd peak\": the median over each "
                "round's single-rank GLMCluster runs (their `machine` object; glmcluster-tp2's sums sgemm over ranks "
                "but lists rank 0's dot units, so it is left out), each engine's GFLOP/s divided by its own round's; "
                "\"/ vpdpbusd peak\" only for glmcluster-fast int8/int4, whose prefill runs on that unit:"]
        # "all rounds" stands in for rounds without a GLMCluster run; with one round it repeats that round.
        keys = [k for k in reference if k != "all" or len(reference) > 2]
        for key in sorted(keys, key=lambda k: (k == "all", k)):
            ref = reference[key]
            label = "all rounds" if key == "all" else f"round {key}"
            out.append(f"- {label} ({ref['runs']} runs of {', '.join(ref['engines'])}): fp32 FMA peak "
                       f"{ref['fma_unit'] or '—'} {s(ref['fma_peak_gflops'])} GFLOP/s; sgemm "
                       f"{s(ref['sgemm_gflops'])} GFLOP/s; {ref['vpdpbusd_unit'] or 'vpdpbusd'} "
                       f"{s(ref['vpdpbusd_peak_gops'])} GOP/s.")
    elif rows:
        out += ["", "No single-rank GLMCluster run (glmcluster, glmcluster-fast): no machine reference for "
                "\"/ FMA peak\", \"/ sgemm\" and \"/ vpdpbusd peak\"."]
    tp = [r for r in rows if r["engine"] == "glmcluster-tp2" and r.get("threads_per_rank")]
    if tp:
        n = tp[0]["threads_per_rank"]
        out += ["", f"glmcluster-tp2: {tp[0].get('ranks')} ranks of {n} thread{'' if n == 1 else 's'} each."]
    routes = [f"{r['engine_format']} ({r['engine']}): decode {r['decode_route']}"
              + (f", prefill {r['prefill_route']}" if r.get("prefill_route") else "")
              for r in rows if r.get("decode_route")]
    if routes:
        out += ["", "GLMCluster routes: " + "; ".join(routes) + "."]
    out += ["", "Bytes per token: layer matrices and output layer at each engine's storage of the format, norms and "
            "QKV bias (fp32), and the KV cache at the mean decode context; token embeddings are looked up and not "
            "counted (see Benchmarks/peers/report.py)."]
    if batched:
        out += ["", markdown_batched(batched, a, f, s)]
    return "\n".join(out)


def markdown_batched(batched, a, f, s):
    sizes = sorted({b for row in batched for b in row["batch_sizes"]})
    largest = max(sizes)
    pb = sorted({p for row in batched for p in row["prompt_tokens"]}) or [a.batch_prompt_tokens]
    gb = sorted({g for row in batched for g in row["gen_tokens"]}) or [a.batch_gen_tokens]
    out = ["## Batched decoding", "",
           f"B requests of PB = {', '.join(map(str, pb))} prompt tokens and GB = {', '.join(map(str, gb))} "
           "generated tokens each, decoded together; decode tokens/s over the whole batch at each B, medians over "
           "rounds (min–max). The roofline columns are glmcluster bench's at the row's largest B.", "",
           "| format | engine | rounds | " + " | ".join(f"decode tok/s B={b}" for b in sizes)
           + " | triad GB/s | roofline tok/s | bench roofline_fraction | decode / roofline | "
           "largest-B decode / GLMCluster |",
           "|---|---|---:|" + "---:|" * len(sizes) + "---:|---:|---:|---:|---:|"]
    for row in batched:
        cells = [s(row["decode_tokens_per_second"].get(str(b))) for b in sizes]
        ratio = f(row.get("largest_batch_speed_over_glmcluster"), 2)
        if row["largest_batch"] != largest and row.get("largest_batch_speed_over_glmcluster") is not None:
            ratio += f" (B={row['largest_batch']})"
        out.append(f"| {row['engine_format']} | {ENGINE_NOTES[row['engine']]} | {row['rounds']} | "
                   + " | ".join(cells)
                   + f" | {s(row['triad_gb_per_s'])} | {s(row.get('roofline_tokens_per_second'))} | "
                   f"{s(row.get('roofline_fraction'), 2)} | {f(row.get('decode_over_roofline'), 2)} | {ratio} |")
    out += ["",
            "GLMCluster (`glmcluster bench --batch-sizes`, continuous batching, B requests arriving together, at most "
            "B at once): decode tok/s = B / (inter_token_latency_ms.p50 / 1000), the median gap between consecutive "
            "tokens of a request, so the prefill steps between them barely count. llama.cpp (`llama-batched-bench`, "
            "B sequences prefilled in one batch, then GB steps of one token per sequence): speed_tg = B x GB / the "
            "decode phase's wall time, prefill excluded.",
            "Roofline (glmcluster bench): the slower of streaming every weight once at the triad bandwidth and the "
            "batch's multiply-adds at the sgemm rate, both measured in that run; \"bench roofline_fraction\" is its "
            "output tokens/s (prefill included) over the roofline, \"decode / roofline\" the decode tok/s above "
            "over it. The last column: the row's decode tok/s at its largest B over the exact GLMCluster row's at the "
            "same B, same format. chatglm.cpp has no batched run (it decodes one sequence at a time)."]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--batch-prompt-tokens", type=int, default=32)
    parser.add_argument("--batch-gen-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--format", choices=["md", "json"], default="md")
    a = parser.parse_args()
    rows, reference, checks = build(a.out, a.model, a.prompt_tokens, a.gen_tokens)
    batched = build_batched(a.out)
    if a.format == "json":
        print(json.dumps({"prompt_tokens": a.prompt_tokens, "gen_tokens": a.gen_tokens, "threads": a.threads,
                          "rows": rows, "machine_reference": reference, "prefill_flops_checks": checks,
                          "prefill_flops_warnings": [c for c in checks if c["relative_error"] > FLOPS_TOLERANCE],
                          "batch_prompt_tokens": a.batch_prompt_tokens, "batch_gen_tokens": a.batch_gen_tokens,
                          "batched_rows": batched}, indent=1))
    else:
        print(markdown(rows, reference, checks, batched, a))


if __name__ == "__main__":
    main()
