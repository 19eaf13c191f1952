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


# ---------------------------------------------------------------------------------------------
# Beam search (official BeamSearchStrategy, deterministic, batch 1, consider_end=True)
# ---------------------------------------------------------------------------------------------
# A toy vocabulary of 8 tokens, 6 and 7 being the end tokens. Toy models map a sequence to
# logits; table-driven ones look up the GENERATED suffix (the sequence after the context).
TOY_V = 8
TOY_END = (6, 7)


def lsm(x):
    """log_softmax, written out independently of the reference."""
    x = np.asarray(x, dtype=np.float64)
    return x - np.log(np.exp(x - x.max()).sum()) - x.max()


def penalty(total_length, lp):
    return ((5.0 + total_length) / 6) ** lp


def table_toy(context, table, default=(0.0,) * TOY_V):
    """next_logits from a table: generated-suffix tuple -> logits (default for the rest)."""
    c = len(context)

    def next_logits(seq):
        assert list(seq[:c]) == list(context)
        return np.array(table.get(tuple(seq[c:]), default), dtype=np.float32)
    return next_logits


def random_toy(seed, end_at=None):
    """Seeded pseudo-random logits per sequence; the end tokens sit far below (never among the
    candidates) except that <end 6> becomes the clear top-1 once the sequence is end_at long."""
    def next_logits(seq):
        x = np.random.default_rng([seed] + list(seq)).normal(size=TOY_V)
        x[list(TOY_END)] = -30.0
        if end_at is not None and len(seq) >= end_at:
            x[6] = 10.0
        return x.astype(np.float32)
    return next_logits


def path_score(next_logits, context, tokens):
    """Cumulative log-prob of generating tokens after context (no bans)."""
    return sum(lsm(next_logits(list(context) + tokens[:i]))[t] for i, t in enumerate(tokens))


def greedy_toy(next_logits, context, max_new_tokens):
    out = []
    for _ in range(max_new_tokens):
        t = int(np.argmax(next_logits(list(context) + out)))
        out.append(t)
        if t in TOY_END:
            break
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lp", (0.0, 1.0, 2.0))
def test_beam_search_one_beam_is_greedy(seed, lp):
    """(a) num_beams=1, no bans, end tokens never a runner-up: beam search = greedy argmax
    decoding up to and including the end token, scored by its penalized cumulative log-prob."""
    context = [seed % TOY_V, 3]
    for end_at, max_new in ((len(context) + 5, 12), (None, 7)):
        nl = random_toy(seed, end_at)
        got = ref.beam_search(nl, context, 1, max_new, TOY_END, length_penalty=lp)
        want = greedy_toy(nl, context, max_new)
        assert len(got) == 1
        assert got[0]["tokens"] == want
        assert len(want) == (6 if end_at else 7) and (want[-1] == 6) == bool(end_at)
        raw = path_score(nl, context, want)
        assert got[0]["score"] == pytest.approx(raw / penalty(len(context) + len(want), lp), rel=1e-12)


def test_beam_search_ties_go_to_the_smaller_flattened_index():
    """All logits equal: candidates are ordered beam * vocab + token, so beam 0's tokens 0, 1
    win the first step, and on the second step [0, 0], [0, 1] (beam 0) beat all of beam 1's."""
    nl = table_toy([5], {})
    got = ref.beam_search(nl, [5], 2, 2, TOY_END)
    assert [b["tokens"] for b in got] == [[0, 0]]  # finalize adds only the first continuing beam
    assert got[0]["score"] == pytest.approx(2 * np.log(1 / TOY_V) / penalty(3, 1.0), rel=1e-12)


def test_beam_search_end_token_on_first_step():
    """(b) Step 1 (context length 3, 2 beams, K = 6): candidates 6 (end, logit 4), 1 (3), 2 (2),
    then the ties 0, 3, 4. The end beam [6] is recorded, penalized by the WHOLE length
    3 + 1 = 4: ((5 + 4) / 6) ** lp = 1.5 ** lp (not (5 + 1) / 6 = 1); [1] and [2] continue.
    max_new_tokens = 1 then ends the search not done: finalize adds the best continuing [1]."""
    context = [0, 1, 2]
    first = [0, 3, 2, 0, 0, 0, 4, 0]
    nl = table_toy(context, {(): first})
    s = lsm(first)
    for lp in (1.0, 2.0):
        got = ref.beam_search(nl, context, 2, 1, TOY_END, length_penalty=lp)
        assert [b["tokens"] for b in got] == [[6], [1]]
        assert got[0]["score"] == pytest.approx(s[6] / 1.5 ** lp, rel=1e-12)
        assert got[1]["score"] == pytest.approx(s[1] / 1.5 ** lp, rel=1e-12)


