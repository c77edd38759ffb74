"""A small ELMo (Peters et al. 2018): a two-layer bidirectional LSTM language model whose layers become
contextual word features, a learned scalar mix, and a POS-tagging probe on People's Daily.

The notes (神经网络语言模型 NNLM, ELMo): a word embedding alone can't tell the senses of a polysemous
word apart; ELMo first pre-trains a language model, then feeds each word's vectors from every layer of
that network, mixed with learned weights, to the downstream task ("feature-based pre-training").

- Input: words (People's Daily gold segmentation); layer 0 is the context-free word embedding.
- A **forward LM** (two stacked LSTMs reading left to right) predicts w_{t+1} from w_1..w_t, and a
  separate **backward LM** (two more LSTMs reading right to left) predicts w_{t-1} from w_t..w_N.
- The input embedding and the softmax weights are **tied** and shared by both directions, as in the
  paper; when the LSTM is wider than the embedding, each LSTM projects its output back to the
  embedding size (an LSTM with a projection, "LSTMP", again as in the paper: 4096 cells, 512 outputs).
  A residual connection adds layer 1's output to layer 2's (as in the paper).
- `representations(model, tokens)` -> (L+1, T, 2E): layer 0 = [emb; emb], layer j = [forward h_j;
  backward h_j] (for a word, the forward state has read it and everything before it, the backward
  state it and everything after it).
- `ScalarMix`: ELMo_k = γ Σ_j s_j h_{k,j} with s = softmax(w) (the paper's eq. 1, without the
  optional layer normalisation).
- `evaluate_layers`: a linear POS tagger over frozen features (static / each layer / the mix).
- `contextual_neighbours`: a polysemous word's vectors in two sentences and its nearest tokens in
  held-out text (the ELMo paper's Table 4 idea).

Perplexities are over this model's vocabulary: the most frequent training words plus <UNK> (every
rarer word is one token), with </s> (forward) and <s> (backward) predicted at the sentence ends.

Nothing here touches the global RNG: weights, batches, dropout masks and the tagger's shuffling come
from per-call generators (`core.device.make_generator(seed)`).
"""
from __future__ import annotations

import json
import math
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.basics.cnn import Dropout
from core.device import (building, builds_models, count_params, get_device, make_generator, model_device,
                         on_device)
from core.i18n import N_, _
from core.sequence.charlm import torch_threads
from core.sources import MODELS_DIR

UNK, BOS, EOS = "<UNK>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)  # ids 0, 1, 2 of every vocabulary

MAX_VOCAB = 100_000  # words a vocabulary may hold
MAX_TOKENS = 500  # longest sentence `representations` takes (words)
MAX_TASK_SENTENCES = 10_000  # per split of the POS probe
MIN_TRAIN_SENTENCES = 2  # a corpus needs at least this many sentences to train on
SHIPPED = "elmo-zh-peoples-daily"  # the shipped checkpoint in assets/models/ (scripts/train_elmo.py)

# feature kinds of the POS probe (for a two-layer model); labels for pages
KIND_LABELS = {
    "static": N_("static vectors (the layer-0 word embedding, no context)"),
    "layer0": N_("ELMo layer 0 (word embedding, context-free)"),
    "layer1": N_("ELMo layer 1 (first biLSTM layer)"),
    "layer2": N_("ELMo layer 2 (second biLSTM layer)"),
    "mix": N_("ELMo scalar mix of all layers (learned s_j and γ)"),
}
TASK_KINDS = tuple(KIND_LABELS)

# torch warns once that its oneDNN kernel has no LSTM projections (it falls back to a slower one): expected here
warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")

# a polysemous People's Daily word in two sentences: 将 as "will" (d, 1,451 times in the train part) and as
# the object marker like 把 (p, 671 times); 上 (f "on" / v "get on") is another
EXAMPLE = (("他", "将", "参加", "会议", "。"), ("他", "将", "书", "放", "在", "桌子", "上", "。"), "将")


