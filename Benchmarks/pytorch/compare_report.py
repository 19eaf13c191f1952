#!/usr/bin/env python3
"""Ratio table of GLMCluster against PyTorch, from the JSON files compare.sh wrote in one session.

  compare_report.py --pytorch-fp32 F --pytorch-bf16 F [--glmcluster LABEL=FILE ...] [--format md|json]

PyTorch files: glm_torch_bench.py JSON. GLMCluster files: `glmcluster bench --format json` output (stdout; any
text around the JSON object is ignored). Its prefill.tokens_per_second.median and decode.ms_per_token.median are
read at the top level, or under "job" when the output is a per-rank/job document.

Ratios (> 1 means GLMCluster is faster):
  decode speed-up vs PyTorch X   = PyTorch X decode ms/token / GLMCluster decode ms/token
  prefill ratio vs PyTorch X     = GLMCluster prefill tokens/s / PyTorch X prefill tokens/s
Issue 4 targets checked: decode >= 2x PyTorch bf16; prefill >= 1.2x PyTorch bf16 for bf16/fp16 and int8 weights
(variants bf16, fp16, DTYPE:int8; n/a for fp32 and int4).
"""

from __future__ import annotations

import argparse
import json
import sys


def load_json(path: str):
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end < start:
            raise ValueError(f"{path}: no JSON object found")
        return json.loads(text[start : end + 1])


def dig(doc, *path):
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def metrics(doc):
    for root in (doc, doc.get("job") if isinstance(doc, dict) else None):
        if root is None:
            continue
        pf = dig(root, "prefill", "tokens_per_second", "median")
        dc = dig(root, "decode", "ms_per_token", "median")
        if pf is not None or dc is not None:
            return pf, dc, root
    return None, None, doc


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt(x, digits=2, suffix=""):
    return "n/a" if x is None else f"{x:.{digits}f}{suffix}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pytorch-fp32", required=True)
    ap.add_argument("--pytorch-bf16", required=True)
    ap.add_argument("--glmcluster", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--format", choices=("md", "json"), default="md")
    args = ap.parse_args(argv)

    pt = {}
    for name, path in (("fp32", args.pytorch_fp32), ("bf16", args.pytorch_bf16)):
        doc = load_json(path)
        pt[name] = {"prefill_tps": dig(doc, "prefill", "tokens_per_second", "median"),
                    "decode_ms": dig(doc, "decode", "ms_per_token", "median"), "doc": doc}

    rows = []
    for item in args.glmcluster:
        label, _, path = item.partition("=")
        try:
            doc = load_json(path)
        except (OSError, ValueError) as e:
            rows.append({"variant": label, "error": str(e)})
            continue
        pf, dc, root = metrics(doc)
        quantized = any(q in label for q in ("int8", "int4"))
        row = {
            "variant": label,
            "prefill_tokens_per_second": pf,
            "decode_ms_per_token": dc,
            "decode_speedup_vs_pytorch_bf16": ratio(pt["bf16"]["decode_ms"], dc),
            "decode_speedup_vs_pytorch_fp32": ratio(pt["fp32"]["decode_ms"], dc),
            "prefill_ratio_vs_pytorch_bf16": ratio(pf, pt["bf16"]["prefill_tps"]),
            "prefill_ratio_vs_pytorch_fp32": ratio(pf, pt["fp32"]["prefill_tps"]),
            "glmcluster_ratios": root.get("ratios") if isinstance(root, dict) else None,
        }
        d = row["decode_speedup_vs_pytorch_bf16"]
        row["target_decode_2x_bf16"] = None if d is None else d >= 2.0
        p = row["prefill_ratio_vs_pytorch_bf16"]
        dtype, _, quant = label.partition(":")
        applies = quant == "int8" or (quant == "" and dtype in ("bf16", "fp16"))  # 16-bit or int8 weights
        row["target_prefill_1.2x_bf16"] = None if (p is None or not applies) else p >= 1.2
        row["quantized"] = quantized
        rows.append(row)

    if args.format == "json":
        print(json.dumps({"pytorch": {k: {kk: vv for kk, vv in v.items() if kk != "doc"} for k, v in pt.items()},
                          "glmcluster": rows}, indent=1))
        return 0

    ref = pt["bf16"]["doc"]
    print(f"PyTorch {ref.get('torch_version')} (capability {ref.get('cpu_capability')}), "
          f"{ref.get('threads')} threads, P={ref.get('prompt_tokens')} G={ref.get('gen_tokens')} "
          f"R={ref.get('repeat')}")
    print()
    print("| engine | variant | prefill tok/s | decode ms/token |")
    print("|---|---|---|---|")
    for name in ("fp32", "bf16"):
        print(f"| PyTorch | {name} | {fmt(pt[name]['prefill_tps'], 1)} | {fmt(pt[name]['decode_ms'], 1)} |")
    for r in rows:
        if "error" in r:
            print(f"| GLMCluster | {r['variant']} | error: {r['error']} | |")
        else:
            print(f"| GLMCluster | {r['variant']} | {fmt(r['prefill_tokens_per_second'], 1)} | "
                  f"{fmt(r['decode_ms_per_token'], 1)} |")
    good = [r for r in rows if "error" not in r]
    if not good:
        return 0
    print()
    print("| GLMCluster variant | decode speed-up vs PT bf16 | vs PT fp32 | prefill ratio vs PT bf16 | vs PT fp32 "
          "| decode >= 2x bf16 | prefill >= 1.2x bf16 |")
    print("|---|---|---|---|---|---|---|")

    def yn(v):
        return "n/a" if v is None else ("yes" if v else "NO")

    for r in good:
        print(f"| {r['variant']} | {fmt(r['decode_speedup_vs_pytorch_bf16'], 2, 'x')} | "
              f"{fmt(r['decode_speedup_vs_pytorch_fp32'], 2, 'x')} | {fmt(r['prefill_ratio_vs_pytorch_bf16'], 2, 'x')} | "
              f"{fmt(r['prefill_ratio_vs_pytorch_fp32'], 2, 'x')} | {yn(r['target_decode_2x_bf16'])} | "
              f"{yn(r['target_prefill_1.2x_bf16'])} |")
    own = [r for r in good if r["glmcluster_ratios"] is not None]
    if own:
        print("\nGLMCluster's own ratios to the limits measured in its run:")
        for r in own:
            print(f"- {r['variant']}: {json.dumps(r['glmcluster_ratios'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
