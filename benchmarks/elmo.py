"""ELMo (issue 19): a small two-layer bidirectional LSTM language model trained in this run on People's Daily
words, then a POS-tagging probe over its frozen features, per feature kind.

    .venv/bin/python benchmarks/elmo.py [--lm-seconds 180]
    .venv/bin/python benchmarks/elmo.py --checkpoint elmo-zh-peoples-daily   # the shipped model, no LM training
Ends with: elmo: task_acc_static=… task_acc_layer0=… task_acc_layer1=… task_acc_layer2=… task_acc_mix=…
(then: lm_ppl, lm_params, lm_s, lm_steps, mix weights s0..s2, gamma, load)

- The LM: `core.embeddings.elmo` with the default `ELMoConfig` (E = H = 128, two layers per direction, tied
  input / softmax, residual from layer 2) over the 10,000 most frequent training words (seen >= 2 times)
  plus <UNK>, <s>, </s>; trained by `train_lm` (AdamW, warm-up + cosine decay over the budget) for
  --lm-seconds on the training part of the shared split (`core.corpora.lm_split("words_zh")`), on
  --threads threads (1 on a shared machine). lm_ppl: held-out perplexity over the whole held-out part
  (the mean of the forward and backward LMs' perplexities, as the paper reports).
- The probe (`pos_task` / `train_tagger`): a linear softmax tagger over frozen features of the first 2,000
  People's Daily training sentences, scored per word on the first 500 test sentences (held out of the
  LM too). Feature kinds: static = the LM's layer-0 word embedding alone (the baseline: one vector per
  word, no context), layer0 = [emb; emb], layer1 / layer2 = [forward h_j; backward h_j], mix = the learned
  scalar mix γ Σ softmax(w)_j h_j of all three (its weights s_j and γ printed). Target: task_acc_mix >
  task_acc_static (the contextual layers add what a static vector can't: the word's sense in context).
- --checkpoint NAME_OR_PATH: evaluate a saved model (`elmo.load_checkpoint`: a folder, or a name in
  assets/models/) instead of training one; lm_s and lm_steps are then its training figures, from the
  checkpoint's metadata.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core.device import torch_threads  # noqa: E402
from core.embeddings import elmo  # noqa: E402

VOCAB_SIZE = 10_000  # words of the LM (plus the three specials), the ELMoConfig default
N_TRAIN, N_TEST = 2000, 500  # probe sentences (the pos_task defaults)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lm-seconds", type=float, default=180.0, help="language-model training budget, seconds")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the LM (1 on a shared machine)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default="",
                    help="evaluate this saved model (folder, or name in assets/models/) instead of training one")
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average {load0:.2f}", flush=True)
    train, held_out = elmo.lm_sentences()
    if args.checkpoint:
        model = elmo.load_checkpoint(args.checkpoint)
        vocab, cfg = model.vocab, model.config
        print(f"checkpoint {elmo.checkpoint_folder(args.checkpoint)}", flush=True)
    else:
        vocab = elmo.build_vocab(train, max_size=VOCAB_SIZE, min_count=2)
        cfg = elmo.ELMoConfig(vocab_size=len(vocab))
        model = elmo.build_elmo(cfg, args.seed, vocab)
    params = elmo.count_params(model)
    print(f"People's Daily: {len(train):,} training sentences, {len(held_out):,} held-out; vocabulary {len(vocab):,}; "
          f"ELMo E={cfg.embed_dim} H={cfg.hidden} layers={cfg.n_layers} dropout={cfg.dropout} "
          f"residual={cfg.residual}: {params:,} parameters", flush=True)

    if args.checkpoint:
        res = {"steps": int(model.info.get("steps", 0)), "seconds": float(model.info.get("seconds", 0.0))}
        print(f"LM not trained here: the checkpoint was trained {res['steps']:,} steps in {res['seconds']:.1f} s",
              flush=True)
    else:
        res = elmo.train_lm(model, train, held_out, steps=1_000_000, max_seconds=args.lm_seconds, seed=args.seed,
                            eval_every=0, threads=args.threads)
        print(f"LM trained {res['steps']:,} steps in {res['seconds']:.1f} s (stopped by {res['stopped_by']}); "
              f"train loss {res['train_loss']:.3f} nats; first 300 held-out sentences: ppl {res['val_ppl']:.1f}",
              flush=True)
    t0 = time.perf_counter()
    with torch_threads(args.threads):
        ppl = elmo.perplexity(model, held_out)
    print(f"held-out perplexity (all {len(held_out):,} sentences, {ppl['tokens']:,} predictions per direction): "
          f"forward {ppl['forward']:.1f}, backward {ppl['backward']:.1f}, mean {ppl['ppl']:.1f} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

    t0 = time.perf_counter()
    with torch_threads(args.threads):
        data = elmo.pos_task(model, N_TRAIN, N_TEST)
    print(f"POS probe: {N_TRAIN} train / {N_TEST} test sentences = {data.train_tags.numel():,} / "
          f"{data.test_tags.numel():,} words, {len(data.tags)} tags, static = {data.static_source}; features in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    def on_kind(_i, _n, kind, r):
        print(f"  {kind:7s} test accuracy {r['accuracy']:.4f} (train {r['train_accuracy']:.4f}, "
              f"{r['seconds']:.1f} s)", flush=True)

    probe = elmo.run_probe(data, seed=args.seed, on_kind=on_kind)
    acc, mix = probe["acc"], probe["results"]["mix"]
    weights = mix["mix_weights"]
    print(f"scalar mix: s = [{', '.join(f'{w:.3f}' for w in weights)}], gamma = {mix['gamma']:.3f}")
    ok = "OK" if acc["mix"] > acc["static"] else "FAIL"
    print(f"mix - static = {acc['mix'] - acc['static']:+.4f} (target > 0: {ok})")
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}")
    print(f"elmo: task_acc_static={acc['static']:.4f} task_acc_layer0={acc['layer0']:.4f} "
          f"task_acc_layer1={acc['layer1']:.4f} task_acc_layer2={acc['layer2']:.4f} task_acc_mix={acc['mix']:.4f} "
          f"lm_ppl={ppl['ppl']:.1f} lm_params={params} lm_s={res['seconds']:.0f} lm_steps={res['steps']} "
          + " ".join(f"s{j}={w:.3f}" for j, w in enumerate(weights)) + f" gamma={mix['gamma']:.3f} load={load:.1f}")


if __name__ == "__main__":
    main()
