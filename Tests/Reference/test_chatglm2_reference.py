"""The ChatGLM2-architecture NumPy reference against the official modeling_chatglm.py's outputs of ChatGLM2-6B,
ChatGLM3-6B and GLM-4 (Tests/Fixtures/*-tiny), GLM-4's transformers layout included, and checks that the math it
documents is what makes it agree (a changed detail is detectably wrong)."""
import json
import os

import numpy as np
import pytest

import chatglm2_reference as ref

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures")
RELEASES = ["chatglm2-6b-tiny", "chatglm3-6b-tiny", "glm-4-9b-chat-tiny"]


def expected(release):
    with open(os.path.join(FIXTURES, release, "expected.json")) as f:
        return json.load(f)


def official(release, name):
    vocab = expected(release)["vocab_rows"]
    return np.fromfile(os.path.join(FIXTURES, release, "logits", f"{name}.prefill.f32"), dtype="<f4")[:vocab]


@pytest.mark.parametrize("release", RELEASES)
def test_prefill_logits_match_the_official_code(release):
    model = ref.ChatGLM2Reference(os.path.join(FIXTURES, release))
    for name, case in sorted(expected(release)["cases"].items()):
        logits = model.forward(case["input_ids"])[-1]
        assert np.abs(logits - official(release, name)).max() < 1e-4, name
        assert int(np.argmax(logits)) == case["gen"][0], name


def test_the_transformers_layout_reads_as_the_original():
    original = ref.ChatGLM2Reference(os.path.join(FIXTURES, "glm-4-9b-chat-tiny"))
    hf = ref.ChatGLM2Reference(os.path.join(FIXTURES, "glm-4-9b-chat-hf-tiny"))
    ids = expected("glm-4-9b-chat-tiny")["cases"]["en_plain"]["input_ids"]
    assert np.array_equal(original.forward(ids), hf.forward(ids))


@pytest.mark.parametrize("detail", ["rotate_half", "one_group", "no_rope_ratio"])
def test_a_changed_detail_is_detectably_wrong(detail, monkeypatch):
    release = "glm-4-9b-chat-tiny"
    model = ref.ChatGLM2Reference(os.path.join(FIXTURES, release))
    if detail == "rotate_half":
        def rotate_half(x, positions):
            angles = positions.astype(np.float32)[:, None] * model.theta[None, :]
            cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
            out, q = x.copy(), model.head_dim // 4
            a, b = x[..., :q], x[..., q:2 * q]
            out[..., :q], out[..., q:2 * q] = a * cos - b * sin, b * cos + a * sin
            return out
        monkeypatch.setattr(model, "rotary", rotate_half)
    elif detail == "one_group":
        model.groups = 1
        model.w = {k: (v[: (model.heads + 2) * model.head_dim] if "query_key_value" in k else v)
                   for k, v in model.w.items()}
    else:
        model.theta = (1 / 10000 ** (np.arange(0, model.head_dim // 2, 2) / (model.head_dim // 2))).astype(np.float32)
    case = expected(release)["cases"]["long_plain"]
    logits = model.forward(case["input_ids"])[-1]
    assert np.abs(logits - official(release, "long_plain")).max() > 1e-3
