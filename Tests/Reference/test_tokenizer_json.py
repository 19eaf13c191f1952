"""The committed tokenizer.json of the transformers-layout GLM-4 fixture is what make_tokenizer_json.py writes from
the tiny release's tiktoken files, and round-trips: every vocab entry decodes through GPT-2's alphabet to the
tiktoken token of the same rank, and every merge joins two tokens into a third."""
import base64
import json
import os

import make_tokenizer_json as make

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures")
SOURCE = os.path.join(FIXTURES, "glm-4-9b-chat-tiny")
COMMITTED = os.path.join(FIXTURES, "glm-4-9b-chat-hf-tiny", "tokenizer.json")


def test_committed_file_is_the_generated_one():
    with open(COMMITTED, encoding="utf-8") as f:
        assert json.load(f) == json.loads(json.dumps(make.build(SOURCE)))


def test_vocab_and_merges_are_the_tiktoken_ranks():
    with open(COMMITTED, encoding="utf-8") as f:
        model = json.load(f)["model"]
    inverse = {c: b for b, c in make.bytes_to_unicode().items()}
    ranks = {}
    with open(os.path.join(SOURCE, "tokenizer.model")) as f:
        for line in f:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    decoded = {bytes(inverse[c] for c in text): rank for text, rank in model["vocab"].items()}
    assert decoded == ranks
    for merge in model["merges"]:
        a, b = merge.split(" ")
        assert a in model["vocab"] and b in model["vocab"] and a + b in model["vocab"]
