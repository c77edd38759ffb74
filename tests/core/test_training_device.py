"""In-app training runs on the device core.device picked (CUDA -> MPS -> CPU), not always the CPU;
the CPU thread limit applies only on the CPU. Proved with a mocked device choice: the training
loops ask for "meta" and the model really goes there (a meta tensor has no data, so the step then
fails on reading the loss; that failure is the proof that the work went to the chosen device)."""
import pytest
import torch

from core.sequence import charlm, seq2seq
from core.transformers import tinygpt

pytestmark = pytest.mark.usefixtures("one_thread")


def _meta_error(exc: BaseException) -> bool:
    return "meta" in str(exc).lower()


def test_char_lm_trains_on_the_picked_device_and_skips_cpu_threads(monkeypatch):
    corpus = charlm.make_corpus("to be or not to be, that is the question. " * 40, "tiny")
    model = charlm.build_model(charlm.CharLMConfig("gru", len(corpus.vocab), 1, 16, 8), seed=0)
    seen = {}
    real_threads = charlm.torch_threads

    def spy_threads(n):
        seen["threads"] = n
        return real_threads(n)

    monkeypatch.setattr(charlm, "get_device", lambda: "meta")
    monkeypatch.setattr(charlm, "torch_threads", spy_threads)
    with pytest.raises(Exception) as err:
        charlm.train(model, corpus, charlm.TrainConfig(batch_size=2, seq_len=8, max_steps=1), threads=1)
    assert _meta_error(err.value), err.value
    assert seen["threads"] is None  # a thread count is for the CPU only


def test_char_lm_on_the_cpu_keeps_its_thread_limit(monkeypatch):
    corpus = charlm.make_corpus("to be or not to be, that is the question. " * 40, "tiny")
    model = charlm.build_model(charlm.CharLMConfig("gru", len(corpus.vocab), 1, 16, 8), seed=0)
    seen = {}
    real_threads = charlm.torch_threads
    monkeypatch.setattr(charlm, "torch_threads", lambda n: seen.setdefault("threads", n) and real_threads(n))
    charlm.train(model, corpus, charlm.TrainConfig(batch_size=2, seq_len=8, max_steps=1, eval_every=0), threads=1)
    assert seen["threads"] == 1


def test_tiny_gpt_trains_on_the_picked_device(monkeypatch):
    cfg = tinygpt.TinyGPTConfig(vocab="abcdefgh ", block_size=8, n_layer=1, n_head=1, n_embd=8).check()
    model = tinygpt.new_model(cfg, seed=0)
    monkeypatch.setattr(tinygpt, "get_device", lambda: "meta")
    with pytest.raises(Exception) as err:
        tinygpt.train(model, "abc defgh " * 50, None, steps=1, batch_size=2, warmup=1)
    assert _meta_error(err.value), err.value


def test_seq2seq_trains_on_the_picked_device(monkeypatch):
    pairs = [("i am here .", "我在这里。"), ("you are there .", "你在那里。")] * 20
    cfg = seq2seq.Seq2SeqConfig(src_lang="en", tgt_lang="zh", emb_dim=8, hidden_dim=8)
    sv, tv = seq2seq.build_vocabs(pairs, cfg, min_freq=1)
    bundle = seq2seq.new_bundle(cfg, sv, tv, seed=0)
    monkeypatch.setattr(seq2seq, "get_device", lambda: "meta")
    with pytest.raises(Exception) as err:
        seq2seq.train(bundle, pairs[:30], pairs[30:], seq2seq.TrainConfig(epochs=1, batch_size=4))
    assert _meta_error(err.value), err.value


def test_single_thread_blocks_give_every_thread_its_threads_back():
    """Two sessions train tiny models single-threaded at once (the Basics CNN, sampling), and a new
    script run starts meanwhile: torch hands the new thread the count set at that moment (1). When
    both blocks are done, threads started afterwards have BASE_THREADS, and `reset_threads()` (the
    entry point calls it at every run) gives it back to the thread that inherited 1."""
    import threading

    import torch

    from core.device import BASE_THREADS, reset_threads, torch_threads

    events = {name: threading.Event() for name in ("first_in", "second_in", "release", "late_go")}
    late = {}

    def block(flag):
        with torch_threads(1):
            events[flag].set()
            events["release"].wait(10)

    def late_run():  # a script run started while the blocks hold 1 thread
        late["inherited"] = torch.get_num_threads()
        events["late_go"].wait(10)
        late["after_reset"] = reset_threads()

    a = threading.Thread(target=block, args=("first_in",))
    a.start()
    assert events["first_in"].wait(10)
    b = threading.Thread(target=block, args=("second_in",))
    b.start()
    assert events["second_in"].wait(10)
    c = threading.Thread(target=late_run)
    c.start()
    events["release"].set()
    a.join(10)
    b.join(10)
    events["late_go"].set()
    c.join(10)
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join(10)
    assert late["after_reset"] == BASE_THREADS and seen == [BASE_THREADS]
