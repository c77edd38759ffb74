"""Fixtures shared by the core unit tests."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny models: one thread avoids OpenMP sync costs on a busy shared CPU (restored after).
    Use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_llama():
    """A tiny random Llama (2 layers, width 32, eager attention) with SmolLM2's tokenizer, read-only:
    `(model, tokenizer)`. Skipped when the converted SmolLM2 tokenizer is not in the cache yet."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from core import loaders

    path = loaders.smollm_cache_path()
    if not (path / "tokenizer.json").exists():
        pytest.skip("needs the converted SmolLM2 tokenizer (run the app once)")
    tok = AutoTokenizer.from_pretrained(path)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True,
                      attn_implementation="eager")
    torch.manual_seed(0)  # test-only model init
    model = LlamaForCausalLM(cfg).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tok
