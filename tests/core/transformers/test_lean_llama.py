"""The lean Llama decoder (GPT page's fast mode) against transformers' LlamaForCausalLM on tiny random models."""
import pytest
import torch

from core.transformers import generate, lean_llama


pytestmark = pytest.mark.usefixtures("one_thread")


def _llama(kv_heads: int, seed: int = 0, rope_scaling=None):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=97, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=kv_heads, max_position_embeddings=128,
                      tie_word_embeddings=True, rope_theta=1000.0, rope_scaling=rope_scaling)
    torch.manual_seed(seed)  # test-only model init
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # non-trivial norm weights, so folding them into the products is tested
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.fixture(scope="module", params=[1, 2, 4], ids=["kv1", "kv2", "mha"])
def model(request):
    scaling = {"rope_type": "linear", "factor": 2.0} if request.param == 2 else None
    return _llama(request.param, seed=request.param, rope_scaling=scaling)


def _ids(n=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 97, (1, n), generator=g)  # (1, n)


def _hf_logits(model, x):
    with torch.inference_mode():
        return model(input_ids=x).logits  # (B, T, V)


@pytest.mark.parametrize("all_fast", [False, True])
def test_float32_prompt_logits_equal_hf(model, all_fast):
    lean = lean_llama.LeanLlama(model, torch.float32)
    lean = lean.all_fast() if all_fast else lean  # the float32 weights as given, or the fused/folded ones
    x = _ids()
    torch.testing.assert_close(lean(input_ids=x).logits, _hf_logits(model, x), atol=2e-5, rtol=1e-4)


def test_token_by_token_and_chunked_decoding_equal_the_full_pass(model):
    """Cache positions, rotary phases and the mask for a chunk after a filled cache all line up."""
    lean = lean_llama.LeanLlama(model, torch.float32)
    x = _ids(14, seed=3)
    ref = _hf_logits(model, x)[0]  # (T, V)
    out = lean(input_ids=x[:, :5])  # exact prefill
    steps = [out.logits[0]]
    cache = out.past_key_values
    for t in range(5, 9):  # one token at a time through the fast weights
        out = lean(input_ids=x[:, t:t + 1], past_key_values=cache, cache_position=torch.tensor([t]))
        steps.append(out.logits[0])
    out = lean(input_ids=x[:, 9:], past_key_values=cache, cache_position=torch.arange(9, 14))  # a chunk
    steps.append(out.logits[0])
    assert cache.get_seq_length() == 14
    torch.testing.assert_close(torch.cat(steps), ref, atol=2e-5, rtol=1e-4)


def test_greedy_and_beam_search_equal_hf_in_float32(model):
    lean = lean_llama.LeanLlama(model, torch.float32)
    ids = _ids(6, seed=5)[0].tolist()
    hf_ids, _, _ = generate.greedy_fast_path(model, ids, 20, stop_at_eos=False)
    lean_ids, _, _ = generate.greedy_fast_path(lean, ids, 20, stop_at_eos=False)
    assert lean_ids == hf_ids

    class Tok:  # beam_search only decodes; a stand-in keeps this test free of tokenizer files
        eos_token_id = None

        @staticmethod
        def decode(ids, **_):
            return " ".join(map(str, ids))

    cfg = generate.GenConfig(mode="beam", num_beams=3, max_new_tokens=8, stop_at_eos=False)
    hf_beams = generate.beam_search(model, Tok, ids, cfg)
    lean_beams = generate.beam_search(lean, Tok, ids, cfg)  # batch_repeat_interleave + reorder_cache
    assert [b["ids"] for b in lean_beams] == [b["ids"] for b in hf_beams]
    for a, b in zip(lean_beams, hf_beams):
        assert a["logprob"] == pytest.approx(b["logprob"], abs=1e-3)


def test_bfloat16_weights_stay_close_and_leave_the_model_untouched(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lean = generate.quantize(model)  # the fast method: lean bf16 for Llama models
    assert isinstance(lean, lean_llama.LeanLlama)
    x = _ids(12, seed=7)
    ref = torch.log_softmax(_hf_logits(model, x), dim=-1)
    got = torch.log_softmax(lean.all_fast()(input_ids=x).logits, dim=-1)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert (got.exp() - ref.exp()).abs().max() < 0.02  # probabilities within 2 points
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32 and torch.equal(v, before[k])
    assert next(lean.parameters()).dtype == torch.float32  # callers read the device (and fp32 outputs)


def test_only_plain_llama_models_are_wrapped():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32)).eval()
    assert not lean_llama.supports(gpt2)
    with pytest.raises(ValueError, match="Llama"):
        lean_llama.LeanLlama(gpt2)
    fast = generate.quantize(gpt2)  # other models: a bfloat16 copy
    assert not isinstance(fast, lean_llama.LeanLlama) and next(fast.parameters()).dtype == torch.bfloat16
    assert generate.quality_model(fast) is fast
