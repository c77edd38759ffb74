"""The language-model lineage on one text (issue 19): unigram, bigram and trigram Kneser–Ney, Bengio's NNLM,
an LSTM and a tiny GPT (each trained in this run for the same budget), all on the same split, tokenisation,
vocabulary and predictions.

    .venv/bin/python benchmarks/lm_lineage.py [--text PATH] [--seconds 300] [--kind words_zh|chars_en] [--save]
Ends with: lm_lineage: ppl_unigram=… ppl_bigram_kn=… ppl_trigram_kn=… ppl_nnlm=… ppl_lstm=… ppl_gpt=… ngram_eval_s=… nltk_eval_s=…
(then: ppl_nnlm_kn_mix, nltk_tokens, ngram_sample_s, speedup, max_abs_diff, nnlm_s, lstm_s, gpt_s, *_params, vocab,
held_out_tokens, load)

- The split: `core.corpora.lm_split(kind)` ("words_zh": People's Daily 1998 gold words, the default;
  "chars_en": Tiny Shakespeare characters, one sentence per line). `--text PATH` replaces the held-out
  part by a UTF-8 file, one sentence a line, words separated by whitespace (characters of the line for
  chars_en); the models still train on the split's training part.
- The vocabulary: the NNLM's (`nnlm.Vocab.build(train, min_count=2)`: tokens seen at least twice, plus
  <s>, </s>, <UNK>). Every sentence is mapped through it (`vocab.map_sentences`) before the n-gram models
  see it, so every model predicts over the same words and the perplexities compare. Each model scores
  every held-out token and one </s> per sentence.
- ppl_*: held-out perplexity. unigram = the MLE unigram (Kneser–Ney with n = 1), bigram / trigram =
  interpolated Kneser–Ney (discount 0.75). ppl_nnlm: `core.embeddings.nnlm` trained for --seconds (AdamW,
  warm-up + cosine decay over the budget; `NNLM_SETTINGS`, the page's, chosen by short runs on one thread;
  `--threads`, default 1 for a shared machine) with a sampled softmax (1,024 words a step,
  `nnlm.LogUniformSampler`; Bengio & Senécal trained this model by importance sampling) and scored with the
  full one; `--nnlm-full-softmax` trains the paper's 2003 way. ppl_nnlm_kn_mix: the NNLM's and the trigram
  KN's probabilities averaged (weight 0.5 each) per prediction,
  the mixture Bengio et al. report as their best. ppl_lstm / ppl_gpt: `core.sequence.sentlm` ("lstm": one
  LSTM layer; "gpt": two pre-norm Transformer blocks, 4 heads, windows of 64 tokens), both with an
  adaptive softmax (exact probabilities; the CPU cost of a 28k-word softmax is why), trained for the same
  --seconds (`LSTM_SETTINGS`, `GPT_SETTINGS`). Targets: ppl_nnlm <= 0.85 × ppl_trigram_kn on words_zh
  (Bengio et al. report 24% lower than smoothed n-grams on Brown); the order n-gram > NNLM > LSTM > GPT.
- `--save` writes every figure to assets/models/lm-lineage/<kind>.json, which the lineage page shows.
- ngram_eval_s: our trigram Kneser–Ney scoring the whole held-out text (seconds). nltk_eval_s: the
  baseline, `nltk.lm.KneserNeyInterpolated` (fitted on the same mapped training text) scoring the first
  --nltk-tokens held-out predictions (nltk scans all bigram contexts per lower-order probability: about
  0.2 s a token on People's Daily, hours for the whole held-out text); ngram_sample_s is our time on the
  same sample, speedup their ratio (target >= 100x) and max_abs_diff the largest |ours - nltk| on it
  (target <= 1e-9).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core.classic import ngram  # noqa: E402
from core.corpora import LM_KINDS, lm_split  # noqa: E402
from core.embeddings import lineage, nnlm  # noqa: E402
from core.sequence import sentlm  # noqa: E402

MIN_COUNT = 2  # the shared vocabulary: tokens seen at least twice in training (ngram's default unk_cutoff)
# The neural models' settings are the page's (core.embeddings.lineage), chosen by short runs on one thread of
# the shared 2-core machine (held-out perplexity on 500 sentences after 60 s, load ~3):
# NNLM full softmax m=64 h=128 batch 256 lr 3e-3: 946; m=32 h=64 lr 1e-2: 875 (832 steps);
#      sampled softmax (1,024 words) m=64 h=128: batch 256: 608, batch 512: 452, batch 1024: 501; 2,048 words: 598;
# LSTM H=128 lr 1e-2: 510, H=256: 609; GPT 2 blocks lr 3e-3: 979, lr 1e-2: 1250, 1 block batch 16: 776.
NNLM_SETTINGS, LSTM_SETTINGS, GPT_SETTINGS = lineage.NNLM_SETTINGS, lineage.LSTM_SETTINGS, lineage.GPT_SETTINGS
SAVE_DIR = Path(__file__).resolve().parent.parent / "assets" / "models" / "lm-lineage"


def read_held_out(path: Path, kind: str) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    sents = [line.split() if kind == "words_zh" else list(line.strip()) for line in lines]
    sents = [s for s in sents if s]
    if not sents:
        raise SystemExit(f"{path}: no sentences (one sentence a line, words separated by spaces)")
    return sents


def sample_queries(sentences, n_tokens: int) -> list[tuple[str, tuple[str, str]]]:
    """The first `n_tokens` (word, two-token context) predictions of the held-out text, as the trigram
    perplexity makes them: each sentence padded with two <s>, every token and one </s> predicted."""
    out = []
    for s in sentences:
        padded = [ngram.BOS, ngram.BOS] + list(s) + [ngram.EOS]
        for i in range(2, len(padded)):
            out.append((padded[i], (padded[i - 2], padded[i - 1])))
            if len(out) == n_tokens:
                return out
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", type=Path, default=None, help="held-out text: UTF-8, one whitespace-segmented "
                    "sentence a line (default: the split's held-out part)")
    ap.add_argument("--seconds", "--nnlm-seconds", type=float, default=300.0,
                    help="training budget of each neural model (NNLM, LSTM, GPT), seconds")
    ap.add_argument("--nnlm-full-softmax", action="store_true",
                    help="train the NNLM with the paper's full softmax (default: sampled softmax, full for scoring)")
    ap.add_argument("--save", action="store_true", help="write the figures to assets/models/lm-lineage/<kind>.json")
    ap.add_argument("--kind", choices=LM_KINDS, default="words_zh")
    ap.add_argument("--nltk-tokens", type=int, default=30, help="held-out predictions nltk scores (0 = skip nltk)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the NNLM (1 on a shared machine)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average {load0:.2f}", flush=True)
    split = lm_split(args.kind)
    train = split["train"]
    held_out = read_held_out(args.text, args.kind) if args.text else split["held_out"]
    vocab = nnlm.Vocab.build(train, min_count=MIN_COUNT)
    train_m, held_m = vocab.map_sentences(train), vocab.map_sentences(held_out)
    n_scored = sum(len(s) + 1 for s in held_m if s)
    n_unk = sum(t == nnlm.UNK for s in held_m for t in s)
    print(f"{args.kind}: {len(train):,} training sentences ({sum(map(len, train)):,} tokens); held-out "
          f"{'from ' + str(args.text) if args.text else 'split'}: {len(held_out):,} sentences, {n_scored:,} "
          f"predictions (tokens + </s>), {n_unk / max(1, n_scored - len(held_m)):.2%} of tokens <UNK>; "
          f"shared vocabulary {len(vocab):,} (min count {MIN_COUNT}, with <s> </s> <UNK>)", flush=True)

    # ---- n-gram models on the mapped text
    ppl, models, count_s = {}, {}, {}
    for n, name in ((1, "unigram"), (2, "bigram_kn"), (3, "trigram_kn")):
        t0 = time.perf_counter()
        models[n] = ngram.NGramModel.train(train_m, ngram.NGramConfig(n, "kneser_ney", unk_cutoff=1))
        train_s = time.perf_counter() - t0
        count_s[name] = train_s
        t0 = time.perf_counter()
        ppl[name] = models[n].perplexity(held_m)
        eval_s = time.perf_counter() - t0
        print(f"{name:10s} perplexity {ppl[name]:10.2f}  (vocabulary {len(models[n].vocab):,}; trained in "
              f"{train_s:.1f} s, held-out scored in {eval_s:.2f} s)", flush=True)
    extra = set(models[3].vocab) ^ set(vocab.words)
    print(f"trigram vocabulary == NNLM vocabulary: {not extra}"
          + (f" (differ on {sorted(extra)[:5]})" if extra else ""))
    tri = models[3]
    runs = []
    for _i in range(3):
        t0 = time.perf_counter()
        tri.perplexity(held_m)
        runs.append(time.perf_counter() - t0)
    ngram_eval_s = min(runs)
    print(f"our trigram KN scores the whole held-out text ({n_scored:,} predictions) in {ngram_eval_s:.3f} s "
          f"(best of 3: {', '.join(f'{r:.3f}' for r in runs)})", flush=True)

    # ---- nltk on a sample it can finish
    nltk_s = ours_s = max_diff = speedup = math.nan
    queries = sample_queries(held_m, args.nltk_tokens) if args.nltk_tokens > 0 else []
    if queries:
        t0 = time.perf_counter()
        lm = ngram.nltk_kneser_ney(train_m, 3, discount=0.75, unk_cutoff=1)
        print(f"nltk KneserNeyInterpolated(3) fitted in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        theirs = [lm.score(w, h) for w, h in queries]
        nltk_s = time.perf_counter() - t0
        reps = 200
        t0 = time.perf_counter()
        for _r in range(reps):
            ours = [tri.prob(w, h) for w, h in queries]
        ours_s = (time.perf_counter() - t0) / reps
        max_diff = max(abs(a - b) for a, b in zip(ours, theirs))
        speedup = nltk_s / ours_s
        per_token_ours = ngram_eval_s / n_scored
        print(f"nltk scores {len(queries)} held-out predictions in {nltk_s:.2f} s "
              f"({nltk_s / len(queries) * 1e3:.0f} ms "
              f"a prediction: about {nltk_s / len(queries) * n_scored / 3600:.1f} h for the whole held-out text); "
              f"ours {ours_s * 1e3:.3f} ms for the same {len(queries)} (mean of {reps}), "
              f"{per_token_ours * 1e6:.1f} µs a prediction over the whole text")
        print(f"speed: ours / nltk = {speedup:,.0f}x on the sample (target >= 100x); "
              f"{nltk_s / len(queries) / per_token_ours:,.0f}x per prediction against our whole-text rate")
        agree = max_diff <= 1e-9
        print(f"agreement on the sample: max |ours - nltk| = {max_diff:.2e} -> {'OK' if agree else 'FAIL'} "
              f"(target <= 1e-9)", flush=True)

    # ---- NNLM
    s = NNLM_SETTINGS
    data = nnlm.make_data(train, held_out, s["context"], vocab=vocab)
    if data.y_val.size != n_scored:
        print(f"WARNING: the NNLM scores {data.y_val.size:,} predictions, the n-grams {n_scored:,}")
    cfg = nnlm.NNLMConfig(len(vocab), s["context"], s["embed_dim"], s["hidden"])
    model = nnlm.build_nnlm(cfg, args.seed, vocab)
    sample = 0 if args.nnlm_full_softmax else s["softmax_sample"]
    print(f"NNLM: context {cfg.context} (a {cfg.context + 1}-gram model), m={cfg.embed_dim}, h={cfg.hidden}, "
          f"direct={cfg.direct}, {nnlm.count_params(model):,} parameters; AdamW lr {s['lr']}, batch "
          f"{s['batch_size']}, {'full softmax' if not sample else f'sampled softmax ({sample:,} words a step)'}, "
          f"{data.y_train.size:,} training windows, {args.seconds:.0f} s on {args.threads} thread(s)", flush=True)
    res = nnlm.train(model, data, epochs=1000, lr=s["lr"], batch_size=s["batch_size"], seed=args.seed,
                     max_seconds=args.seconds, eval_every=0, threads=args.threads, softmax_sample=sample)
    ppl_nnlm = res["val_ppl"]
    print(f"NNLM perplexity {ppl_nnlm:.2f} after {res['steps']:,} steps ({res['epochs']:.2f} epochs) in "
          f"{res['seconds']:.1f} s, stopped by {res['stopped_by']}; train loss {res['train_loss']:.3f} nats")
    ratio = ppl_nnlm / ppl["trigram_kn"]
    print(f"NNLM / trigram KN = {ratio:.3f} (target <= 0.85 on words_zh)")
    try:
        words = [w for w in ("中国", "经济", "北京", "发展") if w in vocab] if args.kind == "words_zh" else []
        for w in words[:2]:
            near = nnlm.neighbours(model, vocab, w, 6)
            print(f"neighbours of {w} in C: " + ", ".join(f"{n} {c:.2f}" for n, c in near))
    except ValueError:
        pass

    # ---- NNLM + trigram KN mixture (Bengio et al.'s best), per prediction in the same order
    t0 = time.perf_counter()
    with torch.inference_mode():
        lp = nnlm.log_probs_of(model, data.X_val, data.y_val)  # (N,)
    kn = [tri.prob(w, h) for w, h in sample_queries(held_m, n_scored)]
    mix = 0.5 * torch.as_tensor(kn, dtype=torch.float64) + 0.5 * lp.double().exp()
    ppl_mix = math.exp(-float(mix.log().mean()))
    print(f"NNLM + trigram KN, 0.5 each: perplexity {ppl_mix:.2f} = {ppl_mix / ppl['trigram_kn']:.3f} x trigram KN "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

    # ---- LSTM and GPT on the same sentences, vocabulary and predictions
    neural = {"nnlm": {"ppl": ppl_nnlm, "params": nnlm.count_params(model), "seconds": res["seconds"],
                       "steps": res["steps"], "epochs": res["epochs"]}}
    for name, settings in (("lstm", LSTM_SETTINGS), ("gpt", GPT_SETTINGS)):
        cfg_kw = {k: v for k, v in settings.items() if k not in ("batch_size", "lr", "softmax_sample")}
        scfg = sentlm.SentLMConfig(vocab_size=len(vocab), **cfg_kw)
        smodel = sentlm.build_sentlm(scfg, args.seed, vocab)
        print(f"{name.upper()}: {cfg_kw}, {sentlm.count_params(smodel):,} parameters; AdamW lr {settings['lr']}, "
              f"batch {settings['batch_size']} sentences, {args.seconds:.0f} s on {args.threads} thread(s)", flush=True)
        r = sentlm.train(smodel, vocab, train, held_out, max_seconds=args.seconds, lr=settings["lr"],
                         batch_size=settings["batch_size"], seed=args.seed, threads=args.threads)
        print(f"{name.upper()} perplexity {r['val_ppl']:.2f} after {r['steps']:,} steps ({r['epochs']:.2f} epochs) in "
              f"{r['seconds']:.1f} s; train loss {r['train_loss']:.3f} nats", flush=True)
        neural[name] = {"ppl": r["val_ppl"], "params": r["params"], "seconds": r["seconds"], "steps": r["steps"],
                        "epochs": r["epochs"]}
    ppl_lstm, ppl_gpt = neural["lstm"]["ppl"], neural["gpt"]["ppl"]
    order = [("unigram", ppl["unigram"]), ("bigram KN", ppl["bigram_kn"]), ("trigram KN", ppl["trigram_kn"]),
             ("NNLM", ppl_nnlm), ("LSTM", ppl_lstm), ("GPT", ppl_gpt)]
    print("lineage: " + " | ".join(f"{n} {p:.1f}" for n, p in order)
          + f"; n-gram > NNLM > LSTM > GPT holds: {ppl['trigram_kn'] > ppl_nnlm > ppl_lstm > ppl_gpt}")
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}")
    if args.save:
        import json
        SAVE_DIR.mkdir(parents=True, exist_ok=True)
        out = {"kind": args.kind, "seconds_budget": args.seconds, "threads": args.threads, "seed": args.seed,
               "vocab": len(vocab), "min_count": MIN_COUNT, "held_out_predictions": n_scored,
               "train_sentences": len(train), "train_tokens": sum(map(len, train)),
               "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "load": round(load, 2),
               "ngram": {k: {"ppl": v, "params": sum(len(c) for c in models[i].counts[1:]), "seconds": count_s[k]}
                         for i, (k, v) in zip((1, 2, 3), ppl.items())},
               "neural": neural, "nnlm_kn_mix": ppl_mix,
               "settings": {"nnlm": {**NNLM_SETTINGS, "softmax_sample": sample}, "lstm": LSTM_SETTINGS,
                            "gpt": GPT_SETTINGS}}
        path = SAVE_DIR / f"{args.kind}.json"
        path.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"saved {path}")
    print(f"lm_lineage: ppl_unigram={ppl['unigram']:.2f} ppl_bigram_kn={ppl['bigram_kn']:.2f} "
          f"ppl_trigram_kn={ppl['trigram_kn']:.2f} ppl_nnlm={ppl_nnlm:.2f} ppl_lstm={ppl_lstm:.2f} "
          f"ppl_gpt={ppl_gpt:.2f} ngram_eval_s={ngram_eval_s:.3f} nltk_eval_s={nltk_s:.2f} "
          f"ppl_nnlm_kn_mix={ppl_mix:.2f} nltk_tokens={len(queries)} "
          f"ngram_sample_s={ours_s:.6f} speedup={speedup:.0f} max_abs_diff={max_diff:.1e} "
          f"nnlm_s={res['seconds']:.0f} lstm_s={neural['lstm']['seconds']:.0f} gpt_s={neural['gpt']['seconds']:.0f} "
          f"nnlm_params={nnlm.count_params(model)} lstm_params={neural['lstm']['params']} "
          f"gpt_params={neural['gpt']['params']} vocab={len(vocab)} held_out_tokens={n_scored} load={load:.1f}")


if __name__ == "__main__":
    main()
