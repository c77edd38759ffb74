"""Bad input everywhere (issue 9, item 5): every public core entry point, fed hostile text and numbers.

The property, for every call: it returns a valid result (a simple invariant is checked) or raises
`ValueError` with a clear, non-empty message. Any other exception type (IndexError, TypeError,
RuntimeError, OverflowError, ...) leaking out of core is a bug: a page would show "Something went
wrong" instead of telling the user how to fix the input.

Hostile text: empty, whitespace only, huge (50k characters), emoji, mixed scripts (CJK, Arabic,
Cyrillic), control characters, NUL, bidi/zero-width marks, and hypothesis' random unicode.
Hostile numbers: negative, zero, huge, NaN, ±inf, non-integral floats where an int is expected.

All models are tiny and built here (or by the helpers of the other tests/core files): no packaged
model is loaded except the SmolLM2 / MiniLM *tokenizers* the existing tiny-model tests use too.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.transformers import attention as A
from core.sequence import charlm as C
from core import textio
from core.embeddings import wordvec
from core.transformers import fillmask, generate, sampling, tinygpt
from core.sequence import seq2seq as S
from core.embeddings import word2vec_train as w2v
from core.device import MAX_SEED, check_seed, make_generator
from core.loaders import LoadedModel, packaged_available, packaged_path
from tests.core.sequence import test_charlm, test_seq2seq
from tests.core.transformers import test_tinygpt
from tests.core.embeddings.test_wordvec import make_kv

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.function_scoped_fixture])
FEW = settings(max_examples=25, **SETTINGS)
SOME = settings(max_examples=40, **SETTINGS)
MANY = settings(max_examples=60, **SETTINGS)

# Messages of Python/NumPy/torch internals: a ValueError carrying one of these is not a user-facing
# message ("how to fix the input"), so it counts as a leak too.
INTERNAL_MESSAGES = ("cannot convert float", "invalid literal for", "not enough values to unpack",
                     "too many values to unpack", "could not convert string", "math domain error",
                     "substring not found", "is not in list", "empty range", "operands could not be broadcast",
                     "zero-size array", "array must not contain infs or NaNs")


def call_ok(fn, *args, **kwargs):
    """fn(*args, **kwargs), or None when it raised a ValueError with a clear message.

    Any other exception propagates and fails the test.
    """
    name = getattr(fn, "__name__", "call")
    try:
        out = fn(*args, **kwargs)
    except ValueError as exc:
        event(f"{name}: ValueError")  # --hypothesis-show-statistics: how often each path ran
        msg = str(exc).strip()
        assert msg, f"{getattr(fn, '__name__', fn)} raised a ValueError with an empty message"
        assert not any(s in msg for s in INTERNAL_MESSAGES), \
            f"{getattr(fn, '__name__', fn)} leaked an internal error message: {msg!r}"
        return None
    event(f"{name}: ok")
    return out


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread avoids OpenMP sync costs on a busy shared CPU (restored after)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------
EMOJI = "😀🎉👍🏽🇫🇷👨‍👩‍👧‍👦❤️"
MIXED = "猫は可愛い 我饿了 кошка спит القطة نائمة γάτα चिड़िया שלום 고양이"
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\x9f"
HOSTILE_TEXTS = [
    "", " ", "   \t\n\r  ", "\n\n\n", "\x00", "abc\x00def", CONTROL, "a" + CONTROL + "b",
    EMOJI, EMOJI * 3, MIXED, "the cat 猫 кот قط 😀 sat", "\u200b\u200c\u200d\ufeff", "\u202eevil\u202c",
    "\u3000\u00a0\u2009", "e\u0301\u0301\u0301", "[MASK]", "[mask] [MASK]", "<mask>", "<pad> <eos> <unk>",
    "'", "-", ".", "|", "||||", "\\", "%s %d {0}", "<script>alert(1)</script>", "i am hungry .",
    "the cat sat on the mat", "ROMEO:", "0", "-1", "nan", "1e309",
]
HUGE_TEXTS = st.builds(lambda piece, n: (piece * n)[:n], st.sampled_from(["a", "the cat ", EMOJI, MIXED, "\x00",
                                                                          " ", "[MASK] "]),
                       st.sampled_from([2001, 5000, 50_000]))


def texts(max_size: int = 80) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE_TEXTS), st.text(max_size=max_size), HUGE_TEXTS,
                     st.lists(st.sampled_from(HOSTILE_TEXTS + ["cat", "man", "king"]), max_size=6).map(" ".join))


BAD_FLOATS = [0.0, -0.0, -1.0, 1e-320, 1e-9, 1e9, 1e308, -1e308, math.inf, -math.inf, math.nan, 2.5, 0.5]
BAD_INTS = [0, -1, -(2**31), 2**31, 2**63, 10**30]
BAD_NUMBERS = st.one_of(st.sampled_from(BAD_INTS + BAD_FLOATS), st.floats(allow_nan=True, allow_infinity=True),
                        st.integers())


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, weight: int = 3) -> st.SearchStrategy:
    """`good` about `weight` times as often as `bad`: calls with several arguments then often get
    past validation, so the code behind it also meets odd-but-valid values. (st.one_of with
    repeated branches does not weight them: hypothesis does not pick branches uniformly.)"""
    return st.integers(0, weight).flatmap(lambda i: bad if i == weight else good)


def ints(lo: int, hi: int, weight: int = 3) -> st.SearchStrategy:
    """Whole numbers in [lo, hi] mostly; else hostile ints and floats (NaN, inf, huge, negative, 2.5)."""
    return mostly(st.integers(lo, hi), BAD_NUMBERS, weight)


def floats(lo: float, hi: float, weight: int = 3) -> st.SearchStrategy:
    """Floats in [lo, hi] mostly; else hostile numbers."""
    return mostly(st.floats(lo, hi), BAD_NUMBERS, weight)


def text_or_hostile(good, max_size: int = 80, weight: int = 2) -> st.SearchStrategy[str]:
    good = st.sampled_from(good) if isinstance(good, (list, tuple)) else good
    return mostly(good, texts(max_size), weight)


class Tiny:
    """Holds tiny test models; a short repr keeps hypothesis' failure reports readable."""

    def __init__(self, name: str, **parts):
        self.name = name
        self.__dict__.update(parts)

    def __repr__(self) -> str:
        return f"<tiny {self.name}>"

    def _repr_pretty_(self, p, cycle):  # hypothesis' pretty printer
        p.text(repr(self))


