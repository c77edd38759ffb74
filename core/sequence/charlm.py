"""Character-level language models: plain RNN (tanh), GRU and LSTM behind one interface.

Everything the RNN text page computes lives here:

- `Vocab` (characters <-> ids) and `CharLMConfig` (the frozen model config stored in checkpoints);
- `CharLM.forward(idx, targets=None) -> (logits, loss)` for all three cells, and `generate`;
- `train(...)`: AdamW + linear warmup + cosine decay, truncated back-propagation through time with
  the hidden state carried across consecutive chunks, optional gradient clipping, bounded by steps
  and seconds, reporting through `on_step` and appending to a caller-owned `history` list;
- `evaluate(...)`: validation loss in nats per character over a whole text (state carried);
- `race(...)`: an RNN, a GRU and an LSTM with the same parameter budget trained one after the other;
- `hidden_grad_norms(...)`: the vanishing-gradient picture, ||d loss_T / d h_t|| for every t, and
  `fresh_grad_profiles(...)` for freshly initialised equal-parameter models of all three cells;
- `save_checkpoint` / `load_checkpoint(ref)`: safetensors + config.json + vocab.json + README.md.

Nothing here touches the global RNG: every random choice uses `core.device.make_generator(seed)`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.device import (builds_models, check_seed, count_params, get_device, make_generator,  # noqa: F401
                         model_device, on_device, torch_threads)  # count_params, torch_threads: used via this module too
from core.i18n import N_, _

CELLS = ("rnn", "gru", "lstm")
CELL_LABELS = {"rnn": "RNN (tanh)", "gru": "GRU", "lstm": "LSTM"}
# Gates per cell: an RNN layer has 1 weight block, a GRU 3 (reset, update, new), an LSTM 4 (i, f, g, o).
GATES = {"rnn": 1, "gru": 3, "lstm": 4}

MAX_GENERATE_CHARS = 2000  # longest sample one call may produce
GREEDY_T = 1e-5  # temperatures at or below this pick the most likely character (as core.transformers.sampling does)
MAX_PRIME_CHARS = 500  # longest prime text
MAX_VOCAB = 5000  # distinct characters a corpus may have (Chinese text has a few thousand)
MIN_CORPUS_CHARS = 200  # a corpus shorter than this can't be split into training and validation




# ---------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CharLMConfig:
    cell: str = "lstm"  # recurrent cell: "rnn" (tanh), "gru" or "lstm"
    vocab_size: int = 65  # number of distinct characters (rows of the embedding, columns of the output)
    n_layers: int = 1  # stacked recurrent layers
    hidden_size: int = 256  # units per recurrent layer (the size of h_t, and of c_t for an LSTM)
    embed_size: int = 64  # size of the learned character embedding fed to the first layer
    dropout: float = 0.0  # dropout between layers and before the output layer (training only)

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(_("The cell must be one of {cells}, not {cell!r}.").format(cells=", ".join(CELLS),
                                                                                        cell=self.cell))
        for name, lo, hi in (("vocab_size", 2, MAX_VOCAB + 1), ("n_layers", 1, 4),
                             ("hidden_size", 4, 2048), ("embed_size", 2, 1024)):
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(_("dropout must be in [0, 1); got {value!r}.").format(value=self.dropout))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "CharLMConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 32  # parallel streams of text per step (B)
    seq_len: int = 32  # characters per chunk = steps of truncated back-propagation through time (T); the
    # state is carried across chunks, so a short T mostly buys more updates per second (60 s on 2 CPU
    # threads: T=32 gives 1.547 nats/char on the held-out 5%, T=64 1.584, T=128 1.698)
    lr: float = 1e-2  # peak learning rate of AdamW (high: warm-up, cosine decay and clipping keep it stable)
    weight_decay: float = 0.01  # AdamW decoupled weight decay (not applied to biases/embeddings)
    warmup_frac: float = 0.04  # fraction of the run spent ramping the learning rate up linearly
    min_lr_frac: float = 0.05  # the cosine decays to this fraction of the peak learning rate
    max_steps: int = 2000  # hard cap on optimizer steps in this run
    max_seconds: float = 60.0  # hard cap on wall-clock seconds in this run (0 = no time cap)
    clip: float = 1.0  # clip the global gradient norm to this value (0 = no clipping)
    carry_state: bool = True  # carry the hidden state across consecutive chunks (detached)
    eval_every: int = 50  # steps between validation evaluations (0 = only at the end)
    eval_every_s: float = 0.0  # also evaluate whenever this many training seconds passed (0 = off)
    eval_chars: int = 20_000  # validation characters used for the periodic evaluations
    sample_every: int = 0  # steps between printed samples (0 = none)
    sample_len: int = 120  # characters per periodic sample

    def __post_init__(self):
        checks = (("batch_size", 1, 1024), ("seq_len", 2, 1000), ("max_steps", 1, 1_000_000),
                  ("eval_every", 0, 10**9), ("eval_chars", 0, 10**9), ("sample_every", 0, 10**9),
                  ("sample_len", 0, MAX_GENERATE_CHARS))
        for name, lo, hi in checks:
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(_("{name} must be a whole number between {lo} and {hi}; got {value!r}.").format(
                    name=name, lo=lo, hi=hi, value=value))
        floats = ("lr", "weight_decay", "warmup_frac", "min_lr_frac", "max_seconds", "clip", "eval_every_s")
        for name in floats:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value):
                raise ValueError(_("{name} must be a number; got {value!r}.").format(name=name, value=value))
        if not (0 < self.lr <= 1.0):
            raise ValueError(_("The learning rate must be in (0, 1]; got {value!r}.").format(value=self.lr))
        if self.clip < 0 or self.max_seconds < 0 or self.eval_every_s < 0:
            raise ValueError(_("clip, max_seconds and eval_every_s must be zero or positive (0 turns them off)."))
        if not 0 <= self.weight_decay <= 1:
            raise ValueError(_("The weight decay must be in [0, 1]; got {value!r}.").format(value=self.weight_decay))
        if not (0 <= self.warmup_frac <= 1 and 0 <= self.min_lr_frac <= 1):
            raise ValueError(_("warmup_frac and min_lr_frac are fractions of the run / of the peak rate: use 0..1."))


# ---------------------------------------------------------------------------------------------
# vocabulary
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vocab:
    chars: tuple[str, ...]  # id -> character, sorted

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        chars = tuple(sorted(set(text)))
        if len(chars) < 2:
            raise ValueError(_("The text needs at least two different characters to learn anything."))
        if len(chars) > MAX_VOCAB:
            raise ValueError(_("The text has {n} different characters; the limit is {limit}. "
                               "Upload a more uniform text.").format(n=len(chars), limit=MAX_VOCAB))
        return cls(chars)

    @property
    def stoi(self) -> dict[str, int]:
        cache = self.__dict__.get("_stoi")
        if cache is None:
            cache = {c: i for i, c in enumerate(self.chars)}
            object.__setattr__(self, "_stoi", cache)
        return cache

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        stoi = self.stoi
        return sorted({c for c in text if c not in stoi})

    def encode(self, text: str, what: str = N_("text")) -> torch.Tensor:
        """Text -> LongTensor of ids; ValueError naming characters the model never saw.

        `what` names the text in the message: an English noun marked with `N_()`, translated here."""
        missing = self.unknown(text)
        if missing:
            shown = "".join(missing[:20])
            raise ValueError(_("The {what} has characters this model never saw in training: {shown!r}. "
                               "Remove or replace them.").format(what=_(what), shown=shown))
        stoi = self.stoi
        return torch.tensor([stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"chars": list(self.chars)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> "Vocab":
        return cls(tuple(json.loads(data)["chars"]))


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
_RNN_CLASSES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class CharLM(nn.Module):
    """Embedding -> stacked RNN/GRU/LSTM -> dropout -> linear head over the characters."""

    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        kwargs = {"nonlinearity": "tanh"} if config.cell == "rnn" else {}
        self.rnn = _RNN_CLASSES[config.cell](
            config.embed_size, config.hidden_size, num_layers=config.n_layers, batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0, **kwargs)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        self._forget_bias()

    def _forget_bias(self) -> None:
        if self.config.cell == "lstm":
            # forget-gate bias 1 (Jozefowicz et al. 2015): remember by default, gradients flow further
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        h = self.config.hidden_size
                        p[h:2 * h].fill_(1.0)

    @torch.no_grad()
    def init_weights(self, gen: torch.Generator) -> "CharLM":
        """PyTorch's default initialisation, drawn from `gen` (never the process-wide RNG, which other
        sessions' threads use at the same time): embedding N(0, 1); recurrent weights and biases
        U(−1/√H, 1/√H); output layer U(−1/√H, 1/√H) (what kaiming_uniform(a=√5) gives); forget bias 1."""
        self.embed.weight.normal_(0.0, 1.0, generator=gen)
        bound = 1.0 / math.sqrt(self.config.hidden_size)
        for p in [*self.rnn.parameters(), *self.head.parameters()]:
            p.uniform_(-bound, bound, generator=gen)
        self._forget_bias()
        return self

    def init_state(self, batch_size: int, device="cpu"):
        """Zero hidden state: h (L, B, H), plus c (L, B, H) for an LSTM."""
        c = self.config
        h = torch.zeros(c.n_layers, batch_size, c.hidden_size, device=device)
        return (h, torch.zeros_like(h)) if c.cell == "lstm" else h

    def step(self, idx: torch.Tensor, state=None):
        """Run the recurrence over `idx` (B, T) from `state`; return logits (B, T, V) and the new state."""
        x = self.embed(idx)  # (B, T, E)
        out, state = self.rnn(x, state)  # out: (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        return logits, state

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, state=None):
        """Logits (B, T, V) and, with `targets` (B, T), the mean cross-entropy in nats per character."""
        logits, _ = self.step(idx, state)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))  # (B*T, V)
        return logits, loss

    @torch.inference_mode()
    def generate(self, idx: torch.Tensor, length: int, temperature: float = 1.0, seed: int = 0,
                 top_k: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample `length` ids after the prime `idx` (1-D). Returns (ids, chosen_probs, last_probs).

        chosen_probs[i] is the probability the model gave the character it sampled at step i;
        last_probs (V,) is the full distribution at the final step (after temperature).
        """
        gen = make_generator(seed)
        was_training = self.training
        self.eval()
        try:
            dev = model_device(self)
            logits, state = self.step(idx.view(1, -1).to(dev), None)  # (1, P, V)
            last = logits[0, -1].float().cpu()  # (V,)
            out, chosen = [], []
            probs = _probs(last, temperature, top_k)
            for _ in range(length):
                nxt = int(torch.multinomial(probs, 1, generator=gen)) if temperature > 0 else int(probs.argmax())
                out.append(nxt)
                chosen.append(float(probs[nxt]))
                logits, state = self.step(torch.tensor([[nxt]], device=dev), state)  # (1, 1, V)
                probs = _probs(logits[0, -1].float().cpu(), temperature, top_k)
        finally:
            self.train(was_training)
        return torch.tensor(out, dtype=torch.long), torch.tensor(chosen), probs


