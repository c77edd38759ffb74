"""Our KV-cache generator on a tiny random Llama: same ids as HF greedy, seeded sampling, beams, prompts."""
import pytest
import torch

from core.transformers import generate


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tiny_llama):
    return tiny_llama


def _ids(tok, text="The cat sat on the"):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_greedy_matches_hf_generate(tiny):
    model, tok = tiny
    ids = _ids(tok)
    x = torch.tensor([ids])
    with torch.inference_mode():
        hf = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=12, do_sample=False,
                            pad_token_id=tok.eos_token_id)[0, len(ids):].tolist()
    ours = generate.run(model, tok, ids, generate.GenConfig(mode="greedy", max_new_tokens=12, stop_at_eos=False))
    fast, _, _ = generate.greedy_fast_path(model, ids, 12, stop_at_eos=False)
    assert ours.ids[:len(hf)] == hf
    assert fast[:len(hf)] == hf


def test_step_logprobs_agree_with_a_full_forward_pass(tiny):
    model, tok = tiny
    ids = _ids(tok)
    res = generate.run(model, tok, ids, generate.GenConfig(mode="sample", max_new_tokens=8, temperature=1.5,
                                                           seed=3, stop_at_eos=False))
    assert len(res.steps) == 8
    assert res.logprob == pytest.approx(generate.sequence_logprob(model, ids, res.ids), abs=1e-3)
    for s in res.steps:
        assert s.candidates and s.candidates[0]["p_before"] >= s.candidates[-1]["p_before"]
        assert 0 < s.prob_after <= 1


def test_same_seed_same_text_and_temperature_zero_is_greedy(tiny):
    model, tok = tiny
    ids = _ids(tok)
    cfg = generate.GenConfig(mode="sample", max_new_tokens=10, temperature=1.2, top_k=50, seed=42, stop_at_eos=False)
    a = generate.run(model, tok, ids, cfg).ids
    b = generate.run(model, tok, ids, cfg).ids
    assert a == b
    others = {tuple(generate.run(model, tok, ids, generate.GenConfig(**{**cfg.__dict__, "seed": s})).ids)
              for s in range(4)}
    assert len(others) > 1
    greedy = generate.run(model, tok, ids, generate.GenConfig(mode="greedy", max_new_tokens=10, stop_at_eos=False))
    cold = generate.run(model, tok, ids, generate.GenConfig(mode="sample", max_new_tokens=10, temperature=0.0,
                                                            stop_at_eos=False))
    assert cold.ids == greedy.ids


def test_top_k_limits_the_candidates(tiny):
    model, tok = tiny
    res = generate.run(model, tok, _ids(tok), generate.GenConfig(mode="sample", max_new_tokens=5, top_k=3,
                                                                 stop_at_eos=False))
    assert all(s.kept == 3 for s in res.steps)


def test_beam_search(tiny):
    model, tok = tiny
    ids = _ids(tok)
    one = generate.beam_search(model, tok, ids, generate.GenConfig(mode="beam", num_beams=1, max_new_tokens=8,
                                                                   stop_at_eos=False))
    greedy = generate.run(model, tok, ids, generate.GenConfig(mode="greedy", max_new_tokens=8, stop_at_eos=False))
    assert one[0]["ids"] == greedy.ids
    beams = generate.beam_search(model, tok, ids, generate.GenConfig(mode="beam", num_beams=3, max_new_tokens=8,
                                                                     stop_at_eos=False, length_penalty=0.0))
    assert 1 <= len(beams) <= 3
    assert [b["score"] for b in beams] == sorted((b["score"] for b in beams), reverse=True)
    for b in beams:
        assert b["logprob"] == pytest.approx(generate.sequence_logprob(model, ids, b["ids"]), abs=1e-3)


def test_prompts_empty_and_too_long(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="empty"):
        generate.encode_prompt(tok, "   ", model, 10)
    ids, notice = generate.encode_prompt(tok, "word " * 200, model, 10)
    assert len(ids) == 64 - 10 and "cut off" in notice
    with pytest.raises(ValueError):
        generate.GenConfig(mode="sample", top_p=0).check()
    with pytest.raises(ValueError):
        generate.GenConfig(mode="nonsense").check()


def test_fast_copy_leaves_the_shared_model_untouched(tiny):
    model, tok = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = generate.quantize(model)
    assert fast is not model
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32 and torch.equal(v, before[k])
    ids = _ids(tok)
    out, _, _ = generate.greedy_fast_path(fast, ids, 4, stop_at_eos=False)
    assert len(out) == 4


def test_remembered_results_are_keyed_by_every_input_and_bounded(monkeypatch):
    monkeypatch.setattr(generate, "MAX_RESULTS", 2)
    monkeypatch.setattr(generate, "_results", generate.OrderedDict())
    cfg = generate.GenConfig(mode="sample", seed=1)
    res = generate.GenResult([1, 2], [3], "x", [], 0.1, 0.05, -1.0)
    k1 = generate.result_key("m", "fast", [1, 2], cfg)
    generate.remember(k1, res)
    assert generate.recall(generate.result_key("m", "fast", (1, 2), cfg)) is res
    for other in (generate.result_key("m", "exact", [1, 2], cfg), generate.result_key("m", "fast", [1, 2, 3], cfg),
                  generate.result_key("m", "fast", [1, 2], generate.GenConfig(mode="sample", seed=2)),
                  generate.result_key("other", "fast", [1, 2], cfg)):
        assert generate.recall(other) is None
    generate.remember(generate.result_key("m", "fast", [5], cfg), res)
    generate.recall(k1)  # k1 is now the most recently used
    generate.remember(generate.result_key("m", "fast", [6], cfg), res)  # evicts [5], not k1
    assert generate.recall(k1) is res and generate.recall(generate.result_key("m", "fast", [5], cfg)) is None
