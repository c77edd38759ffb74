"""Keywords (关键词提取) and new-word discovery (新词提取), unsupervised, on user text.

Keywords of one document, three ways (the notes' order; each fixes the previous one's flaw):
- 词频 (term frequency): count the content words; frequent words are often keywords, but so are a
  field's common words.
- TF-IDF: tf(t, d) * idf(t), with jieba's IDF table (built by jieba's authors from a large corpus);
  a word the table lacks gets the table's median IDF, as jieba does.
- TextRank: PageRank (networkx) on the co-occurrence graph of the document's content words: two words
  are linked when they occur within `window` content words of each other, the edge weight counts how
  often. A word is important when important words co-occur with it.

Content words (the filter all three use, so they can be compared): a word is kept when it has at
least 2 characters, every character is a Chinese character (CJK ideograph), and it is not in the
small stop-word list `STOP_WORDS` (pronouns, conjunctions, adverbs and auxiliaries that carry no topic).
So single characters (的, 了, 在), punctuation, numbers and Latin words are dropped.

New words (新词) in a corpus, with no dictionary: a string of characters is a word when its
characters stick together (凝固度, pointwise mutual information of its weakest split) and it combines
freely with what is around it (自由度, the smaller of its left and right neighbour entropies).

Measured on 2 shared (busy) CPU cores, the first 5,000 characters of People's Daily (2,712 words, 1,461
content words), jieba's tables loaded: words_of 0.02-0.05 s, term_frequency 0.001 s, tfidf 0.001-0.007 s,
textrank 0.02-0.05 s (843 nodes, 5,088 edges), new_words 0.01-0.03 s. At the caps: a 100,000-character
document takes 0.8 s (words_of) + 1.5 s (textrank, 10.8k nodes, 102k edges); new_words on 1,000,000
characters of the training split 5.6 s (process peak 0.47 GB). First use loads jieba's dictionary
(~1 s) and IDF table (~0.5 s) once per process.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from core.classic import corpus
from core.i18n import _
from core.textio import check_text

if TYPE_CHECKING:
    import networkx as nx

MAX_DOCUMENT_CHARS = 100_000  # longest document for keywords (words_of): 0.8 s of jieba, 1.5 s of TextRank
MAX_CORPUS_CHARS = 1_000_000  # longest corpus for new_words: 5.6 s, process peak 0.47 GB
MAX_WORDS = 100_000  # longest word list for term_frequency / tfidf / textrank
MAX_TOP = 1_000  # most rows a ranking returns
MAX_NEW_WORD_LEN = 8  # longest new word new_words looks for

# Chinese characters: CJK Unified Ideographs and Extension A.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_HAN_RUN = re.compile(f"[{_HAN}]+")
_ALL_HAN = re.compile(f"[{_HAN}]+$")

# Stop words: multi-character function words that pass the length rule but carry no topic.
# Kept short on purpose: the lesson is that TF-IDF and TextRank push common words down by themselves.
STOP_WORDS = frozenset("""
我们 你们 他们 她们 它们 咱们 自己 大家 人家 别人 这个 那个 这些 那些 这样 那样 这种 那种 这里 那里
这么 那么 什么 怎么 怎样 如何 为什么 哪里 哪些 一个 一些 一种 一样 一切 有些 没有 不是 就是 还是 也是
而且 并且 或者 但是 可是 然而 因为 所以 因此 如果 虽然 即使 只要 只有 不但 不仅 而是 以及 以便 于是 然后
已经 曾经 正在 将要 可以 可能 能够 应该 需要 必须 不要 不会 不能 非常 十分 特别 比较 更加 进行 通过 对于 关于
由于 根据 按照 为了 之后 之前 以后 以前 以来 其中 其他 其它 它的 的话 等等 之一 各种 所有 任何 目前 现在
""".split())


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _check_chinese_text(text, max_chars: int, what: str = "text") -> str:
    """A str, not blank, at most `max_chars` characters, with at least one Chinese character."""
    if isinstance(text, str) and len(text) > max_chars:  # before check_text's per-character cleaning
        raise ValueError(_("The {what} is {length} characters long; the limit is {limit}. Shorten it.").format(
            what=_(what), length=len(text), limit=max_chars))
    text = check_text(text, what=what, max_chars=max_chars)
    if not _HAN_RUN.search(text):
        raise ValueError(_("The text has no Chinese characters. Paste Chinese text (中文), "
                           "for example a news article."))
    return text


def _check_words(words) -> list[str]:
    if isinstance(words, str) or words is None:
        raise ValueError(_("Expected a list of words; segment the text first with words_of(text)."))
    words = list(words)
    if not words:
        raise ValueError(_("The word list is empty. Paste a document with some Chinese text."))
    if not all(isinstance(w, str) for w in words):
        raise ValueError(_("Every word must be text (a str)."))
    if len(words) > MAX_WORDS:
        raise ValueError(_("The document has {n} words; the limit is {limit}. Use a shorter document.").format(
            n=len(words), limit=MAX_WORDS))
    return words


def _check_top(top) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise ValueError(_("The number of keywords must be a whole number from 1 to {limit}.").format(
            limit=MAX_TOP))
    return top


def is_content_word(word: str) -> bool:
    """The content-word rule: >= 2 characters, all Chinese characters, not a stop word."""
    return len(word) >= 2 and bool(_ALL_HAN.match(word)) and word not in STOP_WORDS


def content_words(words) -> list[str]:
    """The content words of a word list, in order (see `is_content_word`). ValueError when none is left."""
    kept = [w for w in _check_words(words) if is_content_word(w)]
    if not kept:
        raise ValueError(_("The document has no content words (words of 2 or more Chinese characters "
                           "that are not stop words). Paste a longer Chinese text."))
    return kept


def _first_positions(words) -> dict[str, int]:
    first = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    return first


# ---------------------------------------------------------------------------------------------
# segmentation for keywords
# ---------------------------------------------------------------------------------------------
def words_of(text: str) -> list[str]:
    """Segment a document with jieba (`jieba.lcut`, HMM on for unknown words) for keyword extraction.

    ValueError for an empty text, a text over MAX_DOCUMENT_CHARS characters, or a text without Chinese
    characters. Measured: 0.02-0.05 s for 5,000 characters, 0.8 s for 100,000 (after jieba's dictionary
    is loaded, ~1 s once per process).
    """
    import jieba  # imported on first use: jieba loads its dictionary lazily anyway

    text = _check_chinese_text(text, MAX_DOCUMENT_CHARS)
    return jieba.lcut(text, HMM=True)


# ---------------------------------------------------------------------------------------------
# TF, TF-IDF, TextRank
# ---------------------------------------------------------------------------------------------
def term_frequency(words, top: int = 20) -> list[dict]:
    """词频: the `top` most frequent content words.

    Each row: {"word", "count", "tf" (count / number of content words), "score" (= tf)}, highest first;
    ties go to the word seen first. ValueError when the list is empty, too long, or has no content words.
    """
    top = _check_top(top)
    kept = content_words(words)
    counts, first, total = Counter(kept), _first_positions(kept), len(kept)
    ranked = sorted(counts, key=lambda w: (-counts[w], first[w]))[:top]
    return [{"word": w, "count": counts[w], "tf": counts[w] / total, "score": counts[w] / total} for w in ranked]


def tfidf(words, top: int = 20, idf: dict[str, float] | None = None, default_idf: float | None = None) -> list[dict]:
    """TF-IDF of the content words of one document: tf(t) * idf(t), the `top` highest.

    tf(t) = count(t) / number of content words (as jieba.analyse.extract_tags); idf(t) from jieba's IDF
    table (`corpus.jieba_idf()`), or the given `idf` table; a word missing from the table gets
    `default_idf` (default: the median of jieba's table, as jieba does).
    Each row: {"word", "count", "tf", "idf", "known" (word is in the IDF table), "score"}, highest first;
    ties go to the word seen first.
    """
    top = _check_top(top)
    kept = content_words(words)
    if idf is None or default_idf is None:
        jieba_table, median = corpus.jieba_idf()
        idf = jieba_table if idf is None else idf
        default_idf = median if default_idf is None else float(default_idf)
    counts, first, total = Counter(kept), _first_positions(kept), len(kept)
    rows = []
    for w, c in counts.items():
        known = w in idf
        value = float(idf[w]) if known else default_idf
        rows.append({"word": w, "count": c, "tf": c / total, "idf": value, "known": known,
                     "score": c / total * value})
    rows.sort(key=lambda r: (-r["score"], first[r["word"]]))
    return rows[:top]


def cooccurrence_graph(words, window: int = 5) -> "nx.Graph":
    """The TextRank graph, built by hand: nodes = content words (first-seen order), an undirected edge
    between two different words whose positions in the content-word sequence differ by less than
    `window`, with weight = the number of such co-occurrences. Node attribute "count" = frequency."""
    if isinstance(window, bool) or not isinstance(window, int) or not 2 <= window <= 20:
        raise ValueError(_("The co-occurrence window must be a whole number from 2 to 20."))
    import networkx as nx  # on first use (~10 MB; preloaded except in low-memory mode, see core.preload)

    kept = content_words(words)
    graph = nx.Graph()
    for w, c in Counter(kept).items():  # Counter keeps first-seen order
        graph.add_node(w, count=c)
    for i, w in enumerate(kept):
        for other in kept[i + 1:i + window]:
            if other == w:
                continue
            if graph.has_edge(w, other):
                graph[w][other]["weight"] += 1
            else:
                graph.add_edge(w, other, weight=1)
    return graph


def textrank(words, window: int = 5, top: int = 20, damping: float = 0.85,
             layout_nodes: int = 30) -> tuple[list[dict], dict]:
    """TextRank keywords: networkx.pagerank (damping `damping`, edge weights) on `cooccurrence_graph`.

    Returns (ranked, graph):
    - ranked: the `top` rows {"word", "count", "degree" (number of neighbours), "score" (PageRank;
      the scores of all nodes sum to 1)}, highest first, ties to the word seen first;
    - graph: {"nodes": [{"word", "count", "score"}] (every node, ranked), "edges": [(a, b, weight)],
      "window": window, "layout": {word: (x, y)}} where layout places the `layout_nodes` best words
      (spring layout with a fixed seed, for drawing their subgraph).
    Measured: 0.02-0.05 s on a 5,000-character document (1,461 content words), 1.5 s on 100,000 characters.
    """
    import networkx as nx

    top = _check_top(top)
    if isinstance(damping, bool) or not isinstance(damping, (int, float)) or not 0.0 < damping < 1.0:
        raise ValueError(_("The damping factor must be between 0 and 1 (0.85 is usual)."))
    graph = cooccurrence_graph(words, window)
    if graph.number_of_edges() == 0:  # one distinct word: it has all the rank
        scores = {w: 1.0 / graph.number_of_nodes() for w in graph}
    else:
        scores = nx.pagerank(graph, alpha=damping, weight="weight", max_iter=200, tol=1e-10)
    order = {w: i for i, w in enumerate(graph)}  # first-seen order breaks ties
    ranked_words = sorted(graph, key=lambda w: (-scores[w], order[w]))
    nodes = [{"word": w, "count": graph.nodes[w]["count"], "score": float(scores[w])} for w in ranked_words]
    ranked = [{"word": w, "count": graph.nodes[w]["count"], "degree": graph.degree(w), "score": float(scores[w])}
              for w in ranked_words[:top]]
    shown = ranked_words[:max(1, min(int(layout_nodes), MAX_TOP))]
    layout = {w: (float(x), float(y)) for w, (x, y) in
              nx.spring_layout(graph.subgraph(shown), weight="weight", seed=0).items()}
    data = {"nodes": nodes, "edges": [(a, b, int(d["weight"])) for a, b, d in graph.edges(data=True)],
            "window": window, "layout": layout}
    return ranked, data


# ---------------------------------------------------------------------------------------------
# new-word discovery
# ---------------------------------------------------------------------------------------------
def _entropy(neighbours: Counter, total: int) -> float:
    """Neighbour entropy in nats. `total` - sum(neighbours) occurrences sit at a boundary (start or end
    of a run of Chinese characters: punctuation, Latin, a line break); each counts as a distinct
    neighbour, since a word that ends a clause combines freely."""
    h = 0.0
    for c in neighbours.values():
        p = c / total
        h -= p * math.log(p)
    boundary = total - sum(neighbours.values())
    if boundary > 0:
        h += boundary / total * math.log(total)
    return h


def new_words(text: str, max_len: int = 4, min_count: int = 5, min_pmi: float = 3.0, min_entropy: float = 1.0,
              top: int = 100, only_new: bool = False) -> list[dict]:
    """新词提取: strings of 2..`max_len` Chinese characters that behave like words, found with no dictionary.

    The text is cut into runs of Chinese characters (anything else is a boundary). For each string w
    seen at least `min_count` times (N = number of Chinese characters, c = count):
    - 凝固度 pmi(w) = min over splits w = a + b of ln(c(w) * N / (c(a) * c(b))): pointwise mutual
      information (nats) of the weakest split; high when the parts rarely occur apart.
    - 自由度 entropy(w) = min(left, right) neighbour entropy (nats); high when many different characters
      precede and follow w (see `_entropy` for the boundary rule).
    Kept when pmi >= `min_pmi` and entropy >= `min_entropy`; `only_new` drops words in jieba's dictionary.
    Each row: {"word", "count", "pmi", "left_entropy", "right_entropy", "entropy", "in_dictionary"},
    most frequent first (then higher pmi, then the word), at most `top` rows.
    ValueError for an empty text, a text over MAX_CORPUS_CHARS, no Chinese characters, or bad thresholds.
    For a perfectly sticky word pmi = ln(N / c), so in a small text very frequent words can fall below `min_pmi`.
    Defaults measured on 1,000,000 characters of the training split: the 1,000 most frequent results are
    90.5% gold words of the corpus, 95% gold or jieba dictionary words (the rest: phrases such as 据新华社).
    Measured: 0.01-0.03 s on 5,000 characters, 5.6 s on 1,000,000 (2 shared CPU cores).
    """
    text = _check_chinese_text(text, MAX_CORPUS_CHARS)
    if isinstance(max_len, bool) or not isinstance(max_len, int) or not 2 <= max_len <= MAX_NEW_WORD_LEN:
        raise ValueError(_("The longest new word must be a whole number from 2 to {limit} characters.").format(
            limit=MAX_NEW_WORD_LEN))
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 2:
        raise ValueError(_("The minimum count must be a whole number of at least 2."))
    try:
        min_pmi, min_entropy = float(min_pmi), float(min_entropy)
    except (TypeError, ValueError):
        min_pmi = min_entropy = math.nan
    if not (math.isfinite(min_pmi) and math.isfinite(min_entropy)) or min_entropy < 0:
        raise ValueError(_("The thresholds must be numbers, and the entropy threshold 0 or more."))
    top = _check_top(top)

    runs = _HAN_RUN.findall(text)
    n_chars = sum(len(r) for r in runs)
    # counts[n]: n-grams seen >= min_count times. A-priori pruning: an n-gram can only be that frequent
    # when both its (n-1)-grams are, so only those n-grams are counted (keeps memory small).
    counts: dict[int, dict[str, int]] = {}
    c1 = Counter(ch for r in runs for ch in r)
    counts[1] = {g: c for g, c in c1.items() if c >= min_count}
    for n in range(2, max_len + 1):
        prev = counts[n - 1]
        cn = Counter(g for r in runs for i in range(len(r) - n + 1) for g in (r[i:i + n],)
                     if g[:-1] in prev and g[1:] in prev)
        counts[n] = {g: c for g, c in cn.items() if c >= min_count}
        if not counts[n]:
            break

    rows = []
    for n in range(2, max_len + 1):
        candidates = {}
        for w, c in counts.get(n, {}).items():
            pmi = min(math.log(c * n_chars / (counts[len(w[:k])][w[:k]] * counts[n - k][w[k:]]))
                      for k in range(1, n))
            if pmi >= min_pmi:
                candidates[w] = (c, pmi)
        if not candidates:
            continue
        # neighbours: count the (n+1)-grams that extend a candidate on the left or the right
        left: dict[str, Counter] = {w: Counter() for w in candidates}
        right: dict[str, Counter] = {w: Counter() for w in candidates}
        ext = Counter(g for r in runs for i in range(len(r) - n) for g in (r[i:i + n + 1],)
                      if g[1:] in candidates or g[:-1] in candidates)
        for g, c in ext.items():
            if g[1:] in left:
                left[g[1:]][g[0]] += c
            if g[:-1] in right:
                right[g[:-1]][g[-1]] += c
        for w, (c, pmi) in candidates.items():
            hl, hr = _entropy(left[w], c), _entropy(right[w], c)
            if min(hl, hr) >= min_entropy:
                rows.append({"word": w, "count": c, "pmi": pmi, "left_entropy": hl, "right_entropy": hr,
                             "entropy": min(hl, hr)})
    if rows:
        dictionary = corpus.jieba_dictionary()
        for r in rows:
            r["in_dictionary"] = r["word"] in dictionary
        if only_new:
            rows = [r for r in rows if not r["in_dictionary"]]
    rows.sort(key=lambda r: (-r["count"], -r["pmi"], r["word"]))
    return rows[:top]