def _probs(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """softmax(logits / T), optionally restricted to the k most likely characters."""
    logits = logits.float()
    if temperature <= GREEDY_T:  # also T = 1e-300: logits / T would overflow to inf (NaN probabilities)
        probs = torch.zeros_like(logits)
        probs[logits.argmax()] = 1.0
        return probs
    logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)


def param_count(config: CharLMConfig) -> int:
    """Parameters of a model with this config (computed, no model built)."""
    g, e, h, v, n = GATES[config.cell], config.embed_size, config.hidden_size, config.vocab_size, config.n_layers
    rnn = g * h * (e + h + 2) + (n - 1) * g * h * (h + h + 2)
    return v * e + rnn + h * v + v


def hidden_for_params(cell: str, target: int, vocab_size: int, embed_size: int = 64, n_layers: int = 1) -> int:
    """The hidden size that gives a `cell` model about `target` parameters (for fair comparisons)."""
    best, best_gap = 4, None
    for h in range(4, 2049, 4):
        n = param_count(CharLMConfig(cell, vocab_size, n_layers, h, embed_size))
        gap = abs(n - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = h, gap
        if n > target:
            break
    return best


@builds_models
def build_model(config: CharLMConfig, seed: int = 0) -> CharLM:
    """A freshly initialized model whose weights depend only on `seed` (global RNG untouched)."""
    with torch.device("meta"):  # no weights yet: nothing drawn from the process-wide RNG
        model = CharLM(config)
    return model.to_empty(device="cpu").init_weights(make_generator(seed))


# ---------------------------------------------------------------------------------------------
# corpora
# ---------------------------------------------------------------------------------------------
@dataclass
class Corpus:
    name: str
    vocab: Vocab
    train_ids: torch.Tensor  # (N_train,) long
    val_ids: torch.Tensor  # (N_val,) long

    @property
    def info(self) -> dict:
        return {"corpus": self.name, "vocab": len(self.vocab), "train_chars": int(self.train_ids.numel()),
                "val_chars": int(self.val_ids.numel())}


def make_corpus(text: str, name: str = "text", vocab: Vocab | None = None,
                val_fraction: float | None = None) -> Corpus:
    """Split a text with the fixed split (the last `corpora.VAL_FRACTION` for validation) and encode it.

    With `vocab` given (e.g. a loaded checkpoint's), characters outside it are an error.
    """
    from core.corpora import VAL_FRACTION, split_text

    val_fraction = VAL_FRACTION if val_fraction is None else val_fraction
    if not isinstance(text, str) or len(text.strip()) == 0:
        raise ValueError(_("The corpus is empty. Pick a bundled corpus or upload a .txt file with text."))
    if len(text) < MIN_CORPUS_CHARS:
        raise ValueError(_("The corpus has only {n} characters; at least {minimum} are needed "
                           "(the last {fraction:.0%} is held out for validation). Upload a longer text.").format(
                               n=len(text), minimum=MIN_CORPUS_CHARS, fraction=val_fraction))
    vocab = vocab or Vocab.from_text(text)
    train_text, val_text = split_text(text, val_fraction)
    return Corpus(name, vocab, vocab.encode(train_text, N_("corpus")), vocab.encode(val_text, N_("corpus")))


def chinese_text() -> str:
    """The Chinese side of the bundled Tatoeba English–Chinese pairs, one sentence per line."""
    from core.corpora import tatoeba

    return "\n".join(p[1] for p in tatoeba("zh")) + "\n"


def corpus_text(name: str, upload: bytes | None = None) -> str:
    """Text of a corpus by name: "shakespeare", "chinese" or "upload" (decoded via core.textio)."""
    from core.corpora import shakespeare
    from core.textio import decode_upload

    if name == "shakespeare":
        return shakespeare()
    if name == "chinese":
        return chinese_text()
    if name == "upload":
        if upload is None:
            raise ValueError(_("Upload a .txt file first (or pick a bundled corpus)."))
        return decode_upload(upload, what="uploaded file")
    raise ValueError(_("Unknown corpus {name!r}; choose shakespeare, chinese or upload.").format(name=name))


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
class StreamBatcher:
    """Truncated BPTT batches: the text is cut into B contiguous streams read T characters at a time.

    Row b of batch k continues row b of batch k-1, so the hidden state can be carried over. After a
    full pass the streams restart at a new random offset (and the caller resets the state).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, gen: torch.Generator):
        n = ids.numel()
        self.ids, self.B, self.T, self.gen = ids, batch_size, seq_len, gen
        if n < seq_len + 2:
            raise ValueError(_("The training text ({n} characters) is shorter than one sequence "
                               "({needed}); lower the sequence length or use a longer text.").format(
                                   n=n, needed=seq_len + 1))
        # fewer streams if the text is too short to give every stream one chunk
        self.B = max(1, min(batch_size, (n - 1) // seq_len))
        self._new_epoch()

    def _new_epoch(self):
        n = self.ids.numel()
        offset = int(torch.randint(0, self.T, (1,), generator=self.gen))
        usable = (n - 1 - offset) // self.B  # characters per stream
        usable = max(self.T, usable)
        self.stream_len = usable
        starts = offset + torch.arange(self.B) * usable  # (B,)
        self.starts = starts.clamp(max=n - 1 - self.T)
        self.pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, fresh): x, y (B, T) with y shifted by one; fresh=True at the start of a new pass."""
        fresh = False
        if self.pos + self.T > self.stream_len:
            self._new_epoch()
            fresh = True
        idx = self.starts[:, None] + self.pos + torch.arange(self.T)[None, :]  # (B, T)
        self.pos += self.T
        return self.ids[idx], self.ids[idx + 1], fresh


def lr_at(progress: float, tc: TrainConfig) -> float:
    """Linear warmup over `warmup_frac` of the run, then cosine decay to `min_lr_frac` of the peak."""
    progress = min(max(progress, 0.0), 1.0)
    if tc.warmup_frac > 0 and progress < tc.warmup_frac:
        return tc.lr * (0.1 + 0.9 * progress / tc.warmup_frac)
    span = max(1e-9, 1.0 - tc.warmup_frac)
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - tc.warmup_frac) / span)))
    return tc.lr * (tc.min_lr_frac + (1 - tc.min_lr_frac) * cos)


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def make_optimizer(model: nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("embed")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.startswith("embed")]
    return torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr, betas=(0.9, 0.99))


