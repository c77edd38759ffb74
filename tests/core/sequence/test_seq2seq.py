"""core.sequence.seq2seq on tiny models: tokenizers, masks, beam search vs brute force, training, checkpoints."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sequence import seq2seq as S

A, B = 4, 5  # the two "real" tokens of the hand-made model (after the 4 specials)


# ---------------------------------------------------------------------------------------------
# a hand-made model: next-token log-probs are a fixed random function of the prefix
# ---------------------------------------------------------------------------------------------
def handmade_step_fn(seed: int):
    """step_fn over V = 6 ids where only <eos>, A and B are allowed (the rest have log-prob -inf)."""
    def logprobs(prefix: tuple) -> torch.Tensor:
        gen = torch.Generator().manual_seed(hash((seed,) + prefix) % (2**31))
        logits = torch.full((6,), float("-inf"))
        logits[[S.EOS, A, B]] = torch.randn(3, generator=gen, dtype=torch.float64).float() * 2
        return torch.log_softmax(logits, dim=-1)

    def step(y, state):
        prefix = torch.cat([state["prefix"], y[:, None]], dim=1)  # (N, t+1)
        lp = torch.stack([logprobs(tuple(row.tolist())) for row in prefix])  # (N, 6)
        return lp, {"prefix": prefix}, None

    return step, {"prefix": torch.zeros((1, 0), dtype=torch.long)}


def brute_force(step, state, max_len: int, alpha: float):
    """Every hypothesis beam search can return: tokens in {A,B}* then <eos> (L <= max_len), or
    max_len tokens without <eos>. Returns the best (norm score, ids, finished)."""
    best = None
    for n in range(0, max_len + 1):
        for seq in itertools.product([A, B], repeat=n):
            for finished in (True, False):
                if finished and n + 1 > max_len:
                    continue
                if not finished and n != max_len:
                    continue
                ys = [S.SOS] + list(seq) + ([S.EOS] if finished else [])
                logp, st_ = 0.0, state
                for t in range(len(ys) - 1):
                    lp, st_, _ = step(torch.tensor([ys[t]]), st_)
                    logp += float(lp[0, ys[t + 1]])
                score = S.norm_score(logp, len(ys) - 1, alpha)
                if best is None or score > best[0]:
                    best = (score, list(seq), finished)
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.floats(0.0, 1.5), max_len=st.integers(1, 4))
def test_exhaustive_beam_search_returns_the_best_length_normalized_hypothesis(seed, alpha, max_len):
    step, state = handmade_step_fn(seed)
    res = S.beam_search(step, state, beam_width=S.MAX_BEAM, alpha=alpha, max_len=max_len)
    score, ids, finished = brute_force(step, state, max_len, alpha)
    top = res["hypotheses"][0]
    assert top["norm_score"] == pytest.approx(score, abs=1e-5)
    assert top["ids"] == ids and top["finished"] == finished


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), max_len=st.integers(1, 6))
def test_beam_width_one_is_greedy_on_the_handmade_model(seed, max_len):
    step, state = handmade_step_fn(seed)
    greedy = S.greedy_search(step, state, max_len)
    beam = S.beam_search(step, state, beam_width=1, alpha=0.7, max_len=max_len)["hypotheses"]
    assert len(beam) == 1
    assert beam[0]["ids"] == greedy["ids"] and beam[0]["finished"] == greedy["finished"]
    assert beam[0]["logp"] == pytest.approx(greedy["logp"], abs=1e-5)


def test_hypotheses_are_sorted_by_normalized_score_and_alpha_changes_the_order():
    step, state = handmade_step_fn(3)
    orders = set()
    for alpha in (0.0, 0.5, 1.0, 2.0):
        hyps = S.beam_search(step, state, beam_width=5, alpha=alpha, max_len=6)["hypotheses"]
        scores = [h["norm_score"] for h in hyps]
        assert scores == sorted(scores, reverse=True)
        for h in hyps:
            assert h["norm_score"] == pytest.approx(h["logp"] / h["length"] ** alpha)
            assert h["length"] == len(h["ids"]) + (1 if h["finished"] else 0)
        orders.add(tuple(tuple(h["ids"]) for h in hyps))
    assert len(orders) > 1  # length normalization reorders the same finished hypotheses


def test_beam_tree_links_every_node_to_its_parent():
    step, state = handmade_step_fn(1)
    res = S.beam_search(step, state, beam_width=3, alpha=0.7, max_len=5)
    nodes = res["tree"]["nodes"]
    ids = {n["id"] for n in nodes}
    assert nodes[0]["status"] == "root"
    assert all(n["parent"] in ids for n in nodes[1:])
    assert {n["status"] for n in nodes} >= {"root", "live"}
    assert sum(n["best"] for n in nodes) >= 2  # root + at least one token on the best path
    best_leaf = res["hypotheses"][0]["node"]
    assert nodes[best_leaf]["best"]


# ---------------------------------------------------------------------------------------------
# tokenizers, vocab, config, data
# ---------------------------------------------------------------------------------------------
def test_tokenizers():
    assert S.tokenize("I'm hungry.", "words") == ["i'm", "hungry", "."]
    assert S.tokenize("Where is  Tom’s cat?", "words") == ["where", "is", "tom's", "cat", "?"]
    assert S.tokenize("我饿了。", "chars") == ["我", "饿", "了", "。"]
    assert S.tokenize("Je suis\u202f!", "words") == ["je", "suis", "!"]
    assert S.detokenize(["我", "饿"], "chars") == "我饿"
    with pytest.raises(ValueError):
        S.tokenize("x", "bytes")


def test_vocab_roundtrip_and_unknowns():
    v = S.Vocab.build([["a", "b", "a"], ["a", "c"]], min_freq=2)
    assert v.itos[:4] == S.SPECIALS and "a" in v.stoi and "b" not in v.stoi
    assert v.encode(["a", "zzz"]) == [v.stoi["a"], S.UNK]
    assert v.decode([S.SOS, v.stoi["a"], S.EOS, v.stoi["a"]]) == ["a"]


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="attention"):
        S.Seq2SeqConfig(attention="luong")
    with pytest.raises(ValueError):
        S.Seq2SeqConfig(cell="rnn")
    cfg = S.Seq2SeqConfig(hidden_dim=8)
    with pytest.raises(Exception):
        cfg.hidden_dim = 9  # frozen


def test_parse_pairs_names_the_bad_line():
    good = "\n".join(f"hi {i}\t你好 {i}" for i in range(12))
    assert len(S.parse_pairs(good)) == 12
    with pytest.raises(ValueError, match="Line 3 has no tab"):
        S.parse_pairs("a\tb\nc\td\nno tab here\n" + good)
    with pytest.raises(ValueError, match="Line 2 has an empty"):
        S.parse_pairs("a\tb\n\tx\n" + good)
    with pytest.raises(ValueError, match="at least 10"):
        S.parse_pairs("a\tb\n")


def test_bleu_identity_and_zero():
    refs = [list("我饿了。"), list("你好吗？")]
    assert S.bleu(refs, refs) == pytest.approx(100.0)
    assert S.bleu([list("他")] * 2, refs) < 5


# ---------------------------------------------------------------------------------------------
# the real model on tiny sizes
# ---------------------------------------------------------------------------------------------
PAIRS = [("i am hungry .", "我饿了。", ""), ("i am tired .", "我累了。", ""), ("you are hungry .", "你饿了。", ""),
         ("you are tired .", "你累了。", ""), ("he is hungry .", "他饿了。", ""), ("he is tired .", "他累了。", ""),
         ("i am here .", "我在这里。", ""), ("he is here .", "他在这里。", "")] * 3


def tiny_bundle(attention="additive", cell="gru", seed=0, bidirectional=True):
    cfg = S.Seq2SeqConfig(emb_dim=8, hidden_dim=12, attention=attention, cell=cell, dropout=0.0,
                          bidirectional=bidirectional, max_src_len=10, max_tgt_len=10)
    sv, tv = S.build_vocabs(PAIRS, cfg, min_freq=1)
    return S.new_bundle(cfg, sv, tv, seed=seed)


@pytest.mark.parametrize("attention", ["additive", "dot"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_gets_no_attention_and_does_not_change_results(attention, cell):
    b = tiny_bundle(attention, cell)
    model = b.model.eval()
    short = b.src_vocab.encode(S.tokenize("i am .", "words")) + [S.EOS]
    long = b.src_vocab.encode(S.tokenize("you are hungry here .", "words")) + [S.EOS]
    src, lengths, tgt_in, _ = S.make_batch([(short, [5, 6]), (long, [5, 6])])
    with torch.no_grad():
        state = model.init_state(src, lengths)
        alone = model.init_state(torch.tensor([short]), torch.tensor([len(short)]))
        y = torch.tensor([S.SOS, S.SOS])
        for _ in range(3):
            logits, state, w = model.decoder.step(y, state)  # w (2, S)
            l1, alone, w1 = model.decoder.step(y[:1], alone)
            assert torch.all(w[0, len(short):] == 0)  # padding: exactly zero weight
            assert torch.allclose(w.sum(-1), torch.ones(2), atol=1e-6)
            assert torch.allclose(w[0, : len(short)], w1[0], atol=1e-5)
            assert torch.allclose(logits[0], l1[0], atol=1e-4)  # padding changes nothing
            y = logits.argmax(-1)


def test_padding_does_not_contribute_to_the_loss():
    b = tiny_bundle()
    items = S.encode_pairs(b, PAIRS[:2])
    with torch.no_grad():
        alone, n1 = b.model(*S.make_batch(items[:1]))
        both, n2 = b.model(*S.make_batch(items))
        second, _ = b.model(*S.make_batch(items[1:]))
    assert n2 == n1 + (len(items[1][1]) + 1)
    assert float(both) == pytest.approx(float(alone) + float(second), rel=1e-5)


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_translate_shapes_and_beam_width_one_equals_greedy(attention):
    b = tiny_bundle(attention)
    for text in ["i am hungry .", "he is here .", "you unknownword ."]:
        g = S.translate(b, text, "greedy", max_len=8)
        b1 = S.translate(b, text, "beam", beam_width=1, max_len=8)
        assert g["tokens"] == b1["tokens"] and g["text"] == b1["text"]
        assert g["source_tokens"][-1] == "<eos>"
        if attention == "none":
            assert g["attention"] is None
        else:
            att = g["attention"]
            assert att.shape == (len(g["attention_rows"]), len(g["source_tokens"]))
            assert np.allclose(att.sum(1), 1.0, atol=1e-5)
    assert S.translate(b, "you unknownword .", "greedy")["unknown"] == ["unknownword"]
    r = S.translate(b, "i am hungry .", "beam", beam_width=4, max_len=8)
    assert 1 <= len(r["hypotheses"]) <= 8 and r["tree"]["nodes"]
    s1 = S.translate(b, "i am hungry .", "sample", seed=5, max_len=8)
    s2 = S.translate(b, "i am hungry .", "sample", seed=5, max_len=8)
    assert s1["tokens"] == s2["tokens"]  # same seed, same sample


def test_translate_rejects_bad_input():
    b = tiny_bundle()
    for bad in ["", "   ", "x" * 1000]:
        with pytest.raises(ValueError):
            S.translate(b, bad)
    with pytest.raises(ValueError):
        S.translate(b, "i am", method="topk")
    with pytest.raises(ValueError):
        S.translate(b, "i am", method="beam", beam_width=0)


def test_training_learns_the_toy_pairs_and_reports_both_validation_losses():
    b = tiny_bundle(seed=1)
    calls, epochs = [], []
    hist = S.train(b, PAIRS[:8] * 2, PAIRS[:8], S.TrainConfig(epochs=12, batch_size=8, lr=0.03, teacher_forcing=0.5,
                                                              max_seconds=300, val_pairs=8),
                   on_step=lambda d, t, i: calls.append(d), on_epoch=epochs.append)
    assert calls[-1] == len(hist["steps"]) == 24 and len(epochs) == len(hist["epochs"]) == 12
    first, last = hist["epochs"][0], hist["epochs"][-1]
    assert last["val_loss_tf"] < 0.5 * first["val_loss_tf"]
    assert last["val_loss_free"] < first["val_loss_free"]
    assert last["val_bleu"] > first["val_bleu"] and last["val_bleu"] > 20
    assert hist["loss"][-1] < hist["loss"][0]


def test_time_budget_and_stop_end_training_with_a_partial_epoch():
    b = tiny_bundle()
    hist = S.train(b, PAIRS, PAIRS[:4], S.TrainConfig(epochs=50, batch_size=4, max_seconds=60, val_pairs=4),
                   should_stop=lambda: True)
    assert len(hist["epochs"]) == 1 and hist["epochs"][0]["partial"] and hist["stopped"] == "stopped"


def test_checkpoint_roundtrip(tmp_path):
    b = tiny_bundle("dot", "lstm")
    b.meta = {"val_bleu_greedy": 1.0}
    S.save_checkpoint(b, tmp_path / "ck", "# card\n", half=False)
    b2 = S.load_checkpoint(str(tmp_path / "ck"))
    assert b2.config == b.config and b2.meta == b.meta
    r1, r2 = S.translate(b, "i am hungry .", "beam", 3), S.translate(b2, "i am hungry .", "beam", 3)
    assert r1["tokens"] == r2["tokens"] and np.allclose(r1["attention"], r2["attention"], atol=1e-5)
    with pytest.raises(ValueError, match="not a seq2seq checkpoint"):
        S.load_checkpoint(str(tmp_path))


def test_bleu_by_length_buckets():
    srcs = ["a b", "a b c d e f g h i j k l"]
    rows = S.bleu_by_length(srcs, [["x"], list("abcd")], [["x"], list("abcd")])
    assert [r["pairs"] for r in rows] == [1, 1]
    assert math.isclose(sum(r["pairs"] for r in rows), 2)


def test_toy_reverse_pairs_are_reversed_and_seeded():
    pairs = S.toy_reverse_pairs(20, seed=3)
    assert pairs == S.toy_reverse_pairs(20, seed=3) and pairs != S.toy_reverse_pairs(20, seed=4)
    for src, tgt, _ in pairs:
        assert tgt.split() == src.split()[::-1] and 6 <= len(src.split()) <= 10