# ---------------------------------------------------------------------------------------------
# configs and vocabulary
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ELMoConfig:
    vocab_size: int = 10_003  # words incl. <UNK>, <s>, </s> (rows of the tied embedding / softmax)
    embed_dim: int = 128  # E: word embedding size = each LSTM's output size (2E per layer, both directions)
    hidden: int = 128  # LSTM cells per layer and direction; > E adds a projection back to E (LSTMP, as in the
    # paper; about 3x slower per layer on a CPU: PyTorch's oneDNN LSTM kernel has no projections)
    n_layers: int = 2  # stacked LSTM layers per direction (the paper: 2)
    dropout: float = 0.1  # dropout on each LSTM's input and before the softmax (training only)
    residual: bool = True  # add each layer's input to its output from layer 2 on (the paper's residual)

    def __post_init__(self):
        for name, lo, hi in (("vocab_size", len(SPECIALS) + 1, MAX_VOCAB + len(SPECIALS)), ("embed_dim", 2, 1024),
                             ("hidden", 2, 4096), ("n_layers", 1, 4)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        if self.hidden < self.embed_dim:
            raise ValueError(_("The LSTM size ({hidden}) must be at least the embedding size ({embed}): its output "
                               "is projected back to the embedding size for the tied softmax. Raise hidden or "
                               "lower embed_dim.").format(hidden=self.hidden, embed=self.embed_dim))
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(_("dropout must be in [0, 1); got {value!r}.").format(value=self.dropout))


@dataclass(frozen=True)
class WordVocab:
    words: tuple[str, ...]  # id -> word: <UNK>, <s>, </s>, then the training words by falling frequency

    def __post_init__(self):
        if tuple(self.words[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(_("A vocabulary starts with {specials}.").format(specials=", ".join(SPECIALS)))

    @property
    def stoi(self) -> dict[str, int]:
        cache = self.__dict__.get("_stoi")
        if cache is None:
            cache = {w: i for i, w in enumerate(self.words)}
            object.__setattr__(self, "_stoi", cache)
        return cache

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens) -> list[int]:
        """Words -> ids (unknown words -> <UNK>), without sentence markers."""
        stoi = self.stoi
        return [stoi.get(w, 0) for w in tokens]

    def frame(self, tokens) -> list[int]:
        """<s> w_1 .. w_N </s> as ids."""
        return [1] + self.encode(tokens) + [2]


def build_vocab(sentences, max_size: int = 10_000, min_count: int = 2) -> WordVocab:
    """The `max_size` most frequent words seen at least `min_count` times (ties: first seen), plus specials."""
    if not isinstance(max_size, int) or not 1 <= max_size <= MAX_VOCAB:
        raise ValueError(_("The vocabulary size must be between 1 and {limit}; got {value!r}.").format(
            limit=MAX_VOCAB, value=max_size))
    counts = Counter(w for s in sentences for w in s if w not in SPECIALS)
    kept = [w for w, c in counts.most_common() if c >= max(1, int(min_count))][:max_size]
    if not kept:
        raise ValueError(_("No word occurs {n} times in the training text; lower the minimum count or use a "
                           "longer text.").format(n=min_count))
    return WordVocab(SPECIALS + tuple(kept))


def lm_sentences() -> tuple[list[list[str]], list[list[str]]]:
    """People's Daily words: (train sentences, held-out sentences), the fixed split of the lineage page."""
    try:
        from core.corpora import lm_split
    except ImportError:  # before core.corpora had it: the same split straight from the corpus
        from core.classic.corpus import train_test

        train, test = train_test()
        return [list(s.words) for s in train], [list(s.words) for s in test]
    data = lm_split("words_zh")
    return [list(s) for s in data["train"]], [list(s) for s in data["held_out"]]


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
def _reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first lengths[b] steps along dim 1, leaving the padding where it is.

    x is (B, L) or (B, L, D); the operation is its own inverse."""
    B, L = x.shape[:2]
    t = torch.arange(L, device=x.device).expand(B, L)  # (B, L)
    n = lengths.to(x.device).view(B, 1)  # (B, 1)
    idx = torch.where(t < n, n - 1 - t, t)  # (B, L)
    if x.dim() == 3:
        idx = idx.unsqueeze(-1).expand_as(x)  # (B, L, D)
    return x.gather(1, idx)


class ELMo(nn.Module):
    """Tied word embedding -> forward LSTM stack and backward LSTM stack -> tied softmax."""

    def __init__(self, config: ELMoConfig, vocab: WordVocab | None = None):
        super().__init__()
        self.config = config
        self.vocab = vocab  # the words behind the ids (needed by `representations` and the task)
        self.info: dict = {}  # a loaded checkpoint's metadata (training facts, measured figures)
        E, H = config.embed_dim, config.hidden
        proj = E if H > E else 0  # LSTMP: project the H cells' output back to E for the tied softmax
        self.embed = nn.Embedding(config.vocab_size, E)  # layer 0, and the softmax weights (tied)
        self.forward_lstms = nn.ModuleList(nn.LSTM(E, H, batch_first=True, proj_size=proj)
                                           for _ in range(config.n_layers))
        self.backward_lstms = nn.ModuleList(nn.LSTM(E, H, batch_first=True, proj_size=proj)
                                            for _ in range(config.n_layers))
        self.out_bias = nn.Parameter(torch.zeros(config.vocab_size))  # softmax bias (shared by both directions)
        self.drop = Dropout(config.dropout)

    def _forget_bias(self) -> None:
        H = self.config.hidden
        with torch.no_grad():
            for lstm in [*self.forward_lstms, *self.backward_lstms]:
                lstm.bias_ih_l0[H:2 * H].fill_(1.0)  # gates i, f, g, o: forget gate bias 1
                lstm.bias_hh_l0[H:2 * H].fill_(0.0)

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "ELMo":
        """Embedding N(0, 1/E) (it is also the softmax: logits start small); LSTM weights and biases
        U(−1/√H, 1/√H) (PyTorch's default), forget-gate bias 1; softmax bias 0. All from `gen`."""
        c = self.config
        self.embed.weight.normal_(0.0, 1.0 / math.sqrt(c.embed_dim), generator=gen)
        bound = 1.0 / math.sqrt(c.hidden)
        for lstm in [*self.forward_lstms, *self.backward_lstms]:
            for p in lstm.parameters():
                p.uniform_(-bound, bound, generator=gen)
        self.out_bias.zero_()
        self._forget_bias()
        return self

    def _stack(self, lstms: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every layer of one direction, each (B, L, E)."""
        outs, h = [], x
        for j, lstm in enumerate(lstms):
            o, _state = lstm(self.drop(h))  # (B, L, E)
            if self.config.residual and j > 0:
                o = o + h
            outs.append(o)
            h = o
        return outs

    def directional_states(self, ids: torch.Tensor, lengths: torch.Tensor):
        """(embedding (B, L, E), forward outputs per layer, backward outputs per layer (each (B, L, E),
        in the original word order)). `ids` (B, L) are right-padded; row b has lengths[b] real tokens."""
        emb = self.embed(ids)  # (B, L, E)
        fwd = self._stack(self.forward_lstms, emb)
        rev = _reverse_padded(emb, lengths)  # (B, L, E): each row read right to left
        bwd = [_reverse_padded(o, lengths) for o in self._stack(self.backward_lstms, rev)]  # (B, L, E) each
        return emb, fwd, bwd

    def layers(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """All representations: (L+1, B, T, 2E); layer 0 = [emb; emb], layer j = [forward h_j; backward h_j]."""
        emb, fwd, bwd = self.directional_states(ids, lengths)
        reps = [torch.cat([emb, emb], dim=-1)] + [torch.cat([f, b], dim=-1) for f, b in zip(fwd, bwd)]
        return torch.stack(reps)  # (L+1, B, T, 2E)

    def lm_losses(self, ids: torch.Tensor, lengths: torch.Tensor, reduction: str = "mean",
                  candidates: torch.Tensor | None = None):
        """(forward loss, backward loss, predictions) in nats per predicted token.

        On each framed row x_0..x_{n-1} (padded to L): the forward LM's top state at t predicts x_{t+1},
        the backward LM's top state at t+1 predicts x_t, for t = 0..n-2 (both directions predict n-1 tokens).
        `candidates` (sorted word ids that include every target) restricts the softmax to those words
        (training with a sampled softmax, as the paper did); None = the full vocabulary.
        """
        _emb, fwd, bwd = self.directional_states(ids, lengths)
        L = ids.size(1)
        mask = torch.arange(L - 1, device=ids.device)[None, :] < (lengths.to(ids.device)[:, None] - 1)  # (B, L-1)
        hf = self.drop(fwd[-1][:, :-1][mask])  # (N, E): states that predict the next word
        hb = self.drop(bwd[-1][:, 1:][mask])  # (N, E): states that predict the previous word
        yf, yb = ids[:, 1:][mask], ids[:, :-1][mask]  # (N,), (N,)
        w, bias = self.embed.weight, self.out_bias  # (V, E), (V,): tied with the input embedding
        if candidates is not None:
            w, bias = w[candidates], bias[candidates]  # (C, E), (C,)
            yf, yb = torch.searchsorted(candidates, yf), torch.searchsorted(candidates, yb)  # ids -> rows of w
        loss_f = F.cross_entropy(F.linear(hf, w, bias), yf, reduction=reduction)  # logits (N, V or C)
        loss_b = F.cross_entropy(F.linear(hb, w, bias), yb, reduction=reduction)  # logits (N, V or C)
        return loss_f, loss_b, int(mask.sum())


@builds_models
def build_elmo(config: ELMoConfig, seed: int = 0, vocab: WordVocab | None = None) -> ELMo:
    """A freshly initialised model whose weights depend only on `seed` (built on the meta device, then
    every parameter drawn from the per-call generator: the global RNG is untouched)."""
    if vocab is not None and len(vocab) != config.vocab_size:
        raise ValueError(_("The vocabulary has {n} words but the config says vocab_size={size}; build the config "
                           "from the vocabulary.").format(n=len(vocab), size=config.vocab_size))
    with torch.device("meta"):
        model = ELMo(config, vocab)
    return model.to_empty(device="cpu").init_weights(make_generator(seed))


def _pad(seqs: list[list[int]], pad: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists: ids (B, L) and lengths (B,). Padding never reaches a kept state or a loss."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max())), pad, dtype=torch.long)  # (B, L)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths


def _need_vocab(model: ELMo) -> WordVocab:
    if model.vocab is None:
        raise ValueError(_("This model has no vocabulary attached; build it with build_elmo(config, seed, vocab)."))
    return model.vocab


def _check_tokens(tokens, what: str = N_("sentence")) -> list[str]:
    if isinstance(tokens, str):
        tokens = tokens.split()
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise ValueError(_("The {what} is empty. Type words separated by spaces.").format(what=_(what)))
    if len(tokens) > MAX_TOKENS:
        raise ValueError(_("The {what} has {n} words; the limit is {limit}.").format(
            what=_(what), n=len(tokens), limit=MAX_TOKENS))
    return tokens


# ---------------------------------------------------------------------------------------------
# representations and perplexity
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def batch_representations(model: ELMo, sentences, batch_size: int = 64) -> list[torch.Tensor]:
    """`representations` of many sentences (list of word lists), batched by length; float32 CPU tensors
    (L+1, T_i, 2E) in the input order."""
    vocab = _need_vocab(model)
    framed = [vocab.frame(s) for s in sentences]
    order = sorted(range(len(framed)), key=lambda i: len(framed[i]))
    out: list[torch.Tensor | None] = [None] * len(framed)
    was_training = model.training
    model.eval()
    dev = model_device(model)
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            ids, lengths = _pad([framed[i] for i in chunk])  # (B, L), (B,)
            reps = model.layers(ids.to(dev), lengths).float().cpu()  # (L+1, B, T, 2E)
            for row, i in enumerate(chunk):
                out[i] = reps[:, row, 1:int(lengths[row]) - 1]  # (L+1, n, 2E): drop <s> and </s>
    finally:
        model.train(was_training)
    return out


def representations(model: ELMo, tokens) -> np.ndarray:
    """The (n_layers+1, T, 2E) ELMo vectors of the words `tokens` (a list, or a string split on spaces):
    layer 0 = [emb; emb] (context-free), layer j = [forward h_j; backward h_j]. <s> and </s> are added
    around the sentence and dropped from the result."""
    tokens = _check_tokens(tokens)
    with torch_threads(1):
        return batch_representations(model, [tokens])[0].numpy()


@torch.inference_mode()
def perplexity(model: ELMo, sentences, batch_size: int = 64) -> dict:
    """Held-out perplexity of both LMs on word lists: {"forward", "backward", "ppl" (their average, as the
    paper reports), "tokens"} (forward predicts w_1..w_N, </s>; backward w_N..w_1, <s>)."""
    vocab = _need_vocab(model)
    framed = sorted((vocab.frame(s) for s in sentences if len(s) > 0), key=len)
    if not framed:
        raise ValueError(_("No held-out sentences to evaluate."))
    was_training = model.training
    model.eval()
    dev = model_device(model)
    total_f = total_b = 0.0
    count = 0
    try:
        for start in range(0, len(framed), batch_size):
            ids, lengths = _pad(framed[start:start + batch_size])  # (B, L), (B,)
            lf, lb, n = model.lm_losses(ids.to(dev), lengths, reduction="sum")
            total_f += float(lf)
            total_b += float(lb)
            count += n
    finally:
        model.train(was_training)
    pf, pb = math.exp(total_f / count), math.exp(total_b / count)
    return {"forward": pf, "backward": pb, "ppl": (pf + pb) / 2, "tokens": count}


# ---------------------------------------------------------------------------------------------
# training the language model
# ---------------------------------------------------------------------------------------------
def _chunks(framed: list[list[int]], max_len: int) -> list[list[int]]:
    """Cut framed sentences into pieces of at most `max_len` ids overlapping by one, so every forward
    target (and every backward target) is predicted exactly once."""
    out = []
    for s in framed:
        for i in range(0, len(s) - 1, max_len - 1):
            out.append(s[i:i + max_len])
    return out


def _lr_at(progress: float, lr: float, warmup: float = 0.05, floor: float = 0.1) -> float:
    """Linear warm-up over the first 5% of the run, then cosine decay to 10% of the peak."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup:
        return lr * (0.1 + 0.9 * progress / warmup)
    cos = 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))
    return lr * (floor + (1 - floor) * cos)


def train_lm(model: ELMo, sentences, held_out=None, *, steps: int = 3000, batch_size: int = 64,
             max_len: int = 40, lr: float = 3e-3, clip: float = 1.0, seed: int = 0, max_seconds: float = 60.0,
             softmax_sample: int = 0, eval_every: int = 0, eval_sentences: int = 300, on_step: Callable | None = None,
             history: list | None = None, device: str | None = None, threads: int | None = None) -> dict:
    """Train both LMs of `model` in place on `sentences` (word lists) with AdamW, warm-up + cosine decay
    (progress = the larger of the step and the time fraction, so a run stopped by the clock still decays).

    Each step: `batch_size` random pieces of at most `max_len` ids of the framed sentences; loss =
    (forward + backward cross-entropy) / 2. `softmax_sample` > 0 trains with a sampled softmax: only
    the batch's own words and `softmax_sample` uniformly drawn others compete (about 3x faster steps at
    10k words; the evaluation always uses the full softmax). `history` gets {"step", "loss", "loss_forward",
    "loss_backward", "lr", "time_s"} per step and {"step", "val_ppl", "val_forward", "val_backward",
    "time_s"} per evaluation (every `eval_every` steps, 0 = only at the end, on the first
    `eval_sentences` of `held_out`), appended in place. `on_step(done, total, info)` after every step.
    Returns {"steps", "seconds" (training only), "train_loss", "train_ppl", "val_ppl", "val_forward",
    "val_backward", "stopped_by" ("steps" or "time"), "params"}.
    """
    vocab = _need_vocab(model)
    for name, value, lo, hi in (("steps", steps, 1, 1_000_000), ("batch_size", batch_size, 1, 4096),
                                ("max_len", max_len, 3, 1000), ("softmax_sample", softmax_sample, 0, MAX_VOCAB)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                name=name, lo=lo, hi=hi, value=value))
    if not (isinstance(lr, (int, float)) and 0 < lr <= 1):
        raise ValueError(_("The learning rate must be in (0, 1]; got {value!r}.").format(value=lr))
    if not isinstance(max_seconds, (int, float)) or max_seconds < 0:
        raise ValueError(_("max_seconds must be zero (no limit) or positive; got {value!r}.").format(value=max_seconds))
    sentences = [list(s) for s in sentences if len(s) > 0]
    if len(sentences) < MIN_TRAIN_SENTENCES:
        raise ValueError(_("The training text has {n} non-empty sentences; at least {minimum} are needed.").format(
            n=len(sentences), minimum=MIN_TRAIN_SENTENCES))
    held = [list(s) for s in (held_out or []) if len(s) > 0][:max(0, int(eval_sentences))]
    device = device or get_device()
    with on_device(model, device) as dev, torch_threads(threads if dev.type == "cpu" else None):
        return _train_lm(model, vocab, sentences, held, steps, batch_size, max_len, float(lr), float(clip), seed,
                         float(max_seconds), softmax_sample, int(eval_every), on_step,
                         history if history is not None else [], dev)


def _train_lm(model, vocab, sentences, held, steps, batch_size, max_len, lr, clip, seed, max_seconds,
              softmax_sample, eval_every, on_step, history, dev) -> dict:
    vocab_size = model.config.vocab_size
    pieces = _chunks([vocab.frame(s) for s in sentences], max_len)
    gen = make_generator(seed)
    model.drop.generator = make_generator(seed + 1 if seed < 2**31 - 1 else 0, device=str(dev))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("embed")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.startswith("embed")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99))
    params = list(model.parameters())
    model.train()
    start = time.monotonic()
    eval_s = 0.0
    recent: list[float] = []
    val = None
    stopped_by = "steps"
    step = 0
    try:
        for step in range(1, steps + 1):
            elapsed = time.monotonic() - start - eval_s
            progress = (step - 1) / steps
            if max_seconds > 0:
                progress = max(progress, elapsed / max_seconds)
            rate = _lr_at(progress, lr)
            for group in opt.param_groups:
                group["lr"] = rate
            pick = torch.randint(0, len(pieces), (batch_size,), generator=gen).tolist()
            ids, lengths = _pad([pieces[i] for i in pick])  # (B, L), (B,)
            ids = ids.to(dev)
            cand = None
            if 0 < softmax_sample < vocab_size:  # this batch's words plus random others (uniform, no correction)
                noise = torch.randint(0, vocab_size, (softmax_sample,), generator=gen).to(dev)
                cand = torch.unique(torch.cat([ids.flatten(), noise]))  # sorted (C,)
            loss_f, loss_b, _n = model.lm_losses(ids, lengths, candidates=cand)
            loss = (loss_f + loss_b) / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            loss_v = float(loss.detach())
            if not math.isfinite(loss_v):
                raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate."))
            recent = (recent + [loss_v])[-50:]
            elapsed = time.monotonic() - start - eval_s
            history.append({"step": step, "loss": loss_v, "loss_forward": float(loss_f.detach()),
                            "loss_backward": float(loss_b.detach()),
                            "lr": rate, "time_s": elapsed})
            out_of_time = max_seconds > 0 and elapsed >= max_seconds
            last = step == steps or out_of_time
            info = {"loss": loss_v}
            if held and ((eval_every and step % eval_every == 0) or last):
                t0 = time.monotonic()
                val = perplexity(model, held)
                model.train()
                eval_s += time.monotonic() - t0
                history.append({"step": step, "val_ppl": val["ppl"], "val_forward": val["forward"],
                                "val_backward": val["backward"], "time_s": elapsed})
                info["val_ppl"] = val["ppl"]
            if on_step is not None:
                on_step(step, steps, info)
            if out_of_time:
                stopped_by = "time"
                break
    finally:
        model.drop.generator = None
        model.eval()
    train_loss = sum(recent) / max(1, len(recent))
    return {"steps": step, "seconds": time.monotonic() - start - eval_s, "train_loss": train_loss,
            "train_ppl": math.exp(train_loss), "val_ppl": val["ppl"] if val else None,
            "val_forward": val["forward"] if val else None, "val_backward": val["backward"] if val else None,
            "stopped_by": stopped_by, "params": count_params(model)}


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
CHECKPOINT_FILES = ("config.json", "vocab.json", "model.safetensors")


