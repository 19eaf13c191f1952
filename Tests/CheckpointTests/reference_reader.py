#!/usr/bin/env python3
"""Independent reference reader for torch.save zip checkpoints (no torch needed).

Used by CheckpointTests to check the Swift reader against Python's own zipfile and pickle modules.
Usage:
  reference_reader.py dump FILE            -> JSON {key: {dtype, shape, stride, offset, sha256, sum, first}}
  reference_reader.py raw FILE KEY OUT     -> writes the tensor as contiguous little-endian bytes to OUT
  reference_reader.py rawall FILE OUTDIR   -> writes every tensor to OUTDIR/<key>.bin and the key order to keys.txt
  reference_reader.py evil OUT.pt MARKER   -> writes a checkpoint-shaped zip whose pickle calls os.system
  reference_reader.py deflate SRC DST      -> rewrites SRC with every entry deflate-compressed
  reference_reader.py safetensors FILE OUTDIR -> parses a .safetensors header with json + struct and writes every
                                              tensor as little-endian float32 to OUTDIR/<name>.bin (bf16 widened by
                                              a 16-bit shift), the names in data order to keys.txt
"""
import hashlib
import json
import pickle
import sys
import zipfile

import numpy as np

DTYPES = {
    "HalfStorage": np.float16, "FloatStorage": np.float32, "DoubleStorage": np.float64,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "IntStorage": np.int32, "LongStorage": np.int64,
    "BoolStorage": np.bool_, "BFloat16Storage": "bf16",
}


class StorageType:
    def __init__(self, name):
        self.name = name


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, *rest):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, f, archive, prefix):
        super().__init__(f)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor_v2
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        if module == "torch" and name in DTYPES:
            return StorageType(name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")

    def persistent_load(self, pid):
        kind, stype, key, location, numel = pid
        assert kind == "storage"
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        dt = DTYPES[stype.name]
        if dt == "bf16":
            u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            return u.view(np.float32)
        return np.frombuffer(raw, dtype=dt)


def load(path):
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    prefix = pkl[: -len("/data.pkl")]
    obj = RestrictedUnpickler(z.open(pkl), z, prefix).load()
    sd = obj["module"] if "module" in obj else obj
    out = {}
    for k, v in sd.items():
        if not (isinstance(v, tuple) and v and v[0] == "tensor"):
            continue
        _, storage, offset, size, stride = v
        item = storage.itemsize
        arr = np.lib.stride_tricks.as_strided(
            storage[offset:], shape=size, strides=[s * item for s in stride]) if size else storage[offset:offset + 1].reshape(())
        out[k] = (np.ascontiguousarray(arr), stride, offset)
    return out


def safetensors_dump(path, outdir):
    import os
    import struct
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    start = 8 + length
    names = sorted(header, key=lambda name: (header[name]["data_offsets"][0], name))
    for name in names:
        entry = header[name]
        begin, end = entry["data_offsets"]
        raw = data[start + begin:start + end]
        if entry["dtype"] == "BF16":
            values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif entry["dtype"] == "F16":
            values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            values = np.frombuffer(raw, dtype="<f4")
        values.astype("<f4").tofile(os.path.join(outdir, name + ".bin"))
    with open(os.path.join(outdir, "keys.txt"), "w") as f:
        f.write("\n".join(names))


def main():
    cmd = sys.argv[1]
    if cmd == "dump":
        res = {}
        for k, (a, stride, offset) in load(sys.argv[2]).items():
            res[k] = {
                "dtype": str(a.dtype), "shape": list(a.shape), "stride": list(stride), "offset": offset,
                "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
                "sum": float(a.astype(np.float64).sum()),
                "first": [float(x) for x in a.reshape(-1)[:4]],
            }
        json.dump(res, sys.stdout)
    elif cmd == "raw":
        a, _, _ = load(sys.argv[2])[sys.argv[3]]
        with open(sys.argv[4], "wb") as f:
            f.write(a.tobytes())
    elif cmd == "rawall":
        tensors = load(sys.argv[2])
        for k, (a, _, _) in tensors.items():
            with open(f"{sys.argv[3]}/{k}.bin", "wb") as f:
                f.write(a.tobytes())
        with open(f"{sys.argv[3]}/keys.txt", "w") as f:
            f.write("\n".join(tensors))
    elif cmd == "deflate":
        with zipfile.ZipFile(sys.argv[2]) as src, zipfile.ZipFile(sys.argv[3], "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info.filename))
    elif cmd == "evil":
        import os

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {sys.argv[3]}",))

        data = pickle.dumps({"module": {"x": Evil()}}, protocol=2)
        with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", data)
            z.writestr("archive/version", "3\n")
            z.writestr("archive/byteorder", "little")
    elif cmd == "safetensors":
        safetensors_dump(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()

