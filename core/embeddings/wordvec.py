"""Word vectors: analogies, neighbours, one-hot vs dense, 2-D/3-D maps, and a fast scoreboard.

Every function takes a gensim ``KeyedVectors`` (GloVe, hub vectors, or word2vec trained in the
page). Cached vectors are shared by every session, so nothing here mutates them: the unit-length
matrix we need lives in a side cache keyed weakly by the KeyedVectors object.

Math used throughout (all vectors unit-normalized first, ``x̂ = x / ‖x‖``):

- cosine similarity  cos(u, v) = û · v̂
- 3CosAdd  answer = argmax_d  cos(d, b − a + c)   (Mikolov et al. 2013)
- 3CosMul  answer = argmax_d  cos'(d, b) · cos'(d, c) / (cos'(d, a) + ε),  cos' = (cos + 1) / 2
  (Levy & Goldberg 2014)
"""
from __future__ import annotations

import difflib
import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core.i18n import N_, _

OnStep = Callable[[int, int, "dict | None"], None]

MAX_WORD_CHARS = 60  # longer "words" are rejected before any lookup
MAX_TOPK = 50  # most answers / neighbours shown at once
MAX_MAP_WORDS = 80  # most words in one 2-D/3-D map (t-SNE stays fast)
MAX_ONEHOT_WORDS = 12  # one-hot demo size
EPS_COSMUL = 1e-3  # ε in 3CosMul (Levy & Goldberg use 0.001)


def _data_path(name: str) -> Path:
    from core.corpora import gensim_test_file

    return gensim_test_file(name)


def analogy_file() -> Path:
    """The Google analogy set (Mikolov et al. 2013): 19,544 questions in 14 sections."""
    return _data_path("questions-words.txt")


def wordsim_file() -> Path:
    return _data_path("wordsim353.tsv")


def simlex_file() -> Path:
    return _data_path("simlex999.txt")


# ---------------------------------------------------------------------------------------------
# the unit-normalized matrix (side cache; the KeyedVectors itself is never touched)
# ---------------------------------------------------------------------------------------------
_unit_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_unit_lock = threading.Lock()


def unit_matrix(kv) -> torch.Tensor:
    """Rows of `kv.vectors` scaled to length 1 (zero rows stay zero), float32, shared read-only."""
    with _unit_lock:
        cached = _unit_cache.get(kv)
        if cached is not None and cached.shape[0] == len(kv.index_to_key):
            return cached
        mat = torch.from_numpy(np.ascontiguousarray(kv.vectors, dtype=np.float32))  # (V, D)
        norms = mat.norm(dim=1, keepdim=True)  # (V, 1)
        unit = mat / torch.where(norms > 0, norms, torch.ones_like(norms))  # (V, D)
        _unit_cache[kv] = unit
        return unit


_low_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
# |approximate − exact| bound for bf16 scores of unit vectors: inputs rounded to bf16 (relative
# 2⁻⁹ each, so ≤ 2⁻⁸·‖q‖‖m‖ by Cauchy–Schwarz), fp32 accumulation, output rounded to bf16
# (relative 2⁻⁹ of |s| ≤ 1.01). 2⁻⁸ + 1.01·2⁻⁹ ≈ 0.0059; we use 0.01 for margin.
BF16_DELTA = 0.01
_precision_choice: list[str] = []


def unit_matrix_bf16(kv) -> torch.Tensor:
    """`unit_matrix(kv)` rounded to bfloat16 (for the fast approximate pass), cached likewise."""
    unit = unit_matrix(kv)
    with _unit_lock:
        cached = _low_cache.get(kv)
        if cached is None or cached.shape != unit.shape:
            cached = unit.to(torch.bfloat16)  # (V, D)
            _low_cache[kv] = cached
        return cached


def fast_precision() -> str:
    """"bf16" where this CPU has bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16, read from
    /proc/cpuinfo; timing it instead is unreliable on a busy machine), else "fp32"."""
    if not _precision_choice:
        choice = "fp32"
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fin:
                flags = next((line for line in fin if line.startswith("flags")), "").split()
            if "amx_bf16" in flags or "avx512_bf16" in flags:
                choice = "bf16"
        except OSError:
            pass
        _precision_choice.append(choice)
    return _precision_choice[0]


def _restrict(kv, restrict_vocab: int | None) -> int:
    """How many of the most frequent words to use: None, 0 (or less) or inf = all; at least 1."""
    n = len(kv.index_to_key)
    if restrict_vocab is None:
        return n
    limit = _number(restrict_vocab, _("The vocabulary limit must be a whole number of words, not {value!r}.").format(
        value=restrict_vocab))
    if limit <= 0 or limit >= n:
        return n
    return max(1, int(limit))


def _topk(topk) -> int:
    """The number of answers asked for, clamped to 1..MAX_TOPK (ValueError if it is not a number)."""
    k = _number(topk, _("The number of answers must be a whole number between 1 and {most}, not {value!r}.").format(
        most=MAX_TOPK, value=topk))
    return int(min(max(k, 1), MAX_TOPK))