@torch.no_grad()
def evaluate(model: CharLM, ids: torch.Tensor, max_chars: int | None = None, batch_size: int = 32,
             seq_len: int = 256) -> float:
    """Mean cross-entropy (nats/char) of predicting ids[1:] from ids[:-1], state carried along.

    The text (its first `max_chars` characters) is cut into `batch_size` contiguous streams read in
    chunks of `seq_len`; every character except each stream's first is predicted exactly once.
    """
    if max_chars:
        ids = ids[:max_chars]
    ids = ids.to(model_device(model))
    n = ids.numel()
    if n < 2:
        raise ValueError(_("The validation text is too short to evaluate."))
    was_training = model.training
    model.eval()
    try:
        B = max(1, min(batch_size, (n - 1) // 64))
        L = (n - 1) // B  # predictions per stream
        x_all = ids[: B * L].view(B, L)  # (B, L)
        y_all = ids[1: B * L + 1].view(B, L)  # (B, L)
        total, count, state = 0.0, 0, None
        for s in range(0, L, seq_len):
            x, y = x_all[:, s:s + seq_len], y_all[:, s:s + seq_len]  # (B, t)
            logits, state = model.step(x, state)  # (B, t, V)
            total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"))
            count += y.numel()
        # the leftover tail (fewer than B characters) is predicted one stream-less pass
        rest_x, rest_y = ids[B * L: n - 1], ids[B * L + 1: n]
        if rest_x.numel() > 0:
            logits, _state = model.step(rest_x.view(1, -1), None)  # (1, r, V)
            total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)), rest_y, reduction="sum"))
            count += rest_y.numel()
    finally:
        model.train(was_training)
    return total / count


