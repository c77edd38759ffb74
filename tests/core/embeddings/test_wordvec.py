"""core.embeddings.wordvec on tiny KeyedVectors: analogies, neighbours, OOV hints, one-hot demo, maps, and the
vectorized analogy evaluation matching gensim's evaluate_word_analogies exactly."""
import copy

import numpy as np
import pytest
from gensim.models import KeyedVectors
from hypothesis import given, settings
from hypothesis import strategies as st

from core.embeddings import wordvec


def make_kv(words, dim=8, seed=0, vectors=None):
    rng = np.random.default_rng(seed)
    kv = KeyedVectors(vector_size=dim)
    vecs = rng.normal(size=(len(words), dim)).astype(np.float32) if vectors is None else vectors
    kv.add_vectors(list(words), vecs)
    return kv


def toy_kv():
    """man/woman/king/queen built so that king - man + woman = queen exactly."""
    base = np.eye(6, dtype=np.float32)
    royal, male, female = base[0], base[1], base[2]
    vecs = {
        "man": male + 0.1 * base[3], "woman": female + 0.1 * base[3],
        "king": royal + male, "queen": royal + female,
        "apple": base[4], "pear": base[4] + 0.2 * base[5], "banana": base[5] + 0.5 * base[4],
    }
    return make_kv(list(vecs), dim=6, vectors=np.stack(list(vecs.values())))


def test_king_minus_man_plus_woman_is_queen_both_methods():
    kv = toy_kv()
    for method in ("3CosAdd", "3CosMul"):
        answers = wordvec.analogy(kv, "man", "king", "woman", topk=3, method=method)
        assert answers[0][0] == "queen", (method, answers)
        assert len(answers) == 3 and all(w not in {"man", "king", "woman"} for w, _ in answers)
        scores = [s for _, s in answers]
        assert scores == sorted(scores, reverse=True)


def test_including_inputs_can_return_an_input_word():
    kv = toy_kv()
    words = [w for w, _ in wordvec.analogy(kv, "man", "king", "woman", topk=7, exclude_inputs=False)]
    assert set(words) == set(kv.index_to_key)


def test_neighbours_sorted_exclude_the_word_and_respect_restriction():
    kv = toy_kv()
    near = wordvec.neighbours(kv, "apple", topk=3)
    assert near[0][0] == "pear" and "apple" not in [w for w, _ in near]
    assert all(-1.0001 <= s <= 1.0001 for _, s in near)
    restricted = wordvec.neighbours(kv, "man", topk=10, restrict_vocab=4)
    assert {w for w, _ in restricted} <= {"woman", "king", "queen"}


def test_oov_word_raises_with_close_spellings():
    kv = toy_kv()
    with pytest.raises(ValueError, match="not in the vocabulary.*queen"):
        wordvec.analogy(kv, "man", "king", "quen")
    with pytest.raises(ValueError, match="outside the top"):
        wordvec.neighbours(kv, "banana", restrict_vocab=3)
    for bad in ["", "   ", "two words", "x" * 200, None]:
        with pytest.raises(ValueError):
            wordvec.word_index(kv, bad)
    assert wordvec.word_index(kv, "KING") == kv.key_to_index["king"]  # falls back to lower case


def test_shared_vectors_are_not_mutated():
    kv = toy_kv()
    before = kv.vectors.copy()
    wordvec.analogy(kv, "man", "king", "woman")
    wordvec.one_hot_demo(kv, ["man", "king", "apple"])
    np.testing.assert_array_equal(before, kv.vectors)
    assert kv.norms is None  # we keep our own normalized copy


