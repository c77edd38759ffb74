"""core.transformers.bert_zh: BERT's input, whole-word 80-10-10 masking, next-sentence pairs, the two heads,
and a tiny model that learns both objectives on a toy corpus."""
import numpy as np
import pytest
import torch

from core.device import make_generator
from core.transformers import bert_zh as B

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = [("中国", "的", "首都", "是", "北京", "。"), ("我们", "喜欢", "吃", "苹果", "。"),
         ("他", "穿着", "制服", "上班", "。"), ("人民", "日报", "发表", "社论", "。")]


def tiny_vocab():
    return B.CharVocab.build(["".join(w) for w in WORDS], min_count=1)


def tiny_model(vocab, seed=0, dropout=0.0):
    cfg = B.BertZhConfig(vocab_size=len(vocab), d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=64,
                         dropout=dropout)
    return B.build_bert(cfg, seed)


def test_config_names_the_fix():
    with pytest.raises(ValueError, match="divisible"):
        B.BertZhConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="vocab_size"):
        B.BertZhConfig(vocab_size=3)
    with pytest.raises(ValueError):
        B.BertZhConfig(n_layers=0)


def test_sentences_are_cut_at_sentence_ends():
    lines = [("我", "饿", "了", "。", "你", "呢", "？"), ("短",), ("没有", "句号", "的", "一行")]
    assert B.sentences_from(lines) == [("我", "饿", "了", "。"), ("没有", "句号", "的", "一行")]  # 你呢？ < 4 chars


def test_whole_word_masking_follows_bert():
    """Over many draws: ~15% of characters chosen, a word is chosen whole or not at all, and chosen words are
    [MASK] ~80%, random ~10%, unchanged ~10%; [CLS]/[SEP] are never chosen; segments mark A and B."""
    vocab = tiny_vocab()
    gen = make_generator(0)
    chosen_share, kinds, split_words = [], {"mask": 0, "random": 0, "same": 0}, 0
    a, b = WORDS[0], WORDS[1]
    for _i in range(2000):
        ex = B.mask_example(a, b, vocab, gen, max_len=64)
        ids, segs, labels = ex["ids"], ex["segments"], ex["labels"]
        assert ids[0] == B.CLS and ids.count(B.SEP) == 2 and len(ids) == len(segs) == len(labels)
        assert segs == [0] * (1 + 9 + 1) + [1] * (8 + 1)  # [CLS] 中国的首都是北京。 [SEP] 我们喜欢吃苹果。 [SEP]
        n_chars = len(ids) - 3
        chosen = [i for i, y in enumerate(labels) if y != B.IGNORE]
        assert B.CLS not in [labels[i] for i in chosen] and B.SEP not in [labels[i] for i in chosen]
        chosen_share.append(len(chosen) / n_chars)
        pos = 1
        for w in a:  # 中国, 首都, 北京 are chosen whole or not at all
            inside = [labels[i] != B.IGNORE for i in range(pos, pos + len(w))]
            split_words += any(inside) and not all(inside)
            if all(inside):
                got = ids[pos:pos + len(w)]
                want = vocab.encode(w)
                kinds["mask" if all(t == B.MASK for t in got) else "same" if got == want else "random"] += 1
            pos += len(w)
    assert split_words == 0
    assert 0.12 < np.mean(chosen_share) < 0.2
    total = sum(kinds.values())
    assert abs(kinds["mask"] / total - 0.8) < 0.05
    assert abs(kinds["same"] / total - 0.1) < 0.05 and kinds["random"] / total > 0.05


def test_next_sentence_pairs_are_half_true():
    sents = [(f"句{i}", "。") for i in range(300)]
    triples = B.nsp_pairs(sents, 2000, make_generator(1))
    assert abs(np.mean([y for _a, _b, y in triples]) - 0.5) < 0.05
    index = {s: i for i, s in enumerate(sents)}
    for a, b, y in triples:
        gap = (index[b] - index[a]) % len(sents)
        assert (gap == 1) if y else (50 <= gap)


def test_heads_shapes_tied_output_and_padding():
    vocab = tiny_vocab()
    model = tiny_model(vocab).eval()
    assert model.mlm_logits(torch.zeros(3, 32)).shape == (3, len(vocab))
    with torch.no_grad():  # the output layer is the embedding matrix
        model.tok.weight[7].add_(1.0)
        h = torch.randn(32, generator=make_generator(3))
        np.testing.assert_allclose(model.mlm_logits(h).numpy()[7],
                                   float(model.mlm_norm(torch.nn.functional.gelu(model.mlm_dense(h))) @ model.tok.weight[7]
                                         + model.mlm_bias[7]), rtol=1e-4, atol=1e-5)
    ids, segs = B._encode_pair(vocab, "中国的首都是[MASK]京。", None, 64)
    assert ids.count(B.MASK) == 1 and len(ids) == 2 + 9
    padded = torch.tensor([ids + [B.PAD] * 5])
    with torch.no_grad():
        a = model.encode(torch.tensor([ids]), torch.tensor([segs]))
        b = model.encode(padded, torch.tensor([segs + [0] * 5]))
    np.testing.assert_allclose(a.numpy(), b[:, : len(ids)].numpy(), atol=1e-5)  # padding changes nothing


def test_page_functions_check_their_input():
    vocab = tiny_vocab()
    model = tiny_model(vocab)
    fills = B.fill_mask(model, vocab, "中国的首都是[MASK]京。", top_k=3)
    assert len(fills) == 1 and len(fills[0]) == 3 and all(c not in B.SPECIALS for c, _p in fills[0])
    assert sum(p for _c, p in fills[0]) <= 1.0
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        B.fill_mask(model, vocab, "没有遮盖")
    with pytest.raises(ValueError, match="Shorten"):
        B.fill_mask(model, vocab, "长" * 100 + "[MASK]")
    p = B.next_sentence_probability(model, vocab, "我们喜欢吃苹果。", "他穿着制服上班。")
    assert 0.0 < p < 1.0


