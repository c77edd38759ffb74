"""core.transformers.classify: the fixed split (no text in two parts), the metrics (against scikit-learn), the
upload checks, every model's interface on a toy task, exact linear explanations, gradient × input, and that the
feature-based path never changes the encoder while fine-tuning trains a copy."""
import numpy as np
import pytest
import torch

from core.device import make_generator
from core.transformers import bert_zh as B
from core.transformers import classify as C

pytestmark = pytest.mark.usefixtures("one_thread")

GOOD = ["很好", "非常满意", "推荐", "喜欢", "不错", "值得", "精彩", "好看"]
BAD = ["很差", "失望", "退货", "垃圾", "难看", "糟糕", "后悔", "无聊"]


def toy(n_per_class: int = 60, seed: int = 0) -> C.Dataset:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n_per_class):
        for label, words in ((1, GOOD), (0, BAD)):
            picked = rng.choice(words, size=2, replace=False)
            texts.append(f"这本书{picked[0]}，第{i}次读，{picked[1]}。")
            labels.append(label)
    return C.Dataset(tuple(texts), tuple(labels), C.REVIEW_CLASSES)


def tiny_bert(texts, seed=0):
    vocab = B.CharVocab.build(texts, min_count=1)
    cfg = B.BertZhConfig(vocab_size=len(vocab), d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=48, dropout=0.0)
    return B.BertZhBundle(B.build_bert(cfg, seed), vocab, {})


# ---- the split -------------------------------------------------------------------------------
def test_review_split_has_no_text_in_two_parts_and_no_duplicates():
    parts = C.review_split()
    seen = {}
    for name, part in parts.items():
        assert len(set(part.texts)) == len(part.texts), name
        for t in part.texts:
            key = "".join(t.split())
            assert key not in seen, (t, seen.get(key), name)
            seen[key] = name
            assert C.part_of(t) == name
    texts, labels = C.review_examples()
    assert len(seen) == len(texts) > 17_000
    assert 0.75 < len(parts["train"]) / len(texts) < 0.85
    assert set(parts["test"].labels) == {0, 1}


def test_split_ignores_order_and_whitespace_and_keeps_one_copy():
    texts = [f"文本{i}" for i in range(200)]
    a = C.split(texts, [i % 2 for i in range(200)], ("a", "b"))
    b = C.split(texts[::-1] + ["文本 7", " 文本3 "], [i % 2 for i in range(200)][::-1] + [1, 1], ("a", "b"))
    for p in C.PARTS:
        assert sorted(a[p].texts) == sorted(b[p].texts)  # the first copies; the re-spaced ones come later
    assert sum(len(x) for x in b.values()) == 200  # the two re-spaced copies are dropped


def test_sample_is_stratified_deterministic_and_a_subset():
    data = toy(100)
    s1, s2 = C.sample(data, 50, seed=3), C.sample(data, 50, seed=3)
    assert s1 == s2 and len(s1) == 50
    assert s1.counts() == [25, 25]
    assert set(s1.texts) <= set(data.texts)
    assert C.sample(data, 10_000) is data
    with pytest.raises(ValueError, match="one example per class"):
        C.sample(data, 1)