def test_beam_search_records_an_end_token_ranked_below_the_continuing_beam():
    """Official quirk: with 1 beam and K = 3 the walk is 1 (continues), 6 (end, recorded even
    though ranked below), 0 (stops). Next step [1] continues with log(1/8) more, and the search
    is done: [6] at -1.511 / (7/6) beats [1, 0] at -2.59 / (8/6). Greedy would give 1, 0, ..."""
    context = [0]
    first = [0, 3, 0, 0, 0, 0, 2, 0]
    nl = table_toy(context, {(): first})
    got = ref.beam_search(nl, context, 1, 5, TOY_END)
    assert [b["tokens"] for b in got] == [[6]]
    assert got[0]["score"] == pytest.approx(lsm(first)[6] / penalty(2, 1.0), rel=1e-12)
    assert greedy_toy(nl, context, 2) == [1, 0]


def test_beam_search_min_gen_length():
    """(c) End token 6 is always the top logit; min_gen_length = 3 sets the end tokens to -65504
    while length_generated < 3, so three argmax tokens (0) come first and the end token 4th."""
    logits = [1, 0.5, 0, 0, 0, 0, 5, -1]
    context = [4, 2]
    nl = table_toy(context, {}, default=logits)
    assert [b["tokens"] for b in ref.beam_search(nl, context, 1, 10, TOY_END)] == [[6]]
    got = ref.beam_search(nl, context, 1, 10, TOY_END, min_gen_length=3)
    assert [b["tokens"] for b in got] == [[0, 0, 0, 6]]
    banned = np.array(logits, dtype=np.float64)
    banned[list(TOY_END)] = -65504.0
    raw = 3 * lsm(banned)[0] + lsm(logits)[6]
    assert got[0]["score"] == pytest.approx(raw / penalty(len(context) + 4, 1.0), rel=1e-12)
    # min_gen_length beyond max_new_tokens: never ends, the one beam is returned by finalize
    got = ref.beam_search(nl, context, 1, 2, TOY_END, min_gen_length=5)
    assert [b["tokens"] for b in got] == [[0, 0]]


def _cycle_toy(context):
    """After 2 the top token is 1 (logit 5), after anything else 2 if it was 1 else 1;
    token 3 is always the runner-up (logit 3), the rest 0, the end tokens -20."""
    c = len(context)

    def next_logits(seq):
        assert list(seq[:c]) == list(context)
        x = np.zeros(TOY_V, dtype=np.float32)
        x[list(TOY_END)] = -20
        x[3] = 3
        x[2 if seq[-1] == 1 else 1] = 5
        return x
    return next_logits


def test_beam_search_no_repeat_bigram():
    """(d) Context [0, 2]; unbanned the toy cycles 1, 2, 1, 2, 1. With n = 2 each continuing beam
    bans (last token -> new token): step 3 wants (2, 1) again -> banned -> runner-up 3; step 5
    wants (1, 2) again -> banned -> 3. Bigrams of [0, 2, 1, 2, 3, 1, 3] are then all distinct."""
    context = [0, 2]
    nl = _cycle_toy(context)
    assert ref.beam_search(nl, context, 1, 5, TOY_END)[0]["tokens"] == [1, 2, 1, 2, 1]
    got = ref.beam_search(nl, context, 1, 5, TOY_END, no_repeat_ngram_size=2)
    assert got[0]["tokens"] == [1, 2, 3, 1, 3]
    full = context + got[0]["tokens"]
    bigrams = list(zip(full, full[1:]))
    assert len(set(bigrams)) == len(bigrams)


def test_beam_search_no_repeat_unigram():
    """no_repeat_ngram_size = 1 (a TODO in the official code) = empty prefix: no generated token
    may be generated again. 1, 2, then 3 (1 banned), then 0 (1, 2, 3 banned; ties 0, 4, 5 -> the
    smallest), then 4. Context tokens are not banned (0 sits in the context)."""
    context = [0, 2]
    got = ref.beam_search(_cycle_toy(context), context, 1, 5, TOY_END, no_repeat_ngram_size=1)
    assert got[0]["tokens"] == [1, 2, 3, 0, 4]


