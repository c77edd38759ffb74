"""core.transformers.fillmask and core.transformers.mlm_train on a tiny random BERT (real bert-base-uncased tokenizer)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.transformers import fillmask
from core.device import make_generator
from core.transformers.fillmask import MLMHeadConfig
from core.loaders import LoadedModel, packaged_available, packaged_path

pytestmark = pytest.mark.skipif(not packaged_available("minilm-l6"), reason="packaged MiniLM not installed")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(packaged_path("minilm-l6")))


def _tiny_config(layers=2):
    from transformers import BertConfig

    return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, attn_implementation="eager")


@pytest.fixture(scope="module")
def tiny(tokenizer):
    from transformers import BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(_tiny_config()).eval()
    return LoadedModel(model, tokenizer, "tiny", {"layers": 2})


@pytest.mark.parametrize("mode", ["independent", "left_to_right"])
@pytest.mark.parametrize("text", ["paris is the [MASK] of france.", "[mask] cat sat on the [MASK] .",
                                  "a [MASK] b [MASK] c [MASK] d"])
def test_fill_mask_probabilities_sorted_and_at_most_one(tiny, mode, text):
    res = fillmask.fill_mask(tiny, text, top_k=7, mode=mode)
    assert len(res["masks"]) == text.lower().count("[mask]")
    for m in res["masks"]:
        probs = [p["prob"] for p in m["predictions"]]
        assert len(probs) == 7
        assert all(0 <= p <= 1 for p in probs)
        assert sum(probs) <= 1 + 1e-6
        assert probs == sorted(probs, reverse=True)
    assert "[MASK]" not in res["completed"].upper()
    assert len(res["variants"]) == 7


def test_fill_mask_matches_transformers_pipeline(tiny):
    from transformers import FillMaskPipeline

    pipe = FillMaskPipeline(model=tiny.model, tokenizer=tiny.tokenizer, device=-1)
    theirs = pipe("paris is the [MASK] of france.", top_k=5)
    ours = fillmask.fill_mask(tiny, "paris is the [MASK] of france.", top_k=5)["masks"][0]["predictions"]
    assert [p["token_id"] for p in ours] == [t["token"] for t in theirs]
    np.testing.assert_allclose([p["prob"] for p in ours], [t["score"] for t in theirs], rtol=1e-4)


def test_left_to_right_first_mask_equals_independent_first_mask(tiny):
    a = fillmask.fill_mask(tiny, "the [MASK] [MASK] is here.", top_k=3, mode="independent")
    b = fillmask.fill_mask(tiny, "the [MASK] [MASK] is here.", top_k=3, mode="left_to_right")
    assert a["masks"][0]["predictions"] == b["masks"][0]["predictions"]


@pytest.mark.parametrize("text,msg", [
    ("paris is the capital of france.", "no [MASK]"),
    ("[MASK] " * 6, "limit is 5"),
    ("word " * 200 + "[MASK]", "tokens long"),
    ("", "empty"),
])
def test_fill_mask_errors_are_clear(tiny, text, msg):
    with pytest.raises(ValueError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        fillmask.fill_mask(tiny, text)


def test_bad_top_k_and_mode(tiny):
    with pytest.raises(ValueError, match="top-k"):
        fillmask.fill_mask(tiny, "a [MASK].", top_k=0)
    with pytest.raises(ValueError, match="mode"):
        fillmask.fill_mask(tiny, "a [MASK].", mode="random")


# ---- corruption ----------------------------------------------------------------------------
def _batch(B=2000, T=50):
    g = make_generator(1)
    x = torch.randint(1000, 30000, (B, T), generator=g)
    x[:, 0], x[:, -1] = 101, 102
    maskable = torch.ones_like(x, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False
    return x, maskable


@pytest.mark.parametrize("exact", [True, False])
def test_corruption_rates_15_80_10_10(exact):
    x, maskable = _batch()
    pool = torch.arange(1000, 30000)
    res = fillmask.corrupt(x, maskable, 103, pool, make_generator(0), exact=exact)
    act = res["action"]
    chosen = act >= 0
    assert not chosen[~maskable].any()  # [CLS]/[SEP] are never chosen
    frac = chosen.sum().item() / maskable.sum().item()
    assert abs(frac - 0.15) < 0.01
    n = chosen.sum().item()
    assert abs((act == 0).sum().item() / n - 0.8) < 0.02
    assert abs((act == 1).sum().item() / n - 0.1) < 0.015
    assert abs((act == 2).sum().item() / n - 0.1) < 0.015
    # labels exactly at the chosen positions, holding the original ids
    assert torch.equal(res["labels"] != -100, chosen)
    assert torch.equal(res["labels"][chosen], x[chosen])
    # [MASK] where masked, original where kept, unchanged outside the chosen set
    assert (res["input_ids"][act == 0] == 103).all()
    assert torch.equal(res["input_ids"][act == 2], x[act == 2])
    assert torch.equal(res["input_ids"][~chosen], x[~chosen])
    rand = res["input_ids"][act == 1]
    assert ((rand >= 1000) & (rand < 30000)).all()


def test_exact_corruption_chooses_round_15_percent_per_row():
    x, maskable = _batch(B=50, T=30)
    res = fillmask.corrupt(x, maskable, 103, torch.arange(1000, 2000), make_generator(3))
    per_row = (res["action"] >= 0).sum(1)
    assert (per_row == round(0.15 * 28)).all()


def test_corruption_is_reproducible_by_seed(tokenizer):
    a = fillmask.corruption_table(tokenizer, "the quick brown fox jumps over the lazy dog again and again.", 7)
    b = fillmask.corruption_table(tokenizer, "the quick brown fox jumps over the lazy dog again and again.", 7)
    c = fillmask.corruption_table(tokenizer, "the quick brown fox jumps over the lazy dog again and again.", 8)
    assert a == b
    assert a["n_chosen"] >= 1 and a["rows"][0]["loss here"] is False  # [CLS] never chosen
    assert [r["what happened"] for r in a["rows"]] != [r["what happened"] for r in c["rows"]] or a["n_chosen"] == 1


def test_random_pool_has_no_special_tokens(tokenizer):
    pool = set(fillmask.random_pool_for(tokenizer).tolist())
    assert not pool & set(tokenizer.all_special_ids)
    assert tokenizer.convert_tokens_to_ids("the") in pool


# ---- embeddings and contextual vectors -----------------------------------------------------
def test_embedding_parts_sum_to_the_models_input(tiny):
    parts = fillmask.embedding_parts(tiny, "my dog is cute.", "he likes playing.")
    assert parts["tokens"][0] == "[CLS]" and parts["tokens"].count("[SEP]") == 2
    assert set(parts["segment_ids"]) == {0, 1} and parts["segment_ids"][-1] == 1
    np.testing.assert_allclose(parts["sum"], parts["token"] + parts["segment"] + parts["position"], atol=1e-5)
    enc = tiny.tokenizer("my dog is cute.", "he likes playing.", return_tensors="pt")
    with torch.no_grad():
        ref = tiny.model.bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])[0]
    np.testing.assert_allclose(parts["input"], ref.numpy(), atol=1e-5)


def test_contextual_vectors_static_layer_is_identical(tiny):
    word, lines = fillmask.PRESETS["bank (river vs money)"]
    cv = fillmask.contextual_vectors(tiny, word, lines)
    n = len(lines)
    assert cv["sims"].shape == (3, n, n)
    np.testing.assert_allclose(cv["sims"][0], np.ones((n, n)), atol=1e-5)  # static: same vector everywhere
    np.testing.assert_allclose(np.diagonal(cv["sims"], axis1=1, axis2=2), 1.0, atol=1e-5)
    assert np.allclose(cv["sims"], cv["sims"].transpose(0, 2, 1), atol=1e-6)
    assert len(cv["within"]) == len(cv["across"]) == 3 and not np.isnan(cv["within"]).any()


def test_contextual_vectors_errors(tiny):
    with pytest.raises(ValueError, match="does not appear"):
        fillmask.contextual_vectors(tiny, "bank", [("a", "the river is wide"), ("b", "the bank is open")])
    with pytest.raises(ValueError, match="at least two"):
        fillmask.contextual_vectors(tiny, "bank", [("a", "the bank is open")])
    with pytest.raises(ValueError, match="vocabulary"):
        fillmask.contextual_vectors(tiny, "制服", [("a", "制服 ok"), ("b", "一个 制服")])


def test_parse_sense_lines():
    assert fillmask.parse_sense_lines("river | a bank\n\n  money|the bank \nplain bank") == [
        ("river", "a bank"), ("money", "the bank"), ("?", "plain bank")]


# ---- checkpoint + training -----------------------------------------------------------------
@pytest.fixture
def base_dir(tmp_path):
    from transformers import BertModel

    torch.manual_seed(1)
    BertModel(_tiny_config(layers=3)).save_pretrained(tmp_path / "base", safe_serialization=True)
    return tmp_path / "base"


def test_checkpoint_round_trip_ships_only_trained_tensors(base_dir, tmp_path):
    cfg = MLMHeadConfig(num_layers=2, trained_layers=(1,), hidden_size=32, metrics={"top1": 0.5})
    model = fillmask.build_mlm(base_dir, cfg)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight  # tied
    with torch.no_grad():
        model.cls.predictions.transform.dense.weight.normal_()
        model.bert.encoder.layer[1].output.dense.weight.add_(0.5)
    fillmask.save_checkpoint(model, cfg, tmp_path / "ck", card="# card")
    from safetensors.torch import load_file

    keys = set(load_file(str(tmp_path / "ck" / "model.safetensors")))
    assert all(k.startswith(("cls.predictions.", "bert.encoder.layer.1.")) for k in keys)
    assert "cls.predictions.decoder.weight" not in keys
    loaded, cfg2 = fillmask.load_mlm_checkpoint(tmp_path / "ck", base_dir=base_dir)
    assert cfg2 == cfg and cfg2.metrics == {"top1": 0.5}
    x = torch.tensor([[101, 2000, 103, 2003, 102]])
    with torch.no_grad():
        a, b = model.eval()(input_ids=x).logits, loaded(input_ids=x).logits
    torch.testing.assert_close(a, b, atol=2e-2, rtol=1e-2)  # layer 1 stored in float16


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not an MLM-head checkpoint"):
        fillmask.load_mlm_checkpoint(tmp_path)


def test_training_changes_only_the_trainable_tensors(base_dir, tokenizer):
    from core.transformers import mlm_train

    cfg = MLMHeadConfig(num_layers=2, trained_layers=(1,), batch_size=8, hidden_size=32)
    model = fillmask.build_mlm(base_dir, cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    texts = ["the cat sat on the mat.", "a dog ran in the park.", "we went to the river bank."] * 20
    rows = mlm_train.pack(tokenizer, texts, 16)
    data = {"train": rows, "val": rows[:8], "val_src": np.zeros(8, dtype=np.int32)}
    res = mlm_train.train(model, cfg, data, mlm_train.special_ids(tokenizer), steps=4, eval_every=2, eval_rows=8)
    assert res["steps"] == 4 and len(res["history"]) == 2
    assert 0 <= res["best"]["top1"] <= res["best"]["top5"] <= 1
    after = model.state_dict()
    trained = set(fillmask.trainable_names(model, cfg))
    for k, v in after.items():
        changed = not torch.equal(v, before[k])
        if k.startswith("bert.encoder.layer.0.") or k.startswith("bert.embeddings."):
            assert not changed, k
    assert any(not torch.equal(after[k], before[k]) for k in trained)


def test_pack_rows_have_cls_and_sep(tokenizer):
    from core.transformers import mlm_train

    rows = mlm_train.pack(tokenizer, ["hello world. " * 50], 16)
    assert rows.shape[1] == 16 and len(rows) > 3
    assert (rows[:, 0] == tokenizer.cls_token_id).all() and (rows[:, -1] == tokenizer.sep_token_id).all()


def test_corruption_rates_of_one_sentence(tokenizer):
    r = fillmask.corruption_rates(tokenizer, "the quick brown fox jumps over the lazy dog and runs away fast.", 3,
                                  draws=2000)["rates"]
    assert abs(r["chosen"] - round(0.15 * 14) / 14) < 1e-6  # exactly round(15% of 14) pieces per draw
    assert abs(r["[MASK]"] - 0.8) < 0.03 and abs(r["random"] - 0.1) < 0.025 and abs(r["unchanged"] - 0.1) < 0.025


def test_reweight_repeats_and_subsamples_training_rows_only():
    from core.transformers import mlm_train

    tat, sha = mlm_train.SOURCES.index("tatoeba"), mlm_train.SOURCES.index("shakespeare")
    src = np.array([tat] * 4 + [sha] * 6, dtype=np.int32)
    data = {"train": np.arange(20).reshape(10, 2), "train_src": src, "val": np.ones((3, 2)), "val_src": np.zeros(3)}
    out = mlm_train.reweight(data, {"tatoeba": 2, "shakespeare": 0.5}, seed=0)
    assert (out["train_src"] == tat).sum() == 8 and (out["train_src"] == sha).sum() == 3
    assert np.bincount(out["train"][:, 0] // 2)[:4].tolist() == [2, 2, 2, 2]  # each tatoeba row twice
    assert set((out["train"][out["train_src"] == sha][:, 0] // 2).tolist()) <= set(range(4, 10))  # no new rows
    assert out["val"] is data["val"] and out["val_src"] is data["val_src"]
    assert mlm_train.reweight(data, {}, seed=0)["train"].tolist() == data["train"].tolist()
    with pytest.raises(ValueError, match="unknown sources"):
        mlm_train.reweight(data, {"klingon": 1})


def test_quality_notes_follow_the_models_own_figures():
    zh = fillmask.quality_notes({"language": "zh", "heldout_top1": 0.155, "heldout_top5": 0.22})
    assert len(zh) == 1 and "Chinese BERT" in zh[0]["text"] and zh[0]["values"]["top1"] == 0.155
    assert fillmask.quality_notes({"language": "zh", "heldout_top1": 0.55}) == []  # a good model needs no warning
    en = fillmask.quality_notes({"head_from_layer": 4, "heldout_top1": 0.26, "heldout_top5": 0.43})
    assert en[0]["values"]["one_in"] == 4 and "{minutes" not in en[0]["text"]
    en = fillmask.quality_notes({"head_from_layer": 4, "heldout_top1": 0.26, "heldout_top5": 0.43,
                                 "train_cpu_minutes": 120.4})
    assert "{minutes:.0f} CPU-minutes" in en[0]["text"] and en[0]["text"].format(**en[0]["values"])
    assert fillmask.quality_notes({"heldout_top1": float("nan")}) == []  # hub models: nothing to say
    assert fillmask.quality_notes({}) == []
