"""Reads a GLM-4 release (config.json, model.safetensors.index.json, safetensors shards) with numpy only: each
tensor is a read-only memory map of its shard, no copy. Shared by the peer converters (convert_gguf.py,
convert_chatglm.py)."""
import json
import os
import struct

import numpy as np

_DTYPES = {"F16": "<f2", "F32": "<f4"}


class Release:
    def __init__(self, directory):
        self.directory = directory
        with open(os.path.join(directory, "config.json")) as f:
            self.config = json.load(f)
        with open(os.path.join(directory, "model.safetensors.index.json")) as f:
            self.weight_map = json.load(f)["weight_map"]
        self._headers = {}

    def _header(self, file):
        if file not in self._headers:
            path = os.path.join(self.directory, file)
            with open(path, "rb") as f:
                (length,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(length))
            self._headers[file] = (path, 8 + length, header)
        return self._headers[file]

    def tensor(self, name):
        """The tensor `name` as a read-only memory-mapped numpy array in its stored dtype (fp16 here)."""
        path, base, header = self._header(self.weight_map[name])
        entry = header[name]
        start, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        return np.memmap(path, dtype=dtype, mode="r", offset=base + start, shape=tuple(entry["shape"]))

    # The shape, under the release's field names.
    @property
    def hidden(self):
        return self.config["hidden_size"]

    @property
    def heads(self):
        return self.config["num_attention_heads"]

    @property
    def groups(self):
        return self.config["multi_query_group_num"]

    @property
    def head_dim(self):
        return self.config.get("kv_channels", self.hidden // self.heads)

    @property
    def layers(self):
        return self.config["num_layers"]

    @property
    def ffn(self):
        return self.config["ffn_hidden_size"]

    @property
    def vocab(self):
        return self.config["padded_vocab_size"]

    @property
    def rope_theta(self):
        return 10000.0 * self.config.get("rope_ratio", 1)

    @property
    def eps(self):
        return self.config["layernorm_epsilon"]
