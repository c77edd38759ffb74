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