@dataclass
class TrainResult:
    steps: int  # optimizer steps taken in this run
    seconds: float  # wall-clock seconds of training (evaluations excluded)
    train_loss: float  # mean training loss over the last few steps (nats/char)
    val_loss: float | None  # last validation loss (nats/char)
    stopped_by: str  # "steps" or "time"
    samples: list = field(default_factory=list)  # (step, text) printed along the way


def train(model: CharLM, corpus: Corpus, tc: TrainConfig = TrainConfig(), seed: int = 0,
          on_step: Callable | None = None, history: list | None = None, samples: list | None = None,
          step_offset: int = 0, sample_prime: str = "\n", sample_temperature: float = 0.8,
          threads: int | None = None, device: str | None = None) -> TrainResult:
    """Train `model` in place on `corpus.train_ids` for at most `tc.max_steps` steps and `tc.max_seconds`.

    The learning rate follows `lr_at(progress)` where progress = max(steps, seconds) fraction of
    the budget, so a run stopped by the clock still finishes its cosine decay. `history` (if given)
    gets one dict per step (loss, grad norms, update norm, lr) and one per evaluation (val_loss),
    appended in place so a page keeps everything trained so far when the run is interrupted.
    `on_step(done, total, info)` is called after every step. `threads` sets the intra-op thread
    count for the run on the CPU (None = the process default; a GPU ignores it). `device` ("cuda",
    "mps", "cpu"; None = the one `core.device.get_device()` picked for the process) trains there
    (float32; TF32 matrix products on CUDA); the model goes back to where it was afterwards, so a
    session's small model samples on the CPU, where its batch-1 steps are quickest.
    """
    device = device or get_device()
    with on_device(model, device), torch_threads(threads if torch.device(device).type == "cpu" else None):
        return _train(model, corpus, tc, seed, on_step, history, samples, step_offset, sample_prime,
                      sample_temperature)


