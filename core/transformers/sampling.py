"""Logit processors for next-token sampling, as pure functions on one logits vector.

Order (the same as Hugging Face ``generate``): repetition penalty -> temperature -> top-k ->
top-p. Each processor takes a 1-D float tensor of logits ``(V,)`` and returns a new one (never
modifies its input); removed candidates get ``-inf``.

- repetition penalty ``r`` (Keskar et al. 2019): for every token already in the text,
  ``z <- z / r`` if ``z > 0`` else ``z * r``.
- temperature ``T``: ``p_i = exp(z_i / T) / sum_j exp(z_j / T)``; ``T -> 0`` is greedy (argmax),
  ``T = 1`` is the model's own distribution, ``T > 1`` flattens it.
- top-k: keep the ``k`` largest logits.
- top-p (nucleus, Holtzman et al. 2020): keep the smallest set of most likely tokens whose
  probability mass is ``>= p``.

``process(...)`` runs them all and returns a ``Step`` with the distribution before and after,
how many candidates survived and the entropies; ``sample(step, generator)`` draws from it.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from core.i18n import N_, _

GREEDY_T = 1e-5  # temperatures at or below this are treated as greedy (argmax)


def check_params(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 repetition_penalty: float = 1.0) -> None:
    """ValueError with a fix for values that make no sense."""
    for name, v in ((N_("temperature"), temperature), (N_("top-p"), top_p),
                    (N_("repetition penalty"), repetition_penalty)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(_("The {name} must be a finite number, not {value}.").format(name=_(name), value=repr(v)))
    if temperature < 0:
        raise ValueError(_("Temperature must be >= 0 (0 means greedy), not {value}.").format(value=temperature))
    if temperature > 100:
        raise ValueError(_("Temperature {value} is too large; use a value between 0 and 100 (1 = unchanged).").format(
            value=temperature))
    if not isinstance(top_k, int) or top_k < 0:
        raise ValueError(_("top-k must be a whole number >= 0 (0 turns it off), not {value}.").format(
            value=repr(top_k)))
    if not 0 < top_p <= 1:
        raise ValueError(_("top-p must be in (0, 1] (1 turns it off), not {value}.").format(value=top_p))
    if not 0 < repetition_penalty <= 10:
        raise ValueError(_("The repetition penalty must be in (0, 10] (1 turns it off), not {value}.").format(
            value=repetition_penalty))


def repetition_penalty(logits: torch.Tensor, previous_ids: Iterable[int], penalty: float) -> torch.Tensor:
    """Make tokens that already occurred less (penalty > 1) or more (< 1) likely."""
    out = logits.clone()
    if penalty == 1.0:
        return out
    ids = torch.tensor(sorted(set(int(i) for i in previous_ids)), dtype=torch.long)
    if len(ids) == 0:
        return out
    z = out[ids]
    out[ids] = torch.where(z > 0, z / penalty, z * penalty)
    return out


def temperature(logits: torch.Tensor, t: float) -> torch.Tensor:
    """Divide by the temperature; t <= GREEDY_T keeps only the argmax (greedy)."""
    if t <= GREEDY_T:
        out = torch.full_like(logits, float("-inf"))
        i = int(torch.argmax(logits))
        out[i] = 0.0
        return out
    return logits / t


def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the k largest logits (k = 0 or k >= V: keep all)."""
    if k <= 0 or k >= logits.numel():
        return logits.clone()
    idx = torch.topk(logits, k).indices
    out = torch.full_like(logits, float("-inf"))
    out[idx] = logits[idx]
    return out


