"""The NumPy reference (glm_reference.py) against the OFFICIAL GLM-130B test vectors.

Tests/Fixtures/glm-tiny-icetk/expected.json was produced by the unmodified official stack
(THUDM/GLM-130B generate.py + SwissArmyTransformer 0.2.12). For every case and for both the
MP=1 and the MP=2 checkpoint the reference must give exactly the 16 greedy ids and the
last-position (<sop>) logits within 4e-3 over the whole vocabulary.

Run:  python3 -m pytest Tests/Reference -q      (add -s to see the per-case error table live;
      the table is printed in the terminal summary either way)
"""

import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import glm_reference as ref  # noqa: E402

FIXTURE = os.path.normpath(os.path.join(HERE, "..", "Fixtures", "glm-tiny-icetk"))
EXPECTED = json.load(open(os.path.join(FIXTURE, "expected.json"), encoding="utf-8"))
CASES = {c["name"]: c for c in EXPECTED["cases"]}
MPS = ("mp1", "mp2")
LOGITS_TOL = 4e-3
LONG_CASES = [name for name, c in CASES.items() if c["context_length"] > 400]

# (mp, case) -> max abs error; printed by conftest.py's terminal summary
REFERENCE_ERRORS = {}


def ref_logits(case):
    path = os.path.join(FIXTURE, case["last_position_logits"]["file"])
    arr = np.fromfile(path, dtype="<f4")
    assert arr.size == 150528
    return arr


@pytest.fixture(scope="module")
def models():
    return {mp: ref.GLMReference(os.path.join(FIXTURE, mp)) for mp in MPS}


def test_fixture_is_complete():
    assert len(CASES) >= 10
    assert set(LONG_CASES) >= {"long_gmask", "very_long_gmask"}
    for mp in MPS:
        assert os.path.exists(os.path.join(FIXTURE, mp, "latest"))


def test_merged_mp2_equals_mp1(models):
    """The MP=2 shards (official convert_tp.py) merge back to the MP=1 tensors bit for bit."""
    w1, w2 = models["mp1"].w, models["mp2"].w
    assert set(w1) == set(w2)
    for key in w1:
        assert w1[key].shape == w2[key].shape, key
        assert np.array_equal(w1[key], w2[key]), key


def test_shards_really_are_split():
    shards = ref.shard_paths(os.path.join(FIXTURE, "mp2"))
    assert len(shards) == 2
    sd = ref.load_torch_file(shards[1])["module"]
    assert sd["transformer.word_embeddings.weight"].shape == (150528 // 2, 32)
    assert sd["transformer.layers.0.mlp.dense_h_to_4h.weight"].shape == (96, 32)
    assert sd["transformer.layers.0.attention.dense.weight"].shape == (32, 16)
    assert sd["transformer.layers.0.attention.query_key_value.weight"].dtype == np.float16


@pytest.mark.parametrize("name", list(CASES))
def test_mask_kind_and_positions(name):
    case = CASES[name]
    ids = case["input_ids"]
    assert ids[-1] == ref.SOP
    tok, mpos, use_gmask = ref.generation_mask_of(ids)
    assert ref_name(tok) == case["generation_mask"]
    assert mpos == case["mask_position"]
    assert use_gmask == case["use_gmask"]
    c = len(ids)
    assert c == case["context_length"]
    total = c + len(case["expected_generated_ids"])
    assert ref.position_ids_for(c, total, mpos, use_gmask).tolist() == case["position_ids"]


def ref_name(tok):
    return {ref.MASK: "[MASK]", ref.SMASK: "[sMASK]", ref.GMASK: "[gMASK]"}.get(tok)


def test_visibility_mask_shape():
    vis = ref.visibility_mask(4, 6)  # 3 context tokens, <sop>, 2 generated
    expect = np.array([
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1],
    ], dtype=bool)
    assert np.array_equal(vis, expect)


@pytest.mark.parametrize("mp", MPS)
@pytest.mark.parametrize("name", list(CASES))
def test_official_vectors(models, mp, name):
    case = CASES[name]
    model = models[mp]
    n_new = len(case["expected_generated_ids"])
    result, first = model.greedy(case["input_ids"], n_new, top_k=5)

    err = float(np.abs(first.astype(np.float64) - ref_logits(case)).max())
    REFERENCE_ERRORS[(mp, name)] = err
    print(f"\n{mp} {name:16s} context {case['context_length']:5d}  max|logits - ref_fp32| = {err:.3e}")

    assert result["generated_ids"] == case["expected_generated_ids"]
    assert err <= LOGITS_TOL
    assert result["position_ids"] == case["position_ids"]

    # every step's official top-5 logits (fp32 values) at the same ids, within tolerance
    assert len(result["per_step_topk"]) == len(case["per_step_top5"])
    for step, (mine, theirs) in enumerate(zip(result["per_step_topk"], case["per_step_top5"])):
        assert mine[0][0] == theirs[0][0], f"step {step}: top-1 differs"
        mine_by_id = dict((i, v) for i, v in mine)
        for tok, val in theirs:
            if tok in mine_by_id:
                assert abs(mine_by_id[tok] - val) <= LOGITS_TOL, f"step {step} token {tok}"


