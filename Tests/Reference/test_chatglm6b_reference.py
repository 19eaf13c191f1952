"""The ChatGLM-6B NumPy reference against the official modeling_chatglm.py's outputs (Tests/Fixtures/chatglm-6b-tiny),
and checks that the math it documents is what makes it agree (a changed detail is detectably wrong)."""
import json
import os

import numpy as np
import pytest

import chatglm6b_reference as ref

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "chatglm-6b-tiny")
with open(os.path.join(FIXTURE, "expected.json")) as f:
    EXPECTED = json.load(f)
CASES = sorted(EXPECTED["cases"])


@pytest.fixture(scope="module")
def model():
    return ref.ChatGLM6BReference(FIXTURE)


def official(name, kind):
    vocab = EXPECTED["vocab_rows"]
    return np.fromfile(os.path.join(FIXTURE, "logits", f"{name}.{kind}.f32"), dtype="<f4").reshape(-1, vocab)


def test_output_layer_is_the_word_embeddings(model):
    assert np.array_equal(model.w["lm_head.weight"], model.w["transformer.word_embeddings.weight"])


@pytest.mark.parametrize("name", CASES)
def test_prefill_and_every_step_match_the_official_logits(model, name):
    case = EXPECTED["cases"][name]
    drawn, logits = model.greedy(case["input_ids"], len(case["gen"]))
    assert drawn == case["gen"]
    assert np.abs(logits[0] - official(name, "prefill")[0]).max() < 1e-4
    assert np.abs(logits - official(name, "steps")).max() < 1e-4


def test_one_dimensional_positions_are_detectably_wrong(model, monkeypatch):
    case = EXPECTED["cases"]["en_plain"]
    ids = case["input_ids"] + case["gen"][:4]
    right = model.forward(ids)[-1]
    original = model.positions

    def flat(ids):
        position, block, context = original(ids)
        return position, np.zeros_like(block), context

    monkeypatch.setattr(model, "positions", flat)
    assert np.abs(model.forward(ids)[-1] - right).max() > 1e-3


def test_erf_gelu_is_detectably_wrong(model, monkeypatch):
    ids = EXPECTED["cases"]["zh_plain"]["input_ids"]
    right = model.forward(ids)[-1]
    import glm_reference
    monkeypatch.setattr(ref, "gelu_tanh", lambda x: glm_reference.gelu(x, "erf"))
    assert np.abs(model.forward(ids)[-1] - right).max() > 1e-4


def test_alpha_from_the_configured_layer_count_is_detectably_wrong(model, monkeypatch):
    ids = EXPECTED["cases"]["en_plain"]["input_ids"]
    right = model.forward(ids)[-1]
    monkeypatch.setattr(ref, "DEEPNORM_LAYERS", model.layers)
    assert np.abs(model.forward(ids)[-1] - right).max() > 1e-2