# ---- metrics ---------------------------------------------------------------------------------
def test_scores_equal_scikit_learn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    s = C.scores(y, p, 3)
    assert s["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert s["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert s["confusion"] == confusion_matrix(y, p, labels=[0, 1, 2]).tolist()
    assert sum(c["support"] for c in s["per_class"]) == 200


def test_scores_handle_a_class_never_predicted():
    s = C.scores([0, 0, 1, 1], [0, 0, 0, 0], 2)
    assert s["accuracy"] == 0.5 and s["per_class"][1]["f1"] == 0.0


# ---- uploads ---------------------------------------------------------------------------------
def _csv(rows, header="text,label", sep=","):
    return (header + "\n" + "\n".join(f"{t}{sep}{y}" for t, y in rows)).encode("utf-8")


def test_upload_parses_csv_and_tsv_with_any_labels():
    rows = [(f"great movie number {i}", "pos") if i % 2 else (f"awful film {i}", "neg") for i in range(200)]
    parts = C.load_upload(_csv(rows))
    assert parts["train"].classes == ("neg", "pos")
    assert sum(len(p) for p in parts.values()) == 200
    swapped = ("label\ttext\n" + "\n".join(f"{y}\t{t}" for t, y in rows)).encode()
    parts2 = C.load_upload(swapped)
    assert sorted(parts2["train"].texts) == sorted(parts["train"].texts)


@pytest.mark.parametrize("data,match", [
    (_csv([(f"text {i}", "same") for i in range(100)]), "at least two classes"),
    ("\n".join(f"text {i},{i % 2}" for i in range(100)).encode(), "header"),
    (_csv([(f"text {i}", i % 2) for i in range(10)]), "at least 40"),
    (b"\x00\x01\x02binary" * 100, "binary"),
    (b"text,label" + b"x" * 2_000_000, "line"),
    (b"a" * (2 * 1024 * 1024 + 1), "limit"),
    (_csv([(f"text {i}", i) for i in range(100)]), "different labels"),
    (b"", "empty"),
])
def test_upload_errors_say_what_to_fix(data, match):
    with pytest.raises(ValueError, match=match):
        C.load_upload(data)


# ---- models ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["nb", "tfidf_lr", "words_lr", "w2v_lr"])
def test_classic_models_learn_the_toy_task(key):
    data = toy(80)
    model = C.train(key, data, seed=0)
    proba = model.predict_proba(["这本书很好，非常满意。", "这本书很差，失望。"])
    assert np.allclose(proba.sum(axis=1), 1.0)
    if key != "w2v_lr":  # word2vec on 160 toy texts is too little to be sure of
        assert list(proba.argmax(axis=1)) == [1, 0]
        assert C.evaluate(model, toy(20, seed=1))["accuracy"] > 0.9


def test_linear_explanation_is_exact():
    """For TF-IDF + LR the pieces add up to the logit minus the bias (the score is a sum over features)."""
    data = toy(80)
    model = C.train("tfidf_lr", data, seed=0)
    text = "这本书很好，推荐。"
    p = model.predict_proba([text])[0]
    logit = np.log(p[1] / p[0])
    pieces = model.explain(text)
    c = int(p.argmax())
    total = sum(w for _piece, w in pieces) * (1 if c == 1 else -1)
    # intercept: the logit of an empty feature vector
    p0 = model.predict_proba(["ǂ"])[0]  # a character never seen: no features
    assert total == pytest.approx(logit - np.log(p0[1] / p0[0]), abs=1e-6)


@pytest.mark.parametrize("key", ["textcnn", "bilstm"])
def test_neural_models_learn_and_explain_every_character(key):
    data = toy(60)
    cfg = C.ClassifyConfig(epochs=6, batch_size=16, emb_dim=16, channels=16, hidden=16, max_seconds=0, lr=5e-3)
    history = []
    model = C.train(key, data, cfg, seed=0, val=toy(10, seed=2), history=history)
    assert history[-1]["loss"] < history[0]["loss"]
    assert any("val_acc" in h for h in history)
    assert C.evaluate(model, toy(20, seed=1))["accuracy"] > 0.9
    text = "这本书很好。"
    pieces = model.explain(text)
    assert [p for p, _w in pieces] == list(text)


def test_neural_training_is_reproducible_with_a_seed():
    data = toy(20)
    cfg = C.ClassifyConfig(epochs=1, batch_size=8, emb_dim=8, channels=4, max_seconds=0)
    a = C.train("textcnn", data, cfg, seed=5).predict_proba(["很好"])
    b = C.train("textcnn", data, cfg, seed=5).predict_proba(["很好"])
    assert np.array_equal(a, b)


def test_textcnn_ignores_padding():
    """A text's prediction does not depend on the longer texts it is batched with."""
    data = toy(20)
    model = C.train("textcnn", data, C.ClassifyConfig(epochs=1, emb_dim=8, channels=4, max_seconds=0), seed=0)
    alone = model.predict_proba(["很好"])
    together = model.predict_proba(["很好", "这本书很差，非常失望，我要退货，糟糕透了。"])[:1]
    assert np.allclose(alone, together, atol=1e-5)


def test_feature_based_never_changes_the_encoder():
    data = toy(30)
    bert = tiny_bert(data.texts)
    before = C.state_fingerprint(bert.model)
    model = C.train("bert_features", data, C.ClassifyConfig(layer=1, pool="cls"), seed=0, bert=bert)
    model.predict_proba(["这本书很好。"])
    model.explain("这本书很好。")
    assert C.state_fingerprint(bert.model) == before
    assert all(p.grad is None for p in bert.model.parameters())


def test_fine_tuning_trains_a_copy_and_learns():
    data = toy(40)
    bert = tiny_bert(data.texts)
    before = C.state_fingerprint(bert.model)
    cfg = C.ClassifyConfig(finetune_steps=60, finetune_lr=3e-3, batch_size=16, max_seconds=0, dropout=0.0)
    history = []
    model = C.train("bert_finetune", data, cfg, seed=0, bert=bert, history=history)
    assert C.state_fingerprint(bert.model) == before  # the shared model is untouched
    assert C.evaluate(model, toy(20, seed=1))["accuracy"] > 0.9
    lrs = [h["lr"] for h in history]
    assert lrs.index(max(lrs)) == int(0.1 * 60) - 1 or max(lrs) == pytest.approx(3e-3)  # warm-up, then decay
    assert lrs[-1] < max(lrs)


def test_bert_features_mean_excludes_specials_and_padding():
    texts = ["很好", "这本书非常好看，推荐大家读。"]
    bert = tiny_bert(texts)
    batched = C.bert_features(bert, texts, batch_size=2)
    alone = C.bert_features(bert, texts[:1], batch_size=1)
    assert np.allclose(batched["mean"][:, :1], alone["mean"], atol=1e-5)
    assert batched["cls"].shape == (3, 2, 32)
    one = C.bert_features(bert, texts, layers=[2])
    assert np.allclose(one["mean"][0], batched["mean"][2], atol=1e-6)


def test_layer_probe_covers_every_layer_and_both_pools():
    data = toy(30)
    bert = tiny_bert(data.texts)
    rows = C.layer_probe(bert, data, toy(10, seed=1))
    assert {(r["layer"], r["pool"]) for r in rows} == {(l, p) for l in range(3) for p in ("cls", "mean")}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)


