"""Train a shipped seq2seq checkpoint on the bundled Tatoeba pairs and write its model card.

    .venv/bin/python scripts/train_seq2seq.py --lang zh --attention additive \
        --out assets/models/seq2seq-en-zh
    .venv/bin/python scripts/train_seq2seq.py --lang zh --attention none \
        --out assets/models/seq2seq-en-zh/no-attention
    .venv/bin/python scripts/train_seq2seq.py --lang fr --out assets/models/seq2seq-en-fr

Uses one CPU thread (the machine is shared). Training stops after --epochs or --max-seconds,
whichever comes first; the validation pairs are core.corpora.split_pairs' fixed split (every
10th pair). The final checkpoint is evaluated on all validation pairs with greedy and beam
search (character-level BLEU-4 for Chinese, word-level for French).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.sequence import seq2seq as S  # noqa: E402
from core.corpora import split_pairs, tatoeba  # noqa: E402

LANG_NAMES = {"zh": "Chinese (Mandarin)", "fr": "French"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=["zh", "fr"], default="zh")
    ap.add_argument("--attention", choices=S.ATTENTIONS, default="additive")
    ap.add_argument("--cell", choices=S.CELLS, default="gru")
    ap.add_argument("--emb", type=int, default=96)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--layers", type=int, default=1, help="RNN layers; Transformer blocks per stack")
    ap.add_argument("--heads", type=int, default=4, help="Transformer only: attention heads")
    ap.add_argument("--norm", choices=S.NORMS, default="post", help="Transformer only: layer-norm placement")
    ap.add_argument("--warmup", type=int, default=0, help="steps of linear learning-rate warm-up (0: none)")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--lr-decay", type=float, default=0.85)
    ap.add_argument("--teacher-forcing", type=float, default=1.0)
    ap.add_argument("--min-freq", type=int, default=2)
    ap.add_argument("--max-src", type=int, default=25)
    ap.add_argument("--max-tgt", type=int, default=40)
    ap.add_argument("--max-seconds", type=float, default=1500)
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="where the training steps run: cpu or cuda (validation: cpu)")
    ap.add_argument("--eval-pairs", type=int, default=0, help="evaluate on the first N validation pairs (0: all)")
    ap.add_argument("--init", default="", help="continue training this checkpoint (its config and vocab are kept)")
    ap.add_argument("--init-dropout", type=float, default=None,
                    help="with --init: continue with this dropout instead of the checkpoint's (the weights are kept)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    pairs = tatoeba(args.lang)
    train_pairs, val_pairs = split_pairs(pairs)
    cfg = S.Seq2SeqConfig(src_lang="en", tgt_lang=args.lang, src_tokenizer="words",
                          tgt_tokenizer="chars" if args.lang == "zh" else "words",
                          emb_dim=args.emb, hidden_dim=args.hidden, cell=args.cell,
                          attention="dot" if args.cell == "transformer" else args.attention, num_layers=args.layers,
                          n_heads=args.heads, norm=args.norm, dropout=args.dropout, max_src_len=args.max_src,
                          max_tgt_len=args.max_tgt)
    prev = {"epochs": [], "steps": 0, "train_seconds": 0.0, "commands": []}
    if args.init:
        bundle = S.load_checkpoint(args.init)
        if args.init_dropout is not None and args.init_dropout != bundle.config.dropout:
            kept = bundle
            bundle = S.new_bundle(replace(kept.config, dropout=args.init_dropout), kept.src_vocab, kept.tgt_vocab)
            bundle.model.load_state_dict(kept.model.state_dict())
            bundle.meta = kept.meta
        src_vocab, tgt_vocab = bundle.src_vocab, bundle.tgt_vocab
        prev_meta = bundle.meta
        prev = {"epochs": prev_meta.get("epochs", []), "steps": prev_meta.get("steps", 0),
                "train_seconds": prev_meta.get("train_seconds", 0.0),
                "commands": prev_meta.get("commands", [prev_meta.get("command", "")])}
        # continue the learning-rate schedule where the previous run stopped
        args.lr = args.lr * args.lr_decay ** len(prev["epochs"])
    else:
        src_vocab, tgt_vocab = S.build_vocabs(train_pairs, cfg, min_freq=args.min_freq)
        bundle = S.new_bundle(cfg, src_vocab, tgt_vocab, seed=args.seed)
    cfg = bundle.config
    tcfg = S.TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, lr_decay=args.lr_decay,
                         teacher_forcing=args.teacher_forcing, max_seconds=args.max_seconds, seed=args.seed,
                         val_pairs=300, warmup=args.warmup, label_smoothing=args.label_smoothing)
    print(f"{args.lang} {cfg.cell} {cfg.attention}: {len(train_pairs)} train / {len(val_pairs)} val pairs, vocab "
          f"{len(src_vocab)}/{len(tgt_vocab)}, {S.count_parameters(bundle.model):,} parameters", flush=True)
    last = [time.monotonic()]

    def on_step(done, total, info):
        if time.monotonic() - last[0] > 60:
            last[0] = time.monotonic()
            print(f"  step {done}/{total} epoch {info['epoch']} loss {info['loss']:.3f}", flush=True)

    def on_epoch(rec):
        print(f"epoch {rec['epoch']}: train {rec['train_loss']:.3f} val tf {rec['val_loss_tf']:.3f} "
              f"free {rec['val_loss_free']:.3f} BLEU(300) {rec['val_bleu']:.2f} [{rec['seconds']:.0f}s]", flush=True)

    t0 = time.monotonic()
    hist = S.train(bundle, train_pairs, val_pairs, tcfg, on_step=on_step, on_epoch=on_epoch, device=args.device)
    train_s = time.monotonic() - t0
    for e in hist["epochs"]:  # number epochs, steps and seconds across continued runs
        e["epoch"] += len(prev["epochs"])
        e["steps"] += prev["steps"]
        e["seconds"] += prev["train_seconds"]
    hist["epochs"] = prev["epochs"] + hist["epochs"]
    train_s += prev["train_seconds"]

    if args.eval_pairs:
        val_pairs = val_pairs[: args.eval_pairs]
    t1 = time.monotonic()
    greedy = S.evaluate_bleu(bundle, val_pairs, "greedy")
    t2 = time.monotonic()
    beam = S.evaluate_bleu(bundle, val_pairs, "beam", beam_width=args.beam, alpha=args.alpha)
    t3 = time.monotonic()
    buckets = S.bleu_by_length(greedy["sources"], greedy["hypotheses"], greedy["references"])
    examples = []
    for text in ["i am hungry .", "i love you .", "where is the station ?", "he is reading a book .",
                 "we will go to school tomorrow ."]:
        examples.append({"en": text, "greedy": S.translate(bundle, text)["text"],
                         "beam": S.translate(bundle, text, "beam", args.beam, args.alpha)["text"]})
    metrics = {
        "data": f"Tatoeba en-{args.lang}, {len(train_pairs)} train pairs ({hist['pairs']} within length limits), "
                f"{len(val_pairs)} validation pairs (every 10th pair)",
        "train_config": asdict(tcfg), "steps": hist["epochs"][-1]["steps"] if hist["epochs"] else 0,
        "epochs_done": len(hist["epochs"]), "train_seconds": round(train_s, 1), "stopped": hist["stopped"],
        "epochs": hist["epochs"], "val_pairs": len(greedy["references"]),
        "val_bleu_greedy": round(greedy["bleu"], 2), "val_bleu_beam": round(beam["bleu"], 2),
        "beam_width": args.beam, "alpha": args.alpha,
        "greedy_sents_per_s": round(len(greedy["references"]) / max(t2 - t1, 1e-9), 1),
        "beam_sents_per_s": round(len(beam["references"]) / max(t3 - t2, 1e-9), 1),
        "bleu_by_length": buckets, "examples": examples,
        "parameters": S.count_parameters(bundle.model),
        "command": "python scripts/train_seq2seq.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    metrics["commands"] = [c for c in prev["commands"] if c] + [metrics["command"]]
    bundle.meta = metrics
    unit = "character-level" if cfg.tgt_tokenizer == "chars" else "word-level"
    att = {"none": "no attention (one fixed context vector)", "additive": "additive (Bahdanau) attention",
           "dot": "dot-product (Luong) attention"}[cfg.attention]
    rows = "\n".join(f"| {e['epoch']} | {e['steps']} | {e['train_loss']:.3f} | {e['val_loss_tf']:.3f} | "
                     f"{e['val_loss_free']:.3f} | {e['val_bleu']:.2f} |" for e in hist["epochs"])
    brows = "\n".join(f"| {b['bucket']} | {b['pairs']} | {b['bleu']:.2f} |" for b in buckets)
    exrows = "\n".join(f"| {e['en']} | {e['greedy']} | {e['beam']} |" for e in examples)
    where = "training steps on a GPU" if args.device.startswith("cuda") else f"{args.threads} CPU thread(s)"
    if cfg.cell == "transformer":
        title = "Transformer (encoder–decoder, multi-head attention)"
        arch = (f"A small Transformer (`core.transformers.translator`: our own encoder–decoder from "
                f"`core/transformers/transformer.py`, {cfg.num_layers} encoder + {cfg.num_layers} decoder blocks, "
                f"d_model {cfg.emb_dim}, {cfg.n_heads} heads, feed-forward {cfg.hidden_dim}, {cfg.norm}-norm, "
                f"sinusoidal positions, {metrics['parameters']:,} parameters)")
        extra = (f", label smoothing {tcfg.label_smoothing}, linear warm-up over {tcfg.warmup} steps"
                 if tcfg.warmup or tcfg.label_smoothing else "")
    else:
        title = att
        arch = (f"A small {cfg.cell.upper()} encoder–decoder (bidirectional encoder, {cfg.hidden_dim}-d states,\n"
                f"{cfg.emb_dim}-d embeddings, {metrics['parameters']:,} parameters) with {att}")
        extra = ""
    card = f"""# seq2seq English→{LANG_NAMES[args.lang]}, {title}

