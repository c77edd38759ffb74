"""Google analogy accuracy: our vectorized evaluation vs gensim's evaluate_word_analogies.

    .venv/bin/python benchmarks/analogies.py                  # GloVe 6B 50d (packaged)
    .venv/bin/python benchmarks/analogies.py --vectors FILE   # any word2vec-format file (.txt / .bin)

Both run on the same vectors with the same restrict_vocab in the same process; gensim's takes
about a minute on 300k words. Ends with one line:
    analogies: accuracy=… gensim_accuracy=… ours_s=… gensim_s=… speedup=…
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.embeddings import wordvec  # noqa: E402


def load_vectors(path: str | None):
    if path is None:
        from core.loaders import load_glove

        return load_glove(), "glove-6b-50d"
    from core.embeddings.word2vec_train import load_word2vec_file

    return load_word2vec_file(path), Path(path).name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", help="word2vec-format file (text, or binary if it ends in .bin)")
    ap.add_argument("--restrict-vocab", type=int, default=300_000)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--skip-gensim", action="store_true", help="only time ours (no baseline)")
    ap.add_argument("--strategy", choices=["scan", "dense", "bounds"], default="scan",
                    help="scan: stop each question once a word beats the answer (default); dense: full "
                         "batched products; bounds: experimental group-bound pruning")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="our big product in float32, or bfloat16 with an exactness certificate (auto: bf16 "
                         "where the CPU multiplies it faster)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    kv, name = load_vectors(args.vectors)
    print(f"vectors: {name}  words={len(kv.index_to_key):,}  dim={kv.vector_size}  "
          f"load_s={time.perf_counter() - t0:.1f}  restrict_vocab={args.restrict_vocab:,}")

    wordvec.unit_matrix(kv)  # normalizing is part of loading, as gensim's fill_norms would be
    wordvec.unit_matrix_bf16(kv)
    ours = wordvec.evaluate_analogies(kv, restrict_vocab=args.restrict_vocab, precision=args.precision,
                                      strategy=args.strategy)
    print(f"ours:   accuracy={ours.accuracy:.4f} ({ours.correct}/{ours.total}, skipped {ours.skipped}) "
          f"in {ours.seconds:.2f} s  method={ours.precision} rescored_exactly={ours.rescored}")
    for row in ours.sections:
        print(f"  {row['section']:<28} {row['accuracy']:.3f}  ({row['correct']}/{row['total']})")
    if args.skip_gensim:
        print(f"analogies: accuracy={ours.accuracy:.4f} ours_s={ours.seconds:.2f}")
        return 0

    private = copy.copy(kv)  # gensim swaps key_to_index while it runs
    private.fill_norms()
    t0 = time.perf_counter()
    g_acc, g_sections = wordvec.gensim_analogy_accuracy(private, restrict_vocab=args.restrict_vocab)
    g_s = time.perf_counter() - t0
    g_total = g_sections[-1]
    print(f"gensim: accuracy={g_acc:.4f} ({len(g_total['correct'])}/"
          f"{len(g_total['correct']) + len(g_total['incorrect'])}) in {g_s:.2f} s")
    mismatched = [
        (o["section"], o["correct"], len(g["correct"]))
        for o, g in zip(ours.sections, g_sections[:-1]) if o["correct"] != len(g["correct"])
    ]
    print(f"sections with a different count of correct answers: {mismatched or 'none'}")
    same = round(ours.accuracy, 3) == round(g_acc, 3)
    print(f"accuracies equal to 3 decimals: {same}")
    print(f"analogies: accuracy={ours.accuracy:.4f} gensim_accuracy={g_acc:.4f} ours_s={ours.seconds:.2f} "
          f"gensim_s={g_s:.2f} speedup={g_s / ours.seconds:.1f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
