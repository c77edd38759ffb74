"""Encoder–decoder translation (seq2seq) with optional attention, teacher forcing and beam search.

What lives here (no streamlit):

- tokenizers: ``tokenize(text, "words")`` (lower-case, punctuation split, ``"i'm"`` stays one
  token) and ``tokenize(text, "chars")`` (one token per non-space character, for Chinese);
  ``Vocab`` with the specials ``<pad>`` (0), ``<sos>`` (1), ``<eos>`` (2), ``<unk>`` (3);
- ``Seq2SeqConfig`` (frozen; stored as ``config.json``) and ``Seq2Seq``: a GRU/LSTM encoder
  (bidirectional by default) and a decoder with ``attention="none"`` (one fixed context vector,
  Cho et al. 2014), ``"additive"`` (Bahdanau: v·tanh(W s + U h), scored with the previous state)
  or ``"dot"`` (Luong: s·h, scored with the current state). Padding never receives attention
  (masked to -inf before the softmax) and never contributes to the loss (``ignore_index``);
- ``train(bundle, train_pairs, val_pairs, TrainConfig, on_step, on_epoch, history)``: Adam with a
  teacher-forcing ratio; after each epoch the teacher-forced *and* free-running validation loss
  and the greedy validation BLEU are appended to ``history["epochs"]`` (updated in place, so a
  page can keep the partial model and history when the user stops the run);
- decoding on any ``step_fn`` (so tests can use a hand-made model): ``greedy_search``,
  ``beam_search`` (score = log P(y) / L^alpha, L counts the tokens including ``<eos>``; returns
  every finished hypothesis and the beam tree) and ``sample_search``;
- ``load_checkpoint(folder)`` / ``save_checkpoint(bundle, folder, card)``: ``model.safetensors``
  + ``config.json`` + ``vocab.json`` + ``metrics.json`` + ``README.md`` model card;
- data: ``parse_pairs`` (an uploaded TSV), ``spread_pairs`` / ``training_selection`` (the Train
  tab's thinning of a data set: an even spread over the length-sorted pairs);
- BLEU: ``bleu`` (sacrebleu corpus BLEU-4 on our tokens: character-level for Chinese),
  ``evaluate_bleu``, ``bleu_by_length``; ``toy_reverse_pairs`` (a task where attention clearly wins)
  and ``toy_attention_experiment`` (one tiny model per attention kind trained on it, same budget);
  plotly builders ``beam_tree_figure``, ``alpha_figure``, ``history_figures``, ``buckets_figure``.

The function other pages reuse (the attention page shows cross-attention with it)::

    translate(bundle, text, method="greedy" | "beam" | "sample", beam_width=5, alpha=0.7,
              seed=0, max_len=None, temperature=1.0) -> dict

returns ``{"text": str, "tokens": [target tokens], "source_tokens": [source tokens + "<eos>"],
"attention": np.ndarray (len(target rows) x len(source_tokens), rows sum to 1) or None for a
model without attention, "attention_rows": [target tokens + "<eos>" if finished],
"hypotheses": [{"tokens", "text", "logp", "length", "norm_score", "finished"}], best first,
"tree": {"nodes": [...]} for beam search (else None), "unknown": [source words not in the
vocabulary], "method": str}``. Draw ``attention`` with
``core.plots.attention_heatmap(result["attention"], result["attention_rows"], result["source_tokens"])``.
"""
from __future__ import annotations

import json
import math
import numbers
import re
import time
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.basics.cnn import seed_dropout
from core.device import builds_models, check_seed, get_device, make_generator, model_device, on_device
from core.i18n import N_, _

PAD, SOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<sos>", "<eos>", "<unk>"]
TOKENIZERS = ("words", "chars")
CELLS = ("gru", "lstm", "transformer")  # "transformer": core.transformers.translator (see Seq2SeqConfig)
RNN_CELLS = ("gru", "lstm")
NORMS = ("post", "pre")  # the Transformer's layer-norm placement
ATTENTIONS = ("none", "additive", "dot")
METHODS = ("greedy", "beam", "sample")
MAX_BEAM = 64  # the page offers 1..10; tests use larger widths for exhaustive search
MAX_INPUT_CHARS = 500  # longest sentence `translate` accepts
MAX_UPLOAD_PAIRS = 50_000  # most pairs read from an uploaded file
MAX_VOCAB = 100_000  # largest vocabulary a config may ask for (the shipped models have a few thousand)

_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u3000": " "}
_QUOTES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'"}


# ---------------------------------------------------------------------------------------------
# tokenizers and vocabularies
# ---------------------------------------------------------------------------------------------
def _normalize(text: str) -> str:
    for a, b in {**_SPACES, **_QUOTES}.items():
        text = text.replace(a, b)
    return unicodedata.normalize("NFC", text)


def tokenize(text: str, kind: str) -> list[str]:
    """"words": lower-case words and punctuation ("I'm hungry." -> ["i'm", "hungry", "."]);
    "chars": every non-space character is a token (Chinese: one token per character)."""
    text = _normalize(text or "")
    if kind == "words":
        return _WORD_RE.findall(text.lower())
    if kind == "chars":
        return [ch for ch in text if not ch.isspace()]
    raise ValueError(_("Unknown tokenizer {kind!r}; choose one of {choices}.").format(kind=kind, choices=TOKENIZERS))


def detokenize(tokens: list[str], kind: str) -> str:
    """Tokens back to text: characters are concatenated, words joined by spaces."""
    if kind == "chars":
        return "".join(tokens)
    text = " ".join(tokens)
    text = re.sub(r" ([.,])(?= |$)", r"\1", text)  # "hungry ." -> "hungry."
    return re.sub(r"(\w) - (\w)", r"\1-\2", text)  # "est - ce" -> "est-ce"


@dataclass
class Vocab:
    """Token <-> id table; ids 0..3 are the specials <pad>, <sos>, <eos>, <unk>."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if self.itos[: len(SPECIALS)] != SPECIALS:
            raise ValueError(_("A vocabulary must start with <pad>, <sos>, <eos>, <unk>."))
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, sequences, min_freq: int = 2, max_size: int = 8000) -> "Vocab":
        """Most frequent tokens (seen at least `min_freq` times), at most `max_size` in all."""
        counts: dict[str, int] = {}
        for seq in sequences:
            for tok in seq:
                counts[tok] = counts.get(tok, 0) + 1
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
                        key=lambda t: (-counts[t], t))
        return cls(SPECIALS + ranked[: max(0, max_size - len(SPECIALS))])

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, UNK) for t in tokens]

    def decode(self, ids) -> list[str]:
        """Ids to tokens, stopping at <eos> and dropping <pad>/<sos>."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, SOS):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else "<unk>")
        return out


