"""core.transformers.translator: the Transformer behind the seq2seq interface. Step-by-step decoding equals
the parallel teacher-forced pass, search and checkpoints work as for the GRU, and a tiny model learns."""
import numpy as np
import pytest
import torch

from core.sequence import seq2seq as S
from core.transformers.translator import TransformerSeq2Seq

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = [("i am hungry .", "我饿了。", ""), ("i am tired .", "我累了。", ""), ("you are hungry .", "你饿了。", ""),
         ("you are tired .", "你累了。", ""), ("he is hungry .", "他饿了。", ""), ("he is tired .", "他累了。", ""),
         ("i am here .", "我在这里。", ""), ("he is here .", "他在这里。", "")] * 3


def tiny(seed=0, dropout=0.0, norm="post"):
    cfg = S.Seq2SeqConfig(cell="transformer", attention="dot", emb_dim=16, hidden_dim=32, num_layers=2, n_heads=4,
                          dropout=dropout, norm=norm, max_src_len=10, max_tgt_len=10)
    sv, tv = S.build_vocabs(PAIRS, cfg, min_freq=1)
    return S.new_bundle(cfg, sv, tv, seed=seed)


def test_config_checks_name_the_fix():
    with pytest.raises(ValueError, match="dot"):
        S.Seq2SeqConfig(cell="transformer", attention="additive")
    with pytest.raises(ValueError, match="divide"):
        S.Seq2SeqConfig(cell="transformer", attention="dot", emb_dim=30, n_heads=4)
    with pytest.raises(ValueError, match="norm"):
        S.Seq2SeqConfig(cell="transformer", attention="dot", norm="middle")
    with pytest.raises(ValueError, match="Label smoothing"):
        S.TrainConfig(label_smoothing=1.0)
    with pytest.raises(ValueError, match="warm-up"):
        S.TrainConfig(warmup=-1)


def test_model_is_ours_and_seeded():
    a, b, c = tiny(0), tiny(0), tiny(1)
    assert isinstance(a.model, TransformerSeq2Seq)
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_step_by_step_equals_the_parallel_pass(norm):
    b = tiny(2, norm=norm)
    model = b.model.eval()
    items = S.encode_pairs(b, PAIRS[:4])
    src, lengths, tgt_in, tgt_out = S.make_batch(items)
    with torch.no_grad():
        parallel = model.net(src, tgt_in)  # (B, T, V)
        state = model.init_state(src, lengths)
        for t in range(tgt_in.size(1)):
            logits, state, weights = model.step(tgt_in[:, t], state)
            np.testing.assert_allclose(logits.numpy(), parallel[:, t].numpy(), atol=1e-5)
            np.testing.assert_allclose(weights.sum(-1).numpy(), 1.0, atol=1e-5)  # cross-attention rows sum to 1
            assert float(weights[src == S.PAD].abs().sum()) == 0.0  # padding gets no attention


def test_loss_paths_agree():
    """Teacher forcing 1 (one parallel pass) and the step loop fed the gold tokens give the same loss; the
    label-smoothed loss is larger than the plain one for a confident model."""
    b = tiny(3)
    model = b.model.eval()
    src, lengths, tgt_in, tgt_out = S.make_batch(S.encode_pairs(b, PAIRS[:6]))
    with torch.no_grad():
        fast, n = model(src, lengths, tgt_in, tgt_out, teacher_forcing=1.0)
        gen = torch.Generator().manual_seed(0)
        slow, n2 = model(src, lengths, tgt_in, tgt_out, teacher_forcing=0.999999, generator=gen)
    assert n == n2 == int((tgt_out != S.PAD).sum())
    assert float(fast) == pytest.approx(float(slow), rel=1e-4)


def test_search_and_checkpoint_roundtrip(tmp_path):
    b = tiny(4)
    greedy = S.translate(b, "i am hungry .", "greedy", max_len=8)
    beam1 = S.translate(b, "i am hungry .", "beam", beam_width=1, max_len=8)
    assert greedy["tokens"] == beam1["tokens"]  # beam width 1 is greedy search
    assert greedy["attention"].shape == (len(greedy["attention_rows"]), len(greedy["source_tokens"]))
    beam = S.translate(b, "i am hungry .", "beam", beam_width=4, max_len=8)
    assert beam["hypotheses"][0]["norm_score"] >= max(h["norm_score"] for h in beam["hypotheses"]) - 1e-9
    S.save_checkpoint(b, tmp_path / "tf", "# card\n", half=False)
    loaded = S.load_checkpoint(tmp_path / "tf")
    assert isinstance(loaded.model, TransformerSeq2Seq) and loaded.config == b.config
    again = S.translate(loaded, "i am hungry .", "beam", beam_width=4, max_len=8)
    assert again["tokens"] == beam["tokens"]
    np.testing.assert_allclose(again["attention"], beam["attention"], atol=1e-6)
    batched = S.greedy_batch(b, [S.encode_source(b, "i am hungry .")[1], S.encode_source(b, "he is here .")[1]],
                             max_len=8)
    assert b.tgt_vocab.decode(batched[0] + [S.EOS]) == greedy["tokens"]


def test_a_tiny_transformer_learns_the_pairs():
    b = tiny(5, dropout=0.1)
    tcfg = S.TrainConfig(epochs=60, batch_size=8, lr=3e-3, warmup=20, label_smoothing=0.05, max_seconds=60,
                         val_pairs=8, seed=1)
    hist = S.train(b, PAIRS, PAIRS[:8], tcfg, device="cpu")
    first, last = hist["epochs"][0], hist["epochs"][-1]
    assert last["val_loss_tf"] < first["val_loss_tf"] / 3
    assert S.translate(b, "he is tired .")["text"] == "他累了。"
    assert S.evaluate_bleu(b, PAIRS[:8])["bleu"] > 90