def _train(model, corpus, tc, seed, on_step, history, samples, step_offset, sample_prime,
           sample_temperature) -> TrainResult:
    if len(corpus.vocab) != model.config.vocab_size:
        raise ValueError(_("The model has {model_chars} characters but the corpus has "
                           "{corpus_chars}; build the model from this corpus's vocabulary.").format(
                               model_chars=model.config.vocab_size, corpus_chars=len(corpus.vocab)))
    history = history if history is not None else []
    samples = samples if samples is not None else []
    gen = make_generator(seed)
    batcher = StreamBatcher(corpus.train_ids, tc.batch_size, tc.seq_len, gen)
    opt = make_optimizer(model, tc)
    params = [p for p in model.parameters()]
    dev = model_device(model)
    model.train()
    state = None
    start = time.monotonic()
    eval_s = 0.0
    recent: list[float] = []
    val_loss = None
    step = 0
    stopped_by = "steps"
    last_eval_t = 0.0
    for step in range(1, tc.max_steps + 1):
        elapsed = time.monotonic() - start - eval_s
        progress = (step - 1) / tc.max_steps
        if tc.max_seconds > 0:
            progress = max(progress, elapsed / tc.max_seconds)
        lr = lr_at(progress, tc)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y, fresh = batcher.next()  # (B, T), (B, T)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        if fresh or not tc.carry_state:
            state = None
        logits, state = model.step(x, state)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))  # (B*T, V)
        state = _detach(state)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, tc.clip if tc.clip > 0 else float("inf")))
        clipped = min(grad_norm, tc.clip) if tc.clip > 0 else grad_norm
        before = [p.detach().clone() for p in params]
        opt.step()
        with torch.no_grad():
            update = float(torch.stack([(p - b).pow(2).sum() for p, b in zip(params, before)]).sum().sqrt())
        loss_v = float(loss.detach())
        if not math.isfinite(loss_v):
            raise ValueError(_("Training diverged (the loss became NaN/inf). Lower the learning rate or turn "
                               "gradient clipping on."))
        recent = (recent + [loss_v])[-20:]
        elapsed = time.monotonic() - start - eval_s
        global_step = step_offset + step
        history.append({"step": global_step, "loss": loss_v, "grad_norm": grad_norm, "clipped_norm": clipped,
                        "update_norm": update, "lr": lr, "time_s": elapsed})
        out_of_time = tc.max_seconds > 0 and elapsed >= tc.max_seconds
        last = step == tc.max_steps or out_of_time
        info = {"loss": loss_v}
        due_by_time = tc.eval_every_s > 0 and elapsed - last_eval_t >= tc.eval_every_s
        if (tc.eval_every and step % tc.eval_every == 0) or due_by_time or last:
            last_eval_t = elapsed
            t0 = time.monotonic()
            val_loss = evaluate(model, corpus.val_ids, tc.eval_chars)
            model.train()
            eval_s += time.monotonic() - t0
            history.append({"step": global_step, "val_loss": val_loss, "time_s": elapsed})
            info["val_loss"] = val_loss
        if (tc.sample_every and step % tc.sample_every == 0) or (tc.sample_every and last):
            t0 = time.monotonic()
            prime = sample_prime if not corpus.vocab.unknown(sample_prime) else corpus.vocab.chars[0]
            ids, _chosen, _last = model.generate(corpus.vocab.encode(prime), tc.sample_len, sample_temperature, seed)
            model.train()
            samples.append((global_step, prime + corpus.vocab.decode(ids)))
            eval_s += time.monotonic() - t0
            info["sample"] = samples[-1][1]
        if on_step is not None:
            on_step(step, tc.max_steps, info)
        if out_of_time:
            stopped_by = "time"
            break
    model.eval()
    return TrainResult(step, time.monotonic() - start - eval_s, sum(recent) / max(1, len(recent)), val_loss,
                       stopped_by, samples)


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------
@dataclass
class Generation:
    prime: str
    text: str  # the generated continuation (without the prime)
    chosen_probs: list[float]  # probability of each generated character when it was drawn
    last_top: list[tuple[str, float]]  # top candidates (character, probability) for the next step