def test_a_tiny_bert_learns_both_objectives(tmp_path):
    """A toy corpus of 4 sentences in a fixed cycle: after training, the masked characters and the order are
    predictable; a saved and loaded model gives the same figures."""
    vocab = tiny_vocab()
    model = tiny_model(vocab, seed=1)
    sents = [WORDS[i % 4] for i in range(400)]
    before = B.evaluate(model, vocab, sents, n=64)
    B.pretrain(model, vocab, sents, steps=800, max_seconds=120, batch_size=32, lr=2e-3, warmup=20, seed=0)
    after = B.evaluate(model, vocab, sents, n=64)
    assert after["mlm_top1"] > max(0.6, before["mlm_top1"] + 0.3), (before, after)
    assert after["nsp_acc"] > 0.75, after  # chance 0.5 (NSP sits at chance for ~300 steps, then learns)
    B.save(B.BertZhBundle(model, vocab, {"steps": 800}), tmp_path / "bert")
    back = B.load(tmp_path / "bert")
    again = B.evaluate(back.model, back.vocab, sents, n=64)
    assert abs(again["mlm_top1"] - after["mlm_top1"]) < 0.05 and back.meta["steps"] == 800


def test_the_hugging_face_copy_gives_the_same_logits():
    """to_hf + hf_tokenizer: the BERT page's fill-mask machinery sees exactly our model."""
    vocab = tiny_vocab()
    model = tiny_model(vocab, seed=4).eval()
    with torch.no_grad():  # non-trivial norms and biases, so every copied tensor matters
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.uniform_(-0.5, 0.5, generator=make_generator(len(name)))
    hf, tok = B.to_hf(model), B.hf_tokenizer(vocab)
    enc = tok("中国的首都是[MASK]京。", "我们喜欢吃苹果。", return_tensors="pt")
    ids, segs = B._encode_pair(vocab, "中国的首都是[MASK]京。", "我们喜欢吃苹果。", 64)
    assert enc["input_ids"][0].tolist() == ids and enc["token_type_ids"][0].tolist() == segs
    with torch.no_grad():
        ours = model.mlm_logits(model.encode(torch.tensor([ids]), torch.tensor([segs])))
        theirs = hf(**enc).logits
    np.testing.assert_allclose(theirs.numpy(), ours.numpy(), atol=1e-4)
    assert tok.decode(ids, skip_special_tokens=True) == "中国的首都是京。我们喜欢吃苹果。"


def test_the_bert_page_functions_run_on_the_chinese_model():
    """Through the LoadedModel the BERT page uses: fill-mask and contextual vectors of 苹果 in two senses."""
    from core.loaders import _finish
    from core.transformers import fillmask

    vocab = tiny_vocab()
    loaded = _finish(B.to_hf(tiny_model(vocab, seed=5)), B.hf_tokenizer(vocab), "tiny-zh")
    out = fillmask.fill_mask(loaded, "中国的首都是[MASK]京。", top_k=3)
    assert len(out["masks"]) == 1 and len(out["masks"][0]["predictions"]) == 3
    res = fillmask.contextual_vectors(loaded, "苹果", [("fruit", "我们喜欢吃苹果。"), ("company", "苹果发布了新手机。")])
    assert res["sims"].shape == (3, 2, 2) and res["pieces"] == [["苹", "果"], ["苹", "果"]]
    np.testing.assert_allclose(res["sims"][0], 1.0, atol=1e-5)  # layer 0: the same static vectors


@pytest.mark.parametrize("whole_word,until,expected", [(True, 0.5, [False, False, True, True]),
                                                       (True, 0.0, [True] * 4), (True, 1.0, [False] * 4),
                                                       (False, 0.5, [False] * 4)])
def test_char_masking_comes_first_then_whole_words(monkeypatch, whole_word, until, expected):
    """`char_masking_until` masks single characters for that share of the run, then whole words (if asked)."""
    vocab = tiny_vocab()
    seen, make = [], B.make_batch

    def spy(sentences, vocab_, batch_size, gen, max_len=128, whole_word=True):
        seen.append(whole_word)
        return make(sentences, vocab_, batch_size, gen, max_len, whole_word)

    monkeypatch.setattr(B, "make_batch", spy)
    B.pretrain(tiny_model(vocab), vocab, [WORDS[i % 4] for i in range(120)], steps=4, max_seconds=0, batch_size=4,
               warmup=1, whole_word=whole_word, char_masking_until=until)
    assert seen == expected


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "half"])
def test_char_masking_share_is_checked(bad):
    vocab = tiny_vocab()
    with pytest.raises(ValueError, match="char_masking_until"):
        B.pretrain(tiny_model(vocab), vocab, [WORDS[i % 4] for i in range(120)], steps=2, char_masking_until=bad)


@pytest.mark.parametrize("whole_word", [True, False])
def test_a_word_longer_than_the_input_is_cut_to_fit(whole_word):
    """One 'word' longer than max_len (a run of characters in a review) must not overflow the input."""
    vocab = tiny_vocab()
    long_word = "中国首都北京" * 20
    for a, b in (((long_word,), ("我们",)), (("我们",), (long_word,)), ((long_word,), (long_word,))):
        ex = B.mask_example(a, b, vocab, make_generator(0), max_len=16, whole_word=whole_word)
        assert len(ex["ids"]) <= 16 and len(ex["segments"]) == len(ex["ids"]) == len(ex["labels"])
        assert ex["ids"][0] == B.CLS and ex["ids"][-1] == B.SEP and ex["ids"].count(B.SEP) == 2
