"""Our own autoregressive generator over a transformers causal LM, with a key/value cache.

Why our own loop instead of ``model.generate``: every step is visible. ``stream(...)`` yields one
``TokenStep`` per new token, carrying the top candidates before and after the logit processors
(``core.transformers.sampling``), the entropy, and the chosen token, so a page can draw tokens as they come.

Decoding modes
--------------
- ``greedy``: ``x_t = argmax_v p(v | x_<t)`` (repetition penalty still applies);
- ``sample``: draw from the processed distribution with a per-call seeded ``torch.Generator``
  (same seed => same text);
- ``beam``: keep the ``width`` best partial sequences by total log-probability
  ``sum_t log p(x_t | x_<t)`` (optionally divided by ``length ** length_penalty``).

Speed
-----
The prompt is run once ("prefill", filling the cache); each later step feeds one token and
reuses the cached keys/values, so a step costs O(T) attention instead of O(T^2).
``exact`` precision runs the shared fp32 model (same ids as Hugging Face greedy ``generate``).
``fast`` runs a process-wide cached fast version: for Llama-architecture models (SmolLM2) the lean
decoder of ``core.transformers.lean_llama`` with bfloat16 weights (2.2x HF generate here), else a bfloat16 copy
(``quantize(model, "int8")`` makes dynamic int8 Linear layers instead, measured worse: see
FAST_METHOD); the shared model is never modified. ``fast_model(lm)`` builds it once and
``perplexity(quality_model(fast), ...)`` checks it.
"""
from __future__ import annotations

import copy
import math
import numbers
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from core.transformers import lean_llama, llamacpp, sampling
from core.device import builds_models, check_seed, make_generator
from core.i18n import N_, _

MODES = ("greedy", "sample", "beam")
PRECISIONS = ("fast", "exact")
MAX_NEW_TOKENS = 512  # per call
MAX_PROMPT_CHARS = 4000
# Per-run cap on prompt tokens (the start of a longer prompt is cut off, with a notice). 4000 characters of
# emoji or CJK are ~10k byte-level tokens: filling SmolLM2's 8k window took minutes and gigabytes on a CPU.
MAX_PROMPT_TOKENS = 1024
TOP_N = 10  # candidates recorded per step


@dataclass(frozen=True)
class GenConfig:
    mode: str = "greedy"  # "greedy", "sample" or "beam"
    max_new_tokens: int = 40  # tokens to generate (stops earlier at end-of-sequence if stop_at_eos)
    temperature: float = 1.0  # sampling only: logits / T (0 = greedy)
    top_k: int = 0  # sampling only: keep the k most likely tokens (0 = off)
    top_p: float = 1.0  # sampling only: keep the smallest set with mass >= p (1 = off)
    repetition_penalty: float = 1.0  # > 1 discourages tokens already in the text (1 = off)
    num_beams: int = 4  # beam only: beam width
    length_penalty: float = 1.0  # beam only: score = logprob / length**length_penalty
    seed: int = 0  # sampling only: seed of the per-call torch.Generator
    stop_at_eos: bool = True  # stop when the model emits its end-of-sequence token
    top_n: int = TOP_N  # candidates recorded per step for the step view

    def check(self) -> "GenConfig":
        if self.mode not in MODES:
            raise ValueError(_("Decoding mode must be one of {modes}, not {mode}.").format(
                modes=MODES, mode=repr(self.mode)))
        if not _whole(self.max_new_tokens) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(_("New tokens must be a whole number between 1 and {limit}, not {value}.").format(
                limit=MAX_NEW_TOKENS, value=repr(self.max_new_tokens)))
        if not _whole(self.top_n) or self.top_n < 0:
            raise ValueError(_("The candidates recorded per step must be a whole number >= 0, not {value}.").format(
                value=repr(self.top_n)))
        check_seed(self.seed)
        if self.mode == "sample":
            sampling.check_params(self.temperature, self.top_k, self.top_p, self.repetition_penalty)
        else:
            sampling.check_params(1.0, 0, 1.0, self.repetition_penalty)
        if self.mode == "beam" and (not _whole(self.num_beams) or not 1 <= self.num_beams <= 8):
            raise ValueError(_("Beam width must be a whole number between 1 and 8, not {value}.").format(
                value=repr(self.num_beams)))
        if not (isinstance(self.length_penalty, (int, float)) and 0 <= self.length_penalty <= 3):
            raise ValueError(_("The length penalty must be between 0 and 3, not {value}.").format(
                value=self.length_penalty))
        return self