# ---------------------------------------------------------------------------------------------
# config and model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seq2SeqConfig:
    src_lang: str = "en"  # source language code (display only)
    tgt_lang: str = "zh"  # target language code (display only)
    src_tokenizer: str = "words"  # "words" or "chars": how source text becomes tokens
    tgt_tokenizer: str = "chars"  # "words" or "chars" (Chinese: "chars")
    src_vocab_size: int = 1000  # source vocabulary size, specials included
    tgt_vocab_size: int = 1000  # target vocabulary size, specials included
    emb_dim: int = 128  # token embedding size (encoder and decoder); the Transformer's d_model
    hidden_dim: int = 256  # RNN state size (encoder outputs are projected to it); the Transformer's d_ff
    num_layers: int = 1  # stacked RNN layers in encoder and decoder; Transformer blocks per stack
    cell: str = "gru"  # "gru", "lstm" or "transformer" (multi-head attention everywhere, no recurrence)
    attention: str = "additive"  # "none" (fixed context), "additive" (Bahdanau), "dot" (Luong; the Transformer's)
    bidirectional: bool = True  # encoder reads the sentence in both directions
    dropout: float = 0.1  # dropout on embeddings and before the output layer
    max_src_len: int = 30  # longest source (tokens, without <eos>) used in training
    max_tgt_len: int = 40  # longest target (tokens) used in training; default decode limit
    n_heads: int = 4  # Transformer only: attention heads (must divide emb_dim)
    norm: str = "post"  # Transformer only: "post" (the paper) or "pre" layer norm

    def __post_init__(self):
        ints = ("src_vocab_size", "tgt_vocab_size", "emb_dim", "hidden_dim", "num_layers", "max_src_len",
                "max_tgt_len", "n_heads")
        not_ints = [name for name in ints if not _whole(getattr(self, name))]
        if not_ints:
            raise ValueError(_("Invalid seq2seq config: {fields} must be whole numbers.").format(
                fields=", ".join(not_ints)))
        if not isinstance(self.dropout, (int, float)):
            raise ValueError(_("Invalid seq2seq config: dropout must be a number in [0, 1)."))
        checks = [  # (ok, problem): the problem is translated only when it is raised
            (self.src_tokenizer in TOKENIZERS and self.tgt_tokenizer in TOKENIZERS,
             lambda: _("tokenizers must be one of {choices}").format(choices=TOKENIZERS)),
            (self.cell in CELLS, lambda: _("cell must be one of {choices}, not {cell!r}").format(
                choices=CELLS, cell=self.cell)),
            (self.attention in ATTENTIONS, lambda: _("attention must be one of {choices}, not {attention!r}").format(
                choices=ATTENTIONS, attention=self.attention)),
            (self.src_vocab_size > len(SPECIALS) and self.tgt_vocab_size > len(SPECIALS),
             lambda: _("vocabularies need more than the 4 special tokens")),
            (self.src_vocab_size <= MAX_VOCAB and self.tgt_vocab_size <= MAX_VOCAB,
             lambda: _("vocabularies may have at most {limit:,} tokens").format(limit=MAX_VOCAB)),
            (1 <= self.emb_dim <= 1024 and 1 <= self.hidden_dim <= 2048, lambda: _("emb_dim/hidden_dim out of range")),
            (1 <= self.num_layers <= 4, lambda: _("num_layers must be 1..4")),
            (0.0 <= self.dropout < 1.0, lambda: _("dropout must be in [0, 1)")),
            (1 <= self.max_src_len <= 200 and 1 <= self.max_tgt_len <= 200, lambda: _("max lengths must be 1..200")),
            (self.cell != "transformer" or self.attention == "dot",
             lambda: _("a Transformer attends by scaled dot products: use attention 'dot'")),
            (self.cell != "transformer" or (4 <= self.emb_dim <= 512 and 4 <= self.hidden_dim),
             lambda: _("a Transformer needs emb_dim (d_model) 4..512 and hidden_dim (d_ff) of at least 4")),
            (1 <= self.n_heads <= 16 and (self.cell != "transformer" or self.emb_dim % self.n_heads == 0),
             lambda: _("n_heads must be 1..16 and divide emb_dim ({emb_dim}): each head gets emb_dim / n_heads "
                       "dimensions").format(emb_dim=self.emb_dim)),
            (self.norm in NORMS, lambda: _("norm must be one of {choices}").format(choices=NORMS)),
        ]
        for ok, problem in checks:
            if not ok:
                raise ValueError(_("Invalid seq2seq config: {problem}.").format(problem=problem()))

    @classmethod
    def from_dict(cls, data: dict) -> "Seq2SeqConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Encoder(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        dirs = 2 if cfg.bidirectional else 1
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        self.emb = nn.Embedding(cfg.src_vocab_size, cfg.emb_dim, padding_idx=PAD)
        self.rnn = rnn(cfg.emb_dim, cfg.hidden_dim, cfg.num_layers, batch_first=True,
                       bidirectional=cfg.bidirectional, dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.out_proj = nn.Linear(dirs * cfg.hidden_dim, cfg.hidden_dim)  # encoder outputs -> H
        self.bridge = nn.Linear(dirs * cfg.hidden_dim, cfg.hidden_dim)  # final states -> decoder init
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor):
        """src (B, S) ids, lengths (B,) -> outputs (B, S, H), h0 (L, B, H), c0 (L, B, H) or None."""
        B, S = src.shape
        x = self.drop(self.emb(src))  # (B, S, E)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, hidden = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, D*H)
        outputs = torch.tanh(self.out_proj(out))  # (B, S, H)

        def bridge(h):  # (L*D, B, H) -> (L, B, H)
            dirs = 2 if self.cfg.bidirectional else 1
            h = h.view(self.cfg.num_layers, dirs, B, self.cfg.hidden_dim)  # (L, D, B, H)
            h = h.permute(0, 2, 1, 3).reshape(self.cfg.num_layers, B, dirs * self.cfg.hidden_dim)  # (L, B, D*H)
            return torch.tanh(self.bridge(h))  # (L, B, H)

        if isinstance(hidden, tuple):
            return outputs, bridge(hidden[0]), bridge(hidden[1])
        return outputs, bridge(hidden), None