class TinyLM(LoadedModel):
    __repr__, _repr_pretty_ = Tiny.__repr__, Tiny._repr_pretty_


# ---------------------------------------------------------------------------------------------
# text and uploads (core.textio), seeds (core.device)
# ---------------------------------------------------------------------------------------------
def _upload_bytes():
    encodings = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "gb18030", "cp1252"]
    good = st.sampled_from(["Hello world.\n", MIXED + "\n" + EMOJI, "line one\r\nline two\r\n", "tab\tseparated\n",
                            "a\x00b" * 3, "a\x07b" * 200, test_charlm.TEXT])
    encoded = st.tuples(mostly(good, texts(200), 1), st.sampled_from(encodings)) \
        .map(lambda t: t[0].encode(t[1], errors="replace"))
    return st.one_of(encoded, encoded, st.binary(max_size=300),
                     st.sampled_from([b"", b"\x00" * 10, b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00", b"\xef\xbb\xbf",
                                      b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, b"\xc3\x28", b"a" * (3 * 1024 * 1024)]))


@MANY
@given(data=_upload_bytes(), what=st.sampled_from(["file", "corpus", ""]))
def test_decode_upload_returns_clean_text_or_value_error(data, what):
    text = call_ok(textio.decode_upload, data, what=what)
    if text is not None:
        assert isinstance(text, str) and text.strip()
        assert "\x00" not in text and "\r" not in text
        assert all(ch in "\n\t" or not (ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0) for ch in text)


@MANY
@given(text=st.one_of(texts(300), texts(300), st.none(), st.integers(), st.binary(max_size=5)),
       max_chars=mostly(st.integers(0, 3000), st.sampled_from([10**9])), allow_empty=st.booleans())
def test_check_text_and_clean_text(text, max_chars, allow_empty):
    out = call_ok(textio.check_text, text, "prompt", max_chars=max_chars, allow_empty=allow_empty)
    if out is not None:
        assert isinstance(out, str) and len(out) <= max_chars
        assert allow_empty or out.strip()
        assert textio.clean_text(out) == out
    if isinstance(text, str):
        cleaned = textio.clean_text(text)
        assert "\x00" not in cleaned and "\r" not in cleaned


@MANY
@given(seed=st.one_of(ints(0, MAX_SEED), texts(10), st.none()))
def test_check_seed_and_make_generator(seed):
    value = call_ok(check_seed, seed)
    if value is not None:
        assert isinstance(value, int) and 0 <= value <= MAX_SEED
        assert isinstance(make_generator(seed), torch.Generator)


# ---------------------------------------------------------------------------------------------
# word vectors (core.embeddings.wordvec, core.embeddings.word2vec_train) on a small KeyedVectors built here
# ---------------------------------------------------------------------------------------------
KV_WORDS = (["man", "woman", "king", "queen", "Paris", "paris", "cat", "猫", "кот", "قط", "😀", "a", "ok",
             "x-ray", "don't", "e\u0301"] + [f"w{i}" for i in range(34)])


@pytest.fixture(scope="module")
def kv():
    return make_kv(KV_WORDS, dim=8, seed=3)


def words():
    return text_or_hostile(st.one_of(st.sampled_from(KV_WORDS), st.sampled_from(["MAN", " king ", "kin", "PARIS"])),
                           20, weight=4)


def _clamped_k(topk) -> int:
    """How many answers analogy/neighbours promise: topk clamped to 1..MAX_TOPK."""
    return wordvec.MAX_TOPK if topk > wordvec.MAX_TOPK else int(max(topk, 1))


def _check_scored(result, k, kv, lo=-1.0001, hi=1.0001):
    assert isinstance(result, list) and len(result) <= k
    scores = [s for _, s in result]
    assert all(isinstance(w, str) and w in kv.key_to_index for w, _ in result)
    assert all(math.isfinite(s) and lo <= s <= hi for s in scores)
    assert scores == sorted(scores, reverse=True)


@MANY
@given(a=words(), b=words(), c=words(), topk=ints(1, 60),
       method=mostly(st.sampled_from(["3CosAdd", "3CosMul"]), st.sampled_from(["3cosadd", "", "cosine"])),
       exclude=st.booleans(), restrict=mostly(st.one_of(st.none(), st.integers(-2, 60)), BAD_NUMBERS))