def top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose total probability is >= p."""
    if p >= 1.0:
        return logits.clone()
    probs = torch.softmax(logits.double(), dim=-1)
    sorted_p, order = torch.sort(probs, descending=True)
    cum = torch.cumsum(sorted_p, dim=0)
    n_keep = int((cum < p).sum()) + 1  # first position where the running mass reaches p
    n_keep = max(1, min(n_keep, int(torch.isfinite(logits).sum())))
    keep = order[:n_keep]
    out = torch.full_like(logits, float("-inf"))
    out[keep] = logits[keep]
    return out


def entropy(probs: torch.Tensor) -> float:
    """Shannon entropy in nats, H = -sum p log p (0 log 0 = 0)."""
    p = probs.double()  # xlogy(0, 0) = 0: 2x faster than masking out the zeros first
    return max(0.0, float(-torch.special.xlogy(p, p).sum()))  # no -0.0 for one-hot


@dataclass
class Step:
    """One step's distributions over the vocabulary."""

    probs_before: torch.Tensor  # (V,) softmax of the raw logits (the model's own distribution)
    probs: torch.Tensor  # (V,) the distribution actually sampled from (0 for removed tokens)
    kept: int  # how many candidates survived top-k / top-p
    entropy_before: float  # H(probs_before), nats
    entropy: float  # H(probs), nats
    greedy: bool  # temperature ~ 0: the argmax is chosen
    choice: int = -1  # the argmax when greedy (-1: not known yet)

    def top(self, n: int = 10) -> list[dict]:
        """The n most likely tokens *before* processing with both probabilities."""
        n = min(n, self.probs_before.numel())
        vals, idx = torch.topk(self.probs_before, n)
        return [{"id": i, "p_before": v, "p_after": a}  # one .tolist() each: no per-item tensor indexing
                for i, v, a in zip(idx.tolist(), vals.tolist(), self.probs[idx].tolist())]


def process(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
            repetition_penalty: float = 1.0, previous_ids: Sequence[int] = ()) -> Step:
    """Run all processors on a (V,) logits vector and return the resulting `Step`."""
    check_params(temperature, top_k, top_p, repetition_penalty)
    raw = logits.detach().float().reshape(-1)  # (V,)
    before, h_before, top1 = softmax_entropy(raw)
    # the processors return new tensors, so a penalty of 1 may skip its copy
    z = raw if repetition_penalty == 1.0 else _repetition_penalty(raw, previous_ids, repetition_penalty)
    if temperature <= GREEDY_T:  # greedy: the argmax alone survives whatever top-k / top-p say; the same Step
        choice = top1 if z is raw else int(torch.argmax(z))  # as the general path gives, without its softmax
        probs = torch.zeros_like(before)  # of a one-hot and entropy of it (a fast engine's per-token overhead)
        probs[choice] = 1.0
        return Step(probs_before=before, probs=probs, kept=1, entropy_before=h_before, entropy=0.0, greedy=True,
                    choice=choice)
    z = _temperature(z, temperature)
    z = _top_k(z, top_k)
    z = _top_p(z, top_p)
    probs = torch.softmax(z, dim=-1)
    return Step(probs_before=before, probs=probs, kept=int(torch.isfinite(z).sum()),
                entropy_before=h_before, entropy=entropy(probs), greedy=False)


def softmax_entropy(z: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """softmax(z), its entropy in nats and argmax(z), for a (V,) float32 logits vector, in one pass.

    With m = max z, d = z - m and s = sum exp(d): p = exp(d) / s and H = -sum p log p = log s - sum p d.
    On a CPU this runs in NumPy (single-threaded: no thread wake-ups between a fast engine's tokens), about
    3x faster than softmax + entropy(), and closer to the float64 result; logits with -inf, NaN or off the CPU
    take the general path."""
    if z.device.type == "cpu" and z.dtype == torch.float32 and z.numel():
        a = z.numpy()
        i = int(a.argmax())
        d = a - a[i]  # (V,) <= 0
        e = np.exp(d)
        s = float(e.sum(dtype=np.float64))
        e /= s
        with np.errstate(invalid="ignore"):  # 0 * -inf: NaN, and the general path below
            h = math.log(s) - float(np.dot(e, d))
        if math.isfinite(h):
            return torch.from_numpy(e), max(0.0, h), i
    p = torch.softmax(z, dim=-1)
    return p, entropy(p), int(torch.argmax(z))


_repetition_penalty, _temperature, _top_k, _top_p = repetition_penalty, temperature, top_k, top_p


def sample(step: Step, generator: torch.Generator | None = None) -> int:
    """Draw one token id from `step.probs` (argmax when greedy)."""
    if step.greedy:
        return step.choice if step.choice >= 0 else int(torch.argmax(step.probs))
    return int(torch.multinomial(step.probs, 1, generator=generator))


def distinct_n(tokens: Sequence, n: int = 2) -> float:
    """Share of distinct n-grams among all n-grams (1.0 = no repetition; 0 for too-short input)."""
    if n < 1:
        raise ValueError(_("n must be >= 1."))
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return len(Counter(grams)) / len(grams)