{arch}, trained from scratch
in this repo by `scripts/train_seq2seq.py` ({where}). Weights are stored as float16
(loaded back as float32).

- **Data**: {metrics['data']}. Tatoeba sentences, CC-BY 2.0 FR (attribution per pair in
  `assets/data/`). English is lower-cased and split into words and punctuation; the target is split
  into {'characters' if cfg.tgt_tokenizer == 'chars' else 'lower-cased words and punctuation'}.
  Vocabulary: tokens seen at least {args.min_freq}× in training ({len(src_vocab)} source /
  {len(tgt_vocab)} target, specials included). Training pairs longer than {cfg.max_src_len} source
  or {cfg.max_tgt_len} target tokens were skipped.
- **Training**: Adam, learning rate ×{tcfg.lr_decay} per epoch (this run started at {tcfg.lr:.2g}), batch {tcfg.batch_size}, dropout {cfg.dropout}{extra},
  teacher forcing {tcfg.teacher_forcing}, gradient clipping {tcfg.clip}; {metrics['epochs_done']} epochs =
  {metrics['steps']} steps in {train_s / 60:.1f} min{(' (' + hist['stopped'] + ')') if hist['stopped'] else ''}.
- **Quality** on all {metrics['val_pairs']} validation pairs, {unit} BLEU-4 (sacrebleu, tokenize=none on
  our tokens): **greedy {greedy['bleu']:.2f}**, **beam {args.beam} (α={args.alpha}) {beam['bleu']:.2f}**.
  Speed: {metrics['greedy_sents_per_s']} sentences/s greedy (batched), {metrics['beam_sents_per_s']} beam
  (one by one), on {"the GPU machine's CPU" if args.device.startswith("cuda") else "a shared 2-core CPU"}.