def save_checkpoint(model: ELMo, folder: str | Path, info: dict | None = None, card: str | None = None) -> Path:
    """Write model.safetensors (float16 weights; `info` as its metadata, each value JSON-encoded),
    config.json (`ELMoConfig`), vocab.json (the words, id order) and README.md (when `card` is given)."""
    from safetensors.torch import save_file

    vocab = _need_vocab(model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.detach().to("cpu", torch.float16) if v.is_floating_point() else v.detach().cpu()).contiguous()
               for k, v in model.state_dict().items()}
    meta = {str(k): json.dumps(v, ensure_ascii=False) for k, v in (info or {}).items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata=meta)
    (folder / "config.json").write_text(json.dumps(asdict(model.config), indent=2) + "\n", encoding="utf-8")
    (folder / "vocab.json").write_text(json.dumps({"words": list(vocab.words)}, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


def checkpoint_folder(ref: str | Path) -> Path:
    """A folder path as given, or a bare name ("elmo-zh-peoples-daily") = assets/models/<name>."""
    text = str(ref)
    if isinstance(ref, str) and text and "/" not in text and "\\" not in text and not text.startswith("."):
        return MODELS_DIR / text
    return Path(ref)


@builds_models
def load_checkpoint(ref: str | Path) -> ELMo:
    """Load a folder written by `save_checkpoint` (`ref`: a folder, or a name in assets/models/): a model
    with its vocabulary attached, float32 weights on the CPU, in eval mode. `model.info` holds the
    checkpoint's metadata (training facts and measured figures). Missing or garbled files: ValueError."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = checkpoint_folder(ref)
    missing = [name for name in CHECKPOINT_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(_("No ELMo checkpoint in {folder}: {missing} missing. Train one with "
                           "`python scripts/train_elmo.py --out FOLDER`.").format(folder=folder,
                                                                                 missing=", ".join(missing)))
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        known = {f.name for f in fields(ELMoConfig)}
        config = ELMoConfig(**{k: v for k, v in data.items() if k in known})
        words = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["words"]
        vocab = WordVocab(tuple(str(w) for w in words))
        model = build_elmo(config, 0, vocab)
        weights = str(folder / "model.safetensors")
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(weights).items()}
        model.load_state_dict(state)
        with safe_open(weights, "pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001 - any broken file is the same problem for the user
        raise ValueError(_("The ELMo checkpoint in {folder} is damaged or from another version ({error}). "
                           "Train it again with `python scripts/train_elmo.py --out FOLDER`.").format(
            folder=folder, error=f"{type(exc).__name__}: {exc}"[:300])) from exc
    info = {}
    for k, v in meta.items():
        try:
            info[k] = json.loads(v)
        except ValueError:
            info[k] = v
    model.info = info
    model.eval()
    return model


def load_shipped() -> ELMo:
    """The shipped ELMo (assets/models/elmo-zh-peoples-daily: trained on People's Daily by
    scripts/train_elmo.py); loads in well under a second."""
    folder = MODELS_DIR / SHIPPED
    if not folder.is_dir():
        raise ValueError(_("The shipped ELMo model is missing: {folder} does not exist. Restore it from git "
                           "(`git checkout -- assets/models/{name}`) or train it with "
                           "`python scripts/train_elmo.py`.").format(folder=folder, name=SHIPPED))
    return load_checkpoint(folder)


# ---------------------------------------------------------------------------------------------
# the scalar mix
# ---------------------------------------------------------------------------------------------
class ScalarMix(nn.Module):
    """ELMo_k = γ Σ_j s_j h_{k,j}, s = softmax(w): one learned weight per layer and one scale γ.

    `forward(layers)` takes a tensor (L+1, ..., D) (layers first) or a list of equally shaped tensors."""

    def __init__(self, n_layers: int = 3):
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(_("A scalar mix needs at least one layer; got {value!r}.").format(value=n_layers))
        self.scalars = nn.Parameter(torch.zeros(n_layers))  # w_j (s = softmax(w): equal weights to start)
        self.gamma = nn.Parameter(torch.ones(()))  # γ: scales the whole mixed vector

    def weights(self) -> torch.Tensor:
        """s_j = softmax(w)_j: non-negative, summing to 1."""
        return torch.softmax(self.scalars, dim=0)

    def forward(self, layers) -> torch.Tensor:
        if isinstance(layers, (list, tuple)):
            layers = torch.stack(list(layers))  # (L+1, ..., D)
        if layers.size(0) != self.scalars.numel():
            raise ValueError(_("The mix has {n} weights but got {m} layers.").format(
                n=self.scalars.numel(), m=layers.size(0)))
        s = self.weights().view(-1, *([1] * (layers.dim() - 1)))  # (L+1, 1, ..., 1)
        return self.gamma * (s * layers).sum(dim=0)  # (..., D)


# ---------------------------------------------------------------------------------------------
# the downstream task: POS tagging over frozen features
# ---------------------------------------------------------------------------------------------
@dataclass
class TaskData:
    tags: tuple[str, ...]  # id -> PKU tag (the train part's tags; unseen test tags count as errors)
    train_layers: torch.Tensor  # (L+1, N_train, 2E) float16: frozen ELMo vectors of every train word
    train_static: torch.Tensor  # (N_train, D_s) float16: the static vectors of the same words
    train_tags: torch.Tensor  # (N_train,) long
    test_layers: torch.Tensor  # (L+1, N_test, 2E) float16
    test_static: torch.Tensor  # (N_test, D_s) float16
    test_tags: torch.Tensor  # (N_test,) long; -1 = a tag the train part never had
    static_source: str  # "layer0 embedding" or "given vectors"


def pos_task_sentences(n_train: int = 2000, n_test: int = 500):
    """The probe's fixed split: the first `n_train` People's Daily training sentences and the first
    `n_test` test sentences (`core.classic.corpus.train_test()`: the test part is held out of the LM)."""
    from core.classic.corpus import train_test

    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TASK_SENTENCES:
            raise ValueError(_("{name} must be a whole number between 1 and {limit}; got {value!r}.").format(
                name=name, limit=MAX_TASK_SENTENCES, value=value))
    train, test = train_test()
    return list(train[:n_train]), list(test[:n_test])


def _static_matrix(model: ELMo, sentences, static_vectors) -> tuple[torch.Tensor, str]:
    words = [w for s in sentences for w in s.words]
    if static_vectors is None:
        ids = torch.tensor(model.vocab.encode(words), dtype=torch.long)
        with torch.no_grad():
            return model.embed.weight.detach().float().cpu()[ids].half(), "layer0 embedding"  # (N, E)
    dim = getattr(static_vectors, "vector_size", None)  # gensim KeyedVectors
    if dim is None:  # a dict word -> vector
        dim = len(next(iter(static_vectors.values())))
    rows = np.zeros((len(words), dim), dtype=np.float32)
    for i, w in enumerate(words):
        if w in static_vectors:
            rows[i] = np.asarray(static_vectors[w], dtype=np.float32)
    return torch.from_numpy(rows).half(), "given vectors"  # (N, D_s); unknown words stay zero


def pos_task(model: ELMo, n_train: int = 2000, n_test: int = 500, static_vectors=None,
             batch_size: int = 64) -> TaskData:
    """Frozen features of the probe's words. `static_vectors` (word -> vector, e.g. gensim KeyedVectors
    from word2vec) are the "static" baseline when given; otherwise it is the LM's own layer-0 embedding
    (one copy: the same information as layer 0, so their accuracies differ only by the tagger's fit)."""
    _need_vocab(model)
    train, test = pos_task_sentences(n_train, n_test)
    tags = tuple(sorted({t for s in train for t in s.tags}))
    tag_id = {t: i for i, t in enumerate(tags)}

    def feats(sents):
        reps = batch_representations(model, [list(s.words) for s in sents], batch_size)
        layers = torch.cat([r.half() for r in reps], dim=1)  # (L+1, N, 2E)
        ys = torch.tensor([tag_id.get(t, -1) for s in sents for t in s.tags], dtype=torch.long)  # (N,)
        return layers, ys

    tr_layers, tr_tags = feats(train)
    te_layers, te_tags = feats(test)
    tr_static, source = _static_matrix(model, train, static_vectors)
    te_static, _source = _static_matrix(model, test, static_vectors)
    return TaskData(tags, tr_layers, tr_static, tr_tags, te_layers, te_static, te_tags, source)


def _kind_features(data: TaskData, kind: str, split: str) -> torch.Tensor:
    layers = data.train_layers if split == "train" else data.test_layers
    if kind == "static":
        return data.train_static if split == "train" else data.test_static  # (N, D_s)
    if kind == "mix":
        return layers  # (L+1, N, 2E)
    return layers[int(kind[len("layer"):])]  # (N, 2E)


def task_kinds(n_layers: int = 2) -> tuple[str, ...]:
    """"static", "layer0" .. "layer{n_layers}", "mix"."""
    return ("static",) + tuple(f"layer{j}" for j in range(n_layers + 1)) + ("mix",)


def train_tagger(data: TaskData, features_kind: str, seed: int = 0, epochs: int = 6, lr: float = 3e-3,
                 batch_size: int = 256, weight_decay: float = 0.0, standardize: bool = True,
                 hidden: int = 0) -> dict:
    """A softmax tagger over frozen features: linear (`hidden` = 0) or with one ReLU layer of `hidden`
    units, plus a `ScalarMix` in front for "mix"; Adam, `epochs` passes over the train words, features
    standardised on the train words (`standardize`). Runs on one CPU thread: its matrices are small,
    and a second spinning thread on a busy 2-core machine makes it many times slower.

    Returns {"accuracy" (test, per word), "train_accuracy", "mix_weights" (s_j, for "mix"), "gamma",
    "seconds"}."""
    with torch_threads(1):
        return _fit_tagger(data, features_kind, seed, epochs, lr, batch_size, weight_decay, standardize, hidden)


def _fit_tagger(data, features_kind, seed, epochs, lr, batch_size, weight_decay, standardize, hidden) -> dict:
    n_layers = data.train_layers.size(0) - 1
    kinds = task_kinds(n_layers)
    if features_kind not in kinds:
        raise ValueError(_("Unknown feature kind {kind!r}; choose one of {kinds}.").format(
            kind=features_kind, kinds=", ".join(kinds)))
    t0 = time.monotonic()
    gen = make_generator(seed)
    xs_train = _kind_features(data, features_kind, "train").float()  # float32: fast to slice
    xs_test = _kind_features(data, features_kind, "test").float()
    if standardize:  # every feature to mean 0, std 1 on the train words (the vectors' scales differ a lot)
        mean = xs_train.mean(dim=-2, keepdim=True)  # (1, D) or (L+1, 1, D)
        std = xs_train.std(dim=-2, keepdim=True).clamp_min(1e-6)
        xs_train, xs_test = (xs_train - mean) / std, (xs_test - mean) / std
    xs_train, xs_test = xs_train.contiguous(), xs_test.contiguous()
    mix = ScalarMix(n_layers + 1) if features_kind == "mix" else None
    dim = xs_train.size(-1)
    with building():  # constructing a module: hold the process-wide build lock (house rule)
        if hidden:
            head = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, len(data.tags)))
        else:
            head = nn.Sequential(nn.Linear(dim, len(data.tags)))
    with torch.no_grad():
        for layer in head:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.zero_()
    params = list(head.parameters()) + (list(mix.parameters()) if mix is not None else [])
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)

    def logits(x):
        if mix is not None:
            x = mix(x)  # (L+1, B, 2E) -> (B, 2E)
        return head(x)  # (B, n_tags)

    def rows(x, idx):
        return x[:, idx] if mix is not None else x[idx]

    n = data.train_tags.numel()
    ok = data.train_tags >= 0
    for _epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch_size):
            idx = perm[s:s + batch_size]
            idx = idx[ok[idx]]
            loss = F.cross_entropy(logits(rows(xs_train, idx)), data.train_tags[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def accuracy(x, y):
        right = 0
        with torch.no_grad():
            for s in range(0, y.numel(), 4096):
                idx = torch.arange(s, min(s + 4096, y.numel()))
                right += int((logits(rows(x, idx)).argmax(-1) == y[idx]).sum())
        return right / max(1, y.numel())

    return {"accuracy": accuracy(xs_test, data.test_tags), "train_accuracy": accuracy(xs_train, data.train_tags),
            "mix_weights": mix.weights().detach().tolist() if mix is not None else None,
            "gamma": float(mix.gamma.detach()) if mix is not None else None, "seconds": time.monotonic() - t0}


def task_accuracy(data: TaskData, features_kind: str, seed: int = 0, **kwargs) -> float:
    """Test accuracy (per word) of the linear POS tagger over `features_kind` features."""
    return train_tagger(data, features_kind, seed, **kwargs)["accuracy"]


def run_probe(data: TaskData, seed: int = 0, on_kind: Callable | None = None, **kwargs) -> dict:
    """The POS probe for every feature kind on `data` (from `pos_task`): {"acc": {kind: test accuracy},
    "mix_weights": s_j of the mix, "gamma": its γ, "results": {kind: `train_tagger`'s dict}}.
    `on_kind(i, n, kind, result)` after each kind (progress)."""
    kinds = task_kinds(data.train_layers.size(0) - 1)
    results = {}
    for i, kind in enumerate(kinds):
        results[kind] = train_tagger(data, kind, seed, **kwargs)
        if on_kind is not None:
            on_kind(i + 1, len(kinds), kind, results[kind])
    mix = results.get("mix") or {}
    return {"acc": {k: r["accuracy"] for k, r in results.items()}, "mix_weights": mix.get("mix_weights"),
            "gamma": mix.get("gamma"), "results": results}


def evaluate_layers(model: ELMo, n_train: int = 2000, n_test: int = 500, seed: int = 0, data: TaskData | None = None,
                    static_vectors=None, on_step: Callable | None = None, **kwargs) -> dict[str, float]:
    """Test accuracy of the POS probe for every feature kind: {"static", "layer0", "layer1", "layer2", "mix"}
    (for a two-layer model). `data` (from `pos_task`) skips the feature extraction."""
    data = data if data is not None else pos_task(model, n_train, n_test, static_vectors)
    kinds = task_kinds(data.train_layers.size(0) - 1)
    out = {}
    for i, kind in enumerate(kinds):
        out[kind] = task_accuracy(data, kind, seed, **kwargs)
        if on_step is not None:
            on_step(i + 1, len(kinds), {"kind": kind, "accuracy": out[kind]})
    return out


# ---------------------------------------------------------------------------------------------
# contextual neighbours (polysemy)
# ---------------------------------------------------------------------------------------------
def _bank_sentences(word: str, size: int):
    from core.classic.corpus import train_test

    _train, test = train_test()
    return [s for s in test if word in s.words][:size]


def contextual_neighbours(model: ELMo, sentence_a, sentence_b, word: str, k: int = 5, bank=None,
                          bank_size: int = 60) -> dict:
    """The word's vectors in two sentences, layer by layer, and their nearest tokens.

    `sentence_a`, `sentence_b`: word lists (or strings of space-separated words) that contain `word`
    (its first occurrence is used). The neighbours are searched among every token of `bank`
    (People's Daily `Sentence`s or word lists; default: the first `bank_size` held-out sentences
    containing `word`), by cosine similarity. Returns {"word", "positions": (i_a, i_b), "layers":
    [{"layer": j, "cosine_ab": cos(v_a, v_b), "a": [...], "b": [...]}]}, each neighbour a dict
    {"word", "tag" (None without tags), "context" (the bank sentence with the token in 【】, trimmed
    to ±4 words), "cosine"}. Layer 0 gives the same vector in both sentences (cosine_ab = 1).
    """
    _need_vocab(model)
    a = _check_tokens(sentence_a, N_("first sentence"))
    b = _check_tokens(sentence_b, N_("second sentence"))
    if not isinstance(word, str) or not word.strip():
        raise ValueError(_("Type the word to compare."))
    word = word.strip()
    for tokens, what in ((a, N_("first sentence")), (b, N_("second sentence"))):
        if word not in tokens:
            raise ValueError(_("The {what} does not contain the word {word!r} (separate words with spaces).").format(
                what=_(what), word=word))
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
        raise ValueError(_("k must be a whole number between 1 and 50; got {value!r}.").format(value=k))
    bank = _bank_sentences(word, bank_size) if bank is None else list(bank)
    bank_words = [list(s.words) if hasattr(s, "words") else list(s) for s in bank]
    bank_tags = [list(s.tags) if hasattr(s, "tags") else None for s in bank]
    ia, ib = a.index(word), b.index(word)
    with torch_threads(1):
        reps = batch_representations(model, [a, b] + bank_words)
    query_a, query_b = reps[0], reps[1]  # (L+1, T, 2E)
    refs = []  # (sentence index, position) of every bank token
    for si, ws in enumerate(bank_words):
        refs.extend((si, p) for p in range(len(ws)))
    layers = []
    for j in range(query_a.size(0)):
        va, vb = query_a[j, ia], query_b[j, ib]  # (2E,)
        entry = {"layer": j, "cosine_ab": float(F.cosine_similarity(va, vb, dim=0))}
        if refs:
            bank_j = F.normalize(torch.cat([r[j] for r in reps[2:]], dim=0), dim=-1)  # (N_bank, 2E)
            for name, tokens, v in (("a", a, va), ("b", b, vb)):
                sims = bank_j @ F.normalize(v, dim=0)  # (N_bank,)
                found = []
                for idx in torch.argsort(sims, descending=True).tolist():
                    si, p = refs[idx]
                    if bank_words[si] == tokens:  # the query sentence itself is in the bank
                        continue
                    ws = bank_words[si]
                    context = ws[max(0, p - 4):p] + [f"【{ws[p]}】"] + ws[p + 1:p + 5]
                    found.append({"word": ws[p], "tag": bank_tags[si][p] if bank_tags[si] else None,
                                  "context": " ".join(context), "cosine": float(sims[idx])})
                    if len(found) == k:
                        break
                entry[name] = found
        else:
            entry["a"], entry["b"] = [], []
        layers.append(entry)
    return {"word": word, "positions": (ia, ib), "layers": layers}


def sense_separation(model: ELMo, word: str, bank=None, bank_size: int = 200, min_per_tag: int = 3) -> dict:
    """Does a layer tell a word's uses apart? Every occurrence of `word` in `bank` (People's Daily
    sentences with PKU tags; default: held-out sentences containing it, at most `bank_size`), grouped by
    the tag it has there; per layer, the mean cosine between two occurrences with the same tag and with
    different tags (tags seen fewer than `min_per_tag` times are left out).

    Returns {"word", "tags": {tag: count}, "layers": [{"layer", "same", "different"}]}; a layer whose
    "same" is clearly above "different" separates the uses (layer 0 gives 1 and 1: one vector per word).
    Needs at least two tags with `min_per_tag` occurrences, else a ValueError says what to try."""
    _need_vocab(model)
    if not isinstance(word, str) or not word.strip():
        raise ValueError(_("Type the word to compare."))
    word = word.strip()
    bank = _bank_sentences(word, bank_size) if bank is None else list(bank)
    occ = []  # (sentence index, position, tag)
    for si, s in enumerate(bank):
        words, tags = list(s.words), list(s.tags)
        occ.extend((si, p, tags[p]) for p, w in enumerate(words) if w == word)
    counts = Counter(t for _si, _p, t in occ)
    kept = {t for t, c in counts.items() if c >= min_per_tag}
    if len(kept) < 2:
        raise ValueError(_("{word!r} occurs with only {n} part-of-speech tag(s) at least {m} times in the held-out "
                           "sentences ({tags}); try a word with two uses, such as 将 (will / object marker) or "
                           "上 (on / go up).").format(word=word, n=len(kept), m=min_per_tag,
                                                  tags=", ".join(f"{t} {c}" for t, c in counts.most_common()) or "–"))
    occ = [o for o in occ if o[2] in kept]
    with torch_threads(1):
        reps = batch_representations(model, [list(s.words) for s in bank])
    tags = [t for _si, _p, t in occ]
    same = torch.tensor([[a == b for b in tags] for a in tags])  # (N, N)
    off = ~torch.eye(len(tags), dtype=torch.bool)  # (N, N): pairs of two different occurrences
    layers = []
    for j in range(reps[0].size(0) if reps else 0):
        vecs = F.normalize(torch.stack([reps[si][j, p] for si, p, _t in occ]), dim=-1)  # (N, 2E)
        cos = vecs @ vecs.t()  # (N, N)
        layers.append({"layer": j, "same": float(cos[same & off].mean()), "different": float(cos[~same].mean())})
    return {"word": word, "tags": {t: counts[t] for t in sorted(kept, key=lambda t: -counts[t])}, "layers": layers}
