"""Loading and building models from many threads at once (many visitors on a cold server) gives
each thread the same model it gets alone.

transformers' `from_pretrained` patches `torch.nn.Module.register_parameter` (meta tensors) and
`torch.nn.init.*` (no-ops) for the whole process while it runs; without `core.device.building()` a
char model built meanwhile in another thread came out with meta or uninitialised weights
("Cannot copy out of meta tensor"), and two overlapping loads could leave the patches in place.
"""
import threading

import pytest
import torch

from core import loaders, sources
from core.sequence import charlm, seq2seq
from core.transformers import fillmask, tinygpt

pytestmark = pytest.mark.slow

ORIGINAL = {
    "register_parameter": torch.nn.Module.register_parameter,
    "normal_": torch.nn.init.normal_,
    "kaiming_uniform_": torch.nn.init.kaiming_uniform_,
    "uniform_": torch.nn.init.uniform_,
}


def _minilm():
    lm = loaders.load_minilm()
    enc = lm.tokenizer("the bank of the river", return_tensors="pt")
    with torch.inference_mode():
        return lm.model(**enc).last_hidden_state[0, :, :8].clone()  # (T, 8)


def _smollm():
    lm = loaders.load_smollm()
    ids = lm.tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.inference_mode():
        return lm.model(ids).logits[0, -1, :64].clone()  # (64,)


def _mlm():
    bundle = fillmask.load_minilm_mlm(sources.get_source("masked_lm", "minilm-mlm").ref)
    out = fillmask.fill_mask(bundle, "i drank a cup of [MASK] .")
    return torch.tensor([p["prob"] for p in out["masks"][0]["predictions"]])


def _shipped_charlm():
    bundle = charlm.load_checkpoint(sources.get_source("char_lm", "shakespeare-lstm").ref)
    idx = bundle.vocab.encode("ROMEO:\n").unsqueeze(0)  # (1, T)
    with torch.inference_mode():
        return bundle.model(idx)[0][0, -1].clone()  # (V,)


def _shipped_seq2seq():
    bundle = seq2seq.load_checkpoint(sources.get_source("seq2seq", "en-zh-attention").ref)
    return seq2seq.translate(bundle, "i am hungry .", "greedy")["text"]


def _fresh_charlms():
    """Many fresh char models, so some are built while the transformers loads run."""
    outs = []
    for seed, cell in enumerate(["lstm", "gru", "rnn"] * 6):
        model = charlm.build_model(charlm.CharLMConfig(cell, 30, 1, 24, 8), seed)
        idx = torch.arange(10).unsqueeze(0)  # (1, 10)
        with torch.inference_mode():
            outs.append(model(idx)[0].sum(-1).clone())  # (1, 10)
    return torch.cat(outs)


def _fresh_tinygpts():
    outs = []
    for seed in range(8):
        cfg = tinygpt.TinyGPTConfig(vocab="abcdefghij", block_size=16, n_layer=1, n_head=2, n_embd=16).check()
        model = tinygpt.new_model(cfg, seed=seed)
        with torch.inference_mode():
            outs.append(model(torch.arange(10).unsqueeze(0))[0].sum(-1).clone())  # (1, 10)
    return torch.cat(outs)


JOBS = {"minilm": _minilm, "smollm": _smollm, "mlm": _mlm, "charlm_shipped": _shipped_charlm,
        "seq2seq_shipped": _shipped_seq2seq, "charlm_fresh": _fresh_charlms, "tinygpt_fresh": _fresh_tinygpts}


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and not a.is_meta and torch.allclose(a, b, atol=1e-6)
    return a == b


def test_models_built_at_the_same_time_equal_models_built_alone(one_thread):
    alone = {name: job() for name, job in JOBS.items()}  # one after the other, in this thread
    for _ in range(2):
        start = threading.Barrier(len(JOBS) * 2)
        together, errors = {}, []

        def work(name, job, slot):
            try:
                start.wait()
                together[(name, slot)] = job()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=work, args=(name, job, slot))
                   for name, job in JOBS.items() for slot in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        for (name, slot), value in together.items():
            assert _same(value, alone[name]), f"{name} (thread {slot}) differs from the model built alone"
        assert len(together) == len(threads)
    # no loader left a process-wide patch behind
    assert torch.nn.Module.register_parameter is ORIGINAL["register_parameter"]
    for fn in ("normal_", "kaiming_uniform_", "uniform_"):
        assert getattr(torch.nn.init, fn) is ORIGINAL[fn], fn
