#!/usr/bin/env python3
"""Independent reference reader for torch.save zip checkpoints (no torch needed).

Used by CheckpointTests to check the Swift reader against Python's own zipfile and pickle modules.
Usage:
  reference_reader.py dump FILE            -> JSON {key: {dtype, shape, stride, offset, sha256, sum, first}}
  reference_reader.py raw FILE KEY OUT     -> writes the tensor as contiguous little-endian bytes to OUT
  reference_reader.py rawall FILE OUTDIR   -> writes every tensor to OUTDIR/<key>.bin and the key order to keys.txt
  reference_reader.py evil OUT.pt MARKER   -> writes a checkpoint-shaped zip whose pickle calls os.system
  reference_reader.py deflate SRC DST      -> rewrites SRC with every entry deflate-compressed
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
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
