"""Unit tests for core.embeddings.elmo on tiny models (a few seconds in all)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.embeddings import elmo as M

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections")  # torch: no oneDNN kernel, slower

SENTS = [s.split() for s in (
    "我们 明天 开 会 。", "他 会 说 英语 。", "她 会 写 文章 。", "大家 一起 开 会 吧 。",
    "今天 的 会 很 重要 。", "我 会 回来 的 。", "他们 在 开 会 。", "你 会 游泳 吗 ？",
)] * 3


def tiny(seed=0, vocab=None, **kw):
    vocab = vocab or M.build_vocab(SENTS, 100, 1)
    cfg = M.ELMoConfig(**{"vocab_size": len(vocab), "embed_dim": 8, "hidden": 12, "dropout": 0.0, **kw})
    return M.build_elmo(cfg, seed, vocab)


def test_vocab_starts_with_the_specials_and_maps_unknown_words_to_unk():
    v = M.build_vocab(SENTS, 100, 1)
    assert v.words[:3] == M.SPECIALS
    assert v.frame(["会", "没见过"]) == [1, v.stoi["会"], 0, 2]
    assert "没见过" not in v.stoi
    rare = M.build_vocab(SENTS[:8], 100, 2)  # each word appears once or more; only repeated ones kept
    assert "会" in rare.stoi and "英语" not in rare.stoi
    with pytest.raises(ValueError):
        M.build_vocab([["a"]], 100, 5)


def test_config_and_vocab_mismatch_are_value_errors():
    with pytest.raises(ValueError):
        M.ELMoConfig(vocab_size=10, embed_dim=16, hidden=8)  # the LSTM can't be narrower than E
    with pytest.raises(ValueError):
        M.ELMoConfig(vocab_size=10, n_layers=0)
    with pytest.raises(ValueError):
        M.ELMoConfig(vocab_size=10, dropout=1.0)
    with pytest.raises(ValueError):
        M.build_elmo(M.ELMoConfig(vocab_size=10, embed_dim=8, hidden=8), 0, M.build_vocab(SENTS, 100, 1))


@pytest.mark.parametrize("hidden,layers", [(12, 2), (8, 1), (12, 3)])
def test_representation_shapes_and_layer0_is_the_embedding_twice(hidden, layers):
    model = tiny(hidden=hidden, n_layers=layers)
    tokens = ["他", "会", "说", "英语", "。"]
    reps = M.representations(model, tokens)
    assert isinstance(reps, np.ndarray) and reps.shape == (layers + 1, 5, 16)
    emb = model.embed.weight.detach().numpy()[model.vocab.encode(tokens)]  # (5, 8)
    np.testing.assert_allclose(reps[0, :, :8], emb)
    np.testing.assert_allclose(reps[0, :, 8:], emb)
    assert M.representations(model, "他 会 说 英语 。").shape == reps.shape  # a string is split on spaces
    names = [n for n, _p in model.named_parameters()]
    # tied: the softmax uses the embedding matrix, no separate output weights
    assert not any("head" in n or "decoder" in n for n in names) and "out_bias" in names
    with pytest.raises(ValueError):
        M.representations(model, [])


def test_padding_in_a_batch_does_not_change_a_sentence():
    model = tiny()
    short, long = ["他", "会", "说"], ["我们", "明天", "开", "会", "。", "大家", "一起"]
    alone = M.batch_representations(model, [short])[0]
    batched = M.batch_representations(model, [long, short])
    torch.testing.assert_close(batched[1], alone, rtol=1e-5, atol=1e-6)
    assert batched[0].shape == (3, 7, 16)


def test_reverse_padded_reverses_within_each_length_and_is_its_own_inverse():
    x = torch.tensor([[1, 2, 3, 9], [4, 5, 9, 9]])
    lengths = torch.tensor([3, 2])
    r = M._reverse_padded(x, lengths)
    assert r.tolist() == [[3, 2, 1, 9], [5, 4, 9, 9]]
    assert torch.equal(M._reverse_padded(r, lengths), x)


def test_forward_lm_never_sees_the_future_and_backward_lm_never_sees_the_past():
    model = tiny()
    a = ["我们", "明天", "开", "会", "。", "他", "会"]
    j = 3
    b = list(a)
    b[j] = "英语"
    ra, rb = M.representations(model, a), M.representations(model, b)
    E = 8
    for layer in (1, 2):
        # forward halves before j are unchanged, at and after j they change
        np.testing.assert_allclose(ra[layer, :j, :E], rb[layer, :j, :E], rtol=0, atol=1e-6)
        assert not np.allclose(ra[layer, j:, :E], rb[layer, j:, :E])
        # backward halves after j are unchanged, at and before j they change
        np.testing.assert_allclose(ra[layer, j + 1:, E:], rb[layer, j + 1:, E:], rtol=0, atol=1e-6)
        assert not np.allclose(ra[layer, :j + 1, E:], rb[layer, :j + 1, E:])


def test_lm_losses_are_the_tied_softmax_cross_entropies_and_sampled_softmax_with_all_words_is_the_same():
    model = tiny(seed=3)
    model.eval()
    v = model.vocab
    ids, lengths = M._pad([v.frame(SENTS[0]), v.frame(SENTS[1][:3])])  # (2, L)
    with torch.no_grad():
        lf, lb, n = model.lm_losses(ids, lengths)
        _emb, fwd, bwd = model.directional_states(ids, lengths)
    w, bias = model.embed.weight.detach(), model.out_bias.detach()
    total_f = total_b = 0.0
    for row in range(2):
        m = int(lengths[row])
        lp_f = F.log_softmax(fwd[-1][row, :m - 1] @ w.T + bias, -1)  # predicts x_1..x_{m-1}
        lp_b = F.log_softmax(bwd[-1][row, 1:m] @ w.T + bias, -1)  # predicts x_0..x_{m-2}
        total_f -= float(lp_f.gather(1, ids[row, 1:m, None]).sum())
        total_b -= float(lp_b.gather(1, ids[row, :m - 1, None]).sum())
    assert n == int(lengths.sum()) - 2
    assert math.isclose(float(lf), total_f / n, rel_tol=1e-5)
    assert math.isclose(float(lb), total_b / n, rel_tol=1e-5)
    every = torch.arange(len(v))
    with torch.no_grad():
        lf2, lb2, _n = model.lm_losses(ids, lengths, candidates=every)
    assert math.isclose(float(lf2), float(lf), rel_tol=1e-6) and math.isclose(float(lb2), float(lb), rel_tol=1e-6)
    ppl = M.perplexity(model, [SENTS[0], SENTS[1][:3]])
    assert math.isclose(ppl["forward"], math.exp(total_f / n), rel_tol=1e-5)
    assert math.isclose(ppl["ppl"], (ppl["forward"] + ppl["backward"]) / 2)


def test_scalar_mix_weights_sum_to_one_and_match_the_formula_and_get_gradients():
    mix = M.ScalarMix(3)
    with torch.no_grad():
        mix.scalars.copy_(torch.tensor([0.5, -1.0, 2.0]))
        mix.gamma.fill_(1.7)
    s = mix.weights().detach()
    assert math.isclose(float(s.sum()), 1.0, rel_tol=1e-6) and bool((s > 0).all())
    layers = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(0))  # (L+1, B, T, D)
    e = torch.exp(torch.tensor([0.5, -1.0, 2.0]))
    manual = 1.7 * sum(float(e[j] / e.sum()) * layers[j] for j in range(3))
    out = mix(layers)
    torch.testing.assert_close(out, manual)
    torch.testing.assert_close(mix(list(layers)), out)
    out.pow(2).sum().backward()
    assert mix.scalars.grad is not None and float(mix.scalars.grad.abs().sum()) > 0
    assert mix.gamma.grad is not None and float(mix.gamma.grad.abs()) > 0
    with pytest.raises(ValueError):
        mix(layers[:2])
    with pytest.raises(ValueError):
        M.ScalarMix(0)


def test_models_and_training_are_deterministic_per_seed_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = tiny(seed=1, dropout=0.3), tiny(seed=1, dropout=0.3), tiny(seed=2, dropout=0.3)
    for (n, pa), (_n, pb), (_n2, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert torch.equal(pa, pb), n
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    ha, hb = [], []
    M.train_lm(a, SENTS, steps=5, batch_size=4, max_len=5, seed=7, max_seconds=0, history=ha, device="cpu", threads=1)
    M.train_lm(b, SENTS, steps=5, batch_size=4, max_len=5, seed=7, max_seconds=0, history=hb, device="cpu",
               softmax_sample=0, threads=1)
    assert [h["loss"] for h in ha] == [h["loss"] for h in hb]
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    M.representations(a, SENTS[0])
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.slow
def test_train_lm_learns_a_tiny_corpus_and_reports_in_place():
    model = tiny(seed=0, embed_dim=16, hidden=24)
    before = M.perplexity(model, SENTS[:8])["ppl"]
    history, calls = [], []
    out = M.train_lm(model, SENTS, SENTS[:8], steps=60, batch_size=8, max_len=8, lr=1e-2, seed=0, max_seconds=0,
                     softmax_sample=5, history=history, on_step=lambda d, t, info: calls.append((d, t)),
                     device="cpu", threads=1)
    assert out["steps"] == 60 and out["stopped_by"] == "steps" and len(calls) == 60
    assert sum(1 for h in history if "loss" in h) == 60 and history[-1]["val_ppl"] == out["val_ppl"]
    assert out["val_ppl"] < before / 3  # the repeated sentences are learnt (from about |V| = 28 down)
    assert out["params"] == M.count_params(model)


def test_train_lm_stops_on_the_clock_and_rejects_bad_input():
    model = tiny()
    out = M.train_lm(model, SENTS, steps=1000, batch_size=2, max_len=5, max_seconds=1e-9, device="cpu", threads=1)
    assert out["stopped_by"] == "time" and out["steps"] == 1 and out["val_ppl"] is None
    for kwargs in ({"steps": 0}, {"lr": 0.0}, {"max_len": 2}, {"max_seconds": -1}, {"softmax_sample": -1}):
        with pytest.raises(ValueError):
            M.train_lm(model, SENTS, device="cpu", threads=1, **kwargs)
    with pytest.raises(ValueError):
        M.train_lm(model, [["孤"]], device="cpu", threads=1)  # a 1-sentence corpus
    with pytest.raises(ValueError):
        M.train_lm(model, [], device="cpu", threads=1)


def _synthetic_task(n_layers=2, n=400, seed=0):
    """Layer 2 alone carries the tag (sign of one coordinate); the other layers and static are noise."""
    g = torch.Generator().manual_seed(seed)
    D = 6

    def part(m):
        tags = torch.randint(0, 2, (m,), generator=g)
        layers = torch.randn(n_layers + 1, m, D, generator=g)
        layers[n_layers, :, 0] = (tags * 2 - 1).float() * 2.0 + 0.1 * layers[n_layers, :, 0]
        return layers.half(), torch.randn(m, 3, generator=g).half(), tags

    trl, trs, trt = part(n)
    tel, tes, tet = part(n // 2)
    return M.TaskData(("a", "b"), trl, trs, trt, tel, tes, tet, "test")


def test_tagger_finds_the_informative_layer_and_the_mix_weights_it():
    data = _synthetic_task()
    accs = {k: M.task_accuracy(data, k, seed=0, epochs=30, lr=3e-2) for k in M.task_kinds(2)}
    assert accs["layer2"] > 0.95 and accs["mix"] > 0.95
    assert max(accs["static"], accs["layer0"], accs["layer1"]) < 0.75
    out = M.train_tagger(data, "mix", seed=0, epochs=30, lr=3e-2)
    assert math.isclose(sum(out["mix_weights"]), 1.0, rel_tol=1e-6)
    assert out["mix_weights"][2] == max(out["mix_weights"])
    again = M.train_tagger(data, "mix", seed=0, epochs=30, lr=3e-2)  # deterministic per seed
    assert (again["accuracy"], again["mix_weights"], again["gamma"]) == (out["accuracy"], out["mix_weights"],
                                                                         out["gamma"])
    assert M.task_accuracy(data, "layer2", seed=0, epochs=30, lr=3e-2, hidden=16) > 0.95  # 1-hidden-layer tagger
    with pytest.raises(ValueError):
        M.task_accuracy(data, "layer9")


def test_pos_task_features_line_up_with_the_words_and_tags():
    model = tiny()
    data = M.pos_task(model, n_train=6, n_test=3)
    train, test = M.pos_task_sentences(6, 3)
    n_train = sum(len(s.words) for s in train)
    assert data.train_layers.shape == (3, n_train, 16) and data.train_tags.shape == (n_train,)
    assert data.test_layers.shape[1] == sum(len(s.words) for s in test) == data.test_static.shape[0]
    assert [data.tags[i] for i in data.train_tags[:5].tolist()] == list(train[0].tags[:5])
    first = M.representations(model, list(train[0].words))  # (3, T, 16)
    np.testing.assert_allclose(data.train_layers[:, :len(train[0].words)].float().numpy(), first, atol=2e-3)
    accs = M.evaluate_layers(model, data=data, epochs=1)
    assert set(accs) == set(M.TASK_KINDS) and all(0.0 <= a <= 1.0 for a in accs.values())
    kv = {"的": [1.0, 0.0], "在": [0.0, 1.0]}
    with_given = M.pos_task(model, 6, 3, static_vectors=kv)
    assert with_given.train_static.shape == (n_train, 2) and with_given.static_source == "given vectors"
    with pytest.raises(ValueError):
        M.pos_task(model, n_train=0)


def test_contextual_neighbours_layer0_cannot_tell_the_senses_apart():
    model = tiny()
    a, b, word = SENTS[1], SENTS[0], "会"
    out = M.contextual_neighbours(model, a, b, word, k=3, bank=SENTS[:8])
    assert out["positions"] == (1, 3) and [entry["layer"] for entry in out["layers"]] == [0, 1, 2]
    assert math.isclose(out["layers"][0]["cosine_ab"], 1.0, rel_tol=1e-6)
    assert out["layers"][2]["cosine_ab"] < 1.0 - 1e-4
    for entry in out["layers"]:
        for side in ("a", "b"):
            cos = [n["cosine"] for n in entry[side]]
            assert len(cos) == 3 and cos == sorted(cos, reverse=True)
            assert all("【" in n["context"] for n in entry[side])
    with pytest.raises(ValueError):
        M.contextual_neighbours(model, a, ["我们", "明天"], word)  # the word is not in the second sentence
    with pytest.raises(ValueError):
        M.contextual_neighbours(model, "", b, word)


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
def test_checkpoint_round_trip_keeps_the_vectors_the_vocab_and_the_info(tmp_path):
    model = tiny(seed=3)
    folder = M.save_checkpoint(model, tmp_path / "ck", info={"steps": 7, "task_acc": {"mix": 0.5}}, card="# card\n")
    assert {p.name for p in folder.iterdir()} == {"config.json", "vocab.json", "model.safetensors", "README.md"}
    loaded = M.load_checkpoint(folder)
    assert not loaded.training and loaded.config == model.config and loaded.vocab == model.vocab
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert loaded.info == {"steps": 7, "task_acc": {"mix": 0.5}}
    tokens = SENTS[1] + ["没见过"]  # an unknown word too
    # the weights are stored as float16: the loaded model is the original rounded to float16
    rounded = tiny(seed=3)
    rounded.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    np.testing.assert_array_equal(M.representations(loaded, tokens), M.representations(rounded, tokens))
    np.testing.assert_allclose(M.representations(loaded, tokens), M.representations(model, tokens), atol=5e-3)


def test_a_bare_name_means_a_folder_in_assets_models(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "MODELS_DIR", tmp_path)
    M.save_checkpoint(tiny(), tmp_path / "my-elmo")
    assert M.checkpoint_folder("my-elmo") == tmp_path / "my-elmo"
    assert M.load_checkpoint("my-elmo").vocab == tiny().vocab
    with pytest.raises(ValueError, match="missing"):
        M.load_shipped()  # no shipped folder in this MODELS_DIR


@pytest.mark.parametrize("damage", ["no weights", "config not json", "bad config value", "vocab size",
                                    "weights garbled", "weights of another model"])
def test_a_missing_or_garbled_checkpoint_is_a_value_error(tmp_path, damage):
    folder = M.save_checkpoint(tiny(), tmp_path / "ck")
    if damage == "no weights":
        (folder / "model.safetensors").unlink()
    elif damage == "config not json":
        (folder / "config.json").write_text("{vocab_size: ", encoding="utf-8")
    elif damage == "bad config value":
        (folder / "config.json").write_text('{"vocab_size": 20, "embed_dim": 8, "hidden": 4}', encoding="utf-8")
    elif damage == "vocab size":
        (folder / "vocab.json").write_text('{"words": ["<UNK>", "<s>", "</s>", "a"]}', encoding="utf-8")
    elif damage == "weights garbled":
        (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    else:
        M.save_checkpoint(tiny(hidden=16), tmp_path / "other")
        (folder / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(ValueError):
        M.load_checkpoint(folder)


def test_the_shipped_checkpoint_loads_and_gives_three_layers_of_vectors():
    if not (M.MODELS_DIR / M.SHIPPED / "model.safetensors").exists():
        pytest.skip("no shipped ELMo (run scripts/train_elmo.py)")
    model = M.load_shipped()
    E = model.config.embed_dim
    sentence = M.EXAMPLE[0]
    reps = M.representations(model, sentence)
    assert reps.shape == (3, len(sentence), 2 * E) and np.isfinite(reps).all()
    assert all(w in model.vocab.stoi for w in sentence)
    assert model.info["steps"] > 0 and model.info["task_acc"]["mix"] > model.info["task_acc"]["static"]


def test_sense_separation_layer0_cannot_tell_uses_apart():
    from types import SimpleNamespace

    vocab = M.build_vocab([["他", "将", "来", "。"], ["将", "书", "放", "下"]] * 3, max_size=50, min_count=1)
    model = M.build_elmo(M.ELMoConfig(vocab_size=len(vocab), embed_dim=8, hidden=8), 0, vocab)
    S = SimpleNamespace
    bank = [S(words=["他", "将", "来", "。"], tags=["r", "d", "v", "w"]), S(words=["将", "书", "放", "下"], tags=["p", "n", "v", "f"])] * 3
    res = M.sense_separation(model, "将", bank=bank, min_per_tag=2)
    assert res["tags"] == {"d": 3, "p": 3}
    assert [r["layer"] for r in res["layers"]] == [0, 1, 2]
    assert res["layers"][0]["same"] == pytest.approx(1.0) and res["layers"][0]["different"] == pytest.approx(1.0)
    # same-tag occurrences here have identical sentences: identical contextual vectors
    assert res["layers"][1]["same"] == pytest.approx(1.0) and res["layers"][1]["different"] < 1.0
    with pytest.raises(ValueError, match="only 1 part-of-speech"):
        M.sense_separation(model, "书", bank=bank, min_per_tag=2)