def test_one_hot_codes_are_orthogonal_and_lookup_is_a_row():
    kv = toy_kv()
    demo = wordvec.one_hot_demo(kv, ["man", "woman", "king", "apple"])
    np.testing.assert_allclose(demo.onehot_cos, np.eye(4), atol=1e-6)
    assert demo.lookup_equal
    assert demo.dense_cos[2, 0] > demo.dense_cos[2, 3]  # king is closer to man than to apple
    np.testing.assert_allclose(np.diag(demo.dense_cos), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        wordvec.one_hot_demo(kv, ["man"])


@pytest.mark.parametrize("method,dims", [("PCA", 2), ("PCA", 3), ("t-SNE", 2)])
def test_projection_shapes_and_pca_distances(method, dims):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 10))
    coords = wordvec.project(x, method, dims, seed=0)
    assert coords.shape == (12, dims) and np.isfinite(coords).all()
    if method == "PCA":
        # PCA with all components keeps distances; the first ones never exceed them
        full = wordvec.project(x, "PCA", 3)
        d_full = np.linalg.norm(x[0] - x[1])
        assert np.linalg.norm(full[0] - full[1]) <= d_full + 1e-9
    fig = wordvec.map_figure([f"w{i}" for i in range(12)], coords, arrows=[("w0", "w1")])
    assert len(fig.data) >= 1


def test_parse_words_and_presets():
    assert wordvec.parse_words("a, b\nc  a") == ["a", "b", "c"]
    with pytest.raises(ValueError):
        wordvec.parse_words(" , ")
    for text in wordvec.PRESETS.values():
        assert len(wordvec.parse_words(text)) % 2 == 0


# ---------------------------------------------------------------------------------------------
# the vectorized evaluation equals gensim's, question by question
# ---------------------------------------------------------------------------------------------
def analogy_file(tmp_path, words, n_questions, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for s in range(3):
        lines.append(f": section-{s}")
        for _ in range(n_questions):
            quad = [words[i] for i in rng.integers(0, len(words), size=4)]
            if rng.random() < 0.3:  # case variants exercise gensim's upper-casing rules
                quad = [w.upper() if rng.random() < 0.5 else w for w in quad]
            lines.append(" ".join(quad))
    lines.append("not a valid line")
    path = tmp_path / f"q{seed}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def gensim_counts(kv, path, restrict):
    private = copy.deepcopy(kv)
    score, sections = private.evaluate_word_analogies(str(path), restrict_vocab=restrict)
    return score, [len(s["correct"]) for s in sections[:-1]], [len(s["correct"]) + len(s["incorrect"]) for s in sections[:-1]]


@settings(max_examples=24, deadline=None)
@given(seed=st.integers(0, 10_000), restrict=st.integers(10, 90), group=st.sampled_from([2, 4, 7, 64]),
       precision=st.sampled_from(["fp32", "bf16"]), strategy=st.sampled_from(["scan", "dense", "bounds"]))
def test_vectorized_analogy_accuracy_equals_gensim(tmp_path_factory, seed, restrict, group, precision, strategy):
    rng = np.random.default_rng(seed)
    base = [f"w{i}" for i in range(70)]
    # a few case variants ("W3" after "w3") and words beyond the restriction
    words = base + [w.upper() for w in rng.choice(base, 10, replace=False)] + [f"x{i}" for i in range(20)]
    kv = make_kv(words, dim=6, seed=seed)
    path = analogy_file(tmp_path_factory.mktemp("q"), words, 60, seed)
    g_score, g_correct, g_total = gensim_counts(kv, path, restrict)
    ours = wordvec.evaluate_analogies(kv, path, restrict_vocab=restrict, chunk=17, group=group, precision=precision,
                                      strategy=strategy, bound_group=group)
    assert [r["correct"] for r in ours.sections] == g_correct
    assert [r["total"] for r in ours.sections] == g_total
    assert ours.accuracy == pytest.approx(g_score)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 40), tile=st.integers(1, 9), first=st.integers(1, 16))
