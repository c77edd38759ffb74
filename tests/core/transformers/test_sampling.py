"""Logit processors: properties of top-k, top-p, temperature, repetition penalty, entropy, distinct-n."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.transformers import sampling
from core.device import make_generator

logit_vectors = st.lists(st.floats(-20, 20, allow_nan=False, allow_infinity=False), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(logit_vectors, st.integers(1, 70))
def test_top_k_keeps_exactly_k(values, k):
    z = torch.tensor(values)
    out = sampling.top_k(z, k)
    kept = torch.isfinite(out)
    assert int(kept.sum()) == min(k, len(values))
    # every kept logit is >= every removed one
    if (~kept).any():
        assert z[kept].min() >= z[~kept].max()


@settings(max_examples=60, deadline=None)
@given(logit_vectors, st.floats(0.01, 0.99))
def test_top_p_keeps_smallest_set_with_mass_at_least_p(values, p):
    z = torch.tensor(values, dtype=torch.float64)
    probs = torch.softmax(z, 0)
    out = sampling.top_p(z, p)
    kept = torch.isfinite(out)
    n = int(kept.sum())
    mass = float(probs[kept].sum())
    assert mass >= p - 1e-9
    # smallest: dropping the least likely kept token falls below p
    if n > 1:
        assert mass - float(probs[kept].min()) < p + 1e-9
    # the kept ones are the most likely ones
    if n < len(values):
        assert probs[kept].min() >= probs[~kept].max() - 1e-12


def test_temperature_to_zero_equals_greedy():
    gen = make_generator(0)
    for trial in range(20):
        z = torch.randn(50, generator=gen) * 3
        for t in (0.0, 1e-6):
            step = sampling.process(z, temperature=t)
            assert sampling.sample(step, make_generator(trial)) == int(z.argmax())
        # a tiny but non-greedy temperature also collapses onto the argmax
        step = sampling.process(z, temperature=1e-3)
        assert sampling.sample(step, make_generator(trial)) == int(z.argmax())


def test_temperature_changes_entropy_monotonically():
    z = torch.tensor([3.0, 2.0, 1.0, 0.0, -1.0])
    ents = [sampling.process(z, temperature=t).entropy for t in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(ents, ents[1:]))
    assert ents[-1] < math.log(5)


def test_same_seed_same_samples_and_processed_probs_sum_to_one():
    z = torch.randn(100, generator=make_generator(1))
    step = sampling.process(z, temperature=1.3, top_k=20, top_p=0.9)
    assert abs(float(step.probs.sum()) - 1) < 1e-5
    assert step.kept <= 20
    a = [sampling.sample(step, g) for g in [make_generator(7)] for _ in range(10)]
    g = make_generator(7)
    b = [sampling.sample(step, g) for _ in range(10)]
    assert a == b
    assert all(step.probs[i] > 0 for i in a)


def test_repetition_penalty_lowers_seen_tokens_only():
    z = torch.tensor([2.0, -1.0, 0.5, 3.0])
    out = sampling.repetition_penalty(z, [0, 1], 2.0)
    assert out.tolist() == [1.0, -2.0, 0.5, 3.0]
    assert z.tolist() == [2.0, -1.0, 0.5, 3.0]  # pure: input untouched


def test_entropy_and_distinct_n():
    assert sampling.entropy(torch.tensor([1.0, 0.0])) == 0
    assert abs(sampling.entropy(torch.full((8,), 1 / 8)) - math.log(8)) < 1e-9
    assert sampling.distinct_n(list("abab"), 2) == pytest.approx(2 / 3)
    assert sampling.distinct_n(list("abcd"), 1) == 1.0
    assert sampling.distinct_n(["a"], 2) == 0.0


@pytest.mark.parametrize("kwargs", [dict(temperature=-1), dict(top_k=-2), dict(top_p=0), dict(top_p=1.5),
                                    dict(repetition_penalty=0), dict(temperature=float("nan"))])
def test_nonsense_parameters_raise_clear_errors(kwargs):
    with pytest.raises(ValueError):
        sampling.process(torch.zeros(5), **kwargs)


@settings(max_examples=80, deadline=None)
@given(logit_vectors)
def test_softmax_entropy_equals_the_float64_reference(values):
    z = torch.tensor(values, dtype=torch.float32)
    p, h, top1 = sampling.softmax_entropy(z)
    ref = torch.softmax(z.double(), -1)
    assert torch.allclose(p.double(), ref, atol=1e-6) and abs(float(p.sum()) - 1) < 1e-5
    assert abs(h - float(-(ref * ref.log()).sum())) < 1e-5 and h >= 0
    assert z[top1] == z.max() and top1 == int(torch.argmax(z))  # the first of tied maxima, as torch.argmax


def test_softmax_entropy_falls_back_for_masked_logits():
    z = torch.tensor([1.0, -math.inf, 2.0, -math.inf])  # a masked vocabulary: 0 log 0 = 0, not NaN
    p, h, top1 = sampling.softmax_entropy(z)
    q = torch.softmax(torch.tensor([1.0, 2.0], dtype=torch.float64), -1)
    assert top1 == 2 and p[1] == 0 and p[3] == 0
    assert abs(h - float(-(q * q.log()).sum())) < 1e-6


def test_greedy_step_remembers_the_argmax_after_the_penalty():
    z = torch.randn(500, generator=make_generator(3)) * 3
    seen = [int(torch.argmax(z))]
    step = sampling.process(z, temperature=0.0, repetition_penalty=1.3, previous_ids=seen)
    expected = int(torch.argmax(sampling.repetition_penalty(z, seen, 1.3)))
    assert step.choice == sampling.sample(step) == int(torch.argmax(step.probs)) == expected
    assert expected != seen[0]  # the penalty moved the argmax
    assert torch.allclose(step.probs_before, torch.softmax(z, -1), atol=1e-7)
