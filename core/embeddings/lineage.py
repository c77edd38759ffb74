"""The language-model lineage page's helpers: one text, every model of the notes' line — counted and
smoothed n-grams, Bengio's NNLM, an LSTM, a tiny GPT — on the same split, vocabulary and predictions.

- `parse_text`: a visitor's text -> sentences of tokens (words: whitespace, or jieba for unspaced
  Chinese; characters: every character of a line);
- `train_part` / `held_part`: the shared split (`core.corpora.lm_split`) cut to a size a page can train
  on in seconds, and its held-out sentences;
- `smoothing_table`, `step_table`: every smoothing on the same counts (`NGramModel.with_smoothing`);
- `race`: the three neural models trained one after another for the same seconds, scored on the same
  held-out predictions as the n-grams;
- `shipped_results`: the full-corpus figures `benchmarks/lm_lineage.py --save` measured.
"""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Callable

from core.classic import ngram
from core.corpora import LM_KINDS, lm_split
from core.embeddings import nnlm
from core.i18n import N_, _
from core.sequence import sentlm
from core.settings import LOW_MEMORY

KINDS = {"words_zh": N_("People's Daily, words (Chinese)"), "chars_en": N_("Tiny Shakespeare, characters (English)")}
assert tuple(KINDS) == LM_KINDS
TRAIN_TOKENS = (20_000, 50_000, 100_000, 200_000)  # training sizes the page offers (tokens; a 5-gram model of
# 200k words holds about 700k n-grams, ~150 MB of Python dicts)
# what the n-gram tabs count: low-memory mode stops at 100k tokens and opens at 50k (a trigram model with
# Kneser-Ney over 100k words, its tables and sampling distributions take ~80 MB; over 50k, ~45 MB)
NGRAM_TOKENS = TRAIN_TOKENS[:3] if LOW_MEMORY else TRAIN_TOKENS
NGRAM_DEFAULT_TOKENS = 50_000 if LOW_MEMORY else 100_000
HELD_SENTENCES = 300  # held-out sentences the page's live comparisons score (the benchmark: all of them)
MAX_TEXT_CHARS = 200_000  # longest text a visitor may paste
EXAMPLES = {"words_zh": "中国 经济 保持 稳定 增长 。", "chars_en": "What is the king doing here?"}
RESULTS_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / "lm-lineage"
NEURAL = {"nnlm": N_("NNLM (Bengio 2003)"), "lstm": N_("LSTM"), "gpt": N_("tiny GPT")}
# what the page's race trains (the benchmark's settings, `benchmarks/lm_lineage.py`)
NN_SAMPLE = 1024  # words a sampled-softmax training step scores (besides the batch's targets)
NNLM_SETTINGS = {"context": 3, "embed_dim": 64, "hidden": 128, "batch_size": 512, "lr": 1e-2,
                 "softmax_sample": NN_SAMPLE}
LSTM_SETTINGS = {"arch": "lstm", "embed_dim": 128, "hidden": 128, "n_layers": 1, "batch_size": 32, "lr": 1e-2}
GPT_SETTINGS = {"arch": "gpt", "embed_dim": 128, "n_layers": 2, "n_head": 4, "max_len": 64, "batch_size": 32,
                "lr": 3e-3}
_CJK = re.compile(r"[\u3400-\u9fff]")


def parse_text(text: str, kind: str) -> list[list[str]]:
    """One sentence per non-empty line. "words_zh": tokens split by whitespace; a line of Chinese with no
    spaces is segmented with jieba. "chars_en": every character of the line (spaces included)."""
    if kind not in KINDS:
        raise ValueError(_("Unknown corpus {kind!r}; choose one of {choices}.").format(kind=kind,
                                                                                     choices=", ".join(KINDS)))
    if not isinstance(text, str):
        raise ValueError(_("Give the text as a string."))
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(_("The text has {n:,} characters; the limit is {limit:,}. Shorten it.").format(
            n=len(text), limit=MAX_TEXT_CHARS))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if kind == "chars_en":
            out.append(list(line))
        elif " " not in line and "\t" not in line and _CJK.search(line):
            import jieba

            out.append([w for w in jieba.lcut(line) if w.strip()])
        else:
            out.append(line.split())
    if not out:
        raise ValueError(_("The text is empty: type at least one sentence (one per line)."))
    return out


