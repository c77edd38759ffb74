"""GPT reads left to right, BERT reads both ways: fill one blank with a causal LM, once with the left context only
and once with the whole sentence (issue 21, the notes' 'GPT和BERT').

For a sentence `left [MASK] right` and candidate words w (the masked LM's top fills plus the causal LM's own
next-word guesses after `left`):

    left only:        score(w) = log P(w | left)                       what GPT can know at the blank
    left + right:     score(w) = log P(w right | left)                 = log P(left w right) − log P(left)

The second is the probability of the whole filled-in sentence (log P(left) is the same for every w), so the
words after the blank count: 'The [MASK] barked at the mailman' needs 'barked' to pick 'dog'. Both rankings are
softmax-normalised over the candidates for display.
"""
from __future__ import annotations

import math

import torch

from core.i18n import _
from core.transformers import llamacpp

MAX_CANDIDATES = 24


def _common(a: list, b: list) -> int:
    """Length of the common prefix of two id lists."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _context(tok, left: str) -> str:
    """The text before the blank as the causal LM reads it. An instruct model whose texts start with ChatML's
    <|im_start|> (SmolLM2) reads the sentence as a user turn: right after <|im_start|> it expects a role name,
    which would make every first word look unlikely."""
    head = "user\n" if getattr(tok, "bos_token", None) == "<|im_start|>" else ""
    return head + left.rstrip()


def _split(text: str) -> tuple[str, str]:
    parts = text.split("[MASK]")
    if len(parts) != 2:
        raise ValueError(_("Comparing with a left-to-right model needs exactly one [MASK]; this sentence has "
                           "{n}.").format(n=len(parts) - 1))
    return parts[0], parts[1]


def _token_logprobs(model, rows: list[list[int]], pad: int | None, device) -> list[torch.Tensor]:
    """log p(x_t | x_<t) for t = 1 … len(row) − 1 of every row. A PyTorch model scores the rows as one padded
    batch; the llama.cpp engine row by row (its context keeps the prefix the rows share)."""
    if isinstance(model, llamacpp.LlamaCppLM):
        out = []
        for r in rows:
            logp = torch.log_softmax(model(input_ids=torch.tensor([r])).logits[0].float(), dim=-1)  # (t, V)
            out.append(logp[:-1].gather(1, torch.tensor(r[1:])[:, None])[:, 0])  # (t − 1,)
        return out
    T = max(len(r) for r in rows)
    x = torch.full((len(rows), T), pad if pad is not None else 0, dtype=torch.long)
    att = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, :len(r)] = torch.tensor(r)
        att[i, :len(r)] = 1
    logp = torch.log_softmax(model(input_ids=x.to(device), attention_mask=att.to(device)).logits.float(), dim=-1)
    return list(logp[:, :-1].gather(2, x[:, 1:, None].to(device))[..., 0].cpu())  # N x (T − 1,)


@torch.inference_mode()
def next_words(lm, left: str, k: int = 8) -> list[str]:
    """The causal LM's k most likely next tokens after `left`, as words (word-start pieces only)."""
    tok, model = lm.tokenizer, lm.model
    ids = torch.tensor([tok(_context(tok, left))["input_ids"]], device=next(model.parameters()).device)  # (1, t)
    extra = {"logits_to_keep": 1} if isinstance(model, llamacpp.LlamaCppLM) else {}  # the engine: the last only
    logits = model(input_ids=ids, **extra).logits[0, -1].float()  # (V,)
    out = []
    for i in logits.topk(8 * k).indices.tolist():
        piece = tok.decode([i])
        word = piece.strip()
        if piece.startswith(" ") and word.isalpha() and word.lower() not in out:
            out.append(word.lower())
        if len(out) == k:
            break
    return out


@torch.inference_mode()
def rescore(lm, text: str, candidates: list[str]) -> dict:
    """Score each candidate in the blank of `text` (one [MASK]) with the left context only and with the whole
    sentence. Returns {"candidates", "left", "both" (log-scores), "p_left", "p_both" (softmax over candidates)}."""
    left, right = _split(text)
    words = list(dict.fromkeys(w.strip() for w in candidates if w and w.strip()))[:MAX_CANDIDATES]
    if not words:
        raise ValueError(_("There are no candidate words to score."))
    tok, model = lm.tokenizer, lm.model
    device = next(model.parameters()).device
    prefix = _context(tok, left)
    space = " " if left[-1:].isspace() else ""
    start_ids = tok("")["input_ids"]  # what the tokenizer puts first by itself ([] or a begin-of-text token)
    lead = [] if start_ids else [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id]
    p_ids = lead + tok(prefix)["input_ids"]  # never empty: the first word is scored given a start token
    starts_sentence = not left.strip() or left.rstrip()[-1] in ".!?"
    rows, spans = [], []
    for w in words:
        w = w[:1].upper() + w[1:] if starts_sentence else w  # an uncased model's 'paris' -> 'Paris' at the start
        full = lead + tok(prefix + space + w + right)["input_ids"]
        with_w = lead + tok(prefix + space + w)["input_ids"]
        start = max(1, _common(full, p_ids))  # the word's first token (BPE may merge it into the left context)
        end_w = max(start, _common(full, with_w))  # where the right context starts
        rows.append(full)
        spans.append((start, end_w, len(full)))
    tok_lp = _token_logprobs(model, rows, getattr(tok, "pad_token_id", None), device)  # row i: log p(x_t | x_<t)
    left_s, both_s = [], []
    for i, (start, end_w, end) in enumerate(spans):
        left_s.append(float(tok_lp[i][start - 1:end_w - 1].sum()))
        both_s.append(float(tok_lp[i][start - 1:end - 1].sum()))

    def norm(scores):
        m = max(scores)
        z = sum(math.exp(s - m) for s in scores)
        return [math.exp(s - m) / z for s in scores]

    return {"candidates": words, "left": left_s, "both": both_s, "p_left": norm(left_s), "p_both": norm(both_s)}