- **Commands** (run in this order; `--init` continues training a checkpoint):
{chr(10).join('  - `' + c + '`' for c in metrics['commands'])}

Per epoch (validation losses on the first 300 validation pairs, i.e. the shortest ones since Tatoeba
is sorted by length; "free" = the decoder fed its own predictions, so the
gap to the teacher-forced loss is exposure bias; greedy BLEU on the same 300 pairs):

| epoch | steps | train loss | val loss (teacher-forced) | val loss (free-running) | val BLEU |
|---|---|---|---|---|---|
{rows}

Greedy BLEU by source length (words):

| source length | pairs | BLEU |
|---|---|---|
{brows}

Examples:

| English | greedy | beam {args.beam} |
|---|---|---|
{exrows}

Limitations: a tiny model trained for minutes on ~{len(train_pairs) // 1000}k short sentences; it knows
the everyday vocabulary of Tatoeba only, mistranslates rare words (shown as `<unk>` when unknown)
and long sentences. For teaching, not for real translation.
"""
    S.save_checkpoint(bundle, args.out, card)
    size = (Path(args.out) / "model.safetensors").stat().st_size
    print(json.dumps({k: metrics[k] for k in ("val_bleu_greedy", "val_bleu_beam", "steps", "epochs_done")}))
    print(f"saved {args.out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
