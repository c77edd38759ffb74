"""Fill-mask quality and speed of the offline default model (MiniLM + shipped MLM head), or with
`--lang zh` of the shipped Chinese BERT (one [MASK] = one character).

    .venv/bin/python benchmarks/fill_mask.py --cloze benchmarks/data/cloze.tsv
    .venv/bin/python benchmarks/fill_mask.py --lang zh          # benchmarks/data/cloze_zh.tsv

Reads lines `sentence-with-[MASK]<TAB>answer|answer…` ('#' lines are comments), predicts the masked
word, and reports top-1/top-5 (a hit when any accepted answer is among the top-k word pieces). Also
prints masked-token top-1/top-5 on the held-out bundled text (15% of word pieces → [MASK], fixed
seed; English only: the Chinese model's held-out figures are benchmarks/bert_zh.py's), and compares with two baselines in the same run: a unigram guesser (always the most frequent
training word pieces) for quality, and transformers' FillMaskPipeline on the same model for speed.
Ends with one line `fill_mask: n=… top1=… top5=… ms_per_sentence=… heldout_top1=… heldout_top5=…`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.transformers import mlm_train  # noqa: E402
from core.transformers import fillmask
from core.sources import get_source  # noqa: E402


def read_cloze(path: Path) -> list[tuple[str, list[str]]]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{n}: expected `sentence<TAB>answer|answer`, got {line[:60]!r}")
        sent, answers = line.split("\t", 1)
        items.append((sent.strip(), [a.strip().lower() for a in answers.split("|") if a.strip()]))
    if not items:
        raise ValueError(f"{path} has no cloze lines.")
    return items


def zh_unigram_baseline(items: list[tuple[str, list[str]]]) -> tuple[float, float]:
    """Top-1/top-5 on the cloze set of always guessing People's Daily's most frequent characters (training part)."""
    from collections import Counter

    from core.transformers import bert_zh

    counts = Counter(ch for sent in bert_zh.corpus_split()[0] for word in sent for ch in word
                     if not ch.isspace() and ch.isalnum())
    top5 = [c for c, _ in counts.most_common(5)]
    n = len(items)
    u1 = sum(top5[0] in a for _, a in items) / n
    u5 = sum(any(c in a for c in top5) for _, a in items) / n
    print(f"baseline unigram guesser ({', '.join(top5)}) on the cloze set: top1={u1:.3f} top5={u5:.3f}")
    return u1, u5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=("en", "zh"), default="en",
                    help="en: MiniLM + MLM head; zh: the Chinese BERT pre-trained here")
    ap.add_argument("--cloze", type=Path, help="default: benchmarks/data/cloze.tsv (en) or cloze_zh.tsv (zh)")
    ap.add_argument("--model", type=Path, help="a checkpoint folder from scripts/train_mlm_head.py (en) or "
                    "scripts/train_bert_zh.py (zh); default: the shipped model")
    ap.add_argument("--heldout-rows", type=int, default=2041, help="held-out rows of 64 pieces to score (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--show", type=int, default=12, help="print this many example predictions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    cloze = args.cloze or ROOT / "benchmarks" / "data" / ("cloze.tsv" if args.lang == "en" else "cloze_zh.tsv")
    if args.model is not None:
        if args.lang == "en":
            bundle = fillmask.load_minilm_mlm(str(args.model))
        else:
            from core.transformers import bert_zh

            bundle = bert_zh.load_hf(str(args.model))
    else:
        bundle = get_source("masked_lm", "minilm-mlm" if args.lang == "en" else "bert-zh").load()
    info = {k: v for k, v in bundle.info.items() if not isinstance(v, (dict, list)) or len(str(v)) < 200}
    print(f"loaded {bundle.name} in {time.perf_counter() - t0:.1f}s: {info}")
    tok = bundle.tokenizer
    items = read_cloze(cloze)

    # --- cloze: ours --------------------------------------------------------------------------
    fillmask.fill_mask(bundle, items[0][0], top_k=5)  # warm-up
    hit1 = hit5 = 0
    times = []
    for i, (sent, answers) in enumerate(items):
        t = time.perf_counter()
        res = fillmask.fill_mask(bundle, sent, top_k=5)
        times.append(time.perf_counter() - t)
        preds = [p["token"] for p in res["masks"][0]["predictions"]]
        hit1 += preds[0] in answers
        hit5 += any(p in answers for p in preds)
        if i < args.show:
            print(f"  {'✓' if preds[0] in answers else ('·' if any(p in answers for p in preds) else '✗')} "
                  f"{sent}  →  {', '.join(preds)}   (answer: {'|'.join(answers[:4])})")
    n = len(items)
    ms = 1000 * float(np.median(times))
    print(f"cloze ({n} sentences): top1={hit1 / n:.3f} top5={hit5 / n:.3f}, median {ms:.1f} ms/sentence")

    # --- speed baseline: transformers' FillMaskPipeline on the same model ----------------------
    from transformers import FillMaskPipeline

    pipe = FillMaskPipeline(model=bundle.model, tokenizer=tok, device=-1)
    pipe(items[0][0], top_k=5)
    pt = []
    for sent, _ in items:
        t = time.perf_counter()
        pipe(sent, top_k=5)
        pt.append(time.perf_counter() - t)
    pipe_ms = 1000 * float(np.median(pt))
    print(f"baseline FillMaskPipeline on the same model: median {pipe_ms:.1f} ms/sentence")

    # --- quality baseline: unigram guesser + held-out masked-token accuracy --------------------
    held1 = held5 = float("nan")
    uni1 = uni5 = float("nan")
    if args.lang == "zh":
        uni1, uni5 = zh_unigram_baseline(items)
    data = mlm_train.build_dataset(tok, 64) if args.heldout_rows and args.lang == "en" else None
    if data is not None:
        ids = mlm_train.special_ids(tok)
        prior = mlm_train.unigram_log_prior(data["train"], len(tok), ids["special"])
        top5_ids = prior.topk(5).indices.tolist()
        top5_tok = [fillmask.token_str(tok, i) for i in top5_ids]
        uni1 = sum(top5_tok[0] in a for _, a in items) / n
        uni5 = sum(any(t in a for t in top5_tok) for _, a in items) / n
        print(f"baseline unigram guesser ({', '.join(top5_tok)}) on the cloze set: top1={uni1:.3f} top5={uni5:.3f}")
        t = time.perf_counter()
        ev = mlm_train.evaluate(bundle.model, data["val"], ids, "cpu", max_rows=args.heldout_rows,
                                val_src=data["val_src"])
        held1, held5 = ev["top1"], ev["top5"]
        # the unigram guesser on the same held-out masked positions
        from core.device import make_generator

        gen = make_generator(1234)
        step = max(1, len(data["val"]) // args.heldout_rows)
        rows = np.arange(0, len(data["val"]), step)[:args.heldout_rows]
        u1 = u5 = m = 0
        for i in range(0, len(rows), 128):
            x = torch.as_tensor(data["val"][rows[i:i + 128]], dtype=torch.long)
            c = fillmask.corrupt(x, mlm_train._maskable(x, ids["special"]), ids["mask"],
                                 torch.as_tensor(ids["pool"]), gen, p_mask=1.0, p_random=0.0)
            tgt = c["labels"][c["labels"] != -100]
            u1 += int((tgt == top5_ids[0]).sum())
            u5 += int(torch.isin(tgt, torch.tensor(top5_ids)).sum())
            m += len(tgt)
        print(f"held-out bundled text ({ev['n']} masked pieces, {time.perf_counter() - t:.0f}s): "
              f"top1={held1:.3f} top5={held5:.3f} CE={ev['loss']:.2f} nats; per source {ev['per_source_top1']}")
        print(f"baseline unigram guesser on the same held-out positions: top1={u1 / m:.3f} top5={u5 / m:.3f}")

    print(f"fill_mask: lang={args.lang} n={n} top1={hit1 / n:.3f} top5={hit5 / n:.3f} ms_per_sentence={ms:.1f} "
          f"pipeline_ms={pipe_ms:.1f} heldout_top1={held1:.3f} heldout_top5={held5:.3f} "
          f"unigram_top5={uni5:.3f}")


if __name__ == "__main__":
    main()