def train_part(kind: str, tokens: int | None) -> list[list[str]]:
    """The first training sentences of the shared split, up to `tokens` tokens (None: all of them)."""
    return lm_split(kind, tokens)["train"]


def held_part(kind: str, sentences: int | None = HELD_SENTENCES) -> list[list[str]]:
    """The first `sentences` held-out sentences of the shared split (None: all)."""
    held = lm_split(kind)["held_out"]
    return held if sentences is None else held[:sentences]


# ---------------------------------------------------------------------------------------------
# n-grams: every smoothing on the same counts
# ---------------------------------------------------------------------------------------------
def count_model(sentences, n: int, unk_cutoff: int = 2) -> ngram.NGramModel:
    """The counts of `sentences` up to order n (an MLE model; `with_smoothing` gives the others)."""
    return ngram.NGramModel.train(sentences, ngram.NGramConfig(n, "mle", unk_cutoff=unk_cutoff))


def smoothed(base: ngram.NGramModel, smoothing: str, k: float = 1.0, discount: float = 0.75,
             alpha: float = 0.4) -> ngram.NGramModel:
    return base.with_smoothing(ngram.NGramConfig(base.cfg.n, smoothing, k=k, discount=discount, alpha=alpha,
                                                 unk_cutoff=base.cfg.unk_cutoff))


def unseen_share(base: ngram.NGramModel, sentences) -> float:
    """The share of held-out predictions whose whole n-gram never occurred in training."""
    seen = total = 0
    for s in sentences:
        if s:
            steps = base.sentence_steps(s)
            seen += sum(1 for st in steps if st["count"] > 0)
            total += len(steps)
    return 1.0 - seen / total if total else 0.0


def smoothing_table(base: ngram.NGramModel, held_out, k: float = 1.0, discount: float = 0.75,
                    alpha: float = 0.4) -> list[dict]:
    """One row per smoothing: held-out perplexity (inf when a prediction gets probability 0), whether its
    numbers are probabilities, and the seconds it took to score."""
    held_out = [s for s in held_out if s]
    if not held_out:
        raise ValueError(_("There is no held-out text to score."))
    rows = []
    for name in ngram.SMOOTHINGS:
        model = smoothed(base, name, k, discount, alpha)
        t0 = time.perf_counter()
        ppl = model.perplexity(held_out)
        rows.append({"smoothing": name, "ppl": ppl, "probabilities": name not in ngram.SCORES_ONLY,
                     "seconds": time.perf_counter() - t0})
    return rows


def ppl_by_order(train, held_out, smoothing: str = "kneser_ney", k: float = 1.0, discount: float = 0.75,
                 alpha: float = 0.4, on_order: Callable | None = None) -> list[dict]:
    """Held-out perplexity of the n-gram models n = 1 … MAX_N under one smoothing (each model is dropped
    once scored, so memory holds one at a time): [{"n", "ppl", "unseen" (share of held-out n-grams never
    seen in training), "ngrams" (distinct n-grams stored)}]. `on_order(n)` before each order."""
    held_out = [s for s in held_out if s]
    if not held_out:
        raise ValueError(_("There is no held-out text to score."))
    rows = []
    for n in range(1, ngram.MAX_N + 1):
        if on_order is not None:
            on_order(n)
        base = count_model(train, n)
        rows.append({"n": n, "ppl": smoothed(base, smoothing, k, discount, alpha).perplexity(held_out),
                     "unseen": unseen_share(base, held_out[:500]), "ngrams": len(base.counts[n])})
        del base
    return rows


def step_table(base: ngram.NGramModel, tokens, k: float = 1.0, discount: float = 0.75,
               alpha: float = 0.4, model_for: Callable | None = None) -> dict[str, list[dict]]:
    """smoothing -> `sentence_steps(tokens)` on the same counts. `model_for(smoothing)` (optional) supplies
    the smoothed models, e.g. from a cache; by default each is built from `base`."""
    tokens = list(tokens)
    if not tokens:
        raise ValueError(_("The sentence is empty: type at least one word."))
    model_for = model_for or (lambda name: smoothed(base, name, k, discount, alpha))
    return {name: model_for(name).sentence_steps(tokens) for name in ngram.SMOOTHINGS}


