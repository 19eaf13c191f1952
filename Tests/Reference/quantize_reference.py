#!/usr/bin/env python3
"""Independent reference of GLM-130B's official weight-only quantization (THUDM/GLM-130B
quantization/layers.py and tools/convert_tp.py, written from their formula, not copied):

    scale = (w.abs().max(dim=-1).values / (2 ** (bits - 1) - 1)).half()   # w: fp16 [rows, cols]
    q     = torch.round(w / scale[:, None]).to(torch.int8)
    4 bits: byte[i] = (q[2i] << 4) | (q[2i+1] & 0x0F)                      # kernels compress_int4_weight

fp16 tensor arithmetic is done in fp32 and rounded once to fp16, so the quotient w / scale is an fp16
value before torch.round (round half to even) sees it. This script does it in NumPy step by step and,
when torch is importable, also runs the PyTorch expressions on CPU and requires identical results.

Usage: quantize_reference.py BITS ROWS COLS IN.f16 OUT_PREFIX
Reads ROWS*COLS little-endian fp16 values; writes OUT_PREFIX.scales (fp16, ROWS), OUT_PREFIX.levels
(int8, ROWS*COLS, unpacked) and for 4 bits OUT_PREFIX.packed (uint8, ROWS*COLS/2). Prints a JSON summary.
"""
import json
import sys

import numpy as np


def numpy_quantize(w16, bits):
    level = np.float32(2 ** (bits - 1) - 1)
    max_abs = np.abs(w16).max(axis=1)                                  # exact in fp16
    scale = (max_abs.astype(np.float32) / level).astype(np.float16)    # fp32 division, one rounding to fp16
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = (w16.astype(np.float32) / scale.astype(np.float32)[:, None]).astype(np.float16)
    levels = np.rint(quotient.astype(np.float32))                       # rint: round half to even
    levels[~np.isfinite(levels)] = 0                                    # scale 0 (all-zero or underflowing row)
    levels = np.clip(levels, -level, level).astype(np.int8)
    return scale, levels


def pack_int4(levels):
    u = levels.astype(np.uint8)
    return ((u[:, 0::2] << 4) | (u[:, 1::2] & 0x0F)).astype(np.uint8)


def torch_quantize(w16, bits):
    import torch
    w = torch.from_numpy(w16.copy())
    scale = (w.abs().max(dim=-1).values / ((2 ** (bits - 1)) - 1)).half()
    q = torch.round(w / scale[:, None])
    q = torch.where(torch.isfinite(q), q, torch.zeros_like(q))
    q = q.clamp(-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1).to(torch.int8)
    return scale.numpy(), q.numpy()


def main():
    bits, rows, cols = (int(v) for v in sys.argv[1:4])
    w16 = np.fromfile(sys.argv[4], dtype="<f2").reshape(rows, cols)
    prefix = sys.argv[5]
    scale, levels = numpy_quantize(w16, bits)
    checked_with_torch = False
    try:
        import torch  # noqa: F401
        t_scale, t_levels = torch_quantize(w16, bits)
        assert np.array_equal(t_scale.view(np.uint16), scale.view(np.uint16)), "torch and numpy scales differ"
        assert np.array_equal(t_levels, levels), "torch and numpy levels differ"
        checked_with_torch = True
    except ImportError:
        pass
    scale.astype("<f2").tofile(prefix + ".scales")
    levels.tofile(prefix + ".levels")
    if bits == 4:
        pack_int4(levels).tofile(prefix + ".packed")
    # How many levels a quantizer that skips the fp16 rounding of the quotient would get wrong.
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.rint(w16.astype(np.float32) / scale.astype(np.float32)[:, None])
    direct[~np.isfinite(direct)] = 0
    direct = np.clip(direct, -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1).astype(np.int8)
    print(json.dumps({"torch": checked_with_torch, "fp32_quotient_differences": int((direct != levels).sum())}))


if __name__ == "__main__":
    main()
