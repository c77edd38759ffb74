"""Time getting every layer's attention for a 64-token sentence from each packaged model (warm).

Target: <= 500 ms per model on 2 CPU cores. Baseline in the same run: the plain HF forward pass
of the full model with output_attentions=True (what a page would do without core.transformers.attention).

    .venv/bin/python benchmarks/attention.py [--threads 2] [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core import loaders  # noqa: E402
from core.transformers import attention

TEXT = ("Attention lets every token look at every other token in the sentence and decide how much of "
        "each one it wants to copy into its own new representation, which is why transformers can "
        "connect a pronoun to the noun it refers to many words earlier, even across long clauses and "
        "commas, without any recurrence at all in the whole network architecture.")


def _median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock ms and median CPU ms (all threads of this process) of `fn`, after a warm-up.

    On a shared, overloaded machine wall time mostly measures waiting for a core; CPU time is the
    work itself (on an idle 2-core machine wall time lies between cpu/2 and cpu).
    """
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for key, load in (("minilm", loaders.load_minilm), ("smollm", loaders.load_smollm)):
        bundle = load()
        res = attention.model_attention(bundle, TEXT, max_tokens=64)
        n_tok = len(res.tokens)
        assert n_tok == 64, f"{key}: expected 64 tokens, got {n_tok} (make TEXT longer)"
        ours, ours_cpu = _median_ms(lambda: attention.model_attention(bundle, TEXT, max_tokens=64), args.repeats)
        enc = bundle.tokenizer(TEXT, return_tensors="pt", truncation=True, max_length=64)

        def baseline():
            with torch.inference_mode():
                out = bundle.model(**enc, output_attentions=True)
            return [a.numpy() for a in out.attentions]

        base, base_cpu = _median_ms(baseline, args.repeats)
        results[key] = (ours, ours_cpu)
        shape = tuple(res.attentions.shape)
        print(f"{key}: {n_tok} tokens, attention {shape} (layers, heads, T, T): core.transformers.attention "
              f"{ours:.1f} ms wall / {ours_cpu:.1f} ms CPU; HF full-model forward {base:.1f} ms wall / "
              f"{base_cpu:.1f} ms CPU (medians of {args.repeats}, warm)")
    load = os.getloadavg()
    print(f"threads={args.threads} cpus={os.cpu_count()} loadavg(1m,5m,15m)={load[0]:.2f},{load[1]:.2f},{load[2]:.2f} "
          f"target<=500 ms each")
    print(f"attention: minilm_ms={results['minilm'][0]:.1f} smollm_ms={results['smollm'][0]:.1f} "
          f"minilm_cpu_ms={results['minilm'][1]:.1f} smollm_cpu_ms={results['smollm'][1]:.1f} "
          f"load1m={load[0]:.2f} target_ms=500")


if __name__ == "__main__":
    main()