def _number(value, message: str) -> float:
    """`value` as a float (±inf allowed), or ValueError(message) for NaN and non-numbers."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if math.isnan(x):
        raise ValueError(message)
    return x


# ---------------------------------------------------------------------------------------------
# looking words up
# ---------------------------------------------------------------------------------------------
def clean_word(word) -> str:
    if not isinstance(word, str):
        raise ValueError(_("Type a word."))
    word = word.strip()
    if not word:
        raise ValueError(_("One of the words is empty. Type a word in each box."))
    if len(word) > MAX_WORD_CHARS:
        raise ValueError(_("'{start}…' is {length} characters long; words here are at most {most}.").format(
            start=word[:30], length=len(word), most=MAX_WORD_CHARS))
    if any(ch.isspace() for ch in word):
        raise ValueError(_("'{word}' has a space in it: type a single word (no spaces).").format(word=word))
    return word


def close_spellings(kv, word: str, n: int = 5, restrict_vocab: int | None = 100_000) -> list[str]:
    """Words in the (top-N) vocabulary spelled most like `word` (difflib ratio)."""
    keys = kv.index_to_key[:_restrict(kv, restrict_vocab)]
    low = word.lower()
    # Only compare with words of similar length: fast even on 100k words.
    pool = [k for k in keys if abs(len(k) - len(low)) <= 2 and k[:1].lower() == low[:1]] or \
           [k for k in keys if abs(len(k) - len(low)) <= 1]
    return difflib.get_close_matches(low, pool, n=n, cutoff=0.6)


def word_index(kv, word: str, restrict_vocab: int | None = None) -> int:
    """Index of `word` (exact spelling first, then lower case) inside the top-N words, else ValueError."""
    word = clean_word(word)
    limit = _restrict(kv, restrict_vocab)
    for cand in (word, word.lower()):
        idx = kv.key_to_index.get(cand)
        if idx is not None and idx < limit:
            return idx
    idx = kv.key_to_index.get(word, kv.key_to_index.get(word.lower()))
    if idx is not None:
        raise ValueError(_(
            "'{word}' is word #{rank:,} by frequency, outside the top {limit:,} you restricted to. "
            "Raise the vocabulary limit or pick a more common word."
        ).format(word=word, rank=idx + 1, limit=limit))
    close = close_spellings(kv, word, restrict_vocab=min(limit, 100_000))
    if close:
        raise ValueError(_("'{word}' is not in the vocabulary of these vectors ({limit:,} words). "
                           "Close spellings in the vocabulary: {close}.").format(
            word=word, limit=limit, close=", ".join(close)))
    raise ValueError(_("'{word}' is not in the vocabulary of these vectors ({limit:,} words). "
                       "No close spelling found either; try a more common word.").format(word=word, limit=limit))


# ---------------------------------------------------------------------------------------------
# analogies and neighbours
# ---------------------------------------------------------------------------------------------
def cosine(kv, w1: str, w2: str) -> float:
    unit = unit_matrix(kv)
    return float(unit[word_index(kv, w1)] @ unit[word_index(kv, w2)])


def analogy(kv, a: str, b: str, c: str, topk: int = 10, method: str = "3CosAdd",
            exclude_inputs: bool = True, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
    """Answers d to `a : b :: c : d`, best first, as (word, score).

    3CosAdd scores cos(d, b − a + c) (normalized inputs); 3CosMul scores
    cos'(d,b)·cos'(d,c)/(cos'(d,a)+ε) with cos' = (cos+1)/2. With `exclude_inputs` the three
    input words can't be answers (otherwise b or c usually wins: b − a + c stays close to them).
    """
    if method not in ("3CosAdd", "3CosMul"):
        raise ValueError(_("Method must be 3CosAdd or 3CosMul."))
    topk = _topk(topk)
    limit = _restrict(kv, restrict_vocab)
    ia, ib, ic = (word_index(kv, w, limit) for w in (a, b, c))
    unit = unit_matrix(kv)[:limit]  # (N, D)
    with torch.inference_mode():
        if method == "3CosAdd":
            query = unit[ib] - unit[ia] + unit[ic]  # (D,)
            query = query / query.norm().clamp_min(1e-12)
            scores = unit @ query  # (N,)
        else:
            sims = unit @ torch.stack([unit[ia], unit[ib], unit[ic]]).T  # (N, 3)
            sims = (sims + 1) / 2
            scores = sims[:, 1] * sims[:, 2] / (sims[:, 0] + EPS_COSMUL)  # (N,)
        if exclude_inputs:
            scores = scores.clone()
            scores[[ia, ib, ic]] = -math.inf
        vals, idx = torch.topk(scores, min(topk, limit))
    return [(kv.index_to_key[i], float(v)) for v, i in zip(vals.tolist(), idx.tolist()) if math.isfinite(v)]


def neighbours(kv, word: str, topk: int = 10, restrict_vocab: int | None = None) -> list[tuple[str, float]]:
    """The `topk` words with the highest cosine similarity to `word` (itself excluded)."""
    topk = _topk(topk)
    limit = _restrict(kv, restrict_vocab)
    i = word_index(kv, word, limit)
    unit = unit_matrix(kv)[:limit]  # (N, D)
    with torch.inference_mode():
        scores = (unit @ unit[i]).clone()  # (N,)
        scores[i] = -math.inf
        vals, idx = torch.topk(scores, min(topk, max(limit - 1, 1)))
    return [(kv.index_to_key[j], float(v)) for v, j in zip(vals.tolist(), idx.tolist()) if math.isfinite(v)]


def parse_words(text: str, max_words: int = MAX_MAP_WORDS) -> list[str]:
    """Split a typed list (commas, spaces or new lines) into unique words, in order."""
    if not isinstance(text, str):
        raise ValueError(_("Type some words separated by commas."))
    words, seen = [], set()
    for raw in text.replace("\n", ",").replace(";", ",").replace(" ", ",").split(","):
        w = raw.strip()
        if w and w.lower() not in seen:
            seen.add(w.lower())
            words.append(w)
    if not words:
        raise ValueError(_("The word list is empty. Type a few words separated by commas."))
    if len(words) > max_words:
        raise ValueError(_("That is {n} words; the limit is {most}. Remove some.").format(n=len(words), most=max_words))
    return words


def split_known(kv, words: list[str], restrict_vocab: int | None = None) -> tuple[list[str], list[str]]:
    """(words found in the vocabulary, as stored; words not found)."""
    known, missing = [], []
    for w in words:
        try:
            known.append(kv.index_to_key[word_index(kv, w, restrict_vocab)])
        except ValueError:
            missing.append(w)
    return known, missing


# ---------------------------------------------------------------------------------------------
# one-hot vs dense
# ---------------------------------------------------------------------------------------------
@dataclass
class OneHotDemo:
    words: list[str]  # the words, as found in the vocabulary
    indices: list[int]  # their row numbers in the embedding matrix
    vocab_size: int  # V: a one-hot code has V entries, one of them 1
    onehot_cos: np.ndarray  # (n, n) cosine of one-hot codes: the identity matrix
    dense_cos: np.ndarray  # (n, n) cosine of the dense vectors: graded
    lookup_equal: bool  # one_hot(w) @ E == E[w] for every word (checked on the real matrix)
    dense_rows: np.ndarray = field(repr=False, default=None)  # (n, D) the looked-up rows


def one_hot_demo(kv, words: list[str]) -> OneHotDemo:
    if len(words) < 2:
        raise ValueError(_("Pick at least two words to compare."))
    if len(words) > MAX_ONEHOT_WORDS:
        raise ValueError(_("Pick at most {most} words for the one-hot demo.").format(most=MAX_ONEHOT_WORDS))
    idx = [word_index(kv, w) for w in words]
    if len(set(idx)) != len(idx):
        raise ValueError(_("Each word must be different."))
    n, vocab = len(idx), len(kv.index_to_key)
    emb = torch.from_numpy(np.asarray(kv.vectors, dtype=np.float32))  # (V, D) shared: read only
    onehot = torch.zeros(n, vocab)  # (n, V)
    onehot[torch.arange(n), torch.tensor(idx)] = 1.0
    looked_up = onehot @ emb  # (n, V) @ (V, D) -> (n, D)
    rows = emb[idx]  # (n, D)
    oh_unit = onehot / onehot.norm(dim=1, keepdim=True)  # (n, V)
    onehot_cos = (oh_unit @ oh_unit.T).numpy()  # (n, n)
    unit = unit_matrix(kv)[idx]  # (n, D)
    dense_cos = (unit @ unit.T).numpy()  # (n, n)
    return OneHotDemo([kv.index_to_key[i] for i in idx], idx, vocab, onehot_cos, dense_cos,
                      bool(torch.allclose(looked_up, rows)), rows.numpy())


# ---------------------------------------------------------------------------------------------
# maps: PCA / t-SNE projections and a plotly figure with analogy arrows
# ---------------------------------------------------------------------------------------------
# keys: option values and URL values (English); N_: the page shows them translated
PRESETS = {
    N_("countries–capitals"): "france, paris, germany, berlin, italy, rome, spain, madrid, japan, tokyo, "
                          "china, beijing, russia, moscow, egypt, cairo",
    N_("gender pairs"): "man, woman, king, queen, boy, girl, brother, sister, uncle, aunt, father, mother, "
                    "prince, princess, husband, wife",
    N_("verb tenses"): "walk, walked, swim, swam, run, ran, go, went, eat, ate, write, wrote, see, saw, "
                   "take, took",
}


def project(vectors: np.ndarray, method: str = "PCA", dims: int = 2, seed: int = 0) -> np.ndarray:
    """(n, D) vectors -> (n, dims) coordinates by PCA (SVD of the centred rows) or t-SNE (cosine)."""
    x = np.asarray(vectors, dtype=np.float64)  # (n, D)
    if dims not in (2, 3):
        raise ValueError(_("Maps are 2-D or 3-D."))
    if x.ndim != 2 or x.shape[0] < dims + 1:
        raise ValueError(_("A {dims}-D map needs at least {n} words that are in the vocabulary.").format(
            dims=dims, n=dims + 1))
    if method == "PCA":
        centred = x - x.mean(axis=0, keepdims=True)  # (n, D)
        vt = np.linalg.svd(centred, full_matrices=False)[2]  # vt: (min(n,D), D)
        coords = centred @ vt[:dims].T  # (n, dims)
        # fix the sign of each axis so the picture does not flip between runs
        signs = np.sign(coords[np.abs(coords).argmax(axis=0), np.arange(dims)])
        return coords * np.where(signs == 0, 1, signs)
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        perplexity = float(max(2.0, min(30.0, (x.shape[0] - 1) / 3)))
        tsne = TSNE(n_components=dims, perplexity=perplexity, metric="cosine", init="pca",
                    random_state=int(seed) % (2**32 - 1), max_iter=500)
        return tsne.fit_transform(x)
    raise ValueError(_("Projection must be PCA or t-SNE."))


def pair_arrows(words: list[str]) -> list[tuple[str, str]]:
    """Consecutive pairs (w0→w1, w2→w3, …): how the preset lists are ordered."""
    return [(words[i], words[i + 1]) for i in range(0, len(words) - 1, 2)]


def map_figure(words: list[str], coords: np.ndarray, arrows: list[tuple[str, str]] = (),
               title: str = "", highlight: set[str] | None = None):
    """A 2-D or 3-D plotly scatter of labelled words with arrows from → to."""
    import plotly.graph_objects as go

    coords = np.asarray(coords)  # (n, 2|3)
    pos = {w: coords[i] for i, w in enumerate(words)}
    highlight = highlight or set()
    colors = ["#d62728" if w in highlight else "#1f77b4" for w in words]
    fig = go.Figure()
    if coords.shape[1] == 3:
        fig.add_trace(go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="markers+text",
                                   text=words, marker=dict(size=4, color=colors), name=_("words"),
                                   hovertemplate="%{text}<extra></extra>"))
        for src, dst in arrows:
            if src in pos and dst in pos:
                p, q = pos[src], pos[dst]
                fig.add_trace(go.Scatter3d(x=[p[0], q[0]], y=[p[1], q[1]], z=[p[2], q[2]], mode="lines",
                                           line=dict(color="rgba(100,100,100,0.6)", width=3),
                                           showlegend=False, hoverinfo="skip"))
                fig.add_trace(go.Cone(x=[q[0]], y=[q[1]], z=[q[2]], u=[q[0] - p[0]], v=[q[1] - p[1]],
                                      w=[q[2] - p[2]], sizemode="absolute", sizeref=0.3 * float(np.ptp(coords)) / 10,
                                      anchor="tip", showscale=False, colorscale=[[0, "gray"], [1, "gray"]],
                                      hoverinfo="skip"))
        fig.update_layout(height=600)
    else:
        fig.add_trace(go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="markers+text", text=words,
                                 textposition="top center", marker=dict(size=8, color=colors), name=_("words"),
                                 hovertemplate="%{text}<extra></extra>"))
        for src, dst in arrows:
            if src in pos and dst in pos:
                p, q = pos[src], pos[dst]
                fig.add_annotation(x=q[0], y=q[1], ax=p[0], ay=p[1], xref="x", yref="y", axref="x", ayref="y",
                                   showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=1.5,
                                   arrowcolor="rgba(100,100,100,0.7)", text="")
        fig.update_layout(height=520, xaxis_title=_("axis 1"), yaxis_title=_("axis 2"))
    fig.update_layout(title=title, showlegend=False, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


# ---------------------------------------------------------------------------------------------
# scoreboard: the Google analogy set, vectorized (matches gensim's evaluate_word_analogies)
# ---------------------------------------------------------------------------------------------
@dataclass
class AnalogyScore:
    accuracy: float  # correct / (correct + incorrect) over all sections (0 if none answered)
    correct: int  # questions answered right
    total: int  # questions evaluated (all 4 words inside the restricted vocabulary)
    skipped: int  # questions skipped because a word was outside the restricted vocabulary
    sections: list[dict]  # [{"section", "correct", "total", "accuracy"}], file order
    seconds: float  # wall time of the evaluation
    precision: str = "bounds/fp32"  # strategy/precision used (see evaluate_analogies)
    rescored: int = 0  # questions whose certificate failed and that got a full float32 pass


def read_analogies(path: str | Path) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections of an analogy file (`: name` headers, then lines `a b c d`), words upper-cased."""
    sections: list[tuple[str, list]] = []
    with open(path, "rb") as fin:
        for line_no, raw in enumerate(fin):
            line = raw.decode("utf-8", errors="strict")
            if line.startswith(": "):
                sections.append((line.lstrip(": ").strip(), []))
                continue
            if not sections:
                raise ValueError(_("Missing section header before line #{line} in {path}.").format(line=line_no, path=path))
            parts = [w.upper() for w in line.split()]
            if len(parts) != 4:
                continue  # gensim skips invalid lines too
            sections[-1][1].append(tuple(parts))
    return sections


def _upper_vocab(kv, limit: int, uppers: list[str] | None = None) -> dict[str, int]:
    """UPPER-CASED word -> index of its first (most frequent) spelling within the top `limit`."""
    uppers = uppers if uppers is not None else [key.upper() for key in kv.index_to_key[:limit]]
    return dict(zip(reversed(uppers), range(len(uppers) - 1, -1, -1)))  # earlier spellings overwrite later


def _analogy_queries(unit: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """3CosAdd query directions (b̂ − â + ĉ) / ‖…‖ for question rows (a, b, c, …): (B, ≥3) -> (B, D)."""
    query = unit[idx[:, 1]] + unit[idx[:, 2]] - unit[idx[:, 0]]  # (B, D)
    return query / query.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _group_max_rows(x: torch.Tensor, group: int) -> torch.Tensor:
    """(N, K) -> (ceil(N/group), K): the max of every `group` consecutive rows (last group shorter)."""
    full = (x.shape[0] // group) * group
    out = x[:full].unflatten(0, (full // group, group)).amax(dim=1)  # (N // group, K)
    if full < x.shape[0]:
        out = torch.cat([out, x[full:].amax(dim=0, keepdim=True)], dim=0)  # (G, K)
    return out


def _group_max_scores(unit: torch.Tensor, vecs: torch.Tensor, group: int, cols: int = 128) -> torch.Tensor:
    """Group maxima of Û @ vecsᵀ, computed `cols` columns at a time: (N, D), (K, D) -> (G, K)."""
    parts = []
    for j in range(0, vecs.shape[0], cols):
        prod = unit @ vecs[j:j + cols].T  # (N, k)
        parts.append(_group_max_rows(prod, group))
        del prod
    return torch.cat(parts, dim=1) if parts else torch.zeros(-(-unit.shape[0] // group), 0)


def _rescore(unit: torch.Tensor, query: torch.Tensor, groups: torch.Tensor, group: int, k_best: int):
    """Exact scores of every word in the given groups: (B, D), (B, T) -> top-k (values, word ids)."""
    limit = unit.shape[0]
    cand = (groups[:, :, None] * group + torch.arange(group)[None, None, :]).reshape(groups.shape[0], -1)  # (B, T*group)
    valid = cand < limit  # (B, C)
    cand = cand.clamp_max(limit - 1)
    exact = torch.einsum("bd,bcd->bc", query, unit[cand])  # (B, C)
    exact = exact.masked_fill(~valid, -math.inf)
    vals, pos = torch.topk(exact, k_best, dim=1)  # (B, k)
    return vals, cand.gather(1, pos)


def _rescore_groups(unit_g: torch.Tensor, limit: int, query: torch.Tensor, groups: torch.Tensor, k_best: int):
    """Exact top-k over whole groups: unit_g (G, g, D) zero-padded, (b, D), (b, t) -> (values, word ids)."""
    group = unit_g.shape[1]
    exact = torch.einsum("bd,btgd->btg", query, unit_g[groups]).reshape(groups.shape[0], -1)  # (b, t*g)
    if limit % group:  # the zero rows padding the last group must never win
        words = (groups[:, :, None] * group + torch.arange(group)).reshape(groups.shape[0], -1)  # (b, t*g)
        exact = exact.masked_fill(words >= limit, -math.inf)
    vals, pos = torch.topk(exact, k_best, dim=1)  # (b, k)
    return vals, groups.gather(1, pos // group) * group + pos % group


def _top_words_bounds(unit, idx, group, k_best, on_step, n_total, chunk=256, picks=(32, 256, 2048),
                      max_words=1_000_000):
    """Top-`k_best` words for every question, exactly, with few full products.

    With q' = (b̂ − â) + ĉ, a word m scores m·q' = m·(b̂ − â) + m·ĉ. The analogy set has far fewer
    distinct offsets (b̂ − â) and words c than questions, so two batched products Û Dᵀ and Û Cᵀ give,
    for every group g of `group` words, maxima P[g, pair] and W[g, c]; P + W bounds every score in g.
    Each question re-scores its best-bounded groups exactly (`picks` groups, then more); its top words
    are certified once the k-th exact score beats the bound of every group left, else a full pass.
    """
    pairs, pair_id = torch.unique(idx[:, :2], dim=0, return_inverse=True)  # (P, 2), (n,)
    cwords, c_id = torch.unique(idx[:, 2], return_inverse=True)  # (C,), (n,)
    offsets = unit[pairs[:, 1]] - unit[pairs[:, 0]]  # (P, D)
    cvecs = unit[cwords]  # (C, D)
    g_off = _group_max_scores(unit, offsets, group).T.contiguous()  # (P, G)
    g_c = _group_max_scores(unit, cvecs, group).T.contiguous()  # (C, G)
    n, n_groups = idx.shape[0], g_off.shape[1]
    limit, dim = unit.shape
    pad = n_groups * group - limit
    unit_g = torch.cat([unit, unit.new_zeros(pad, dim)]).reshape(n_groups, group, dim)  # (G, g, D)
    best = torch.empty(n, k_best, dtype=torch.long)
    fallback = 0
    for start in range(0, n, chunk):
        rows = torch.arange(start, min(start + chunk, n))
        raw = offsets[pair_id[rows]] + cvecs[c_id[rows]]  # (B, D) unnormalized query
        norm = raw.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (B, 1)
        query = _analogy_queries(unit, idx[rows])  # (B, D)
        bound = (g_off[pair_id[rows]] + g_c[c_id[rows]]) / norm + 1e-5  # (B, G) normalized upper bounds
        todo = torch.arange(len(rows))  # positions in this chunk still uncertified
        for t in picks:
            if len(todo) == 0:
                break
            t = min(t, n_groups)
            kk = min(t + 1, n_groups)
            top_b, top_g = torch.topk(bound[todo], kk, dim=1)  # (b, t[+1]) best bounds first
            step = max(1, max_words // (t * group))  # rows per sub-batch: bounded memory
            done = torch.zeros(len(todo), dtype=torch.bool)
            for s0 in range(0, len(todo), step):
                sl = slice(s0, s0 + step)
                vals, words = _rescore_groups(unit_g, limit, query[todo[sl]], top_g[sl, :t], k_best)
                best[rows[todo[sl]]] = words
                done[sl] = True if t == n_groups else vals[:, -1] > top_b[sl, t]
            todo = todo[~done]
        for r in todo.tolist():  # rare: the whole matrix for this question
            best[rows[r]] = torch.topk(unit @ query[r], k_best).indices
        fallback += len(todo)
        if on_step:
            on_step(min(start + chunk, n), n_total, None)
    return best, fallback


def _top_words_dense(unit, low, idx, group, k_best, on_step, n_total, chunk=256):
    """Top-`k_best` words per question from full products Q Ûᵀ (float32, or bf16 + certificate)."""
    limit, n = unit.shape[0], idx.shape[0]
    n_groups = -(-limit // group)
    n_pick = min(2 * k_best if low is not None else k_best, n_groups)
    best = torch.empty(n, k_best, dtype=torch.long)
    rescored = 0
    # One score buffer for every chunk: a fresh (chunk, N) tensor each time is ~300 MB of new pages
    # for the OS to fault in, about a third of the time of the product itself.
    buf = torch.empty(min(chunk, n), limit, dtype=torch.bfloat16 if low is not None else unit.dtype)  # (B, N)
    unit_t = unit.T.contiguous() if low is None else None  # (D, N): ~15% faster products than the strided Ûᵀ
    for start in range(0, n, chunk):
        block = idx[start:start + chunk]  # (B, 4): a, b, c, expected
        query = _analogy_queries(unit, block)  # (B, D)
        scores = buf[:len(block)]  # (B, N)
        if low is not None:
            torch.mm(query.to(torch.bfloat16), low.T, out=scores)  # approximate, |error| <= BF16_DELTA
        else:
            torch.mm(query, unit_t, out=scores)
        full = (limit // group) * group  # columns in complete groups
        gmax = scores[:, :full].unflatten(1, (full // group, group)).amax(dim=2)  # (B, N // group)
        if full < limit:  # the last, shorter group
            gmax = torch.cat([gmax, scores[:, full:].amax(dim=1, keepdim=True)], dim=1)  # (B, G)
        gmax = gmax.float()
        del scores
        gvals, top_groups = torch.topk(gmax, min(n_pick + 1, n_groups), dim=1)  # (B, n_pick[+1])
        vals, words = _rescore(unit, query, top_groups[:, :n_pick], group, k_best)
        if low is not None and n_pick < n_groups:
            # certificate: every word outside the picked groups scores <= its group's approx max + delta
            unsure = torch.nonzero(vals[:, -1] <= gvals[:, n_pick] + BF16_DELTA).flatten().tolist()
            for r in unsure:  # rare: exact full scores for this question
                words[r] = torch.topk(unit @ query[r], k_best).indices
            rescored += len(unsure)
        best[start:start + len(block)] = words
        if on_step:
            on_step(min(start + chunk, n), n_total, None)
    return best, rescored


SCAN_TOL = 1e-5  # |matrix-product score − per-pair dot score| stays far below this for unit vectors (fp32)


def _scan_blocks(n_words: int, first: int = 4096, widest: int = 65536) -> list[tuple[int, int]]:
    """Column blocks of the vocabulary in frequency order, doubling from `first` up to `widest` words."""
    blocks, start, width = [], 0, first
    while start < n_words:
        blocks.append((start, min(n_words, start + width)))
        start += width
        width = min(2 * width, widest)
    return blocks


def _verdicts_by_scan(unit, idx, quads, uppers, on_step, n_total, rows_per_pass=2048, tile=512, first_block=4096):
    """Right (1) / wrong (0) / undecided (-1) for every question, scanning for a word that beats the answer.

    gensim's prediction is the best word that is not an input (nor a case variant of one, up to its
    top-5 rule), so a question is right exactly when the best-scoring expected spelling E beats every
    other word O. Its exact score s_E is one dot product; then the question leaves the scan as soon as
    some word beats s_E, so only right answers (about half) cost a full pass over the vocabulary:
      1. the question words themselves (every spelling of every word in the file, ~1k columns), with
         each question's own inputs, their case variants and E masked out: the usual winners of a
         wrong answer (another capital, another tense) are here;
      2. every other word, most frequent first, in blocks that double in width; no masking is
         needed there, so each block is a plain product Q Ûᵀ computed `tile` columns at a time (a
         (2048, 512) score tile stays in cache: ~1.6× the speed of one wide product here) keeping
         only the running row maximum.
    Scores within SCAN_TOL of s_E are left undecided (-1) for the exact top-k path.
    """
    n, limit = idx.shape[0], unit.shape[0]
    query = _analogy_queries(unit, idx)  # (n, D)
    verdict = torch.full((n,), -1, dtype=torch.int8)

    needed = {w for q in quads for w in q}
    spellings: dict[str, list[int]] = {}
    for i, up in enumerate(uppers):
        if up in needed:
            spellings.setdefault(up, []).append(i)
    special = sorted(i for ids in spellings.values() for i in ids)  # every word any question masks
    col = {w: j for j, w in enumerate(special)}
    m_row, m_col, m_kind = [], [], []  # kind: 0 input, 1 case variant of an input, 2 expected spelling
    plain = torch.ones(n, dtype=torch.bool)  # False: the expected word is also an input (exact path)
    for r, (quad, row) in enumerate(zip(quads, idx.tolist())):
        if quad[3] in quad[:3]:
            plain[r] = False
            continue
        inputs = set(row[:3])
        for i in inputs:
            m_row.append(r), m_col.append(col[i]), m_kind.append(0)
        for w in set(quad[:3]):
            for i in spellings[w]:
                if i not in inputs:
                    m_row.append(r), m_col.append(col[i]), m_kind.append(1)
        for i in spellings[quad[3]]:
            m_row.append(r), m_col.append(col[i]), m_kind.append(2)
    m_row, m_col, m_kind = (torch.tensor(x, dtype=torch.long) for x in (m_row, m_col, m_kind))
    special_t = torch.tensor(special, dtype=torch.long)
    exact = (query[m_row] * unit[special_t[m_col]]).sum(dim=1)  # (M,) score of every masked word
    s_e = torch.full((n,), -math.inf).scatter_reduce(0, m_row[m_kind == 2], exact[m_kind == 2], "amax")  # (n,)
    variant = m_kind == 1
    gap = exact[variant] - s_e[m_row[variant]]  # (K,) case variants of inputs, relative to s_E
    above = torch.zeros(n, dtype=torch.long).index_add_(0, m_row[variant], (gap > SCAN_TOL).long())  # (n,)
    close = torch.zeros(n, dtype=torch.bool)
    close[m_row[variant][gap.abs() <= SCAN_TOL]] = True

    special_m = unit[special_t].T.contiguous()  # (D, S) the question words
    others = torch.ones(limit, dtype=torch.bool)
    others[special_t] = False
    rest_t = unit[others].T.contiguous()  # (D, N − S) every other word, frequency order kept
    blocks = _scan_blocks(rest_t.shape[1], first_block, 16 * first_block)
    buf = torch.empty(min(rows_per_pass, n) * max(tile, len(special)))  # one score buffer, reused
    for start in range(0, n, rows_per_pass):
        stop = min(start + rows_per_pass, n)
        rows = torch.arange(start, stop)[plain[start:stop]]  # (R,)
        # 1. the question words, masked per question
        scores = buf[:len(rows) * len(special)].view(len(rows), len(special))  # (R, S)
        torch.mm(query[rows], special_m, out=scores)
        mine = (m_row >= start) & (m_row < stop)
        pos = torch.full((stop - start,), -1, dtype=torch.long)
        pos[rows - start] = torch.arange(len(rows))
        scores[pos[m_row[mine] - start], m_col[mine]] = -math.inf  # I, K and E never count as O
        best_other = scores.amax(dim=1) if len(special) else torch.full((len(rows),), -math.inf)  # (R,)
        # 2. every other word, block by block; a question stops once beaten (the empty first
        #    "block" only applies that check to the question words' scores)
        for c0, c1 in [(0, 0)] + blocks:
            if c1 > c0:
                q_act = query[rows]  # (A, D)
                for t0 in range(c0, c1, tile):
                    t1 = min(c1, t0 + tile)
                    part = buf[:len(rows) * (t1 - t0)].view(len(rows), t1 - t0)  # (A, t)
                    torch.mm(q_act, rest_t[:, t0:t1], out=part)
                    torch.maximum(best_other, part.amax(dim=1), out=best_other)
            beaten = best_other > s_e[rows] + SCAN_TOL
            verdict[rows[beaten]] = 0
            rows, best_other = rows[~beaten], best_other[~beaten]
            if len(rows) == 0:
                break
        surely_below = best_other < s_e[rows] - SCAN_TOL
        decided = rows[surely_below & ~close[rows]]
        verdict[decided] = (above[decided] <= 4).to(torch.int8)  # ≥ 5 variants above E: gensim's top-5 ends first
        if on_step:
            on_step(stop, n_total, None)
    return verdict


def _gensim_prediction(quad, row, best, keys) -> str | None:
    """gensim's pick from a question's best words: drop the inputs, keep 5 answers, then the first
    answer whose upper-cased spelling is not an input's (else the last answer)."""
    inputs, upper_inputs = set(row[:3]), set(quad[:3])
    predicted = None
    for i in [i for i in best if i not in inputs][:5]:  # gensim's most_similar(topn=5)
        predicted = keys[i].upper()
        if predicted not in upper_inputs:
            break
    return predicted


def evaluate_analogies(kv, path: str | Path | None = None, restrict_vocab: int = 300_000,
                       on_step: OnStep | None = None, chunk: int = 256, group: int = 64,
                       strategy: str = "scan", precision: str = "auto", bound_group: int = 16) -> AnalogyScore:
    """Accuracy on an analogy file with exactly gensim's rules, in batched matrix products.

    gensim's `evaluate_word_analogies` (case-insensitive, 3CosAdd) scores one question at a time
    against the whole restricted matrix. Here, three exact ways:

    - strategy="scan" (default): only asks whether the expected word wins. One dot product gives its
      score; the vocabulary is scanned in blocks of batched products, most frequent words first, and a
      question stops as soon as another word beats it (see `_verdicts_by_scan`). About half the
      multiply-adds of "dense" on GloVe; the few near-ties go through "dense".
    - strategy="dense": the 8 best words of every question (5 answers + up to 3 excluded inputs, as
      gensim asks for) from S = Q Ûᵀ for chunks of questions, group maxima, exact re-scoring of the
      best groups; `precision="bf16"` does S in bfloat16 with a certificate (error ≤ BF16_DELTA).
    - strategy="bounds" (experimental; slower than "dense" on GloVe so far): group maxima of
      Û(b̂ − â)ᵀ and Û ĉᵀ over the distinct offsets and words bound every group's scores; only the
      best groups are re-scored exactly, with a certificate (see `_top_words_bounds`). ~10× fewer
      multiply-adds, but the re-scoring gathers dominate when the bounds are loose.

    The 8 words then go through gensim's selection rule (`_gensim_prediction`): drop the input words
    themselves, then the first word whose upper-cased spelling is not one of the inputs is the prediction.
    `precision` only applies to "dense".
    """
    started = time.perf_counter()
    path = Path(path) if path is not None else analogy_file()
    if strategy not in ("scan", "bounds", "dense"):
        raise ValueError(_("strategy must be 'scan', 'bounds' or 'dense'."))
    if precision == "auto":
        precision = fast_precision()
    if precision not in ("fp32", "bf16"):
        raise ValueError(_("precision must be 'auto', 'fp32' or 'bf16'."))
    limit = _restrict(kv, restrict_vocab)
    uppers = [key.upper() for key in kv.index_to_key[:limit]]
    ok = _upper_vocab(kv, limit, uppers)
    sections = read_analogies(path)

    # flatten the answerable questions
    quads, owner = [], []
    skipped = 0
    for s, (_name, questions) in enumerate(sections):
        for q in questions:
            if all(w in ok for w in q):
                quads.append(q)
                owner.append(s)
            else:
                skipped += 1
    n = len(quads)
    correct_by_section = np.zeros(len(sections), dtype=np.int64)
    total_by_section = np.bincount(np.asarray(owner, dtype=np.int64), minlength=len(sections)) if n else \
        np.zeros(len(sections), dtype=np.int64)

    unit = unit_matrix(kv)[:limit]  # (N, D)
    keys = kv.index_to_key
    k_best = min(8, limit)  # gensim: topn=5 answers + len(all_keys)=3 inputs
    idx = torch.tensor([[ok[w] for w in q] for q in quads], dtype=torch.long).reshape(-1, 4)  # (n, 4)
    if on_step:
        on_step(0, n, None)
    rescored = 0
    if n:
        with torch.inference_mode():
            if strategy == "scan":
                verdict = _verdicts_by_scan(unit, idx, quads, uppers, on_step, n)
                exact_rows = torch.nonzero(verdict < 0).flatten()
                for r in torch.nonzero(verdict > 0).flatten().tolist():
                    correct_by_section[owner[r]] += 1
                rescored = len(exact_rows)
                best = _top_words_dense(unit, None, idx[exact_rows], group, k_best, None, n)[0] if rescored else None
                precision = "fp32"
            elif strategy == "bounds":
                exact_rows = torch.arange(n)
                best, rescored = _top_words_bounds(unit, idx, bound_group, k_best, on_step, n, chunk)
                precision = "fp32"
            else:
                exact_rows = torch.arange(n)
                low = unit_matrix_bf16(kv)[:limit] if precision == "bf16" else None  # (N, D)
                best, rescored = _top_words_dense(unit, low, idx, group, k_best, on_step, n, chunk)
        for q_idx, b_best in zip(exact_rows.tolist(), best.tolist() if best is not None else []):
            if _gensim_prediction(quads[q_idx], idx[q_idx].tolist(), b_best, keys) == quads[q_idx][3]:
                correct_by_section[owner[q_idx]] += 1
    sec_rows = []
    for s, (name, _questions) in enumerate(sections):
        tot, cor = int(total_by_section[s]), int(correct_by_section[s])
        sec_rows.append({"section": name, "correct": cor, "total": tot, "accuracy": cor / tot if tot else 0.0})
    correct = int(correct_by_section.sum())
    return AnalogyScore(correct / n if n else 0.0, correct, n, skipped, sec_rows, time.perf_counter() - started,
                        f"{strategy}/{precision}", rescored)


def gensim_analogy_accuracy(kv, path: str | Path | None = None, restrict_vocab: int = 300_000):
    """gensim's own (one question at a time) evaluation, for comparison. Slow: ~1 min on GloVe.

    It temporarily swaps `kv.key_to_index`, so call it on a private copy, never a shared one.
    """
    path = str(path) if path is not None else str(analogy_file())
    score, sections = kv.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)
    return float(score), sections


# ---------------------------------------------------------------------------------------------
# word-pair similarity (WordSim-353, SimLex-999), same rules as gensim's evaluate_word_pairs
# ---------------------------------------------------------------------------------------------
@dataclass
class PairScore:
    spearman: float  # Spearman rank correlation of model cosine vs human score
    pearson: float  # Pearson correlation
    pairs: int  # pairs with both words in the vocabulary
    oov: int  # pairs skipped (a word outside the restricted vocabulary)


def evaluate_pairs(kv, path: str | Path, restrict_vocab: int = 300_000, delimiter: str = "\t") -> PairScore:
    from scipy import stats

    limit = _restrict(kv, restrict_vocab)
    ok = _upper_vocab(kv, limit)
    unit = unit_matrix(kv)
    gold, ia, ib = [], [], []
    oov = 0
    with open(path, encoding="utf8") as fin:
        for line in fin:
            if not line or line.startswith("#"):
                continue
            try:
                a, b, sim = [w.upper() for w in line.split(delimiter)]
                sim = float(sim)
            except (ValueError, TypeError):
                continue
            if a not in ok or b not in ok:
                oov += 1
                continue
            gold.append(sim)
            ia.append(ok[a])
            ib.append(ok[b])
    if len(gold) < 3:
        raise ValueError(_("Too few word pairs of {file} are in these vectors' vocabulary "
                           "({found} of {total}); train on a bigger corpus.").format(
            file=Path(path).name, found=len(gold), total=len(gold) + oov))
    model = (unit[ia] * unit[ib]).sum(dim=1).numpy()  # (P,) cosine per pair
    spearman = stats.spearmanr(gold, model).statistic
    pearson = stats.pearsonr(gold, model).statistic
    return PairScore(float(spearman), float(pearson), len(gold), oov)


def scoreboard(kv, restrict_vocab: int = 300_000, on_step: OnStep | None = None) -> dict:
    """Google analogies (per section + total) and WordSim-353 / SimLex-999 Spearman, one dict."""
    analog = evaluate_analogies(kv, restrict_vocab=restrict_vocab, on_step=on_step)
    out = {"analogies": analog}
    for name, path in (("WordSim-353", wordsim_file()), ("SimLex-999", simlex_file())):
        try:
            out[name] = evaluate_pairs(kv, path, restrict_vocab)
        except ValueError as exc:
            out[name] = str(exc)
    return out


def vocab_table(kv, limit: int = 20) -> list[str]:
    return list(kv.index_to_key[:limit])