@pytest.mark.parametrize("name", LONG_CASES)
def test_exact_fp32_rotary_is_detectably_wrong(name):
    """Sanity check that the tests can fail: exact RoPE instead of the official fp16-rounded
    table moves the long cases' logits by far more than the tolerance."""
    case = CASES[name]
    exact = ref.GLMReference(os.path.join(FIXTURE, "mp1"), rotary="exact")
    err = float(np.abs(exact.last_logits(case["input_ids"]) - ref_logits(case)).max())
    REFERENCE_ERRORS[("exact-rotary", name)] = err
    print(f"\nexact-fp32 rotary {name}: max abs error {err:.3f}")
    assert err > 0.1


def test_official_rotary_table_details():
    cos, sin = ref.rotary_table(2048, 128)
    # every value is an fp16 value
    assert np.array_equal(cos, cos.astype(np.float16).astype(np.float32))
    assert np.array_equal(sin, sin.astype(np.float16).astype(np.float32))
    # rotate-half pairing: dim i and i + 64 share the angle
    assert np.array_equal(cos[:, :64], cos[:, 64:])
    # position 0: angle 0
    assert np.all(cos[0] == 1) and np.all(sin[0] == 0)
    # inv_freq = fp16(1 / 10000^(2j/d)); angle = fp16(fp16(t) * inv_freq)
    inv = (1.0 / 10000 ** (np.arange(0, 128, 2) / 128)).astype(np.float16)
    t = np.float16(1999)
    angle = np.float16(np.float32(t) * np.float32(inv[5]))
    assert cos[1999, 5] == np.float32(np.float16(np.cos(np.float64(angle))))
    # the one head-dim-8 entry near an fp16 tie: the official fixture needs fp16(sin(300)) = -0.9995
    _, sin8 = ref.rotary_table(2048, 8)
    assert sin8[300, 0] == np.float32(np.float16(-0.9995)) and sin8[300, 4] == sin8[300, 0]
    # far from exact near position 2000
    ce, _ = ref.rotary_table(2048, 128, mode="exact")
    assert np.abs(cos - ce).max() > 0.5


def test_tanh_gelu_is_detectable(models):
    """A tanh GELU is detectable (above the 4e-3 tolerance) on at least one case."""
    tanh = ref.GLMReference(os.path.join(FIXTURE, "mp1"), gelu_mode="tanh")
    worst = max(float(np.abs(tanh.last_logits(c["input_ids"]) - ref_logits(c)).max())
                for c in CASES.values() if c["context_length"] < 100)
    assert worst > LOGITS_TOL


def test_cli_logits_and_greedy(tmp_path):
    case = CASES["en_mask"]
    script = os.path.join(HERE, "glm_reference.py")
    model = os.path.join(FIXTURE, "mp2")
    out = tmp_path / "l.f32"
    ids = ",".join(str(i) for i in case["input_ids"])
    p = subprocess.run([sys.executable, script, "logits", "--model", model, "--ids", ids,
                        "--out", str(out), "--json"], capture_output=True, text=True, check=True)
    info = json.loads(p.stdout)
    got = np.fromfile(out, dtype="<f4")
    assert info["vocab_size"] == got.size == 150528
    assert np.abs(got - ref_logits(case)).max() <= LOGITS_TOL

    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(" ".join(str(i) for i in case["input_ids"]) + "\n")
    out2 = tmp_path / "g.f32"
    p = subprocess.run([sys.executable, script, "greedy", "--model", model, "--ids-file", str(ids_file),
                        "--max-new-tokens", "16", "--out", str(out2), "--json"],
                       capture_output=True, text=True, check=True)
    res = json.loads(p.stdout)
    assert res["generated_ids"] == case["expected_generated_ids"]
    assert res["finished"] is False
    assert res["last_position_logits_file"] == str(out2)
    assert np.array_equal(np.fromfile(out2, dtype="<f4"), got)


def test_greedy_stops_at_end_token(models):
    """Force an end token by making <eop> the argmax: generation must stop right after it."""
    model = ref.GLMReference(os.path.join(FIXTURE, "mp1"))
    E = model.w["transformer.word_embeddings.weight"]
    case = CASES["en_gmask"]
    first = case["expected_generated_ids"][0]
    E[ref.EOP] = E[first] * 2.0  # larger logit than the original top-1 at every step it wins
    res, _ = model.greedy(case["input_ids"], 16)
    assert res["finished"] and res["generated_ids"][-1] in ref.END_TOKENS
    assert len(res["generated_ids"]) <= 16


def test_unpickler_rejects_other_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps({"module": Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        ref.load_torch_file(str(path))


def test_int4_unpacking():
    # values 2i in the high nibble, 2i+1 in the low nibble, two's complement
    q = np.array([[-7, 7, 3, -1], [0, -8 + 1, 5, 2]], dtype=np.int8)
    packed = ((q[:, 0::2].astype(np.int16) << 4) | (q[:, 1::2].astype(np.int16) & 0xF)).astype(np.uint8).view(np.int8)
    scale = np.array([0.5, 2.0], dtype=np.float16)
    w = ref._dequantize("k", packed, scale, 4)
    assert np.array_equal(w, (q * scale.astype(np.float32)[:, None]).astype(np.float16))
    w8 = ref._dequantize("k", q, scale, 4)
    assert np.array_equal(w8, w)