def test_analogy(kv, a, b, c, topk, method, exclude, restrict):
    res = call_ok(wordvec.analogy, kv, a, b, c, topk=topk, method=method, exclude_inputs=exclude,
                  restrict_vocab=restrict)
    if res is None:
        return
    hi = 1.0001 if method == "3CosAdd" else 1 / wordvec.EPS_COSMUL + 1
    limit = wordvec._restrict(kv, restrict)
    _check_scored(res, min(_clamped_k(topk), limit), kv, lo=-1.0001, hi=hi)
    assert all(kv.key_to_index[w] < limit for w, _ in res)
    if exclude:
        inputs = {kv.index_to_key[wordvec.word_index(kv, w, limit)] for w in (a, b, c)}
        assert not inputs & {w for w, _ in res}


@MANY
@given(word=words(), topk=ints(1, 60), restrict=mostly(st.one_of(st.none(), st.integers(-2, 60)), BAD_NUMBERS))
def test_neighbours_and_cosine(kv, word, topk, restrict):
    res = call_ok(wordvec.neighbours, kv, word, topk=topk, restrict_vocab=restrict)
    if res is not None:
        _check_scored(res, _clamped_k(topk), kv)
        me = kv.index_to_key[wordvec.word_index(kv, word, wordvec._restrict(kv, restrict))]
        assert me not in {w for w, _ in res}
    cos = call_ok(wordvec.cosine, kv, word, "king")
    if cos is not None:
        assert -1.0001 <= cos <= 1.0001


@SOME
@given(text=text_or_hostile(st.lists(st.sampled_from(KV_WORDS + ["nope", "猫猫"]), max_size=20).map(", ".join), 300),
       dims=mostly(st.sampled_from([2, 3]), st.sampled_from([1, 4, 0, -1, 2.5, math.nan])),
       method=mostly(st.sampled_from(["PCA", "t-SNE"]), st.sampled_from(["pca", "", "umap"])))
def test_parse_words_split_known_one_hot_and_project(kv, text, dims, method):
    ws = call_ok(wordvec.parse_words, text)
    if ws is None:
        return
    assert 1 <= len(ws) <= wordvec.MAX_MAP_WORDS and all(w.strip() and "," not in w for w in ws)
    known, missing = wordvec.split_known(kv, ws)
    assert len(known) + len(missing) == len(ws)
    demo = call_ok(wordvec.one_hot_demo, kv, ws)
    if demo is not None:
        n = len(demo.words)
        assert demo.onehot_cos.shape == demo.dense_cos.shape == (n, n) and demo.lookup_equal
    if method == "t-SNE" and len(known) > 10:
        method = "PCA"  # t-SNE is the slow path: small maps only here
    if known:
        vecs = np.stack([kv[w] for w in known])
        coords = call_ok(wordvec.project, vecs, method=method, dims=dims)
        if coords is not None:
            assert coords.shape == (len(known), int(dims)) and np.isfinite(coords).all()


@MANY
@given(vector_size=ints(2, 200, 6), window=ints(1, 10, 6), negative=ints(1, 20, 6), sample=floats(0, 0.1, 6),
       epochs=ints(1, 30, 6), min_count=ints(1, 100, 6), alpha=floats(0.001, 0.1, 6), min_alpha=floats(0, 0.001, 6),
       seed=ints(0, MAX_SEED, 6))
def test_word2vec_config(vector_size, window, negative, sample, epochs, min_count, alpha, min_alpha, seed):
    cfg = call_ok(lambda: w2v.W2VConfig(True, vector_size, window, negative, sample, epochs, min_count, alpha,
                                        min_alpha, seed).check())
    if cfg is None:
        return
    for name in ("vector_size", "window", "negative", "epochs", "min_count", "seed"):
        assert isinstance(getattr(cfg, name), int) and getattr(cfg, name) >= 0, name
    assert 2 <= cfg.vector_size <= w2v.MAX_DIM and 1 <= cfg.epochs <= w2v.MAX_EPOCHS
    assert 0 <= cfg.sample <= 0.1 and 0 < cfg.alpha <= 1 and 0 <= cfg.min_alpha <= cfg.alpha


@SOME
@given(text=text_or_hostile(st.sampled_from([test_charlm.TEXT, MIXED * 20, (EMOJI + " cat dog ") * 30,
                                             "\x00".join(["word"] * 100)]), 400))
def test_word2vec_tokenize(text):
    sents = call_ok(w2v.tokenize, text)
    if sents is not None:
        assert sum(map(len, sents)) >= 50 and all(s and all(isinstance(t, str) and t for t in s) for s in sents)


# ---------------------------------------------------------------------------------------------
# LLM generation (core.transformers.generate, core.transformers.sampling) on a tiny random Llama with SmolLM2's tokenizer
# (the same tiny model as tests/core/transformers/test_generate.py)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def llama(tiny_llama):
    model, tok = tiny_llama
    return TinyLM(model, tok, "tiny-llama", {})


PROMPTS = ["Once upon a time", EMOJI, MIXED, "\x00 a \x01", "x" * 3000, "word " * 100, "<|im_start|>user",
           "\u202eevil", "  leading and trailing  "]


@SOME
@given(prompt=text_or_hostile(PROMPTS, 200), max_new=ints(0, 80), chat=st.booleans(),
       max_prompt=mostly(st.one_of(st.none(), st.integers(1, 70)), BAD_NUMBERS))
def test_encode_prompt(llama, prompt, max_new, chat, max_prompt):
    out = call_ok(generate.encode_prompt, llama.tokenizer, prompt, llama.model, max_new, chat=chat,
                  max_prompt_tokens=max_prompt)
    if out is None:
        return
    ids, notice = out
    assert isinstance(notice, str) and ids
    assert all(isinstance(i, int) and 0 <= i < len(llama.tokenizer) for i in ids)
    if max_prompt is None:
        assert len(ids) + max_new <= generate.context_window(llama.model)
    else:
        assert len(ids) <= max_prompt


