"""core.embeddings.word2vec_train: tokenizing, config checks, a short training run, word2vec text export."""
import pytest

from core.embeddings import word2vec_train as w2v
from core.embeddings import wordvec


def test_tokenize_lowercases_and_splits_lines():
    text = "The King's horse.\n\nA QUEEN rode; the king ran!\n" + "word " * 60
    sents = w2v.tokenize(text)
    assert sents[0] == ["the", "king's", "horse"]
    assert sents[1] == ["a", "queen", "rode", "the", "king", "ran"]
    with pytest.raises(ValueError, match="empty"):
        w2v.tokenize("   ")
    with pytest.raises(ValueError, match="fewer than 50"):
        w2v.tokenize("just a few words")


@pytest.mark.parametrize("field,value", [("vector_size", 1), ("vector_size", 10_000), ("window", 0),
                                         ("negative", 0), ("sample", 0.5), ("epochs", 0), ("epochs", 1000),
                                         ("min_count", 0), ("seed", -1)])
def test_bad_configs_are_value_errors(field, value):
    with pytest.raises(ValueError):
        w2v.W2VConfig(**{field: value}).check()


def test_token_budget_is_enforced():
    sents = [["a", "b", "c"] * 10] * 100
    with pytest.raises(ValueError, match="limit"):
        w2v.train_word2vec(sents * 1000, w2v.W2VConfig(epochs=30))


@pytest.mark.slow
@pytest.mark.parametrize("sg", [True, False])
def test_training_on_lee_gives_vectors_loss_history_and_progress(sg):
    sents = w2v.tokenize(w2v.bundled_text("lee"))
    steps, history = [], []
    cfg = w2v.W2VConfig(sg=sg, vector_size=20, epochs=3, seed=1)
    keep = {}
    kv, hist = w2v.train_word2vec(sents, cfg, on_step=lambda d, t, i=None: steps.append((d, t)), history=history,
                                  keep=keep)
    assert keep["kv"] is kv
    assert hist is history and [h["epoch"] for h in hist] == [1, 2, 3]
    assert all(h["loss"] > 0 for h in hist)
    assert steps[0] == (0, 3) and steps[-1] == (3, 3)
    assert kv.vector_size == 20 and len(kv.index_to_key) > 500
    near = wordvec.neighbours(kv, "government", topk=5)
    assert len(near) == 5


@pytest.mark.slow
def test_same_seed_same_vectors_and_text_export_round_trips(tmp_path):
    sents = w2v.tokenize(w2v.bundled_text("lee"))[:120]
    cfg = w2v.W2VConfig(vector_size=10, epochs=2, seed=7, min_count=2)
    kv1, _ = w2v.train_word2vec(sents, cfg)
    kv2, _ = w2v.train_word2vec(sents, cfg)
    assert kv1.index_to_key == kv2.index_to_key
    assert (kv1.vectors == kv2.vectors).all()  # one worker + seed: reproducible in a process
    text = w2v.to_word2vec_text(kv1)
    assert text.splitlines()[0] == f"{len(kv1.index_to_key)} 10"
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf-8")
    back = w2v.load_word2vec_file(str(path))
    assert back.index_to_key == kv1.index_to_key
    assert abs(back.vectors - kv1.vectors).max() < 1e-4


def test_unreadable_vector_file_is_a_value_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("not a header\nfoo\n")
    with pytest.raises(ValueError, match="word2vec format"):
        w2v.load_word2vec_file(str(bad))
