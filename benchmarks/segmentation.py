"""Chinese word segmentation on the fixed test split of People's Daily 1998 (every 10th sentence):
forward / backward / bidirectional maximum matching, the bigram lattice, the HMM, the shipped CRF and
jieba, with the training words as the dictionary. Word-level P/R/F1 and OOV recall (SIGHAN style).

    .venv/bin/python benchmarks/segmentation.py
    .venv/bin/python benchmarks/segmentation.py --gold FILE   # one sentence a line, words separated by spaces
Ends with: segmentation: f1_fmm=… f1_bimm=… f1_bigram=… f1_hmm=… f1_crf=… f1_jieba=… oov_recall_crf=…
           crf_chars_per_s=… jieba_chars_per_s=…
Targets: best F1 >= 0.96 and >= jieba + 0.05; bigram lattice > maximum matching.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.classic import corpus, crf, evaluation, hmm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", help="a file of gold segmentations instead of the test split")
    args = ap.parse_args()
    test = None
    if args.gold:
        test = [line.split() for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.split()]
        print(f"gold file {args.gold}: {len(test)} sentences")
    train, _test = corpus.train_test()
    t0 = time.perf_counter()
    hmm_seg = hmm.HMMSegmenter.train(train)
    hmm_s = time.perf_counter() - t0
    crf_seg = crf.load_shipped("seg")
    rows = evaluation.segmenters({"hmm": ("HMM", hmm_seg.segment_clean, hmm_s),
                                  "crf": ("CRF (shipped)", crf_seg.segment_clean, float("nan"))}, test=test)
    by = {r["method"]: r for r in rows}
    for r in rows:
        print(f"{r['method']:14s} P={r['precision']:.4f} R={r['recall']:.4f} F1={r['f1']:.4f} "
              f"OOV-R={r['oov_recall']:.4f} {r['chars_per_s']:>10,.0f} chars/s train {r['train_s']:.1f} s")
    best = max(rows, key=lambda r: r["f1"])
    print(f"best: {best['method']} F1 {best['f1']:.4f}; jieba {by['jieba']['f1']:.4f}; "
          f"targets: best >= 0.96 {best['f1'] >= 0.96}, best >= jieba + 0.05 {best['f1'] >= by['jieba']['f1'] + 0.05}, "
          f"bigram > max matching {by['bigram']['f1'] > max(by[m]['f1'] for m in ('forward', 'backward', 'bidirectional'))}"
          f"; load average {os.getloadavg()[0]:.2f}")
    print("segmentation: " + " ".join([
        f"f1_fmm={by['forward']['f1']:.4f}", f"f1_bimm={by['bidirectional']['f1']:.4f}",
        f"f1_bigram={by['bigram']['f1']:.4f}", f"f1_hmm={by['hmm']['f1']:.4f}", f"f1_crf={by['crf']['f1']:.4f}",
        f"f1_jieba={by['jieba']['f1']:.4f}", f"oov_recall_crf={by['crf']['oov_recall']:.4f}",
        f"crf_chars_per_s={by['crf']['chars_per_s']:.0f}", f"jieba_chars_per_s={by['jieba']['chars_per_s']:.0f}"]))


if __name__ == "__main__":
    main()