def gen_configs():
    return st.builds(generate.GenConfig,
                     mode=mostly(st.sampled_from(generate.MODES), st.sampled_from(["Greedy", "", "top-k"]), 6),
                     max_new_tokens=ints(1, 4, 6), temperature=floats(0, 3, 6), top_k=ints(0, 100, 6),
                     top_p=floats(0.01, 1, 6), repetition_penalty=floats(0.5, 2, 6), num_beams=ints(1, 4, 6),
                     length_penalty=floats(0, 3, 6), seed=ints(0, MAX_SEED, 6), stop_at_eos=st.booleans(),
                     top_n=ints(0, 12, 6))


@MANY
@given(cfg=gen_configs(), prompt=st.sampled_from(PROMPTS))
def test_generation_run_and_beam_search(llama, cfg, prompt):
    if call_ok(cfg.check) is None:
        # every entry point validates the config itself
        for fn in (generate.run, generate.beam_search):
            assert call_ok(fn, llama.model, llama.tokenizer, [1, 2, 3], cfg) is None
        return
    assert isinstance(cfg.max_new_tokens, int) and 1 <= cfg.max_new_tokens <= generate.MAX_NEW_TOKENS
    encoded = call_ok(generate.encode_prompt, llama.tokenizer, prompt, llama.model, cfg.max_new_tokens)
    if encoded is None:  # e.g. more new tokens than the tiny model's 64-token context window
        return
    res = call_ok(generate.run, llama.model, llama.tokenizer, encoded[0], cfg)
    if res is None:
        return
    assert isinstance(res.text, str) and 1 <= len(res.ids) <= cfg.max_new_tokens
    assert res.logprob <= 1e-4 and not math.isnan(res.logprob)
    for s in res.steps:
        assert 0 <= s.prob_after <= 1 + 1e-6 and s.logprob <= 1e-6 and s.kept >= 1
        assert s.entropy_before >= 0 and s.entropy_after >= 0
        assert len(s.candidates) <= cfg.top_n
        assert all(0 <= c["p_before"] <= 1 + 1e-6 and 0 <= c["p_after"] <= 1 + 1e-6 for c in s.candidates)


@SOME
@given(text=text_or_hostile(PROMPTS, 300))
def test_perplexity(llama, text):
    ppl = call_ok(generate.perplexity, llama.model, llama.tokenizer, text, window=32, max_tokens=96)
    if ppl is not None:
        assert math.isfinite(ppl) and ppl >= 1


@FEW
@given(precision=mostly(st.just("exact"), texts(10), 1))
def test_model_for_precision(llama, precision):
    model = call_ok(generate.model_for, llama, precision)  # "fast" (a quantized copy) is covered in test_generate
    assert model is None or model is llama.model


@MANY
@given(logits=st.lists(st.floats(-50, 50), min_size=1, max_size=40), temperature=floats(0, 3), top_k=ints(0, 50),
       top_p=floats(0.01, 1), rep=floats(0.5, 2), prev=st.lists(st.integers(0, 39), max_size=10),
       seed=st.integers(0, 100))
def test_sampling_process_and_sample(logits, temperature, top_k, top_p, rep, prev, seed):
    x = torch.tensor(logits)
    prev = [i for i in prev if i < len(logits)]
    step = call_ok(sampling.process, x, temperature, top_k, top_p, rep, prev)
    if step is None:
        return
    for p in (step.probs, step.probs_before):
        assert torch.isfinite(p).all() and (p >= 0).all() and (p <= 1 + 1e-6).all()
        assert abs(float(p.sum()) - 1) < 1e-4
    assert 1 <= step.kept <= len(logits)
    tok = sampling.sample(step, make_generator(seed))
    assert 0 <= tok < len(logits) and step.probs[tok] > 0


@MANY
@given(tokens=st.lists(st.sampled_from(["a", "b", "😀", ""]), max_size=20), n=st.integers(-3, 30))
def test_distinct_n(tokens, n):
    d = call_ok(sampling.distinct_n, tokens, n)
    if d is not None:
        assert 0 <= d <= 1


# ---------------------------------------------------------------------------------------------
# seq2seq translation (core.sequence.seq2seq) on tiny random models (tests/core/sequence/test_seq2seq.py's helper)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s2s():
    return Tiny("seq2seq", additive=test_seq2seq.tiny_bundle("additive"),
                dot=test_seq2seq.tiny_bundle("dot", "lstm"), none=test_seq2seq.tiny_bundle("none", bidirectional=False))


SENTENCES = ["i am hungry .", "He is HERE!!", "you are tired", "i am 猫 😀 .", "hungry " * 25, "i'm here, he's there",
             "\x00i am\x00", "i\tam\nhungry", "ｉ ａｍ hungry", "i am hungry" + "\u0301" * 5]


@MANY
@given(which=st.sampled_from(["additive", "dot", "none"]), text=text_or_hostile(SENTENCES, 120),
       method=mostly(st.sampled_from(S.METHODS), st.sampled_from(["Beam", "", "nucleus"])), beam=ints(1, 12),
       alpha=floats(0, 3), seed=ints(0, MAX_SEED), max_len=mostly(st.one_of(st.none(), st.integers(1, 30)),
                                                                  BAD_NUMBERS),
       temperature=floats(0.05, 5))