def generate(model: CharLM, vocab: Vocab, prime: str = "\n", length: int = 300, temperature: float = 0.8,
             seed: int = 0, top_k: int | None = None, n_top: int = 10) -> Generation:
    """Sample `length` characters after `prime`. Same seed and inputs => same text."""
    if not isinstance(prime, str) or prime == "":
        raise ValueError(_("The prime text is empty. Type at least one character to start from."))
    if len(prime) > MAX_PRIME_CHARS:
        raise ValueError(_("The prime text has {n} characters; the limit is {limit}.").format(
            n=len(prime), limit=MAX_PRIME_CHARS))
    if not isinstance(length, int) or not 1 <= length <= MAX_GENERATE_CHARS:
        raise ValueError(_("The length must be between 1 and {limit} characters.").format(limit=MAX_GENERATE_CHARS))
    if not 0 <= float(temperature) <= 5:
        raise ValueError(_("The temperature must be between 0 and 5."))
    if top_k is not None and (not isinstance(top_k, int) or top_k < 0):
        raise ValueError(_("top-k must be a whole number >= 0 (0 or None turns it off), not {value!r}.").format(
            value=top_k))
    if not isinstance(n_top, int) or n_top < 0:
        raise ValueError(_("The number of top candidates shown must be a whole number >= 0, not {value!r}.").format(
            value=n_top))
    idx = vocab.encode(prime, N_("prime text"))
    with torch_threads(1):
        ids, chosen, last = model.generate(idx, length, float(temperature), seed, top_k)
    k = min(n_top, last.numel())
    top = torch.topk(last, k)
    return Generation(prime, vocab.decode(ids), [float(p) for p in chosen],
                      [(vocab.chars[int(i)], float(p)) for p, i in zip(top.values, top.indices)])