def sentence_ppl(steps: list[dict]) -> float:
    """2 ** mean(−log2 p) of one sentence's steps (inf when a step has p = 0)."""
    costs = [st["neg_log2_p"] for st in steps]
    return math.inf if any(math.isinf(c) for c in costs) else 2.0 ** (sum(costs) / len(costs))


# ---------------------------------------------------------------------------------------------
# the same text, every model
# ---------------------------------------------------------------------------------------------
def ngram_rows(train, held, vocab: nnlm.Vocab) -> list[dict]:
    """Unigram, bigram KN and trigram KN on the text mapped through `vocab` (so they predict over the
    same words as the neural models): {"model", "ppl", "params" (n-gram counts stored), "seconds"}."""
    train_m, held_m = vocab.map_sentences(train), vocab.map_sentences(held)
    rows = []
    for n, name in ((1, "unigram"), (2, "bigram_kn"), (3, "trigram_kn")):
        t0 = time.perf_counter()
        model = ngram.NGramModel.train(train_m, ngram.NGramConfig(n, "kneser_ney", unk_cutoff=1))
        seconds = time.perf_counter() - t0
        rows.append({"model": name, "ppl": model.perplexity(held_m), "params": sum(len(c) for c in model.counts[1:]),
                     "seconds": seconds})
    return rows


def race(train, held, seconds: float, seed: int = 0, which=tuple(NEURAL), on_model: Callable | None = None,
         on_step: Callable | None = None, results: list | None = None, histories: dict | None = None) -> list[dict]:
    """Train the NNLM, the LSTM and the tiny GPT one after another for `seconds` each on `train` and score
    them on `held` (the same predictions as `ngram_rows`, over the vocabulary of words seen twice in
    `train`). `results` (appended in place, one row per finished model: {"model", "ppl", "params",
    "seconds", "steps"}) and `histories` (model -> its step history) keep what was done if the visitor
    stops. `on_model(name)` before each model; `on_step(done, total, info)` as the trainers call it."""
    results = results if results is not None else []
    histories = histories if histories is not None else {}
    vocab = nnlm.Vocab.build(train, min_count=2)
    for name in which:
        if name not in NEURAL:
            raise ValueError(_("Unknown model {name!r}; choose from {choices}.").format(name=name,
                                                                                     choices=", ".join(NEURAL)))
        if on_model is not None:
            on_model(name)
        hist = histories.setdefault(name, [])
        if name == "nnlm":
            s = NNLM_SETTINGS
            data = nnlm.make_data(train, held, s["context"], vocab=vocab)
            cfg = nnlm.NNLMConfig(len(vocab), s["context"], s["embed_dim"], s["hidden"])
            model = nnlm.build_nnlm(cfg, seed, vocab)
            res = nnlm.train(model, data, epochs=1000, lr=s["lr"], batch_size=s["batch_size"], seed=seed,
                             max_seconds=seconds, eval_every=0, on_step=on_step, history=hist, threads=1,
                             softmax_sample=s["softmax_sample"])
            params = nnlm.count_params(model)
        else:
            s = LSTM_SETTINGS if name == "lstm" else GPT_SETTINGS
            cfg = sentlm.SentLMConfig(vocab_size=len(vocab), **{k: v for k, v in s.items()
                                                                 if k not in ("batch_size", "lr")})
            model = sentlm.build_sentlm(cfg, seed, vocab)
            res = sentlm.train(model, vocab, train, held, max_seconds=seconds, lr=s["lr"],
                               batch_size=s["batch_size"], seed=seed, on_step=on_step, history=hist, threads=1)
            params = res["params"]
        results.append({"model": name, "ppl": res["val_ppl"], "params": params, "seconds": res["seconds"],
                        "steps": res["steps"]})
    return results


def shipped_results(kind: str) -> dict | None:
    """The figures `benchmarks/lm_lineage.py --save` measured on the whole split (None if not shipped)."""
    path = RESULTS_DIR / f"{kind}.json"
    if kind not in KINDS or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
