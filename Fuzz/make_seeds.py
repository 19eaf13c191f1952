#!/usr/bin/env python3
"""Writes the fuzz seed corpus (Fuzz/corpus/<target>/) and the inputs of past findings (Fuzz/regressions/<target>/).

Seeds are small valid inputs that reach deep into each reader: torch.save-layout zips (classic and ZIP64) whose
pickles are written by Python's own pickler with stand-ins for the torch classes, the official fixture's data.pkl,
the project's config.json files, and batch files with every request field. Regressions are the hostile inputs that
once crashed or hung GLMCluster (issue 17). Run from the repository root: python3 Fuzz/make_seeds.py
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "Tests/Fixtures/glm-tiny-icetk/mp1")


def stub_torch():
    """Modules named like torch's, holding what torch.save pickles refers to, so pickle writes the same globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("never called: seeds are only written")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ["HalfStorage", "FloatStorage", "BFloat16Storage", "CharStorage", "LongStorage"]:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch, utils


TORCH, UTILS = stub_torch()


class Storage:
    def __init__(self, key, kind, data, itemsize):
        self.key, self.kind, self.data, self.numel = key, kind, data, len(data) // itemsize


class Tensor:
    def __init__(self, storage, offset, shape, strides):
        self.storage, self.offset, self.shape, self.strides = storage, offset, shape, strides

    def __reduce__(self):
        return (UTILS._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.shape), tuple(self.strides), False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


def halves(count, start=0.0):
    return struct.pack(f"<{count}e", *[start + 0.25 * i for i in range(count)])


def state_dict_pickle(tensors, wrap=True):
    buffer = io.BytesIO()
    state = collections.OrderedDict(tensors)
    TorchPickler(buffer, protocol=2).dump({"module": state, "iteration": 7} if wrap else state)
    return buffer.getvalue()


def small_state_dict():
    """Tensors of the kinds the loaders meet: fp16 matrices, a strided view, an offset view sharing a storage,
    an fp32 vector, int8 levels."""
    s0 = Storage("0", TORCH.HalfStorage, halves(24), 2)
    s1 = Storage("1", TORCH.HalfStorage, halves(16, 1.0), 2)
    s2 = Storage("2", TORCH.FloatStorage, struct.pack("<4f", 1, 2, 3, 4), 4)
    s3 = Storage("3", TORCH.CharStorage, bytes(range(12)), 1)
    tensors = [
        ("transformer.word_embeddings.weight", Tensor(s0, 0, [6, 4], [4, 1])),
        ("transformer.layers.0.attention.dense.weight", Tensor(s1, 0, [4, 4], [1, 4])),
        ("transformer.layers.0.input_layernorm.weight", Tensor(s1, 4, [4], [1])),
        ("transformer.final_layernorm.bias", Tensor(s2, 0, [4], [1])),
        ("transformer.layers.0.mlp.dense_h_to_4h.weight", Tensor(s3, 0, [3, 4], [4, 1])),
    ]
    return tensors, [s0, s1, s2, s3]


