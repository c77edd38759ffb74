"""POS tagging and NER on gold words, on the fixed test split of People's Daily 1998: the HMMs
(trained here) and the CRFs (the page's in-page budget, trained in this run, and the shipped ones).

    .venv/bin/python benchmarks/tagging.py
Ends with: tagging: pos_acc_hmm=… pos_acc_crf=… ner_f1_hmm=… ner_f1_crf=… train_s_crf=…
(pos_acc_crf / ner_f1_crf: the shipped CRFs; train_s_crf: the slowest in-page CRF training, seconds.)
Targets: CRF POS accuracy >= 0.95, CRF NER entity F1 >= 0.85, every in-page model trains in <= 60 s.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.classic import corpus, crf, evaluation, hmm  # noqa: E402


def main() -> None:
    train, _test = corpus.train_test()
    t0 = time.perf_counter()
    hmm_pos, hmm_ner = hmm.HMMTagger.train(train), hmm.HMMTagger.train_ner(train)
    print(f"HMM POS + NER trained in {time.perf_counter() - t0:.1f} s")
    shipped_pos, shipped_ner = crf.load_shipped("pos"), crf.load_shipped("ner")
    train_s = {}
    live = {}
    for kind in ("seg", "pos", "ner"):
        t0 = time.perf_counter()
        # the page's defaults: averaged perceptron, 10 passes
        live[kind] = crf.CRFSegmenter.train(train) if kind == "seg" else crf.CRFTagger.train(train, kind=kind)
        train_s[kind] = time.perf_counter() - t0
        print(f"in-page CRF {kind}: trained in {train_s[kind]:.1f} s")
    pos = evaluation.pos_scores({"hmm": hmm_pos.tag, "crf_shipped": shipped_pos.tag, "crf_in_page": live["pos"].tag})
    ner = evaluation.ner_scores({"hmm": lambda w, t: hmm_ner.tag(w), "crf_shipped": lambda w, t: shipped_ner.tag(w, t),
                                 "crf_in_page": lambda w, t: live["ner"].tag(w, t)})
    for r in pos["rows"]:
        print(f"POS {r['method']:12s} accuracy {r['accuracy']:.4f} (unseen words {r['oov_accuracy']:.4f}) "
              f"{r['seconds']:.1f} s")
    for r in ner:
        print(f"NER {r['method']:12s} P {r['precision']:.4f} R {r['recall']:.4f} F1 {r['f1']:.4f} {r['seconds']:.1f} s")
    p = {r["method"]: r for r in pos["rows"]}
    n = {r["method"]: r for r in ner}
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"tagging: pos_acc_hmm={p['hmm']['accuracy']:.4f} pos_acc_crf={p['crf_shipped']['accuracy']:.4f} "
          f"ner_f1_hmm={n['hmm']['f1']:.4f} ner_f1_crf={n['crf_shipped']['f1']:.4f} "
          f"train_s_crf={max(train_s.values()):.1f} pos_acc_crf_in_page={p['crf_in_page']['accuracy']:.4f} "
          f"ner_f1_crf_in_page={n['crf_in_page']['f1']:.4f}")


if __name__ == "__main__":
    main()