def test_translate(s2s, which, text, method, beam, alpha, seed, max_len, temperature):
    bundle = getattr(s2s, which)
    res = call_ok(S.translate, bundle, text, method=method, beam_width=beam, alpha=alpha, seed=seed,
                  max_len=max_len, temperature=temperature)
    if res is None:
        return
    assert isinstance(res["text"], str) and all(isinstance(t, str) for t in res["tokens"])
    assert len(res["tokens"]) <= (max_len or bundle.config.max_tgt_len + 10)
    assert res["source_tokens"][-1] == "<eos>"
    assert res["hypotheses"] and all(math.isfinite(h["logp"]) and h["logp"] <= 1e-5 for h in res["hypotheses"])
    att = res["attention"]
    if which == "none":
        assert att is None
    elif att is not None:
        assert att.shape == (len(res["attention_rows"]), len(res["source_tokens"]))
        np.testing.assert_allclose(att.sum(1), 1.0, atol=1e-4)


@SOME
@given(which=st.sampled_from(["additive", "dot", "none"]), text=text_or_hostile(SENTENCES, 120))
def test_cross_attention(s2s, which, text):
    res = call_ok(A.cross_attention, getattr(s2s, which), text)
    if res is not None:
        assert which != "none"
        att = res["attention"]
        assert att.shape == (len(res["target_tokens"]), len(res["source_tokens"]))
        assert np.isfinite(att).all() and (att >= 0).all()


@MANY
@given(text=text_or_hostile(SENTENCES + [MIXED, EMOJI], 200),
       kind=mostly(st.sampled_from(S.TOKENIZERS), st.just("bpe")), tgt=text_or_hostile(["salut", "我饿了。"], 20))
def test_seq2seq_tokenize_and_parse_pairs(text, kind, tgt):
    toks = call_ok(S.tokenize, text, kind)
    if toks is not None:
        assert all(isinstance(t, str) and t and not t.isspace() for t in toks)
        assert isinstance(S.detokenize(toks, kind), str)
    pairs = call_ok(S.parse_pairs, "\n".join([f"{text}\t{tgt}"] * 12))
    if pairs is not None:
        assert len(pairs) >= 10 and all(len(p) == 3 and p[0].strip() and p[1].strip() for p in pairs)


@MANY
@given(src_tok=mostly(st.sampled_from(S.TOKENIZERS), st.just("bpe"), 6), vocab=ints(5, 50, 6),
       emb=ints(1, 40, 6), hidden=ints(1, 40, 6), layers=ints(1, 4, 6),
       cell=mostly(st.sampled_from(S.CELLS), st.just("rnn"), 6),
       attention=mostly(st.sampled_from(S.ATTENTIONS), st.just("bahdanau"), 6), dropout=floats(0, 0.99, 6),
       max_src=ints(1, 40, 6), max_tgt=ints(1, 40, 6))
def test_seq2seq_config(src_tok, vocab, emb, hidden, layers, cell, attention, dropout, max_src, max_tgt):
    cfg = call_ok(S.Seq2SeqConfig, src_tokenizer=src_tok, src_vocab_size=vocab, tgt_vocab_size=vocab, emb_dim=emb,
                  hidden_dim=hidden, num_layers=layers, cell=cell, attention=attention, dropout=dropout,
                  max_src_len=max_src, max_tgt_len=max_tgt)
    if cfg is None:
        return
    for name in ("src_vocab_size", "emb_dim", "hidden_dim", "num_layers", "max_src_len", "max_tgt_len"):
        assert isinstance(getattr(cfg, name), int) and getattr(cfg, name) >= 1, name
    assert 0 <= cfg.dropout < 1
    if cfg.emb_dim * cfg.hidden_dim <= 40 * 40 and cfg.src_vocab_size <= 50:
        sv = S.Vocab(S.SPECIALS + [f"s{i}" for i in range(cfg.src_vocab_size - 4)])
        bundle = S.new_bundle(cfg, sv, sv)  # a valid config builds a model that translates
        assert isinstance(S.translate(bundle, "s1 s2", max_len=3)["text"], str)


@MANY
@given(epochs=ints(1, 30, 8), batch=ints(1, 100, 8), lr=floats(1e-4, 1, 8), decay=floats(0.01, 1, 8),
       tf=floats(0, 1, 8), clip=floats(0.01, 10, 8), secs=floats(0.1, 1e4, 8), seed=ints(0, MAX_SEED, 8),
       val_pairs=ints(0, 500, 8))
def test_seq2seq_train_config(epochs, batch, lr, decay, tf, clip, secs, seed, val_pairs):
    cfg = call_ok(S.TrainConfig, epochs=epochs, batch_size=batch, lr=lr, lr_decay=decay, teacher_forcing=tf,
                  clip=clip, max_seconds=secs, seed=seed, val_pairs=val_pairs)
    if cfg is None:
        return
    for name in ("epochs", "batch_size", "seed", "val_pairs"):
        assert isinstance(getattr(cfg, name), int) and getattr(cfg, name) >= 0, name
    assert cfg.epochs >= 1 and cfg.batch_size >= 1
    for name in ("lr", "lr_decay", "teacher_forcing"):
        assert math.isfinite(getattr(cfg, name)) and getattr(cfg, name) >= 0, name
    assert cfg.clip > 0 and cfg.max_seconds > 0  # inf = no clipping / no time budget


# ---------------------------------------------------------------------------------------------
# fill-mask (core.transformers.fillmask) on a tiny random BERT with the MiniLM tokenizer (as tests/core/transformers/test_fillmask.py)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bert():
    if not packaged_available("minilm-l6"):
        pytest.skip("packaged MiniLM (tokenizer) not installed")
    from transformers import AutoTokenizer, BertForMaskedLM

    from tests.core.transformers.test_fillmask import _tiny_config

    tok = AutoTokenizer.from_pretrained(str(packaged_path("minilm-l6")))
    torch.manual_seed(0)  # test-only model init
    model = BertForMaskedLM(_tiny_config()).eval()
    return TinyLM(model, tok, "tiny-bert", {"layers": 2, "max_len": 128})