def _whole(value) -> bool:
    """An int (numpy ints included), not a float such as 2.5 or NaN."""
    return isinstance(value, numbers.Integral)


@dataclass
class TokenStep:
    """One generated token with what the model thought at that step."""

    index: int  # 0 for the first new token
    id: int  # the chosen token id
    token: str  # its text (decoded on its own)
    logprob: float  # log p(token) under the model's own distribution (before processing)
    prob_after: float  # its probability in the distribution actually used
    entropy_before: float  # nats, model's distribution
    entropy_after: float  # nats, processed distribution
    kept: int  # candidates left after top-k / top-p
    candidates: list = field(default_factory=list)  # [{"token","id","p_before","p_after"}] top-n by p_before
    elapsed_s: float = 0.0  # seconds since the call started, when this token was ready


@dataclass
class GenResult:
    prompt_ids: list  # the (possibly truncated) prompt ids
    ids: list  # the new token ids
    text: str  # the new text (decoded together)
    steps: list  # TokenStep per new token ([] for beam)
    seconds: float  # wall time of the whole call
    ttft_s: float  # time to first token
    logprob: float  # total log-probability of the new tokens under the model
    notice: str = ""  # e.g. "prompt truncated to the last N tokens"

    @property
    def tok_s(self) -> float:
        return len(self.ids) / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# finished results of shared models, remembered per process
# ---------------------------------------------------------------------------------------------
# Generation is deterministic given (model, precision, prompt ids, config): greedy and beam by
# definition, sampling through the per-call seeded generator. On a hosted demo most visitors press
# Generate on the default prompt, so a finished result is kept and handed to the next identical
# request instead of being computed again (the page says so). Only for shared, read-only models.
MAX_RESULTS = 256
_results: "OrderedDict[tuple, GenResult]" = OrderedDict()
_results_lock = threading.Lock()


def result_key(model_name: str, precision: str, prompt_ids, cfg: GenConfig) -> tuple:
    return (model_name, precision, tuple(int(i) for i in prompt_ids), cfg)


def recall(key: tuple) -> GenResult | None:
    """The remembered result for `key`, or None. Treat it as read-only: other sessions share it."""
    with _results_lock:
        res = _results.get(key)
        if res is not None:
            _results.move_to_end(key)
        return res


def remember(key: tuple, res: GenResult) -> None:
    with _results_lock:
        _results[key] = res
        _results.move_to_end(key)
        while len(_results) > MAX_RESULTS:
            _results.popitem(last=False)


# ---------------------------------------------------------------------------------------------
# prompts
# ---------------------------------------------------------------------------------------------
def context_window(model) -> int:
    return int(min(getattr(model.config, "max_position_embeddings", 2048) or 2048, 8192))