# ---------------------------------------------------------------------------------------------
# the race: RNN vs GRU vs LSTM at equal parameter counts
# ---------------------------------------------------------------------------------------------
def race(corpus: Corpus, params: int, tc: TrainConfig, seed: int = 0, embed: int = 32,
         results: dict | None = None, on_step: Callable | None = None, threads: int | None = None) -> dict:
    """Train one single-layer model per cell in `CELLS`, each with about `params` parameters, on `corpus`.

    For each cell in turn: the hidden size from `hidden_for_params` (embedding size `embed`), a model
    built with `seed`, `train(..., tc, seed=seed, threads=threads)`, then a 200-character sample at
    temperature 0.8 (prime: a newline, or the first character of the vocabulary if it has none).
    `results[cell]` = {"model", "history", "hidden", "result", "sample"}; the entry is stored (with
    its model and the `history` list `train` appends to) before its training starts, so a caller
    that keeps `results` (a dict it owns, e.g. in session state) keeps every cell trained so far if
    the run is interrupted; "result" and "sample" are added once the cell has finished.
    `on_step(cell_index, cell, done, total, info, entry)` is called after every training step.
    Returns `results` (a new dict if None was given).
    """
    results = {} if results is None else results
    n_params = int(params)
    for i, cell in enumerate(CELLS):
        hidden = hidden_for_params(cell, n_params, len(corpus.vocab), embed)
        cfg = CharLMConfig(cell, len(corpus.vocab), 1, hidden, embed)
        entry = {"model": build_model(cfg, seed), "history": [], "hidden": hidden}
        results[cell] = entry
        step_cb = None
        if on_step is not None:
            def step_cb(done, total, info, i=i, cell=cell, entry=entry):
                on_step(i, cell, done, total, info, entry)

        entry["result"] = train(entry["model"], corpus, tc, seed=seed, on_step=step_cb, history=entry["history"],
                                threads=threads)
        prime = "\n" if "\n" in corpus.vocab.stoi else corpus.vocab.chars[0]
        entry["sample"] = generate(entry["model"], corpus.vocab, prime, 200, 0.8, seed).text
    return results


# ---------------------------------------------------------------------------------------------
# vanishing gradients
# ---------------------------------------------------------------------------------------------
def hidden_grad_norms(model: CharLM, ids: torch.Tensor) -> list[float]:
    """||d loss_T / d s_t|| for t = 0..T-1, where loss_T is the loss of predicting the last character.

    s_t is the full recurrent state after reading character t (every layer's h_t, and c_t for an
    LSTM). `ids` is (B, T+1) or (T+1,): the inputs are ids[:, :-1], the target is ids[:, -1]. The
    recurrence is run one step at a time so every s_t is a node in the graph; the norm is averaged
    over the batch. A plain RNN's norms fall off exponentially as t moves away from T (vanishing
    gradients); gated cells keep them larger for longer.
    """
    if ids.dim() == 1:
        ids = ids.view(1, -1)  # (1, T+1)
    x, target = ids[:, :-1], ids[:, -1]  # (B, T), (B,)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            emb = model.embed(x)  # (B, T, E)
            state, states = None, []
            for t in range(x.size(1)):
                _, state = model.rnn(emb[:, t:t + 1], state)  # h: (L, B, H)
                states.append(state)
            h_top = (state[0] if isinstance(state, tuple) else state)[-1]  # (B, H) = last output
            logits = model.head(h_top)  # (B, V)
            loss = F.cross_entropy(logits, target, reduction="sum")
            flat = [s for st in states for s in (st if isinstance(st, tuple) else (st,))]
            grads = torch.autograd.grad(loss, flat, allow_unused=True)
    finally:
        model.train(was_training)
    per_state = 2 if model.config.cell == "lstm" else 1
    norms = []
    B = x.size(0)
    for t in range(x.size(1)):
        gs = [g for g in grads[t * per_state:(t + 1) * per_state] if g is not None]
        sq = sum(g.pow(2).sum(dim=(0, 2)) for g in gs) if gs else torch.zeros(B)  # (B,)
        norms.append(float(sq.sqrt().mean()))
    return norms