MASKED = st.lists(st.sampled_from(["[MASK]", "[mask]", "the", "猫", "😀", "\x00", ".", "[MASK].", "x[MASK]y", " ",
                                   "paris", "кот", "قط", EMOJI]), min_size=1, max_size=8).map(" ".join)


@MANY
@given(text=text_or_hostile(MASKED, 120), top_k=ints(1, 25),
       mode=mostly(st.sampled_from(["independent", "left_to_right"]), st.just("both")))
def test_fill_mask(bert, text, top_k, mode):
    res = call_ok(fillmask.fill_mask, bert, text, top_k=top_k, mode=mode)
    if res is None:
        return
    assert 1 <= len(res["masks"]) <= fillmask.MAX_MASKS and isinstance(res["completed"], str)
    for m in res["masks"]:
        probs = [p["prob"] for p in m["predictions"]]
        assert len(probs) == top_k and probs == sorted(probs, reverse=True)
        assert all(0 <= p <= 1 for p in probs) and sum(probs) <= 1 + 1e-5
        assert all(isinstance(p["token"], str) for p in m["predictions"])
    assert len(res["variants"]) == top_k


BERT_SENTENCES = ["The cat sat on the mat.", MIXED, EMOJI + " ok", "\x00 the \x01 bank", "bank " * 60, "[MASK] me",
                  "a", "hello\nworld"]


@SOME
@given(text=text_or_hostile(BERT_SENTENCES, 150), seed=ints(0, MAX_SEED), rate=floats(0.01, 0.9), draws=ints(1, 40))
def test_mlm_corruption(bert, text, seed, rate, draws):
    table = call_ok(fillmask.corruption_table, bert.tokenizer, text, seed, mask_prob=rate)
    if table is not None:
        assert 1 <= table["n_chosen"] <= table["n_tokens"] <= len(table["rows"])
        assert len(table["input_ids"]) == len(table["labels"]) == len(table["rows"])
    rates = call_ok(fillmask.corruption_rates, bert.tokenizer, text, seed, mask_prob=rate, draws=draws)
    if rates is not None:
        assert all(0 <= v <= 1 for v in rates["rates"].values())


@SOME
@given(a=text_or_hostile(BERT_SENTENCES, 100), b=text_or_hostile(BERT_SENTENCES, 100))
def test_embedding_parts(bert, a, b):
    out = call_ok(fillmask.embedding_parts, bert, a, b)
    if out is not None:
        T = len(out["tokens"])
        for name in ("token", "segment", "position", "sum", "input"):
            assert out[name].shape[0] == T and np.isfinite(out[name]).all()


SENSE_LINES = ["river | the bank of the river", "money | the bank lent it", "bank", "| bank", "😀 | 😀 bank",
               "猫 | 猫がいる bank", "", "a|b|c bank", "BANK! | BANK!", "x | " + "bank " * 200]


@SOME
@given(word=text_or_hostile(["bank", "Bank", "猫", "😀", "don't", "x-ray", "banks"], 20),
       lines=text_or_hostile(st.lists(st.sampled_from(SENSE_LINES), max_size=14).map("\n".join), 300))
def test_contextual_vectors(bert, word, lines):
    parsed = fillmask.parse_sense_lines(lines)
    assert all(isinstance(s, str) and isinstance(t, str) for s, t in parsed)
    out = call_ok(fillmask.contextual_vectors, bert, word, parsed)
    if out is not None:
        n = len(parsed)
        assert out["sims"].shape == (out["layers"], n, n)
        assert np.all(np.abs(out["sims"]) <= 1 + 1e-4)


# ---------------------------------------------------------------------------------------------
# attention (core.transformers.attention): toy maths and real (tiny) models
# ---------------------------------------------------------------------------------------------
@MANY
@given(sentence=text_or_hostile(["the cat sat on the mat", MIXED, EMOJI, "a " * 10, "x"], 200),
       n=ints(1, 64), d_k=ints(1, 20), d_v=mostly(st.one_of(st.none(), st.integers(1, 20)), BAD_NUMBERS),
       seed=ints(0, MAX_SEED))
def test_toy_tokens_and_qkv(sentence, n, d_k, d_v, seed):
    toks = call_ok(A.toy_tokens, sentence)
    if toks is not None:
        assert 1 <= len(toks) <= A.MAX_TOY_TOKENS and all(t and len(t) <= 20 for t in toks)
    qkv = call_ok(A.toy_qkv, n, d_k, seed, d_v=d_v)
    if qkv is not None:
        q, k, v = qkv
        assert q.shape == k.shape and q.shape[0] == v.shape[0] and np.isfinite(q).all()
        steps = A.attention_steps(q, k, v, mask=A.causal_mask(q.shape[0]))
        np.testing.assert_allclose(steps.weights.sum(-1), 1.0, atol=1e-9)


def _matrix(rows, cols, elements):
    return st.tuples(rows, cols).flatmap(
        lambda rc: st.lists(st.lists(elements, min_size=rc[1], max_size=rc[1]), min_size=rc[0], max_size=rc[0]))


@MANY
@given(t=st.integers(0, 4), d=st.integers(0, 4), dv=st.integers(1, 3), data=st.data(),
       mask=st.sampled_from([None, None, "causal", "allowed", "bad-shape", "all-masked"]), scale=st.booleans())