def encode_prompt(tokenizer, prompt: str, model=None, max_new_tokens: int = 0, chat: bool = False,
                  max_prompt_tokens: int | None = None) -> tuple[list[int], str]:
    """Prompt text -> ids (truncated from the left to fit the context window), and a notice."""
    if prompt is None or not str(prompt).strip():
        raise ValueError(_("The prompt is empty. Type a few words for the model to continue."))
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(_("The prompt is {n} characters; the limit is {limit}. Shorten it.").format(
            n=len(prompt), limit=MAX_PROMPT_CHARS))
    if not _whole(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(_("New tokens must be a whole number >= 0, not {value}.").format(value=repr(max_new_tokens)))
    if max_prompt_tokens is not None and (not _whole(max_prompt_tokens) or max_prompt_tokens < 1):
        raise ValueError(_("The prompt token limit must be a whole number >= 1, not {value}.").format(
            value=repr(max_prompt_tokens)))
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(_("This model has no chat template; untick 'use chat template'."))
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    else:
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        bos = getattr(tokenizer, "bos_token_id", None)
        if getattr(tokenizer, "add_bos_token", False) and bos is not None:
            ids = [bos] + ids
    # the notice when the prompt is cut (one whole sentence per reason, translated when it is made)
    limit, why = max_prompt_tokens, N_("The prompt has {n} tokens; only the last {limit} are used, so the start was "
                                       "cut off.")
    if limit is None and model is not None:
        window = context_window(model)
        limit, why = window - max_new_tokens, N_("The prompt has {n} tokens; only the last {limit} fit in the context "
                                                 "window together with {new} new tokens, so the start was cut off.")
        if limit < 1:
            raise ValueError(_("{new} new tokens leave no room for the prompt in this model's context window "
                               "({window} tokens). Ask for fewer new tokens.").format(new=max_new_tokens, window=window))
        if limit > MAX_PROMPT_TOKENS:
            limit, why = MAX_PROMPT_TOKENS, N_("The prompt has {n} tokens; only the last {limit} are used (the limit "
                                               "per run here), so the start was cut off.")
    notice = ""
    if limit is not None and len(ids) > limit:
        notice = _(why).format(n=len(ids), limit=limit, new=max_new_tokens)
        ids = ids[-limit:]
    if not ids:
        raise ValueError(_("The prompt has no tokens. Type a few words."))
    return list(ids), notice


# ---------------------------------------------------------------------------------------------
# the fast model: a bfloat16 copy, built once per process
# ---------------------------------------------------------------------------------------------
_fast_models: dict = {}
_fast_lock = threading.Lock()


# How the fast copy is made. Measured by benchmarks/generation.py on this repo's AVX2-only 2-core
# CPU (no native bf16), 128 greedy tokens of SmolLM2-135M against HF generate:
# - "bf16" (default): for Llama-architecture models (SmolLM2) the lean decoder `core.transformers.lean_llama`
#   (fused q/k/v and gate/up products, RMSNorm weights folded in, bfloat16 weights, float32
#   attention and cache, float32 prompt prefill): 2.2x HF, perplexity -0.12%. Other models: a
#   plain bfloat16 copy of the HF model (1.15x HF: the Python overhead of HF's modules remains).
# - "int8": dynamic int8 Linear layers (down_proj and lm_head kept fp32 because SmolLM2's MLP
#   outputs have outliers int8 activations can't hold): 1.03x with perplexity +14.9%.
FAST_METHOD = "bf16"
# The page opens in fast mode when it meets the bar (>= 2x HF generate, perplexity within 3%); the
# lean bf16 decoder does for SmolLM2 (see benchmarks/generation.py). Exact stays one switch away.
FAST_DEFAULT = True


@builds_models
def quantize(model, method: str | None = None):
    """A fast version of `model` ("bf16" weights, or dynamic "int8" Linear layers). The input is untouched:
    the lean decoder shares its float32 weights read-only, the other methods work on a deep copy."""
    method = method or FAST_METHOD
    if method not in ("bf16", "int8"):
        raise ValueError(_("Unknown fast method {method}; use 'bf16' or 'int8'.").format(method=repr(method)))
    if method == "bf16" and lean_llama.supports(model):
        return lean_llama.LeanLlama(model, torch.bfloat16)
    clone = copy.deepcopy(model)
    clone.eval()
    if method == "bf16":
        return clone.to(torch.bfloat16)
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = {n for n, m in clone.named_modules() if isinstance(m, torch.nn.Linear)
             and not (n.endswith("down_proj") or n == "lm_head")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(clone, {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8,
                                inplace=True)


def quality_model(fast):
    """What to measure a fast model's perplexity on: the lean decoder runs prompts in float32, so its
    token-by-token (fast-weight) path is the one to check; other fast copies as they are."""
    return fast.all_fast() if hasattr(fast, "all_fast") else fast


def _fast_key(lm) -> tuple:
    return (lm.name, id(lm.model))


def fast_model_ready(lm) -> bool:
    """Whether the fast copy of `lm`'s model is built already (False: `fast_model(lm)` will take a while)."""
    with _fast_lock:
        return _fast_key(lm) in _fast_models


def fast_model(lm):
    """The fast copy of a LoadedModel's model, cached per process (keyed by its name)."""
    key = _fast_key(lm)
    with _fast_lock:
        if key not in _fast_models:
            if len(_fast_models) >= 2:
                _fast_models.pop(next(iter(_fast_models)))
            _fast_models[key] = quantize(lm.model)
        return _fast_models[key]


def model_for(lm, precision: str):
    if precision not in PRECISIONS:
        raise ValueError(_("Precision must be one of {precisions}, not {precision}.").format(
            precisions=PRECISIONS, precision=repr(precision)))
    from core.settings import LOW_MEMORY

    if precision == "fast" and str(next(lm.model.parameters()).device) == "cpu" and not LOW_MEMORY:
        return fast_model(lm)  # (low-memory hosts keep no second copy of the model)
    return lm.model  # exact, or on a GPU (the fast copy is a CPU feature)


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------
_pieces: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # tokenizer -> {token id: its text}


def _piece(tokenizer, token_id: int) -> str:
    """The text of one token, as the step view shows it (remembered per tokenizer: a step asks for 11)."""
    try:
        known = _pieces.setdefault(tokenizer, {})
    except TypeError:  # a tokenizer that can't be weakly referenced or hashed: decode every time
        known = {}
    piece = known.get(token_id)
    if piece is None:
        piece = known[token_id] = tokenizer.decode([token_id], skip_special_tokens=False,
                                                   clean_up_tokenization_spaces=False)
    return piece


def _new_cache(model):
    if isinstance(model, llamacpp.LlamaCppLM):
        return llamacpp.EngineCache()  # the token blocks; the keys and values stay in llama.cpp's context
    from transformers import DynamicCache

    return DynamicCache()


@torch.inference_mode()
def stream(model, tokenizer, prompt_ids: list[int], cfg: GenConfig,
           on_token: Callable[[TokenStep], None] | None = None) -> Iterator[TokenStep]:
    """Greedy or sampled generation, one `TokenStep` at a time (a Python generator).

    `on_token(step)` is also called for each step when given. Use `run()` for a `GenResult`.
    """
    cfg.check()
    if cfg.mode == "beam":
        raise ValueError(_("Beam search keeps several sequences at once and can't stream; use beam_search()."))
    device = next(model.parameters()).device
    gen = make_generator(cfg.seed)
    eos = getattr(tokenizer, "eos_token_id", None)
    cache = _new_cache(model)
    ids = list(prompt_ids)
    x = torch.tensor([ids], dtype=torch.long, device=device)  # (1, T) prompt, then (1, 1) per step
    pos = torch.arange(len(ids), device=device)  # cache positions of x
    temperature = cfg.temperature if cfg.mode == "sample" else 0.0
    top_k = cfg.top_k if cfg.mode == "sample" else 0
    top_p = cfg.top_p if cfg.mode == "sample" else 1.0
    start = time.perf_counter()
    try:
        yield from _stream_steps(model, tokenizer, cfg, on_token, gen, eos, cache, ids, x, pos, temperature, top_k,
                                 top_p, start)
    finally:
        llamacpp.release(model, cache)  # an engine's context is free for the next generation (a no-op otherwise)


def _stream_steps(model, tokenizer, cfg, on_token, gen, eos, cache, ids, x, pos, temperature, top_k, top_p, start):
    device = x.device
    for i in range(cfg.max_new_tokens):
        out = model(input_ids=x, past_key_values=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
        cache = out.past_key_values
        logits = out.logits[0, -1].float()  # (V,)
        step = sampling.process(logits, temperature, top_k, top_p, cfg.repetition_penalty, ids)
        nxt = sampling.sample(step, gen)
        p_nxt = float(step.probs_before[nxt])
        logp = math.log(p_nxt) if p_nxt > 0 else -math.inf
        cands = step.top(cfg.top_n) if cfg.top_n else []
        for c in cands:
            c["token"] = _piece(tokenizer, c["id"])
        ts = TokenStep(index=i, id=nxt, token=_piece(tokenizer, nxt), logprob=logp,
                       prob_after=float(step.probs[nxt]), entropy_before=step.entropy_before,
                       entropy_after=step.entropy, kept=step.kept, candidates=cands,
                       elapsed_s=time.perf_counter() - start)
        ids.append(nxt)
        if on_token is not None:
            on_token(ts)
        yield ts
        if cfg.stop_at_eos and eos is not None and nxt == eos:
            break
        x = torch.tensor([[nxt]], dtype=torch.long, device=device)  # (1, 1)
        pos = pos[-1:] + 1


@torch.inference_mode()
def greedy_fast_path(model, prompt_ids: list[int], max_new_tokens: int, eos: int | None = None,
                     stop_at_eos: bool = True) -> tuple[list[int], float, float]:
    """Plain greedy ids with no per-step details (what the benchmark times against HF).

    Returns (new ids, seconds, time to first token in seconds).
    """
    device = next(model.parameters()).device
    cache = _new_cache(model)
    x = torch.tensor([prompt_ids], dtype=torch.long, device=device)  # (1, T)
    pos = torch.arange(len(prompt_ids), device=device)
    new: list[int] = []
    start = time.perf_counter()
    ttft = 0.0
    try:
        for i in range(max_new_tokens):
            out = model(input_ids=x, past_key_values=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
            cache = out.past_key_values
            nxt_t = out.logits[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
            nxt = int(nxt_t)
            if i == 0:
                ttft = time.perf_counter() - start
            new.append(nxt)
            if stop_at_eos and eos is not None and nxt == eos:
                break
            x = nxt_t
            pos = pos[-1:] + 1
    finally:
        llamacpp.release(model, cache)
    return new, time.perf_counter() - start, ttft


def run(model, tokenizer, prompt_ids: list[int], cfg: GenConfig,
        on_token: Callable[[TokenStep], None] | None = None, notice: str = "") -> GenResult:
    """Generate to the end and return a `GenResult` (beam search included)."""
    cfg.check()
    start = time.perf_counter()
    if cfg.mode == "beam":
        beams = beam_search(model, tokenizer, prompt_ids, cfg)
        best = beams[0]
        secs = time.perf_counter() - start
        return GenResult(list(prompt_ids), best["ids"], best["text"], [], secs, secs, best["logprob"], notice)
    steps = []
    for s in stream(model, tokenizer, prompt_ids, cfg, on_token):
        steps.append(s)
    secs = time.perf_counter() - start
    ids = [s.id for s in steps]
    return GenResult(list(prompt_ids), ids, tokenizer.decode(ids, skip_special_tokens=True), steps, secs,
                     steps[0].elapsed_s if steps else secs, float(sum(s.logprob for s in steps)), notice)


@torch.inference_mode()
def beam_search(model, tokenizer, prompt_ids: list[int], cfg: GenConfig) -> list[dict]:
    """Beam search with a shared KV cache (reordered each step). Best first.

    Each result: {"ids", "text", "logprob" (sum of log p), "score" (logprob / len**length_penalty)}.
    The repetition penalty, if any, is applied to the scores used for choosing, not to `logprob`.
    """
    cfg.check()
    cache = _new_cache(model)
    try:
        return _beam_search(model, tokenizer, prompt_ids, cfg, cache)
    finally:
        llamacpp.release(model, cache)


def _beam_search(model, tokenizer, prompt_ids: list[int], cfg: GenConfig, cache) -> list[dict]:
    device = next(model.parameters()).device
    width = cfg.num_beams
    eos = getattr(tokenizer, "eos_token_id", None) if cfg.stop_at_eos else None
    x = torch.tensor([prompt_ids], dtype=torch.long, device=device)  # (1, T)
    pos = torch.arange(len(prompt_ids), device=device)
    out = model(input_ids=x, past_key_values=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
    cache = out.past_key_values
    cache.batch_repeat_interleave(width)  # (width, ...) copies of the prompt's keys/values
    logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1).expand(width, -1)  # (W, V)
    seqs: list[list[int]] = [[] for _ in range(width)]
    scores = torch.zeros(width, device=device)  # (W,) selection scores (log-probs, penalized if asked)
    scores[1:] = -math.inf  # at the start all beams are the same: expand only the first
    true = [0.0] * width  # model log-probability of each beam (no penalty)
    finished: list[dict] = []

    def _norm(lp: float, n: int) -> float:
        return lp / max(1, n) ** cfg.length_penalty

    V = logp.shape[-1]
    for t in range(cfg.max_new_tokens):
        pen = logp
        if cfg.repetition_penalty != 1.0:
            pen = torch.stack([torch.log_softmax(sampling.repetition_penalty(
                logp[b], list(prompt_ids) + seqs[b], cfg.repetition_penalty), -1) for b in range(width)])
        cand = scores[:, None] + pen  # (W, V)
        top_scores, flat = torch.topk(cand.reshape(-1), 2 * width)  # (2W,)
        new_seqs, new_scores, new_true, src = [], [], [], []
        for sc, f in zip(top_scores.tolist(), flat.tolist()):
            if sc == -math.inf:
                continue
            b, tok = divmod(f, V)
            seq = seqs[b] + [tok]
            lp = true[b] + float(logp[b, tok])
            if eos is not None and tok == eos:
                finished.append({"ids": seq, "logprob": lp, "score": _norm(lp, len(seq))})
                continue
            new_seqs.append(seq); new_scores.append(sc); new_true.append(lp); src.append(b)
            if len(new_seqs) == width:
                break
        if not new_seqs:
            seqs, true = [], []
            break
        while len(new_seqs) < width:  # keep the batch shape fixed with dead copies
            new_seqs.append(new_seqs[-1]); new_scores.append(-math.inf); new_true.append(-math.inf)
            src.append(src[-1])
        seqs, true = new_seqs, new_true
        scores = torch.tensor(new_scores, device=device)
        best_alive = max(_norm(lp, t + 1) for lp in true)
        if t == cfg.max_new_tokens - 1 or (len(finished) >= width and
                                           best_alive < min(f["score"] for f in finished)):
            break
        cache.reorder_cache(torch.tensor(src, device=device))
        x = torch.tensor([[s[-1]] for s in seqs], dtype=torch.long, device=device)  # (W, 1)
        pos = pos[-1:] + 1
        out = model(input_ids=x, past_key_values=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
        cache = out.past_key_values
        logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # (W, V)
    for seq, lp in zip(seqs, true):
        if lp != -math.inf:
            finished.append({"ids": seq, "logprob": lp, "score": _norm(lp, len(seq))})
    seen, results = set(), []
    for f in sorted(finished, key=lambda d: -d["score"]):
        key = tuple(f["ids"])
        if key in seen:
            continue
        seen.add(key)
        f["text"] = tokenizer.decode(f["ids"], skip_special_tokens=True)
        results.append(f)
    return results[:width]


# ---------------------------------------------------------------------------------------------
# quality
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def sequence_logprob(model, prompt_ids: list[int], new_ids: list[int]) -> float:
    """Total log p(new_ids | prompt_ids) under `model` in one forward pass."""
    if not new_ids:
        return 0.0
    device = next(model.parameters()).device
    x = torch.tensor([list(prompt_ids) + list(new_ids)], dtype=torch.long, device=device)  # (1, T)
    logits = model(input_ids=x).logits[0].float()  # (T, V)
    logp = torch.log_softmax(logits[len(prompt_ids) - 1:-1], dim=-1)  # (N, V)
    return float(logp.gather(1, torch.tensor(new_ids, device=device)[:, None]).sum())


@torch.inference_mode()
def perplexity(model, tokenizer, text: str, window: int = 256, max_tokens: int = 2048) -> float:
    """exp(mean negative log-likelihood per token) over `text`, in non-overlapping windows."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
    if len(ids) < 2:
        raise ValueError(_("The text is too short to measure perplexity."))
    device = next(model.parameters()).device
    nll, count = 0.0, 0
    for s in range(0, len(ids) - 1, window):
        chunk = ids[s:s + window + 1]
        if len(chunk) < 2:
            break
        x = torch.tensor([chunk], dtype=torch.long, device=device)  # (1, T)
        logits = model(input_ids=x[:, :-1]).logits[0].float()  # (T-1, V)
        nll += float(torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum"))
        count += len(chunk) - 1
    return math.exp(nll / count)


# ---------------------------------------------------------------------------------------------
# comparing decoders
# ---------------------------------------------------------------------------------------------
def decoder_row(name: str, tokenizer, result) -> dict:
    """One row of the decoder comparison: text, length, log-probability and distinct-1/2 of a run."""
    toks = [tokenizer.decode([t]) for t in result.ids]
    return {"decoder": name, "text": result.text, "tokens": len(result.ids),
            "log-prob": round(result.logprob, 2),
            "log-prob / token": round(result.logprob / max(1, len(result.ids)), 3),
            "distinct-1": round(sampling.distinct_n(toks, 1), 3), "distinct-2": round(sampling.distinct_n(toks, 2), 3)}


def compare_summary(rows: list[dict]) -> str:
    """What the comparison rows show, in words that agree with these rows (searching = greedy and beam)."""
    search = [r for r in rows if not r["decoder"].startswith("sample")]
    samples = [r for r in rows if r["decoder"].startswith("sample")]
    if not search or not samples:
        return _("distinct-n = unique n-grams / all n-grams.")

    def mean(rs, key):
        return sum(r[key] for r in rs) / len(rs)

    lp_search, lp_sample = mean(search, "log-prob / token"), mean(samples, "log-prob / token")
    d_search, d_sample = mean(search, "distinct-2"), mean(samples, "distinct-2")
    if lp_search >= lp_sample:
        first = _("Here greedy and beam average {search:.2f} log-prob per token and the samples {sample:.2f}: "
                  "searching found the likelier text, as it is built to.")
    else:
        first = _("Here greedy and beam average {search:.2f} log-prob per token and the samples {sample:.2f}: "
                  "this time the samples happened to be likelier token by token (short outputs vary a lot).")
    parts = [first.format(search=lp_search, sample=lp_sample)]
    if d_search < d_sample - 0.02:
        parts.append(_("The searched texts repeat themselves more (distinct-2 {search:.2f} vs {sample:.2f}): "
                       "maximising likelihood tends to fall into loops, most visibly in long outputs.").format(
            search=d_search, sample=d_sample))
    elif d_search > d_sample + 0.02:
        parts.append(_("In this run the searched texts are *less* repetitive (distinct-2 {search:.2f} vs "
                       "{sample:.2f}); the loops that likelihood maximisation is known for show up mostly in "
                       "longer outputs: try more new tokens.").format(search=d_search, sample=d_sample))
    else:
        parts.append(_("Both are about as varied here (distinct-2 {search:.2f} vs {sample:.2f}); greedy and beam "
                       "tend to repeat themselves in longer outputs.").format(search=d_search, sample=d_sample))
    parts.append(_("distinct-n = unique n-grams / all n-grams."))
    return " ".join(parts)