def test_errors_name_the_fix():
    data = toy(10)
    with pytest.raises(ValueError, match="not installed"):
        C.train("bert_finetune", data)
    with pytest.raises(ValueError, match="Unknown model"):
        C.train("svm", data)
    with pytest.raises(ValueError, match="two classes"):
        C.train("nb", data.subset([0, 2, 4]))
    with pytest.raises(ValueError, match="snownlp"):
        C.train("snownlp", C.Dataset(("a", "b"), (0, 1), ("x", "y")))
    with pytest.raises(ValueError, match="pool"):
        C.ClassifyConfig(pool="max")
    with pytest.raises(ValueError, match="epochs"):
        C.ClassifyConfig(epochs=0)
    with pytest.raises(ValueError, match="Type a sentence"):
        C.score_all({}, "  ")
    with pytest.raises(ValueError, match="limit"):
        C.score_all({}, "好" * 3000)


def test_score_all_scores_with_every_model():
    data = toy(40)
    models = {k: C.train(k, data) for k in ("nb", "tfidf_lr")}
    rows = C.score_all(models, "这本书很好。")
    assert [r["model"] for r in rows] == ["nb", "tfidf_lr"]
    assert all(r["label"] == 1 and abs(sum(r["proba"]) - 1) < 1e-9 for r in rows)


def test_learning_curve_points_grow_to_all():
    parts = {"train": toy(60), "val": toy(5, seed=3), "test": toy(20, seed=1)}
    points = C.learning_curve("tfidf_lr", parts, sizes=(10, 50))
    assert [p["n"] for p in points] == [10, 50, 120]
    assert all(0 <= p["accuracy"] <= 1 for p in points)