def test_attention_steps(t, d, dv, data, mask, scale):
    cell = mostly(st.floats(-1e3, 1e3), BAD_NUMBERS.filter(lambda x: isinstance(x, float)), 20)
    q = data.draw(_matrix(st.just(t), st.just(d), cell))
    k = data.draw(_matrix(st.just(t), st.just(d), cell))
    v = data.draw(_matrix(st.just(t), st.just(dv), cell))
    n = max(t, 1)
    m = {None: None, "causal": A.causal_mask(n), "allowed": np.ones((n, n), bool), "bad-shape": np.zeros((7, 7)),
         "all-masked": np.full((n, n), -np.inf)}[mask]
    steps = call_ok(A.attention_steps, q, k, v, mask=m, scale=scale)
    if steps is not None:
        assert steps.weights.shape == (t, t) and np.isfinite(steps.output).all()
        np.testing.assert_allclose(steps.weights.sum(-1), 1.0, atol=1e-9)


@MANY
@given(x=_matrix(st.integers(1, 5), st.sampled_from([1, 2, 4, 6, 8]), st.floats(-3, 3)), heads=ints(1, 8),
       seed=ints(0, MAX_SEED), n=ints(1, 600), d=ints(2, 600), base=floats(1.01, 1e6))
def test_multi_head_and_positional_encoding(x, heads, seed, n, d, base):
    mh = call_ok(A.multi_head, x, heads, seed=seed, mask=A.causal_mask(len(x)))
    if mh is not None:
        assert mh.output.shape == np.asarray(x).shape and np.isfinite(mh.output).all()
    pe = call_ok(A.sinusoidal_pe, n, d, base)
    if pe is not None:
        assert pe.shape == (int(n), int(d)) and np.isfinite(pe).all() and np.abs(pe).max() <= 1
        if pe.shape[0] <= 100:
            sim = A.cosine_similarity_matrix(pe)
            assert np.isfinite(sim).all() and len(A.similarity_by_distance(sim)) == int(n)


ATT_TEXTS = ["The bank of the river.", MIXED, EMOJI * 20, "word " * 300, "\x00\x01 a", "[CLS] [SEP] [MASK]",
             "<|im_start|>", "e\u0301" * 50]


@MANY
@given(which=st.sampled_from(["bert", "llama"]), text=text_or_hostile(ATT_TEXTS, 300),
       pair=mostly(st.one_of(st.none(), st.sampled_from(ATT_TEXTS)), texts(80), 2), max_tokens=ints(1, 200))
def test_model_attention(bert, llama, which, text, pair, max_tokens):
    bundle = bert if which == "bert" else llama
    res = call_ok(A.model_attention, bundle, text, pair, max_tokens=max_tokens)
    if res is None:
        return
    L, H, T, T2 = res.attentions.shape
    assert T == T2 == len(res.tokens) == len(res.special) == len(res.segment) >= 1
    smallest = 5 if 1 in res.segment else 2  # a sentence pair keeps [CLS] a [SEP] b [SEP]
    assert T <= max(smallest, int(max_tokens))
    np.testing.assert_allclose(res.attentions.sum(-1), 1.0, atol=1e-3)
    keep = [i for i, s in enumerate(res.special) if not s]
    sub = call_ok(A.drop_tokens, res.attentions, keep)
    if sub is not None:
        assert np.isfinite(sub).all()
    assert np.isfinite(A.head_entropy(res.attentions)).all()


# ---------------------------------------------------------------------------------------------
# character models: charlm (RNN) and tinygpt, with the other tests' tiny-model helpers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rnn():
    model, vocab = test_charlm.tiny("gru", hidden=16)
    return Tiny("charlm", model=model, vocab=vocab)


@pytest.fixture(scope="module")
def tiny_gpt():
    return Tiny("tinygpt", model=test_tinygpt._model().eval())


@MANY
@given(prime=text_or_hostile(["the cat", "t", " ", "\n", "hat. the dog", "the " * 125, "the " * 126], 120),
       length=ints(1, 30), temperature=floats(0, 5), seed=ints(0, MAX_SEED),
       top_k=mostly(st.one_of(st.none(), st.integers(0, 40)), BAD_NUMBERS), n_top=ints(0, 40))
def test_charlm_generate(rnn, prime, length, temperature, seed, top_k, n_top):
    model, vocab = rnn.model, rnn.vocab
    if isinstance(length, (int, float)) and length > 200:
        length = 2001  # out of range either way; keeps a huge valid length from running for seconds
    g = call_ok(C.generate, model, vocab, prime, length, temperature, seed, top_k, n_top)
    if g is None:
        return
    assert isinstance(g.text, str) and len(g.text) == length and set(g.text) <= set(vocab.chars)
    assert len(g.chosen_probs) == length and all(0 <= p <= 1 + 1e-6 for p in g.chosen_probs)
    assert len(g.last_top) <= n_top and all(0 <= p <= 1 + 1e-6 for _, p in g.last_top)


@SOME
@given(text=text_or_hostile([test_charlm.TEXT, MIXED * 10, EMOJI * 100, "ab" * 100, "\x00" * 300], 300))
def test_charlm_vocab_and_corpus(text):
    vocab = call_ok(C.Vocab.from_text, text)
    if vocab is not None:
        assert 2 <= len(vocab) <= C.MAX_VOCAB
        assert vocab.decode(vocab.encode(text)) == text
    corpus = call_ok(C.make_corpus, text, "upload")
    if corpus is not None:
        assert len(corpus.train_ids) > 0 and len(corpus.val_ids) > 0


