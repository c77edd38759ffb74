"""core.transformers.both_sides: left-only vs whole-sentence scores of a blank equal brute-force sums of the causal
LM's token log-probabilities, and the whole sentence is what tells 'dog' from 'night' in 'The [MASK] barked'."""
import math

import pytest
import torch

from core import sources
from core.transformers import both_sides as BS

pytestmark = pytest.mark.skipif(not sources.get_source("causal_lm", "smollm2-135m").available(),
                                reason="SmolLM2 is not installed")


@pytest.fixture(scope="module")
def lm():
    return sources.get_source("causal_lm", "smollm2-135m").load()


def _logp(lm, context: str, continuation: str) -> float:
    """Brute force: log P(continuation | context), one token at a time."""
    tok, model = lm.tokenizer, lm.model
    ctx, full = tok(context)["input_ids"], tok(context + continuation)["input_ids"]
    assert full[:len(ctx)] == ctx
    total = 0.0
    with torch.no_grad():
        for t in range(len(ctx), len(full)):
            logits = model(input_ids=torch.tensor([full[:t]])).logits[0, -1].float()
            total += float(torch.log_softmax(logits, -1)[full[t]])
    return total


def test_scores_equal_brute_force(lm):
    res = BS.rescore(lm, "The [MASK] barked at the mailman.", ["dog", "night"])
    head = BS._context(lm.tokenizer, "The ")
    for i, w in enumerate(["dog", "night"]):
        assert res["left"][i] == pytest.approx(_logp(lm, head, " " + w), abs=2e-3)
        assert res["both"][i] == pytest.approx(_logp(lm, head, " " + w + " barked at the mailman."), abs=2e-3)
    assert math.isclose(sum(res["p_both"]), 1.0, rel_tol=1e-9)
    assert res["p_both"][0] > 0.9 > res["p_left"][0]  # the right context decides


def test_one_blank_only(lm):
    with pytest.raises(ValueError, match="exactly one"):
        BS.rescore(lm, "the [MASK] sat on the [MASK].", ["cat"])
    with pytest.raises(ValueError, match="no candidate"):
        BS.rescore(lm, "the [MASK] sat.", ["  "])


@pytest.mark.skipif(not __import__("core.transformers.llamacpp", fromlist=["x"]).available(),
                    reason="llama-cpp-python is not installed")
def test_the_llamacpp_engine_gives_the_same_scores(lm):
    """The BERT page compares with SmolLM2 through llama.cpp where it is installed (no 270-540 MB float copy):
    the same weights, so the same candidates, rankings and nearly the same scores as the PyTorch model."""
    from core import loaders

    engine = loaders.load_smollm_llamacpp()
    text, words = "The [MASK] barked at the mailman.", ["dog", "night", "cat", "police"]
    a, b = BS.rescore(lm, text, words), BS.rescore(engine, text, words)
    assert a["candidates"] == b["candidates"]
    for key in ("left", "both"):
        assert sorted(range(4), key=lambda i: -a[key][i]) == sorted(range(4), key=lambda i: -b[key][i])
        # log-scores summed over up to ~8 tokens (llama.cpp also rounds activations to 8 bits for its products)
        assert max(abs(x - y) for x, y in zip(a[key], b[key])) < 0.6
        assert max(abs(x - y) for x, y in zip(a["p_" + key], b["p_" + key])) < 0.03  # what the page plots
    mine, theirs = BS.next_words(lm, "The cat sat on the"), BS.next_words(engine, "The cat sat on the")
    assert mine[:3] == theirs[:3] and len(set(mine) & set(theirs)) >= 6  # near-ties further down may swap