def grad_norm_profile(model: CharLM, corpus_ids: torch.Tensor, seq_len: int = 100, batch: int = 8,
                      seed: int = 0) -> list[float]:
    """`hidden_grad_norms` on `batch` random windows of `seq_len + 1` characters, indexed by distance.

    Returns norms[k] = gradient norm at k steps before the last one (k = 0 .. seq_len-1).
    """
    n = corpus_ids.numel()
    if n < seq_len + 2:
        raise ValueError(_("The text is shorter than {n} characters; lower the window length.").format(n=seq_len + 1))
    gen = make_generator(seed)
    starts = torch.randint(0, n - seq_len - 1, (batch,), generator=gen)
    windows = torch.stack([corpus_ids[s:s + seq_len + 1] for s in starts.tolist()])  # (batch, T+1)
    with torch_threads(1):
        norms = hidden_grad_norms(model, windows)
    return norms[::-1]


def fresh_grad_profiles(corpus: Corpus, params: int, length: int, seed: int = 0) -> dict[str, list[float]]:
    """`grad_norm_profile` of a freshly initialised single-layer model of every cell, all with about
    `params` parameters (embedding size 32), on 8 windows of `length` steps of `corpus.val_ids`.

    Returns {"rnn (untrained)": norms, "gru (untrained)": norms, "lstm (untrained)": norms}.
    """
    out = {}
    for cell in CELLS:
        hidden = hidden_for_params(cell, params, len(corpus.vocab), 32)
        model = build_model(CharLMConfig(cell, len(corpus.vocab), 1, hidden, 32), seed)
        out[f"{cell} (untrained)"] = grad_norm_profile(model, corpus.val_ids, length, 8, seed)
    return out


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
@dataclass
class CharLMBundle:
    model: CharLM
    vocab: Vocab
    config: CharLMConfig
    info: dict  # training facts from the checkpoint metadata (steps, val_loss, corpus, ...)
    name: str = "char_lm"


def save_checkpoint(model: CharLM, vocab: Vocab, folder: str | Path, info: dict | None = None,
                    card: str | None = None, fp16: bool = True) -> Path:
    """Write model.safetensors (fp16 by default), config.json, vocab.json and README.md (if `card`)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    meta = {k: str(v) for k, v in (info or {}).items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata=meta)
    (folder / "config.json").write_text(model.config.to_json() + "\n", encoding="utf-8")
    (folder / "vocab.json").write_text(vocab.to_json() + "\n", encoding="utf-8")
    if card is not None:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


@builds_models
def load_checkpoint(ref: str | Path) -> CharLMBundle:
    """Load a folder written by `save_checkpoint` (the weights come back as float32, in eval mode)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = Path(ref)
    weights = folder / "model.safetensors"
    if not weights.exists():
        raise ValueError(_("No checkpoint in {folder}: model.safetensors is missing. "
                           "Run scripts/train_charlm.py.").format(folder=folder))
    config = CharLMConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    vocab = Vocab.from_json((folder / "vocab.json").read_text(encoding="utf-8"))
    if len(vocab) != config.vocab_size:
        raise ValueError(_("{folder}: vocab.json has {vocab_chars} characters but config.json says "
                           "{config_chars}.").format(folder=folder, vocab_chars=len(vocab),
                                                     config_chars=config.vocab_size))
    model = CharLM(config)
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    model.load_state_dict(state)
    model.eval()
    with safe_open(str(weights), "pt") as f:
        info = dict(f.metadata() or {})
    return CharLMBundle(model, vocab, config, info, folder.name)


@builds_models
def copy_model(model: CharLM) -> CharLM:
    """A trainable copy (cached models are shared by all sessions and must never be trained)."""
    clone = CharLM(model.config)
    clone.load_state_dict(model.state_dict())
    return clone