@MANY
@given(cell=mostly(st.sampled_from(C.CELLS), st.sampled_from(["LSTM", "", "transformer"]), 6), vocab=ints(2, 100, 6),
       layers=ints(1, 4, 6), hidden=ints(4, 64, 6), embed=ints(2, 64, 6), dropout=floats(0, 0.99, 6))
def test_charlm_config(cell, vocab, layers, hidden, embed, dropout):
    cfg = call_ok(C.CharLMConfig, cell, vocab, layers, hidden, embed, dropout)
    if cfg is None:
        return
    assert cfg.cell in C.CELLS and 0 <= cfg.dropout < 1
    assert C.count_params(C.build_model(cfg)) == C.param_count(cfg)  # a valid config builds a model


@MANY
@given(batch=ints(1, 64, 12), seq_len=ints(2, 200, 12), lr=floats(1e-4, 1, 12), wd=floats(0, 1, 12),
       warmup=floats(0, 1, 12), min_lr=floats(0, 1, 12), steps=ints(1, 10**6, 12), secs=floats(0, 1e4, 12),
       clip=floats(0, 10, 12), eval_every=ints(0, 100, 12), eval_s=floats(0, 100, 12), eval_chars=ints(0, 10**5, 12),
       sample_every=ints(0, 100, 12), sample_len=ints(0, 500, 12))
def test_charlm_train_config(batch, seq_len, lr, wd, warmup, min_lr, steps, secs, clip, eval_every, eval_s,
                             eval_chars, sample_every, sample_len):
    tc = call_ok(C.TrainConfig, batch_size=batch, seq_len=seq_len, lr=lr, weight_decay=wd, warmup_frac=warmup,
                 min_lr_frac=min_lr, max_steps=steps, max_seconds=secs, clip=clip, eval_every=eval_every,
                 eval_every_s=eval_s, eval_chars=eval_chars, sample_every=sample_every, sample_len=sample_len)
    if tc is None:
        return
    for name in ("batch_size", "seq_len", "max_steps", "eval_every", "eval_chars", "sample_every", "sample_len"):
        assert isinstance(getattr(tc, name), int) and getattr(tc, name) >= 0, name
    for name in ("lr", "weight_decay", "warmup_frac", "min_lr_frac", "clip", "eval_every_s"):
        assert not math.isnan(getattr(tc, name)) and getattr(tc, name) >= 0, name
    assert tc.max_seconds >= 0  # 0 or inf: no time cap
    assert 0 <= tc.warmup_frac <= 1 and 0 <= tc.min_lr_frac <= 1
    for progress in (0.0, 0.01, 0.5, 1.0):
        assert math.isfinite(C.lr_at(progress, tc)) and 0 <= C.lr_at(progress, tc) <= tc.lr + 1e-12


@MANY
@given(prompt=text_or_hostile(["ROMEO:", "First Citizen:\n", "", "Speak" * 40, "speak", "All:\n\n"], 150),
       max_new=ints(1, 12), temperature=floats(0, 3), top_k=ints(0, 60), top_p=floats(0.01, 1), seed=ints(0, MAX_SEED))
def test_tinygpt_generate_encode_attention(tiny_gpt, prompt, max_new, temperature, top_k, top_p, seed):
    gpt = tiny_gpt.model
    ids = call_ok(tinygpt.encode, gpt, prompt)
    if ids is not None:
        assert all(0 <= i < gpt.config.vocab_size for i in ids)
        assert tinygpt.decode(gpt, ids) == prompt
    if isinstance(max_new, (int, float)) and max_new > 40:
        max_new = 5001  # out of range either way; keeps a huge valid length from running for seconds
    out = call_ok(tinygpt.generate, gpt, prompt, max_new, temperature, top_k, top_p, seed)
    if out is not None:
        assert isinstance(out, str) and len(out) == max_new and set(out) <= set(gpt.config.vocab)
    maps = call_ok(tinygpt.attention_maps, gpt, prompt)
    if maps is not None:
        tokens, layers = maps
        assert 1 <= len(tokens) <= gpt.config.block_size and len(layers) == gpt.config.n_layer
        for m in layers:
            assert m.shape == (gpt.config.n_head, len(tokens), len(tokens))
            np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-4)
    att = call_ok(A.tiny_gpt_attention, gpt, prompt)
    if att is not None:
        assert att.attentions.shape[-1] == len(att.tokens)


@MANY
@given(vocab=text_or_hostile([test_tinygpt.TEXT, MIXED, EMOJI, "ab"], 40), block=ints(8, 300, 6),
       layers=ints(1, 4, 6), heads=ints(1, 8, 6), width=st.one_of(st.sampled_from([8, 16, 24, 32, 64]), BAD_NUMBERS),
       dropout=floats(0, 0.99, 6))
def test_tinygpt_config(vocab, block, layers, heads, width, dropout):
    v = tinygpt.vocab_of(vocab)
    cfg = call_ok(lambda: tinygpt.TinyGPTConfig(v, block, layers, heads, width, dropout).check())
    if cfg is None:
        return
    for name in ("block_size", "n_layer", "n_head", "n_embd"):
        assert isinstance(getattr(cfg, name), int) and getattr(cfg, name) >= 1, name
    assert 0 <= cfg.dropout < 1
    if cfg.n_embd <= 64 and cfg.n_layer <= 4 and cfg.block_size <= 300:
        model = tinygpt.new_model(cfg)  # a valid config builds a model that generates
        assert len(tinygpt.generate(model, "", 2)) == 2