def test_grad_x_input_matches_a_finite_difference_on_a_linear_net():
    """For a net linear in the embeddings, gradient × input equals each position's exact share of the logit."""
    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            gen = make_generator(0)
            self.embed = torch.nn.Embedding(5, 3)
            self.embed.weight.data = torch.randn(5, 3, generator=gen)
            self.w = torch.nn.Parameter(torch.randn(3, 2, generator=gen))

        def forward(self, ids, lengths, embedded=None):
            e = self.embed(ids) if embedded is None else embedded  # (B, T, E)
            return e.sum(1) @ self.w  # (B, 2)

    net = Linear()
    ids = [1, 2, 3]
    pieces = C.grad_x_input(net, net.embed, ids, ["a", "b", "c"], 1)
    logit = net(torch.tensor([ids]), torch.tensor([3]))[0, 1].item()
    assert sum(w for _p, w in pieces) == pytest.approx(logit, abs=1e-5)


@pytest.mark.slow
def test_bert_pretraining_reviews_come_from_the_training_part_only():
    parts = C.review_split()
    train = "\n".join("".join(t.split()).lower() for t in parts["train"].texts)  # words() lower-cases
    sents = B.review_sentences()
    assert len(sents) > 20_000
    for s in sents[::97]:  # every 97th is a piece of a training review (a short one such as 性价比很高。 may also
        joined = "".join(s)  # be a whole held-out review: the texts differ, the sentence is just common)
        assert joined in train, joined


def test_early_stopping_keeps_the_best_validation_weights_and_small_sets_get_min_steps():
    data, val = toy(10), toy(10, seed=4)
    cfg = C.ClassifyConfig(epochs=1, batch_size=64, emb_dim=8, channels=4, max_seconds=0, min_steps=200, lr=0.05)
    history = []
    model = C.train("textcnn", data, cfg, seed=1, val=val, history=history)
    assert len(history) == 50  # one step per epoch, at most 50 epochs
    checks = [h for h in history if "val_acc" in h]
    best = max(checks, key=lambda h: h["val_acc"])  # the first of the best
    assert model.info["kept_step"] == best["step"]
    assert C.evaluate(model, val)["accuracy"] == pytest.approx(best["val_acc"])


def test_long_texts_keep_their_head_and_tail():
    assert C.head_tail(list(range(10)), 20) == list(range(10))
    assert C.head_tail(list(range(100)), 8) == [0, 1, 94, 95, 96, 97, 98, 99]
    table = C.CharTable.build(["好看", "难看"], min_count=1)
    assert len(table.encode("好" * 50 + "难看", max_len=8)) == 8
    assert table.encode("好" * 50 + "难看", max_len=8)[-2:] == table.encode("难看", max_len=8)


def test_explanations_line_up_with_a_cut_long_text():
    data = toy(10)
    model = C.train("textcnn", data, C.ClassifyConfig(epochs=1, emb_dim=8, channels=4, max_len=16, max_seconds=0,
                                                      min_steps=0), seed=0)
    text = "这本书" * 10 + "很好"
    assert [p for p, _w in model.explain(text)] == C.head_tail(list(text), 16)


def test_word_vectors_learn_from_unlabeled_texts_and_are_made_once():
    data = toy(60)
    small = C.sample(data, 10, seed=0)
    a = C.train("w2v_lr", small, seed=0, unlabeled=data.texts)
    b = C.train("w2v_lr", small, seed=0, unlabeled=data.texts)
    assert a.info["words"] == b.info["words"] > C.train("w2v_lr", small, seed=0).info["words"]
    assert C.word_vectors(data.texts, 100, 0) is C.word_vectors(tuple(data.texts), 100, 0)


def test_a_time_budget_stops_training_with_a_closing_check():
    data = toy(200)
    cfg = C.ClassifyConfig(epochs=50, batch_size=8, emb_dim=16, hidden=16, max_seconds=1.0)
    model = C.train("bilstm", data, cfg, seed=0, val=toy(50, seed=3))
    assert model.info["stopped_by"] == "time" and model.info["steps"] < 50 * 50
    assert "val_acc" in model.history[-1]  # a closing check, so the kept weights are the best seen