class Decoder(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        H, E = cfg.hidden_dim, cfg.emb_dim
        self.emb = nn.Embedding(cfg.tgt_vocab_size, E, padding_idx=PAD)
        in_dim = E if cfg.attention == "dot" else E + H  # Luong feeds only the token
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        self.rnn = rnn(in_dim, H, cfg.num_layers, batch_first=True,
                       dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        if cfg.attention == "additive":
            self.att_s = nn.Linear(H, H, bias=False)  # W: decoder state
            self.att_h = nn.Linear(H, H, bias=True)  # U: encoder outputs
            self.att_v = nn.Linear(H, 1, bias=False)  # v
        self.pre_out = nn.Linear(H + H + E, H)  # [s_t; c_t; y_{t-1}] -> attentional state
        self.out = nn.Linear(H, cfg.tgt_vocab_size)  # -> logits
        self.drop = nn.Dropout(cfg.dropout)

    def attend(self, query: torch.Tensor, enc: torch.Tensor, mask: torch.Tensor, keys=None):
        """query (N, H), enc (N, S, H), mask (N, S) bool -> context (N, H), weights (N, S)."""
        if self.cfg.attention == "additive":
            scores = self.att_v(torch.tanh(self.att_s(query)[:, None, :] + keys)).squeeze(-1)  # (N, S)
        else:
            scores = torch.bmm(enc, query[:, :, None]).squeeze(-1)  # (N, S)
        scores = scores.masked_fill(~mask, float("-inf"))  # padding gets exactly zero weight
        weights = torch.softmax(scores, dim=-1)  # (N, S)
        context = torch.bmm(weights[:, None, :], enc).squeeze(1)  # (N, H)
        return context, weights

    def step(self, y_prev: torch.Tensor, state: dict):
        """One decoder step for N rows: y_prev (N,) -> logits (N, V), new state, weights (N, S) | None."""
        cfg = self.cfg
        e = self.drop(self.emb(y_prev))  # (N, E)
        h = state["h"].transpose(0, 1).contiguous()  # (L, N, H)
        hidden = (h, state["c"].transpose(0, 1).contiguous()) if cfg.cell == "lstm" else h
        weights = None
        if cfg.attention == "none":
            context = state["ctx"]  # (N, H): the one fixed context vector
            rnn_in = torch.cat([e, context], dim=-1)  # (N, E+H)
        elif cfg.attention == "additive":
            context, weights = self.attend(h[-1], state["enc"], state["mask"], state["keys"])  # s_{t-1}
            rnn_in = torch.cat([e, context], dim=-1)  # (N, E+H)
        else:
            rnn_in = e  # (N, E)
        out, hidden = self.rnn(rnn_in[:, None, :], hidden)  # out (N, 1, H)
        s = out[:, 0]  # (N, H)
        if cfg.attention == "dot":
            context, weights = self.attend(s, state["enc"], state["mask"])  # s_t
        att_state = torch.tanh(self.pre_out(torch.cat([s, context, e], dim=-1)))  # (N, H)
        logits = self.out(self.drop(att_state))  # (N, V)
        new = dict(state)
        if cfg.cell == "lstm":
            new["h"], new["c"] = hidden[0].transpose(0, 1), hidden[1].transpose(0, 1)  # (N, L, H)
        else:
            new["h"] = hidden.transpose(0, 1)  # (N, L, H)
        return logits, new, weights


class Seq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def init_state(self, src: torch.Tensor, lengths: torch.Tensor) -> dict:
        """Encode src (B, S); the decoder state is a dict of tensors whose first dim is the row."""
        enc, h0, c0 = self.encoder(src, lengths)  # (B, S, H), (L, B, H)
        state = {"h": h0.transpose(0, 1), "enc": enc, "mask": src != PAD}  # h: (B, L, H)
        if c0 is not None:
            state["c"] = c0.transpose(0, 1)  # (B, L, H)
        if self.cfg.attention == "none":
            state["ctx"] = h0[-1]  # (B, H): the whole sentence squeezed into one vector
        if self.cfg.attention == "additive":
            state["keys"] = self.decoder.att_h(enc)  # (B, S, H), precomputed U h
        return state

    def forward(self, src, lengths, tgt_in, tgt_out, teacher_forcing: float = 1.0, generator=None,
                label_smoothing: float = 0.0):
        """Summed cross-entropy (with `label_smoothing`) over non-pad target tokens, and their count.

        tgt_in = <sos> y1..yn (B, T), tgt_out = y1..yn <eos> (B, T). With probability
        `teacher_forcing` (per sentence and step) the next input is the gold token, else the
        model's own argmax prediction (free running)."""
        state = self.init_state(src, lengths)
        y = tgt_in[:, 0]  # (B,)
        total = src.new_zeros((), dtype=torch.float32)
        for t in range(tgt_out.shape[1]):
            logits, state, _ = self.decoder.step(y, state)  # (B, V)
            total = total + F.cross_entropy(logits, tgt_out[:, t], ignore_index=PAD, reduction="sum",
                                            label_smoothing=label_smoothing)
            gold = tgt_out[:, t]
            if teacher_forcing >= 1.0:
                y = gold
            else:
                pred = logits.detach().argmax(-1)  # (B,)
                if teacher_forcing <= 0.0:
                    y = pred
                else:
                    use_gold = torch.rand(gold.shape, generator=generator) < teacher_forcing
                    y = torch.where(use_gold.to(gold.device), gold, pred)
        return total, int((tgt_out != PAD).sum())


def _whole(value) -> bool:
    """An int (numpy ints included), not a float such as 2.5 or NaN."""
    return isinstance(value, numbers.Integral)


def _as_int(value):
    """A whole float (5.0, as JSON or a float widget may give) as an int; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


@dataclass
class Seq2SeqBundle:
    """A model with its vocabularies (what load_checkpoint returns and pages keep)."""

    model: Seq2Seq
    config: Seq2SeqConfig
    src_vocab: Vocab
    tgt_vocab: Vocab
    meta: dict = field(default_factory=dict)  # metrics, training data, history


def make_model(config: Seq2SeqConfig, gen: torch.Generator | None = None) -> nn.Module:
    """The network a config describes: `Seq2Seq` (GRU/LSTM, torch's default initialisation; `new_bundle`
    redraws it) or, for cell "transformer", the Transformer behind the same interface
    (`core.transformers.translator.TransformerSeq2Seq`), built on the meta device and drawn from `gen`
    (a seed-0 generator when None: a checkpoint's weights replace them)."""
    if config.cell == "transformer":
        from core.transformers.translator import TransformerSeq2Seq

        with torch.device("meta"):
            model = TransformerSeq2Seq(config)
        return model.to_empty(device="cpu").init_weights(gen if gen is not None else make_generator(0))
    return Seq2Seq(config)


@builds_models
def new_bundle(config: Seq2SeqConfig, src_vocab: Vocab, tgt_vocab: Vocab, seed: int = 0) -> Seq2SeqBundle:
    """A freshly initialized model (weights drawn from a generator seeded with `seed`)."""
    if len(src_vocab) != config.src_vocab_size or len(tgt_vocab) != config.tgt_vocab_size:
        config = Seq2SeqConfig.from_dict({**asdict(config), "src_vocab_size": len(src_vocab),
                                          "tgt_vocab_size": len(tgt_vocab)})
    gen = make_generator(seed)
    if config.cell == "transformer":
        return Seq2SeqBundle(make_model(config, gen).eval(), config, src_vocab, tgt_vocab, {})
    model = Seq2Seq(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                bound = 1.0 / math.sqrt(p.shape[-1])
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=gen))
            else:
                p.zero_()
        for emb in (model.encoder.emb, model.decoder.emb):
            emb.weight.copy_(torch.randn(emb.weight.shape, generator=gen) * 0.1)
            emb.weight[PAD].zero_()
    return Seq2SeqBundle(model.eval(), config, src_vocab, tgt_vocab, {})


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def parse_pairs(text: str, max_pairs: int = MAX_UPLOAD_PAIRS) -> list[tuple[str, str, str]]:
    """Tab-separated `source<TAB>target[<TAB>attribution]` lines -> pairs; blank lines skipped.

    Raises ValueError naming the first malformed line."""
    pairs = []
    for n, line in enumerate((text or "").split("\n"), start=1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(_("Line {n} has no tab: {line!r}. Each line must be "
                               "'source sentence<TAB>target sentence[<TAB>attribution]'.").format(n=n, line=line[:60]))
        if not cols[0].strip() or not cols[1].strip():
            raise ValueError(_("Line {n} has an empty source or target sentence: {line!r}.").format(
                n=n, line=line[:60]))
        pairs.append((cols[0].strip(), cols[1].strip(), cols[2].strip() if len(cols) > 2 else ""))
        if len(pairs) > max_pairs:
            raise ValueError(_("The file has more than {max_pairs:,} pairs; upload a shorter file.").format(
                max_pairs=max_pairs))
    if len(pairs) < 10:
        raise ValueError(_("Found only {n} pair(s); upload at least 10 tab-separated pairs.").format(n=len(pairs)))
    return pairs


def build_vocabs(pairs, config: Seq2SeqConfig, min_freq: int = 2, max_size: int = 8000) -> tuple[Vocab, Vocab]:
    src = [tokenize(p[0], config.src_tokenizer) for p in pairs]
    tgt = [tokenize(p[1], config.tgt_tokenizer) for p in pairs]
    return Vocab.build(src, min_freq, max_size), Vocab.build(tgt, min_freq, max_size)


def spread_pairs(pairs, n: int) -> list:
    """At most `n` pairs spread evenly over `pairs` (all of them, in order, when there are no more
    than `n`). Tatoeba is sorted by length, so an even spread keeps short and long sentences alike."""
    n = max(0, int(n))
    if n >= len(pairs):
        return list(pairs)
    return [pairs[int(i * len(pairs) / n)] for i in range(n)]


def training_selection(train_pairs, val_pairs, n_pairs: int, n_val: int = 200) -> tuple[list, list]:
    """(training pairs, validation pairs for the per-epoch check): the Train tab's thinning of a
    data set before training. At most `n_pairs` training and `n_val` validation pairs, each spread
    over the whole (length-sorted) split by `spread_pairs`."""
    return spread_pairs(train_pairs, n_pairs), spread_pairs(val_pairs, n_val)


def encode_pairs(bundle: Seq2SeqBundle, pairs, max_src: int | None = None, max_tgt: int | None = None,
                 drop_long: bool = True) -> list[tuple[list[int], list[int]]]:
    """Pairs of strings -> (source ids + <eos>, target ids); too long pairs dropped (or cut)."""
    cfg = bundle.config
    max_src, max_tgt = max_src or cfg.max_src_len, max_tgt or cfg.max_tgt_len
    out = []
    for p in pairs:
        s = tokenize(p[0], cfg.src_tokenizer)
        t = tokenize(p[1], cfg.tgt_tokenizer)
        if not s or not t:
            continue
        if len(s) > max_src or len(t) > max_tgt:
            if drop_long:
                continue
            s, t = s[:max_src], t[:max_tgt]
        out.append((bundle.src_vocab.encode(s) + [EOS], bundle.tgt_vocab.encode(t)))
    return out


def make_batch(items, device="cpu"):
    """[(src ids, tgt ids)] -> src (B, S), lengths (B,), tgt_in (B, T), tgt_out (B, T), all padded."""
    B = len(items)
    S = max(len(s) for s, _ in items)
    T = max(len(t) for _, t in items) + 1
    src = torch.full((B, S), PAD, dtype=torch.long)
    tgt_in = torch.full((B, T), PAD, dtype=torch.long)
    tgt_out = torch.full((B, T), PAD, dtype=torch.long)
    for i, (s, t) in enumerate(items):
        src[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([SOS] + t)
        tgt_out[i, : len(t) + 1] = torch.tensor(t + [EOS])
    lengths = torch.tensor([len(s) for s, _ in items])
    return src.to(device), lengths, tgt_in.to(device), tgt_out.to(device)


def _batches(items, batch_size: int, gen: torch.Generator | None):
    """Shuffled (or ordered) batches of similar source length (less padding, faster)."""
    n = len(items)
    order = torch.randperm(n, generator=gen).tolist() if gen is not None else list(range(n))
    chunk = batch_size * 20
    batches = []
    for i in range(0, n, chunk):
        part = sorted(order[i: i + chunk], key=lambda j: (len(items[j][0]), len(items[j][1])))
        batches += [part[k: k + batch_size] for k in range(0, len(part), batch_size)]
    if gen is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
    return batches


# ---------------------------------------------------------------------------------------------
# decoding on a generic step function
# ---------------------------------------------------------------------------------------------
# step_fn(y_prev (N,) long, state: dict of tensors with first dim N) -> (log-probs (N, V), new state,
# attention weights (N, S) or None). `_select(state, idx)` keeps rows idx of every tensor.
StepFn = Callable[[torch.Tensor, dict], tuple]


def _select(state: dict, idx: list[int]) -> dict:
    index = torch.tensor(idx, dtype=torch.long)
    return {k: v.index_select(0, index.to(v.device)) for k, v in state.items()}


def norm_score(logp: float, length: int, alpha: float) -> float:
    """Length-normalized score log P(y) / L^alpha (alpha = 0: raw log-probability)."""
    return float(logp) / (max(1, length) ** alpha)


def _hyp(tokens, logp, finished, alpha, attn):
    length = len(tokens) + (1 if finished else 0)
    return {"ids": list(tokens), "logp": float(logp), "length": length,
            "norm_score": norm_score(logp, length, alpha), "finished": bool(finished),
            "attention": attn}


def greedy_search(step_fn: StepFn, state: dict, max_len: int, alpha: float = 0.0) -> dict:
    """Pick the most likely token at every step until <eos> or `max_len` tokens."""
    y = torch.tensor([SOS])
    tokens, logp, rows, finished = [], 0.0, [], False
    for _ in range(max_len):
        lp, state, attn = step_fn(y, state)  # (1, V)
        tok = int(lp[0].argmax())
        logp += float(lp[0, tok])
        if attn is not None:
            rows.append(attn[0].detach().cpu().numpy())
        if tok == EOS:
            finished = True
            break
        tokens.append(tok)
        y = torch.tensor([tok])
    return _hyp(tokens, logp, finished, alpha, np.stack(rows) if rows else None)


def sample_search(step_fn: StepFn, state: dict, max_len: int, seed: int = 0, temperature: float = 1.0,
                  alpha: float = 0.0) -> dict:
    """Draw each token from softmax(log p / temperature) (seeded generator); logp is the model's."""
    if not (0.05 <= temperature <= 5.0):
        raise ValueError(_("The temperature must be between 0.05 and 5."))
    gen = make_generator(seed)
    y = torch.tensor([SOS])
    tokens, logp, rows, finished = [], 0.0, [], False
    for _step in range(max_len):  # not `_`: that is the translation function, called above
        lp, state, attn = step_fn(y, state)
        probs = torch.softmax(lp[0].float().cpu() / temperature, dim=-1)  # (V,)
        tok = int(torch.multinomial(probs, 1, generator=gen))
        logp += float(lp[0, tok])
        if attn is not None:
            rows.append(attn[0].detach().cpu().numpy())
        if tok == EOS:
            finished = True
            break
        tokens.append(tok)
        y = torch.tensor([tok])
    return _hyp(tokens, logp, finished, alpha, np.stack(rows) if rows else None)


def beam_search(step_fn: StepFn, state: dict, beam_width: int, alpha: float, max_len: int) -> dict:
    """Beam search keeping `beam_width` live prefixes ranked by raw log P.

    Each step every live prefix is extended by every token; of the best 2·k extensions, an
    <eos> ranked in the top k becomes a finished hypothesis, the best k others stay live. The
    search stops when k hypotheses have finished (or nothing is live); at `max_len` the live
    prefixes are kept as unfinished hypotheses. Finished ones are then ranked by
    log P / L^alpha (L counts <eos>). With k = 1 this is exactly greedy search.
    Returns {"hypotheses": [...] best first, "tree": {"nodes": [...]}}.
    """
    if not 1 <= int(beam_width) <= MAX_BEAM:
        raise ValueError(_("The beam width must be between 1 and {limit}.").format(limit=MAX_BEAM))
    k = int(beam_width)
    nodes = [{"id": 0, "parent": None, "step": 0, "token_id": SOS, "logp": 0.0, "status": "root"}]
    live = [{"ids": [], "logp": 0.0, "rows": [], "node": 0}]
    finished = []
    y = torch.tensor([SOS])
    stopped = False
    for step in range(1, max_len + 1):
        lp, new_state, attn = step_fn(y, state)  # (N, V)
        V = lp.shape[-1]
        total = torch.tensor([h["logp"] for h in live], dtype=lp.dtype, device=lp.device)[:, None] + lp  # (N, V)
        top_v, top_i = total.reshape(-1).topk(min(2 * k, total.numel()))
        next_live, keep = [], []
        for rank, (v, i) in enumerate(zip(top_v.tolist(), top_i.tolist())):
            if not math.isfinite(v):
                break  # forbidden tokens (log-prob -inf) are never extended
            b, tok = divmod(i, V)
            parent = live[b]
            rows = parent["rows"] + ([attn[b].detach().cpu().numpy()] if attn is not None else [])
            node = {"id": len(nodes), "parent": parent["node"], "step": step, "token_id": tok,
                    "logp": float(v), "status": "pruned"}
            if tok == EOS and rank < k:
                node["status"] = "finished"
                finished.append({"ids": parent["ids"], "logp": float(v), "rows": rows, "node": node["id"],
                                 "finished": True})
            elif tok != EOS and len(next_live) < k:
                node["status"] = "live"
                next_live.append({"ids": parent["ids"] + [tok], "logp": float(v), "rows": rows,
                                  "node": node["id"]})
                keep.append(b)
            nodes.append(node)
        if len(finished) >= k or not next_live:
            stopped = True
            break
        live = next_live
        state = _select(new_state, keep)
        y = torch.tensor([h["ids"][-1] for h in live])
    if not stopped:
        for h in live:
            nodes[h["node"]]["status"] = "truncated"
            finished.append({**h, "finished": False})
    hyps = []
    for h in finished:
        hyp = _hyp(h["ids"], h["logp"], h["finished"], alpha, np.stack(h["rows"]) if h["rows"] else None)
        hyp["node"] = h["node"]
        hyps.append(hyp)
    hyps.sort(key=lambda h: -h["norm_score"])
    for n in nodes:
        n["length"] = n["step"]
        n["norm_score"] = norm_score(n["logp"], n["step"], alpha) if n["step"] else 0.0
    best = hyps[0]["node"] if hyps else None
    on_best = set()
    while best is not None:
        on_best.add(best)
        best = nodes[best]["parent"]
    for n in nodes:
        n["best"] = n["id"] in on_best
    return {"hypotheses": hyps, "tree": {"nodes": nodes, "beam_width": k, "alpha": alpha}}


# ---------------------------------------------------------------------------------------------
# translation (the function other pages reuse)
# ---------------------------------------------------------------------------------------------
def _model_step_fn(model: Seq2Seq) -> StepFn:
    one_step = model.step if hasattr(model, "step") else model.decoder.step  # the Transformer's is its own

    def step(y, state):
        logits, state, attn = one_step(y, state)
        logits = logits.float()
        logits[:, PAD] = float("-inf")  # never generate <pad> or <sos>
        logits[:, SOS] = float("-inf")
        return torch.log_softmax(logits, dim=-1), state, attn

    return step


def max_source_tokens(config: Seq2SeqConfig) -> int:
    """The longest source (in tokens: words and punctuation) `translate` accepts for this model:
    twice what it was trained on, at least 10."""
    return max(config.max_src_len * 2, 10)


def max_source_chars(config: Seq2SeqConfig) -> int:
    """A character limit for a text box that agrees with `max_source_tokens` (8 characters per token)."""
    return min(MAX_INPUT_CHARS, 8 * max_source_tokens(config))


def encode_source(bundle: Seq2SeqBundle, text: str) -> tuple[list[str], list[int], list[str]]:
    """Text -> (source tokens, ids + <eos>, unknown words). ValueError for empty/too long input."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("The sentence to translate is empty. Type an English sentence, e.g. 'i am hungry .'"))
    if len(text) > MAX_INPUT_CHARS:
        raise ValueError(_("The sentence is {n} characters long; the limit is {limit}. Shorten it.").format(
            n=len(text), limit=MAX_INPUT_CHARS))
    tokens = tokenize(text, bundle.config.src_tokenizer)
    if not tokens:
        raise ValueError(_("The sentence has no words the model can read. Type some English words."))
    limit = max_source_tokens(bundle.config)
    if len(tokens) > limit:
        raise ValueError(_("The sentence has {n} tokens; this model handles at most {limit}. "
                           "Split it into shorter sentences.").format(n=len(tokens), limit=limit))
    ids = bundle.src_vocab.encode(tokens)
    unknown = [t for t, i in zip(tokens, ids) if i == UNK]
    return tokens, ids + [EOS], unknown


def translate(bundle: Seq2SeqBundle, text: str, method: str = "greedy", beam_width: int = 5,
              alpha: float = 0.7, seed: int = 0, max_len: int | None = None,
              temperature: float = 1.0) -> dict:
    """Translate one sentence; see the module docstring for the returned dict."""
    if method not in METHODS:
        raise ValueError(_("Unknown decoding method {method!r}; choose one of {choices}.").format(
            method=method, choices=METHODS))
    if not (0.0 <= float(alpha) <= 3.0):
        raise ValueError(_("The length-normalization exponent alpha must be between 0 and 3."))
    seed = check_seed(seed)
    cfg = bundle.config
    max_len, beam_width = _as_int(max_len), _as_int(beam_width)
    if max_len is None or max_len == 0:
        max_len = cfg.max_tgt_len + 10
    if not _whole(max_len) or not 1 <= max_len <= 200:
        raise ValueError(_("The maximum output length must be a whole number between 1 and 200 tokens, "
                           "not {max_len!r}.").format(max_len=max_len))
    max_len = int(max_len)
    if method == "beam" and (not _whole(beam_width) or not 1 <= beam_width <= MAX_BEAM):
        raise ValueError(_("The beam width must be a whole number between 1 and {limit}, not {beam_width!r}.").format(
            limit=MAX_BEAM, beam_width=beam_width))
    src_tokens, ids, unknown = encode_source(bundle, text)
    model = bundle.model
    with torch.inference_mode():
        src = torch.tensor([ids])  # (1, S)
        state = model.init_state(src, torch.tensor([len(ids)]))
        step = _model_step_fn(model)
        tree = None
        if method == "greedy":
            hyps = [greedy_search(step, state, max_len, alpha)]
        elif method == "sample":
            hyps = [sample_search(step, state, max_len, seed, temperature, alpha)]
        else:
            res = beam_search(step, state, beam_width, alpha, max_len)
            hyps, tree = res["hypotheses"], res["tree"]
    kind = cfg.tgt_tokenizer
    for h in hyps:
        h["tokens"] = bundle.tgt_vocab.decode(h["ids"] + [EOS])
        h["text"] = detokenize(h["tokens"], kind)
    if tree is not None:
        for n in tree["nodes"]:
            n["token"] = bundle.tgt_vocab.itos[n["token_id"]]
    best = hyps[0]
    rows = best["tokens"] + (["<eos>"] if best["finished"] else [])
    return {"text": best["text"], "tokens": best["tokens"], "source_tokens": src_tokens + ["<eos>"],
            "attention": best["attention"], "attention_rows": rows, "hypotheses": hyps, "tree": tree,
            "unknown": unknown, "method": method, "finished": best["finished"]}


_NODE_STATUS = {"root": N_("root"), "live": N_("live"), "finished": N_("finished"), "truncated": N_("truncated"),
                "pruned": N_("pruned")}  # beam tree node status -> legend name (translated where drawn)


def beam_tree_figure(tree: dict, max_nodes: int = 600):
    """Plotly figure of the beam search tree: x = step, one row per candidate; hover for scores."""
    import plotly.graph_objects as go

    nodes = tree["nodes"][:max_nodes]
    by_step: dict[int, list] = {}
    for n in nodes:
        by_step.setdefault(n["step"], []).append(n)
    pos = {}
    for step, group in by_step.items():
        group.sort(key=lambda n: -n["logp"])
        for r, n in enumerate(group):
            pos[n["id"]] = (step, -r)
    colors = {"root": "#444", "live": "#1f77b4", "finished": "#2ca02c", "truncated": "#ff7f0e", "pruned": "#bbbbbb"}
    shown = {status: _(label) for status, label in _NODE_STATUS.items()}  # legend names
    ex, ey, bx, by = [], [], [], []
    for n in nodes:
        if n["parent"] is not None and n["parent"] in pos:
            (x0, y0), (x1, y1) = pos[n["parent"]], pos[n["id"]]
            xs, ys = (bx, by) if n["best"] else (ex, ey)
            xs += [x0, x1, None]
            ys += [y0, y1, None]
    traces = [go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#cccccc", width=1), hoverinfo="skip",
                         showlegend=False),
              go.Scatter(x=bx, y=by, mode="lines", line=dict(color="#d62728", width=3), hoverinfo="skip",
                         name=_("best hypothesis"))]
    for status, color in colors.items():
        group = [n for n in nodes if n["status"] == status]
        if not group:
            continue
        traces.append(go.Scatter(
            x=[pos[n["id"]][0] for n in group], y=[pos[n["id"]][1] for n in group],
            mode="markers+text", text=[n.get("token", str(n["token_id"])) for n in group],
            textposition="top center", marker=dict(color=color, size=9 if status != "pruned" else 6),
            name=shown[status],
            customdata=[[n["logp"], n["norm_score"], n["step"]] for n in group],
            hovertemplate=_("%{text}<br>step %{customdata[2]}<br>log P(prefix) %{customdata[0]:.3f}"
                            "<br>log P / L^α %{customdata[1]:.3f}") + "<extra>" + shown[status] + "</extra>"))
    # one layout dict at construction (plotly's update_layout keyword paths are slow)
    return go.Figure(data=traces, layout=dict(
        xaxis=dict(title=dict(text=_("decoding step (tokens generated)"))),
        yaxis=dict(title=dict(text=_("candidates (best at top)")), showticklabels=False), height=460,
        # legend below the plot: above it, it wrapped over the best path on narrow screens
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", x=0, y=-0.18, yanchor="top")))


# ---------------------------------------------------------------------------------------------
# batched greedy decoding, BLEU, training
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def greedy_batch(bundle: Seq2SeqBundle, src_ids: list[list[int]], max_len: int | None = None,
                 batch_size: int = 128, on_step=None) -> list[list[int]]:
    """Greedy-decode many encoded sources (ids + <eos>) at once; returns target id lists."""
    model = bundle.model
    was_training = model.training
    model.eval()
    max_len = max_len or bundle.config.max_tgt_len + 10
    out: list[list[int] | None] = [None] * len(src_ids)
    order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
    step = _model_step_fn(model)
    for bstart in range(0, len(order), batch_size):
        idx = order[bstart: bstart + batch_size]
        S = max(len(src_ids[i]) for i in idx)
        src = torch.full((len(idx), S), PAD, dtype=torch.long)
        for r, i in enumerate(idx):
            src[r, : len(src_ids[i])] = torch.tensor(src_ids[i])
        state = model.init_state(src, torch.tensor([len(src_ids[i]) for i in idx]))
        y = torch.full((len(idx),), SOS, dtype=torch.long)
        seqs = torch.zeros((len(idx), 0), dtype=torch.long)
        done = torch.zeros(len(idx), dtype=torch.bool)
        for _ in range(max_len):
            lp, state, _ = step(y, state)
            y = lp.argmax(-1)  # (B,)
            seqs = torch.cat([seqs, y[:, None]], dim=1)  # (B, t)
            done |= y == EOS
            if bool(done.all()):
                break
        for r, i in enumerate(idx):
            ids = seqs[r].tolist()
            out[i] = ids[: ids.index(EOS)] if EOS in ids else ids
        if on_step:
            on_step(min(bstart + batch_size, len(order)), len(order), None)
    model.train(was_training)
    return out  # type: ignore[return-value]


def bleu(hypotheses: list[list[str]], references: list[list[str]]) -> float:
    """Corpus BLEU-4 (sacrebleu, exponential smoothing) on token lists; for Chinese the tokens
    are characters, so this is character-level BLEU-4. 0..100."""
    import sacrebleu

    if not hypotheses:
        return 0.0
    hyp = [" ".join(h) for h in hypotheses]
    ref = [" ".join(r) for r in references]
    return float(sacrebleu.corpus_bleu(hyp, [ref], tokenize="none", force=True).score)


def evaluate_bleu(bundle: Seq2SeqBundle, pairs, method: str = "greedy", beam_width: int = 5,
                  alpha: float = 0.7, on_step=None) -> dict:
    """BLEU of the model on (source, reference[, ...]) pairs; hypotheses and references as tokens."""
    cfg = bundle.config
    kept = [p for p in pairs if tokenize(p[0], cfg.src_tokenizer) and tokenize(p[1], cfg.tgt_tokenizer)]
    refs = [tokenize(p[1], cfg.tgt_tokenizer) for p in kept]
    limit = max(cfg.max_src_len * 2, 10)
    srcs = [bundle.src_vocab.encode(tokenize(p[0], cfg.src_tokenizer)[:limit]) + [EOS] for p in kept]
    if method == "greedy":
        outs = greedy_batch(bundle, srcs, on_step=on_step)
        hyps = [bundle.tgt_vocab.decode(o + [EOS]) for o in outs]
    else:
        hyps = []
        model = bundle.model
        model.eval()
        step = _model_step_fn(model)
        with torch.inference_mode():
            for n, ids in enumerate(srcs):
                state = model.init_state(torch.tensor([ids]), torch.tensor([len(ids)]))
                res = beam_search(step, state, beam_width, alpha, cfg.max_tgt_len + 10)
                hyps.append(bundle.tgt_vocab.decode(res["hypotheses"][0]["ids"] + [EOS]))
                if on_step and (n % 20 == 0 or n == len(srcs) - 1):
                    on_step(n + 1, len(srcs), None)
    return {"bleu": bleu(hyps, refs), "hypotheses": hyps, "references": refs,
            "sources": [p[0] for p in kept]}


def bleu_by_length(sources: list[str], hyps, refs, tokenizer: str = "words",
                   edges=(1, 5, 8, 11, 15, 1000)) -> list[dict]:
    """Corpus BLEU per source-length bucket (edges are inclusive lower bounds)."""
    rows = []
    lens = [len(tokenize(s, tokenizer)) for s in sources]
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = [i for i, n in enumerate(lens) if lo <= n < hi]
        if not idx:
            continue
        label = f"{lo}–{hi - 1}" if hi < 1000 else f"{lo}+"
        rows.append({"bucket": label, "pairs": len(idx), "bleu": bleu([hyps[i] for i in idx], [refs[i] for i in idx])})
    return rows


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training pairs
    batch_size: int = 64  # sentence pairs per step
    lr: float = 2e-3  # Adam learning rate
    lr_decay: float = 1.0  # learning rate multiplied by this after every epoch
    teacher_forcing: float = 1.0  # probability of feeding the gold previous token (else the model's)
    clip: float = 1.0  # gradient-norm clipping
    max_seconds: float = 600.0  # wall-clock budget; training stops (and validates) when it runs out
    seed: int = 0  # data order, dropout and teacher-forcing draws
    val_pairs: int = 300  # validation pairs used for losses and BLEU after each epoch
    warmup: int = 0  # steps of linear learning-rate warm-up from 0 (0 = none; Transformers want it)
    label_smoothing: float = 0.0  # training targets: 1 − ε on the reference token, ε spread over the vocabulary

    def __post_init__(self):
        if not all(_whole(getattr(self, name)) for name in ("epochs", "batch_size", "val_pairs", "seed", "warmup")):
            raise ValueError(_("Epochs, the batch size, the number of validation pairs, the warm-up steps and the "
                               "seed must be whole numbers."))
        if isinstance(self.label_smoothing, bool) or not isinstance(self.label_smoothing, (int, float)) \
                or not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(_("Label smoothing must be a number in [0, 1), e.g. 0.1."))
        if not 0 <= self.warmup <= 1_000_000:
            raise ValueError(_("The warm-up must be 0 (none) to 1,000,000 steps."))
        if not all(isinstance(getattr(self, name), (int, float))
                   for name in ("lr", "lr_decay", "teacher_forcing", "clip", "max_seconds")):
            raise ValueError(_("The learning rate, decay, teacher forcing, clipping and time budget must be numbers."))
        if not (1 <= self.epochs <= 500 and 1 <= self.batch_size <= 1024):
            raise ValueError(_("Epochs must be 1..500 and the batch size 1..1024."))
        if self.val_pairs < 0:
            raise ValueError(_("The number of validation pairs must be 0 or more."))
        if not self.clip > 0:
            raise ValueError(_("The gradient-clipping threshold must be a positive number (e.g. 1.0)."))
        if not (0 < self.lr <= 1.0 and 0 < self.lr_decay <= 1.0):
            raise ValueError(_("The learning rate must be in (0, 1] and the decay in (0, 1]."))
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError(_("The teacher-forcing ratio must be between 0 and 1."))
        if not self.max_seconds > 0:
            raise ValueError(_("The time budget must be positive."))
        check_seed(self.seed)


@torch.no_grad()
def validation_losses(bundle: Seq2SeqBundle, items, batch_size: int = 128) -> tuple[float, float]:
    """(teacher-forced, free-running) mean cross-entropy per target token on encoded pairs."""
    model = bundle.model
    was = model.training
    model.eval()
    sums = [0.0, 0.0]
    count = 0
    for b in _batches(items, batch_size, None):
        src, lengths, tgt_in, tgt_out = make_batch([items[i] for i in b])
        tf, n = model(src, lengths, tgt_in, tgt_out, teacher_forcing=1.0)
        free, _ = model(src, lengths, tgt_in, tgt_out, teacher_forcing=0.0)
        sums[0] += float(tf)
        sums[1] += float(free)
        count += n
    model.train(was)
    return sums[0] / max(count, 1), sums[1] / max(count, 1)


_BUDGET_REACHED = N_("time budget of {seconds:g} s reached")  # history["stopped"] (English data; see stop_reason)
_STOPPED = N_("stopped")


def stop_reason(history: dict) -> str:
    """Why a training run ended early, in the visitor's language ("" if it ran all its epochs).

    `history["stopped"]` itself stays English (scripts write it into model cards)."""
    reason = history.get("stopped") or ""
    budget = re.fullmatch(r"time budget of (\S+) s reached", reason)
    if budget:
        return _(_BUDGET_REACHED).format(seconds=float(budget.group(1)))
    return _(reason) if reason == _STOPPED else reason


def train(bundle: Seq2SeqBundle, train_pairs, val_pairs, tcfg: TrainConfig, on_step=None, on_epoch=None,
          history: dict | None = None, should_stop: Callable[[], bool] | None = None,
          device: str | None = None) -> dict:
    """Train `bundle.model` in place; returns `history` (also updated in place as it goes).

    `device` ("cuda", "mps", "cpu"; None = the one `core.device.get_device()` picked for the process)
    runs the training steps there; validation runs where the model was before, and the model ends
    up there again.

    history = {"steps": [...], "loss": [...], "epochs": [{"epoch", "train_loss", "val_loss_tf",
    "val_loss_free", "val_bleu", "seconds", "steps", "partial"}], "pairs": n, "stopped": reason}.
    `on_step(done, total, info)` after every step; `on_epoch(record)` after each validation."""
    history = history if history is not None else {}
    history.setdefault("steps", [])
    history.setdefault("loss", [])
    history.setdefault("epochs", [])
    items = encode_pairs(bundle, train_pairs)
    if len(items) < 2:
        raise ValueError(_("Fewer than 2 training pairs fit the model's length limits; use more or shorter pairs."))
    val_items_all = encode_pairs(bundle, val_pairs, drop_long=False)
    val_sel = val_items_all[: tcfg.val_pairs]
    val_for_bleu = [p for p in val_pairs if tokenize(p[0], bundle.config.src_tokenizer)
                    and tokenize(p[1], bundle.config.tgt_tokenizer)][: tcfg.val_pairs]
    history["pairs"] = len(items)
    model = bundle.model
    with on_device(model):  # the epochs move it to `device` to train and back to validate
        return _train_epochs(bundle, items, val_sel, val_for_bleu, tcfg, on_step, on_epoch, history, should_stop,
                             torch.device(device or get_device()))


def _train_epochs(bundle, items, val_sel, val_for_bleu, tcfg, on_step, on_epoch, history, should_stop, device):
    model = bundle.model
    home = model_device(model)
    gen = make_generator(tcfg.seed)
    seed_dropout(model, tcfg.seed, device)  # the Transformer's masks (the GRU/LSTM use nn.Dropout)
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    epoch_lr = tcfg.lr
    steps_per_epoch = math.ceil(len(items) / tcfg.batch_size)
    total_steps = steps_per_epoch * tcfg.epochs
    start = time.monotonic()
    step = len(history["steps"])
    done = 0
    history["stopped"] = ""
    for epoch in range(1, tcfg.epochs + 1):
        model.to(device)  # in place: the optimizer keeps the same parameters (its state stays on `device`)
        model.train()
        ep_loss, ep_tokens, partial = 0.0, 0, False
        for b in _batches(items, tcfg.batch_size, gen):
            src, lengths, tgt_in, tgt_out = make_batch([items[i] for i in b], device=device)
            if tcfg.warmup:
                for g in opt.param_groups:
                    g["lr"] = epoch_lr * min(1.0, (step + 1) / tcfg.warmup)
            loss_sum, n = model(src, lengths, tgt_in, tgt_out, tcfg.teacher_forcing, generator=gen,
                                label_smoothing=float(tcfg.label_smoothing))
            loss = loss_sum / max(n, 1)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), tcfg.clip)
            opt.step()
            step += 1
            done += 1
            ep_loss += float(loss_sum.detach())
            ep_tokens += n
            history["steps"].append(step)
            history["loss"].append(float(loss.detach()))
            if on_step:
                on_step(done, total_steps, {"epoch": epoch, "loss": history["loss"][-1]})
            if time.monotonic() - start > tcfg.max_seconds:
                partial = True
                history["stopped"] = _BUDGET_REACHED.format(seconds=tcfg.max_seconds)
                break
            if should_stop is not None and should_stop():
                partial = True
                history["stopped"] = "stopped"
                break
        epoch_lr *= tcfg.lr_decay
        for g in opt.param_groups:
            g["lr"] = epoch_lr
        model.to(home)
        model.eval()
        tf, free = validation_losses(bundle, val_sel) if val_sel else (float("nan"), float("nan"))
        val_bleu = evaluate_bleu(bundle, val_for_bleu)["bleu"] if val_for_bleu else float("nan")
        record = {"epoch": epoch, "train_loss": ep_loss / max(ep_tokens, 1), "val_loss_tf": tf,
                  "val_loss_free": free, "val_bleu": val_bleu, "seconds": time.monotonic() - start,
                  "steps": step, "partial": partial}
        history["epochs"].append(record)
        if on_epoch:
            on_epoch(record)
        if partial:
            break
    model.eval()
    return history


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
def save_checkpoint(bundle: Seq2SeqBundle, folder, card: str = "", half: bool = True) -> Path:
    """Write model.safetensors (float16 by default, to stay small), config.json, vocab.json,
    metrics.json (bundle.meta) and README.md (the model card)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).contiguous().cpu()
             for k, v in bundle.model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(asdict(bundle.config), indent=2) + "\n", encoding="utf-8")
    (folder / "vocab.json").write_text(json.dumps({"src": bundle.src_vocab.itos, "tgt": bundle.tgt_vocab.itos},
                                                  ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(bundle.meta, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    if card:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


@builds_models
def load_checkpoint(ref) -> Seq2SeqBundle:
    """Load a checkpoint folder written by `save_checkpoint` (weights come back as float32)."""
    from safetensors.torch import load_file

    folder = Path(ref)
    for name in ("model.safetensors", "config.json", "vocab.json"):
        if not (folder / name).exists():
            raise ValueError(_("{folder} is not a seq2seq checkpoint (missing {name}). "
                               "Train one with scripts/train_seq2seq.py.").format(folder=folder, name=name))
    config = Seq2SeqConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    model = make_model(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(folder / "model.safetensors")).items()}
    model.load_state_dict(state)
    model.eval()
    meta = {}
    if (folder / "metrics.json").exists():
        meta = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    return Seq2SeqBundle(model, config, Vocab(vocab["src"]), Vocab(vocab["tgt"]), meta)


@builds_models
def copy_bundle(bundle: Seq2SeqBundle) -> Seq2SeqBundle:
    """A deep copy (pages fine-tune a copy, never the shared cached model)."""
    import copy

    return Seq2SeqBundle(copy.deepcopy(bundle.model), bundle.config, bundle.src_vocab, bundle.tgt_vocab,
                         dict(bundle.meta))


# ---------------------------------------------------------------------------------------------
# figures (plotly; pages only render them)
# ---------------------------------------------------------------------------------------------
def alpha_figure(hypotheses: list[dict], alpha: float, labels: list[str] | None = None):
    """log P / L^a as a function of a for every hypothesis: where lines cross, the ranking flips."""
    import plotly.graph_objects as go

    grid = np.linspace(0.0, 2.0, 41)
    traces = []
    for n, h in enumerate(hypotheses):
        name = (labels[n] if labels else h.get("text", str(h["ids"]))) or _("(empty)")
        traces.append(go.Scatter(x=grid, y=[norm_score(h["logp"], h["length"], a) for a in grid], mode="lines",
                                 name=f"{name[:24]} (L={h['length']})",
                                 hovertemplate="α=%{x:.2f}<br>log P / L^α = %{y:.3f}<extra>" + name[:40] + "</extra>"))
    return go.Figure(data=traces, layout=dict(  # the α line as a layout shape (add_vline is slow)
        xaxis=dict(title=dict(text=_("α (length-normalization exponent)"))),
        yaxis=dict(title=dict(text=_("score = log P(y) / L^α"))), height=360, margin=dict(l=10, r=10, t=30, b=10),
        shapes=[dict(type="line", xref="x", yref="paper", x0=alpha, x1=alpha, y0=0, y1=1,
                     line=dict(dash="dash", color="#d62728"))],
        annotations=[dict(xref="x", yref="paper", x=alpha, y=1, text=f"α = {alpha:g}", showarrow=False,
                          xanchor="left", yanchor="bottom")]))


def history_figures(history: dict):
    """(training-loss figure, per-epoch figure with teacher-forced vs free-running val loss and BLEU)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    steps, loss = history.get("steps", []), history.get("loss", [])
    f1 = go.Figure()
    f1.add_trace(go.Scatter(x=steps, y=loss, mode="lines", name=_("batch loss"), line=dict(color="#9ecae1")))
    if len(loss) >= 5:
        w = max(2, len(loss) // 20)
        smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
        f1.add_trace(go.Scatter(x=steps[w - 1:], y=smooth, mode="lines", name=_("moving average ({w})").format(w=w),
                                line=dict(color="#08519c", width=2)))
    f1.update_layout(title=_("Training loss (cross-entropy per target token)"), xaxis_title=_("step"),
                     yaxis_title=_("loss"), height=320, margin=dict(l=10, r=10, t=40, b=10))
    ep = history.get("epochs", [])
    f2 = make_subplots(specs=[[{"secondary_y": True}]])
    xs = [e["epoch"] for e in ep]
    f2.add_trace(go.Scatter(x=xs, y=[e["train_loss"] for e in ep], name=_("train loss"), mode="lines+markers",
                            line=dict(color="#9ecae1")))
    f2.add_trace(go.Scatter(x=xs, y=[e["val_loss_tf"] for e in ep], name=_("val loss, teacher-forced"),
                            mode="lines+markers", line=dict(color="#1f77b4")))
    f2.add_trace(go.Scatter(x=xs, y=[e["val_loss_free"] for e in ep], name=_("val loss, free-running"),
                            mode="lines+markers", line=dict(color="#d62728")))
    f2.add_trace(go.Bar(x=xs, y=[e["val_bleu"] for e in ep], name=_("val BLEU (greedy)"), opacity=0.25,
                        marker_color="#2ca02c"), secondary_y=True)
    f2.update_layout(title=_("After each epoch"), xaxis_title=_("epoch"), height=340, margin=dict(l=10, r=10, t=40, b=10),
                     legend=dict(orientation="h", y=-0.25))
    f2.update_yaxes(title_text=_("loss"), secondary_y=False)
    f2.update_yaxes(title_text="BLEU", secondary_y=True, rangemode="tozero")
    return f1, f2


def buckets_figure(results: dict[str, list[dict]]):
    """Grouped bars: BLEU per source-length bucket for each model name."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, rows in results.items():
        fig.add_trace(go.Bar(x=[r["bucket"] for r in rows], y=[r["bleu"] for r in rows], name=name,
                             customdata=[r["pairs"] for r in rows],
                             hovertemplate=_("source length %{x}<br>BLEU %{y:.2f}<br>%{customdata} pairs")
                                           + "<extra>" + name + "</extra>"))
    fig.update_layout(barmode="group", xaxis_title=_("source sentence length (words)"), yaxis_title="BLEU",
                      height=360, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def toy_reverse_pairs(n: int, seed: int = 0, vocab: int = 15, min_len: int = 6, max_len: int = 10):
    """A toy "translation" task: the target is the source words in reverse order.

    Output word t must look at source word S-t: easy with attention, hard through one fixed vector."""
    gen = make_generator(seed)
    pairs = []
    for _ in range(n):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=gen))
        words = [f"w{int(i)}" for i in torch.randint(0, vocab, (length,), generator=gen)]
        pairs.append((" ".join(words), " ".join(reversed(words)), "toy"))
    return pairs


TOY_TRAIN_PAIRS, TOY_VAL_PAIRS = 800, 60  # the reverse-a-sequence experiment's data


def toy_attention_experiment(seconds: float, seed: int = 0, runs: dict | None = None, on_epoch=None,
                             on_model=None) -> dict:
    """The live experiment "reverse a sequence": one tiny model per attention kind ("none",
    "additive", "dot"), each with the same size and `seconds` of training, on `toy_reverse_pairs`.

    Fills `runs[kind]` with that model's training history (see `train`) as it goes, so a caller that
    stored `runs` (e.g. in the session) before the call keeps the finished models' curves when the
    run is stopped. `on_model(kind)` is called before each model trains and may return an
    `on_step(done, total, info)` callback for it; `on_epoch(record)` after every validation.
    Returns `runs`."""
    runs = runs if runs is not None else {}
    toy_train, toy_val = toy_reverse_pairs(TOY_TRAIN_PAIRS, seed), toy_reverse_pairs(TOY_VAL_PAIRS, seed + 1)
    tcfg = TrainConfig(epochs=30, batch_size=32, lr=1e-2, max_seconds=seconds, seed=seed, val_pairs=TOY_VAL_PAIRS)
    for kind in ATTENTIONS:
        cfg = Seq2SeqConfig(tgt_tokenizer="words", attention=kind, emb_dim=16, hidden_dim=48, dropout=0.0,
                            max_src_len=12, max_tgt_len=12)
        sv, tv = build_vocabs(toy_train, cfg, min_freq=1)
        toy = new_bundle(cfg, sv, tv, seed=seed)
        runs[kind] = {"steps": [], "loss": [], "epochs": []}
        on_step = on_model(kind) if on_model else None
        train(toy, toy_train, toy_val, tcfg, on_step=on_step, on_epoch=on_epoch, history=runs[kind])
    return runs


def toy_figure(runs: dict[str, dict]):
    """Validation BLEU per epoch for several training histories (the attention experiment)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, hist in runs.items():
        ep = hist.get("epochs", [])
        fig.add_trace(go.Scatter(x=[e["steps"] for e in ep], y=[e["val_bleu"] for e in ep], mode="lines+markers",
                                 name=_("attention = {kind}").format(kind=name),
                                 hovertemplate=_("step %{x}<br>BLEU %{y:.1f}") + "<extra>" + name + "</extra>"))
    fig.update_layout(xaxis_title=_("training steps"), yaxis_title=_("validation BLEU"), yaxis_range=[0, 100],
                      height=340, margin=dict(l=10, r=10, t=30, b=10))
    return fig