def test_scan_verdicts_equal_the_top_k_rule(seed, rows, tile, first):
    """Early-exit scan, in many small passes, tiles and blocks: same right/wrong as gensim's rule on the top 8."""
    import torch

    rng = np.random.default_rng(seed)
    base = [f"w{i}" for i in range(120)]
    keys = base + [w.upper() for w in rng.choice(base, 15, replace=False)]
    kv = make_kv(keys, dim=5, seed=seed)
    ok = wordvec._upper_vocab(kv, len(keys))
    uppers = [k.upper() for k in keys]
    quads = [tuple(uppers[i] for i in rng.integers(0, len(keys), size=4)) for _ in range(150)]
    idx = torch.tensor([[ok[w] for w in q] for q in quads])
    unit = wordvec.unit_matrix(kv)
    steps = []
    verdict = wordvec._verdicts_by_scan(unit, idx, quads, uppers, lambda d, t, i=None: steps.append(d), len(quads),
                                        rows_per_pass=rows, tile=tile, first_block=first)
    best, _ = wordvec._top_words_dense(unit, None, idx, 4, 8, None, len(quads))
    truth = [wordvec._gensim_prediction(q, r, b, keys) == q[3] for q, r, b in zip(quads, idx.tolist(), best.tolist())]
    decided = verdict >= 0
    assert decided.float().mean() > 0.9  # near-ties only are left to the exact path
    assert (verdict[decided] == torch.tensor(truth, dtype=torch.int8)[decided]).all()
    assert steps[-1] == len(quads)


def test_bf16_pass_is_certified_and_falls_back_to_exact(tmp_path):
    """Tiny groups make the bf16 certificate fail often: those questions are re-scored exactly."""
    words = [f"w{i}" for i in range(90)]
    rng = np.random.default_rng(11)
    # one direction with 90 near-copies: most scores lie within the bf16 error of each other
    vecs = np.repeat(rng.normal(size=(1, 6)), 90, axis=0) + 0.003 * rng.normal(size=(90, 6))
    kv = make_kv(words, dim=6, vectors=vecs.astype(np.float32))
    path = analogy_file(tmp_path, words, 80, 11)
    g_score, g_correct, _ = gensim_counts(kv, path, 90)
    ours = wordvec.evaluate_analogies(kv, path, restrict_vocab=90, group=2, precision="bf16", strategy="dense")
    assert ours.precision == "dense/bf16" and ours.rescored > 0
    assert [r["correct"] for r in ours.sections] == g_correct
    bounds = wordvec.evaluate_analogies(kv, path, restrict_vocab=90, strategy="bounds", bound_group=2)
    assert [r["correct"] for r in bounds.sections] == g_correct
    scan = wordvec.evaluate_analogies(kv, path, restrict_vocab=90)  # the default: near-ties go the exact way
    assert scan.precision == "scan/fp32" and scan.rescored > 0
    assert [r["correct"] for r in scan.sections] == g_correct
    with pytest.raises(ValueError):
        wordvec.evaluate_analogies(kv, path, precision="fp8")
    with pytest.raises(ValueError):
        wordvec.evaluate_analogies(kv, path, strategy="magic")
    assert wordvec.fast_precision() in {"fp32", "bf16"}


def test_bf16_error_bound_holds():
    import torch

    rng = np.random.default_rng(0)
    kv = make_kv([f"w{i}" for i in range(3000)], dim=50, seed=2)
    unit, low = wordvec.unit_matrix(kv), wordvec.unit_matrix_bf16(kv)
    q = torch.from_numpy(rng.normal(size=(64, 50)).astype(np.float32))
    q = q / q.norm(dim=1, keepdim=True)
    err = ((q.to(torch.bfloat16) @ low.T).float() - q @ unit.T).abs().max().item()
    assert err <= wordvec.BF16_DELTA


def test_evaluation_reports_progress_and_skips():
    kv = make_kv([f"w{i}" for i in range(30)], seed=3)
    steps = []
    score = wordvec.evaluate_analogies(kv, wordvec.analogy_file(), on_step=lambda d, t, i=None: steps.append((d, t)))
    assert score.total == 0 and score.skipped == 19544 and score.accuracy == 0.0
    assert steps and steps[-1][0] == steps[-1][1]


def test_pair_evaluation_matches_gensim(tmp_path):
    words = [f"w{i}" for i in range(40)]
    kv = make_kv(words, seed=5)
    rng = np.random.default_rng(0)
    lines = ["# header"] + [f"{words[a]}\t{words[b]}\t{rng.uniform(0, 10):.2f}"
                            for a, b in rng.integers(0, 40, size=(50, 2))] + ["zzz\tw1\t3.0"]
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n")
    ours = wordvec.evaluate_pairs(kv, path)
    pearson, spearman, oov = copy.deepcopy(kv).evaluate_word_pairs(str(path))
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-6)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert ours.oov == 1
