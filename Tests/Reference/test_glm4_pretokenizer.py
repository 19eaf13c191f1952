"""The committed GLM-4 pre-split cases are exactly what Python `regex` and the tiktoken rule produce.

Tests/Fixtures/glm4-pretokenizer-cases.json feeds the Swift BytePairEncodingTests; these tests regenerate it and
require byte-for-byte equality, so the Swift tests compare against Python's output rather than a captured Swift
one. When tiktoken is installed, its own encoder (the one the official tokenizer calls) must agree as well.
"""

import json

import pytest

import make_glm4_pretokenizer_cases as cases


def test_committed_cases_are_what_the_generator_produces():
    committed = cases.OUTPUT.read_text(encoding="utf-8")
    assert committed == cases.build(), "regenerate with: python3 Tests/Reference/make_glm4_pretokenizer_cases.py"


def test_the_pattern_is_the_official_one():
    official = (
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
    )
    assert cases.PATTERN == official


def test_reference_encoder_reproduces_the_official_tokenizer_checks():
    expected = json.loads((cases.VOCABULARY.parent / "expected.json").read_text(encoding="utf-8"))
    ranks = cases.load_ranks(cases.VOCABULARY)
    split = cases.regex.compile(cases.PATTERN)
    for check in expected["tokenizer_checks"]:
        ids = [i for piece in split.findall(check["text"]) for i in cases.byte_pair_encode(piece.encode(), ranks)]
        assert ids == check["ids"], check["text"]


def test_tiktoken_agrees_with_the_reference_encoder():
    tiktoken = pytest.importorskip("tiktoken")
    ranks = cases.load_ranks(cases.VOCABULARY)
    encoding = tiktoken.Encoding(name="glm4-tiny", pat_str=cases.PATTERN, mergeable_ranks=ranks, special_tokens={})
    committed = json.loads(cases.OUTPUT.read_text(encoding="utf-8"))
    for case in committed["cases"]:
        if "ids" in case:
            assert encoding.encode_ordinary("".join(case["pieces"])) == case["ids"]