def torch_zip(path, tensors, storages, zip64, prefix="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        def add(name, data):
            with archive.open(zipfile.ZipInfo(f"{prefix}/{name}"), "w", force_zip64=zip64) as entry:
                entry.write(data)
        add("data.pkl", state_dict_pickle(tensors))
        add("byteorder", b"little")
        add(".format_version", b"1")
        for storage in storages:
            add(f"data/{storage.key}", storage.data)


def with_zip64_end(data):
    """Python writes ZIP64 end records only for huge archives; torch always writes them. Insert a ZIP64 end record
    and its locator before the classic end record, whose fields then say "see ZIP64"."""
    end = len(data) - 22
    assert data[end:end + 4] == b"PK\x05\x06"
    count, size, offset = struct.unpack_from("<HII", data, end + 10)
    zip64_end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, end, 1)
    classic = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:end] + zip64_end + locator + classic


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    corpus = os.path.join(ROOT, "Fuzz/corpus")
    regressions = os.path.join(ROOT, "Fuzz/regressions")
    tensors, storages = small_state_dict()

    # checkpoint: a classic zip, a ZIP64 one, a bare state dict.
    folder = os.path.join(corpus, "checkpoint")
    os.makedirs(folder, exist_ok=True)
    torch_zip(os.path.join(folder, "small.pt"), tensors, storages, zip64=False)
    torch_zip(os.path.join(folder, "small-zip64.pt"), tensors, storages, zip64=True, prefix="mp_rank_00_model_states")
    with open(os.path.join(folder, "small-zip64.pt"), "rb") as f:
        data = with_zip64_end(f.read())
    write(folder, "small-zip64.pt", data)

    # pickle: the official fixture's (torch-made) and Python-made ones.
    with zipfile.ZipFile(os.path.join(FIXTURE, "49300/mp_rank_00_model_states.pt")) as official:
        write(os.path.join(corpus, "pickle"), "official-glm-tiny.pkl",
              official.read("mp_rank_00_model_states/data.pkl"))
    write(os.path.join(corpus, "pickle"), "small.pkl", state_dict_pickle(tensors))
    write(os.path.join(corpus, "pickle"), "bare-state-dict.pkl", state_dict_pickle(tensors, wrap=False))

    # config: the project's and the fixture's.
    for name, source in [("fixture.json", os.path.join(FIXTURE, "config.json")),
                         ("demo.json", os.path.join(ROOT, "configs/demo.json")),
                         ("glm-1b.json", os.path.join(ROOT, "Benchmarks/configs/glm-1b.json")),
                         ("chatglm-6b.json", os.path.join(ROOT, "Tests/Fixtures/chatglm-6b-tiny/config.json"))]:
        with open(source, "rb") as f:
            write(os.path.join(corpus, "config"), name, f.read())

    # batch: every field, masks, non-ASCII text, ids of both kinds.
    lines = [
        {"id": 1, "prompt": "Tsinghua University is located in [MASK].", "max_new_tokens": 8},
        {"id": "b", "prompt": "清华大学位于[MASK]。", "temperature": 0.9, "top_k": 40, "top_p": 0.7, "seed": 3},
        {"id": 3, "prompt": "The capital of [sMASK] is Paris [gMASK]", "num_beams": 4, "length_penalty": 1.0,
         "no_repeat_ngram_size": 3, "min_gen_length": 1, "max_length": 64},
        {"id": 4, "prompt": "tabs\tand\nnew lines  and   spaces", "greedy": True},
    ]
    write(os.path.join(corpus, "batch"), "requests.jsonl",
          "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode())
    write(os.path.join(corpus, "batch"), "one-line.jsonl", b'{"id": 7, "prompt": "hello [MASK] world"}\n')

    # Regressions: inputs that crashed, hung or misled GLMCluster before issue 17's fixes.
    nested = b"\x80\x02" + b"]" * 100001 + b"a" * 100000 + b"."
    write(os.path.join(regressions, "pickle"), "nested-lists-100000.pkl", nested)
    with open(os.path.join(corpus, "checkpoint", "small-zip64.pt"), "rb") as f:
        zip64 = bytearray(f.read())
    locator = len(zip64) - 22 - 20
    end = struct.unpack_from("<Q", zip64, locator + 8)[0]
    for name, field, value in [("entry-count-2-pow-31", 32, 1 << 31), ("directory-size-2-pow-63", 40, (1 << 63) - 1),
                               ("directory-offset-2-pow-63", 48, (1 << 63) - 5)]:
        patched = bytearray(zip64)
        struct.pack_into("<Q", patched, end + field, value)
        write(os.path.join(regressions, "checkpoint"), f"zip64-{name}.pt", bytes(patched))
    with open(os.path.join(FIXTURE, "config.json")) as f:
        config = json.load(f)
    for name, edit in [("hidden-size-2-pow-62", {"hidden_size": 1 << 62}),
                       ("inner-hidden-size-2-pow-62", {"inner_hidden_size": 1 << 62}),
                       ("num-layers-10-pow-12", {"num_layers": 10 ** 12})]:
        write(os.path.join(regressions, "config"), f"{name}.json", json.dumps({**config, **edit}).encode())
    tokenizer = {**config["tokenizer"], "command_tokens_start": (1 << 63) - 1}
    write(os.path.join(regressions, "config"), "command-tokens-start-2-pow-63.json",
          json.dumps({**config, "tokenizer": tokenizer}).encode())
    write(os.path.join(regressions, "batch"), "temperature-1e39.jsonl",
          b'{"id": 1, "prompt": "hi", "temperature": 1e39}\n{"id": 2, "prompt": "ok"}\n')
    write(os.path.join(regressions, "batch"), "num-beams-2-pow-62.jsonl",
          b'{"id": 1, "prompt": "hi", "num_beams": 4611686018427387904}\n')
    # Found by the second campaign: accepted, then computed wrongly (NaN probabilities, infinite beam scores).
    write(os.path.join(regressions, "batch"), "temperature-1e-50.jsonl",
          b'{"id": 1, "prompt": "hi", "temperature": 1e-50}\n')
    write(os.path.join(regressions, "batch"), "length-penalty-minus-200.jsonl",
          b'{"id": 1, "prompt": "hi", "num_beams": 2, "length_penalty": -200}\n')
    glm4_seeds(corpus, regressions)


def glm4_seeds(corpus, regressions):
    """GLM-4's inputs: a safetensors file with a tensor of each float dtype, a tiktoken vocabulary, and text; and
    hostile ones the readers must refuse (a header length near 2^63, tensors overlapping, a rank near 2^63)."""
    import base64
    tensors = [("a", "F16", [2, 3], struct.pack("<6e", 0.5, -1.0, 2.0, 0.25, -3.5, 1.5)), ("b", "BF16", [4], bytes(range(8))),
               ("c", "F32", [2, 2], struct.pack("<4f", 1.0, -2.0, 0.5, 3.0))]
    header, offset, data = {"__metadata__": {"format": "pt"}}, 0, b""
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        data += blob
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    write(os.path.join(corpus, "safetensors"), "small.safetensors", struct.pack("<Q", len(text)) + text + data)
    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    for rank, token in enumerate(["th", "the", " the", "in", "ing", "  ", "\n\n", "你", "你好"]):
        lines.append(f"{base64.b64encode(token.encode()).decode()} {256 + rank}")
    write(os.path.join(corpus, "tiktoken"), "vocabulary.model", ("\n".join(lines) + "\n").encode())
    write(os.path.join(regressions, "safetensors"), "header-length-2-pow-63.safetensors",
          struct.pack("<Q", (1 << 63) - 1) + text + data)
    overlapping = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode()
    write(os.path.join(regressions, "safetensors"), "overlapping-tensors.safetensors",
          struct.pack("<Q", len(overlapping)) + overlapping + bytes(12))
    write(os.path.join(regressions, "tiktoken"), "rank-2-pow-63.model",
          ("\n".join(lines[:256]) + f"\nYWI= {(1 << 63) - 1}\n").encode())
    write(os.path.join(corpus, "tiktoken"), "text.txt",
          "Hello  world\n\n你好👋！ don't DON'T 12345 3.14\t<|user|>[gMASK]\u3000 ½ \r\n x".encode())


if __name__ == "__main__":
    main()
