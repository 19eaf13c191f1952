#!/usr/bin/env python3
"""Writes GLM-4's vocabulary in transformers' `tokenizer.json` form (as glm-4-9b-chat-hf ships it) from a tiktoken
`tokenizer.model` and the added tokens of its `tokenizer_config.json`: a byte-level BPE whose vocab maps each token,
in GPT-2's byte-to-character alphabet, to its rank; merges in rank order (each multi-byte token's split into two
tokens of lower rank, as transformers' tiktoken converter derives them); GLM-4's split pattern, then ByteLevel.

usage: make_tokenizer_json.py TOKENIZER_DIR OUT.json     (TOKENIZER_DIR holds tokenizer.model, tokenizer_config.json)
"""
import base64
import json
import os
import sys

PATTERN = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
           "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def bytes_to_unicode():
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def build(tokenizer_dir):
    ranks = {}
    with open(os.path.join(tokenizer_dir, "tokenizer.model")) as f:
        for line in f:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    alphabet = bytes_to_unicode()

    def text(token):
        return "".join(alphabet[b] for b in token)

    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        splits = [(token[:i], token[i:]) for i in range(1, len(token))
                  if token[:i] in ranks and token[i:] in ranks]
        splits.sort(key=lambda pair: (ranks[pair[0]], ranks[pair[1]]))
        merges += [(rank, text(a) + " " + text(b)) for a, b in splits[:1]]
    with open(os.path.join(tokenizer_dir, "tokenizer_config.json")) as f:
        added = json.load(f)["added_tokens_decoder"]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": int(i), "content": t["content"], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i, t in sorted(added.items(), key=lambda item: int(item[0]))],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {text(token): rank for token, rank in sorted(ranks.items(), key=lambda item: item[1])},
                  "merges": [merge for _, merge in sorted(merges)]},
    }


def main():
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(build(sys.argv[1]), f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
