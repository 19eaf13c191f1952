"""Copies a ChatGLM2-family release (bf16 safetensors) with every row-parallel weight (attention's dense output and
the MLP's dense_4h_to_h) multiplied by 2**SHIFT, exactly (the exponent bits move; values that would leave bf16's
range stay as they are). The row-parallel partial sums of the copy exceed fp16's range, which the fp16 allreduce
must survive (HalfAllreduceTests).

Usage: scale_row_parallel_weights.py SOURCE DESTINATION SHIFT
"""
import json, struct, sys, shutil, os, glob
src, dst, shift = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copytree(src, dst, dirs_exist_ok=True)
for path in glob.glob(os.path.join(dst, "*.safetensors")):
    data = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    for name, tensor in header.items():
        if not (name.endswith("self_attention.dense.weight") or name.endswith("mlp.dense_4h_to_h.weight")):
            continue
        assert tensor["dtype"] == "BF16"
        begin, end = tensor["data_offsets"]
        for offset in range(8 + n + begin, 8 + n + end, 2):
            bits = struct.unpack_from("<H", data, offset)[0]
            if bits & 0x7FFF and ((bits >> 7) & 0xFF) + shift < 255:
                bits += shift << 7
            struct.pack_into("<H", data, offset, bits)
    open(path, "wb").write(data)