def test_beam_search_length_penalty_reorders_ended_beams():
    """(e) Context [0], 2 beams. Step 1 ends [6] (raw -0.975) and continues [1], [2]; step 2
    continues [1, 3], [2, 4]; step 3 ends [1, 3, 7] (raw -1.567) and the rest is far worse, so
    the search is done. Raw scores favour the short [6]; dividing by ((5 + L) / 6) ** lp with
    L = 2 vs 4 favours the long one once lp is large (here 3)."""
    context = [0]
    table = {
        (): [0, 1.5, 1, 0, 0, 0, 2, 0],
        (1,): [0, 0, 0, 5, 0, 0, 0, 0],
        (2,): [0, 0, 0, 0, 5, 0, 0, 0],
        (1, 3): [0, 0, 0, 0, 0, 0, 0, 5],
    }
    nl = table_toy(context, table)
    raw_short = path_score(nl, context, [6])
    raw_long = path_score(nl, context, [1, 3, 7])
    assert raw_short > raw_long
    for lp, order in ((0.0, [[6], [1, 3, 7]]), (1.0, [[6], [1, 3, 7]]), (3.0, [[1, 3, 7], [6]])):
        got = ref.beam_search(nl, context, 2, 10, TOY_END, length_penalty=lp)
        assert [b["tokens"] for b in got] == order, lp
        scores = {tuple(b["tokens"]): b["score"] for b in got}
        assert scores[(6,)] == pytest.approx(raw_short / penalty(2, lp), rel=1e-12)
        assert scores[(1, 3, 7)] == pytest.approx(raw_long / penalty(4, lp), rel=1e-12)
        assert got[0]["score"] >= got[1]["score"]


def test_beam_search_done_compares_the_worst_ended_beam():
    """Context [0], 2 beams, K = 6. Step 1 walks 6 (end), 1, 7 (end), 2, 0 (stop): `ended` is
    full with [6] (raw -0.851) and [7] (raw -1.851), but the worst, [7], is below the continuing
    [1] (-1.351) at the same length, so the search is NOT done. Step 2 ends [1, 7] (~-1.352 at
    length 3: -1.014), which displaces [7] (-1.587); now everything left is far worse: done."""
    context = [0]
    table = {(): [0, 2.5, 1, 0, 0, 0, 3, 2], (1,): [0, 0, 0, 0, 0, 0, 0, 9]}
    nl = table_toy(context, table)
    got = ref.beam_search(nl, context, 2, 10, TOY_END)
    assert [b["tokens"] for b in got] == [[6], [1, 7]]
    assert got[1]["score"] == pytest.approx(path_score(nl, context, [1, 7]) / penalty(3, 1.0), rel=1e-12)
    # cut after step 1 instead (not done): finalize's [1] (-1.351 / (7/6) = -1.158) enters the
    # full list and pushes out [7] (-1.587)
    assert [b["tokens"] for b in ref.beam_search(nl, context, 2, 1, TOY_END)] == [[6], [1]]


@pytest.mark.parametrize("seed", range(4))
def test_beam_search_finalize_returns_one_beam(seed):
    """(f) Official finalize quirk: nothing ended by max_new_tokens -> only the first (best)
    continuing beam is added, so 3 beams give exactly one result, penalized by its full length."""
    context = [1, 2]
    nl = random_toy(seed)  # end tokens never among the candidates
    got = ref.beam_search(nl, context, 3, 4, TOY_END)
    assert len(got) == 1
    tokens = got[0]["tokens"]
    assert len(tokens) == 4 and not set(tokens) & set(TOY_END)
    raw = path_score(nl, context, tokens)
    assert got[0]["score"] == pytest.approx(raw / penalty(len(context) + 4, 1.0), rel=1e-12)


def test_cli_beam(models, tmp_path):
    """The beam CLI on the fixture model: JSON shape; one beam = greedy's ids (no end token is
    generated, so finalize returns the single beam); 2 beams give scores in descending order."""
    case = CASES["en_mask"]
    script = os.path.join(HERE, "glm_reference.py")
    model = os.path.join(FIXTURE, "mp1")
    ids = ",".join(str(i) for i in case["input_ids"])
    n_new = 6
    p = subprocess.run([sys.executable, script, "beam", "--model", model, "--ids", ids,
                        "--num-beams", "1", "--max-new-tokens", str(n_new)],
                       capture_output=True, text=True, check=True)
    res = json.loads(p.stdout)
    assert set(res) == {"beams", "context_length"}
    assert res["context_length"] == case["context_length"]
    assert len(res["beams"]) == 1 and set(res["beams"][0]) == {"tokens", "score"}
    greedy, _ = models["mp1"].greedy(case["input_ids"], n_new)
    assert res["beams"][0]["tokens"] == greedy["generated_ids"] == case["expected_generated_ids"][:n_new]
    assert isinstance(res["beams"][0]["score"], float) and res["beams"][0]["score"] < 0

    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(case["input_ids"]))
    p = subprocess.run([sys.executable, script, "beam", "--model", model, "--ids-file", str(ids_file),
                        "--num-beams", "2", "--max-new-tokens", "3", "--length-penalty", "0.5",
                        "--no-repeat-ngram-size", "2", "--min-gen-length", "1"],
                       capture_output=True, text=True, check=True)
    res2 = json.loads(p.stdout)
    assert 1 <= len(res2["beams"]) <= 2
    scores = [b["score"] for b in res2["beams"]]
    assert scores == sorted(scores, reverse=True)
    assert res2 == models["mp1"].beam(case["input_ids"], 2, 3, 0.5, 2, 1)
