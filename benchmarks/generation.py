"""Greedy generation speed of the packaged SmolLM2-135M: Hugging Face `generate` vs our generator.

    .venv/bin/python benchmarks/generation.py [--tokens 128] [--threads 2] [--repeats 2]

Same process, same prompt, back to back (so ratios hold even on a busy machine):
- hf:    `model.generate(do_sample=False)` on the shared fp32 model (the baseline);
- exact: our KV-cache loop (`core.transformers.generate.greedy_fast_path`) on the same fp32 model; its ids
         must equal HF's;
- fast:  the same loop on the fast model (`core.transformers.generate.fast_model`: the lean Llama decoder with
         bf16 weights, `core.transformers.lean_llama`); quality is checked as perplexity on held-out Tiny
         Shakespeare (the tail of `core.corpora.shakespeare()`) relative to fp32, with every
         token through the fast weights (`generate.quality_model`).
- engine:   the GPT page's default where llama.cpp is installed: the packaged Q4_1 GGUF run by llama.cpp
            (`core.transformers.llamacpp`) under the page's own streaming loop (`generate.run`: sampling code,
            per-step candidates and entropies); `engine_ppl_delta_pct` is its perplexity against fp32;
- llamacpp: plain `llama_cpp.Llama.generate` (greedy, its own sampler) on the same file, the same prompt and
            number of tokens: what a user of llama.cpp gets. `engine_same_as_llamacpp`: our greedy ids equal it.
Each timing is the best of `--repeats` runs (the CPU is shared). TTFT: best time to the first token
(prefill of the prompt + first pick) over the runs and 5 extra calls.
Ends with one line: `generation: hf_tok_s=... exact_tok_s=... exact_same_output=... fast_tok_s=...
fast_ppl_delta_pct=... ttft_ms=... engine_tok_s=... engine_ttft_ms=... engine_ppl_delta_pct=... llamacpp_tok_s=...`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# On a CPU shared by many busy processes, OpenMP threads that spin-wait for each other make every
# small op crawl (we measured 0.3 tok/s vs 4 tok/s); passive waiting is fair to HF and ours alike.
# llama.cpp's OpenMP threads suffer from passive waiting instead (32 tok/s instead of 118 here): the app
# sets no policy, so on a quiet machine run with OMP_WAIT_POLICY=ACTIVE to measure what the app does.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from core import corpora, loaders  # noqa: E402
from core.transformers import generate

PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ppl-tokens", type=int, default=1024)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()[0]

    lm = loaders.load_smollm()
    model, tok = lm.model, lm.tokenizer
    ids, _ = generate.encode_prompt(tok, PROMPT, model, args.tokens)
    x = torch.tensor([ids])  # (1, T)
    eos = tok.eos_token_id
    print(f"prompt: {len(ids)} tokens; {args.tokens} new tokens; {args.threads} threads; "
          f"load average {load0:.2f}", flush=True)

    t = time.perf_counter()
    fast = generate.fast_model(lm)
    print(f"{generate.FAST_METHOD} copy built in {time.perf_counter() - t:.1f} s", flush=True)

    def hf():
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=args.tokens,
                                 do_sample=False, pad_token_id=eos)
        return out[0, len(ids):].tolist(), time.perf_counter() - t0

    # warm-up (first calls allocate and pick kernels)
    with torch.inference_mode():
        model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=4, do_sample=False, pad_token_id=eos)
    generate.greedy_fast_path(model, ids, 4, eos)
    generate.greedy_fast_path(fast, ids, 4, eos)

    best = {"hf": 1e9, "exact": 1e9, "fast": 1e9}
    ttft = 1e9
    hf_ids = exact_ids = fast_ids = None
    for r in range(args.repeats):
        hf_ids, s = hf()
        best["hf"] = min(best["hf"], s / len(hf_ids))
        exact_ids, s, _ = generate.greedy_fast_path(model, ids, args.tokens, eos)
        best["exact"] = min(best["exact"], s / len(exact_ids))
        fast_ids, s, tt = generate.greedy_fast_path(fast, ids, args.tokens, eos)
        best["fast"] = min(best["fast"], s / len(fast_ids))
        ttft = min(ttft, tt)
        print(f"run {r + 1}: hf {1 / best['hf']:.1f} tok/s, exact {1 / best['exact']:.1f}, "
              f"fast {1 / best['fast']:.1f} (best so far)", flush=True)
    # time to first token (prefill + first pick) in the page's default precision: best of 5
    page_model = fast if generate.FAST_DEFAULT else model
    for _ in range(5):
        _, _, tt = generate.greedy_fast_path(page_model, ids, 1, eos)
        ttft = min(ttft, tt)
    same = hf_ids == exact_ids
    print(f"hf generated {len(hf_ids)} tokens; exact identical: {same}; fast agrees on "
          f"{sum(a == b for a, b in zip(hf_ids, fast_ids))}/{len(hf_ids)} positions")
    print("hf text:  ", repr(tok.decode(hf_ids)[:200]))
    print("fast text:", repr(tok.decode(fast_ids)[:200]))

    # the page's streaming path (per-step candidates and entropies) in fast mode, for reference
    t0 = time.perf_counter()
    res = generate.run(fast, tok, ids, generate.GenConfig(mode="greedy", max_new_tokens=args.tokens))
    stream_tok_s = len(res.ids) / (time.perf_counter() - t0)
    print(f"fast streaming path with per-step details: {stream_tok_s:.1f} tok/s, ttft {res.ttft_s * 1000:.0f} ms")

    # SmolLM2 never trained on any of it; the last 10% is the text the README's figure was measured on
    held_out = corpora.split_text(corpora.shakespeare(), 0.1)[1]
    ppl32 = generate.perplexity(model, tok, held_out, max_tokens=args.ppl_tokens)
    ppl8 = generate.perplexity(generate.quality_model(fast), tok, held_out, max_tokens=args.ppl_tokens)
    delta = 100 * (ppl8 - ppl32) / ppl32
    print(f"perplexity on {args.ppl_tokens} held-out Shakespeare tokens: fp32 {ppl32:.3f}, {generate.FAST_METHOD} {ppl8:.3f} "
          f"({delta:+.2f}%)")
    hf_s, ex_s, fa_s = 1 / best["hf"], 1 / best["exact"], 1 / best["fast"]
    engine_part = _engine(args, ids, tok, held_out, ppl32, hf_s)
    print(f"exact/hf = {ex_s / hf_s:.2f}x, fast/hf = {fa_s / hf_s:.2f}x; load average now "
          f"{os.getloadavg()[0]:.2f}")
    print(f"generation: hf_tok_s={hf_s:.2f} exact_tok_s={ex_s:.2f} exact_same_output={str(same).lower()} "
          f"fast_tok_s={fa_s:.2f} fast_ppl_delta_pct={delta:.2f} ttft_ms={ttft * 1000:.0f} "
          f"fast_speedup={fa_s / hf_s:.2f} {engine_part}omp={os.environ['OMP_WAIT_POLICY'].lower()} load1={load0:.1f}")


def _engine(args, ids, tok, held_out, ppl32, hf_s) -> str:
    """The llama.cpp engine under our streaming loop vs plain llama.cpp ("" when it is not installed)."""
    from core.transformers import llamacpp

    if not llamacpp.available():
        print("llama.cpp is not installed: no engine figures")
        return ""
    import llama_cpp

    lm = loaders.load_smollm_llamacpp()
    engine = lm.model
    plain = llama_cpp.Llama(model_path=engine.path, n_ctx=llamacpp.N_CTX, n_threads=args.threads,
                            n_threads_batch=args.threads, n_batch=llamacpp.N_BATCH, verbose=False)

    def plain_run():
        t0 = time.perf_counter()
        out = []
        plain.reset()
        for token in plain.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            out.append(int(token))
            if len(out) == args.tokens:
                break
        return out, time.perf_counter() - t0

    cfg = generate.GenConfig(mode="greedy", max_new_tokens=args.tokens, stop_at_eos=False)
    generate.run(engine, tok, ids, generate.GenConfig(mode="greedy", max_new_tokens=4))  # warm-up
    plain_run()
    best_engine = best_plain = 1e9
    engine_ttft = 1e9
    engine_ids = plain_ids = None
    for r in range(args.repeats):
        res = generate.run(engine, tok, ids, cfg)
        engine_ids = res.ids
        best_engine = min(best_engine, res.seconds / len(res.ids))
        engine_ttft = min(engine_ttft, res.ttft_s)
        plain_ids, s = plain_run()
        best_plain = min(best_plain, s / len(plain_ids))
        print(f"run {r + 1}: engine {1 / best_engine:.1f} tok/s, llama.cpp {1 / best_plain:.1f} (best so far)",
              flush=True)
    same = engine_ids == plain_ids
    agree = sum(a == b for a, b in zip(engine_ids, plain_ids))
    ppl = generate.perplexity(engine, tok, held_out, max_tokens=args.ppl_tokens)
    delta = 100 * (ppl - ppl32) / ppl32
    e_s, p_s = 1 / best_engine, 1 / best_plain
    print(f"engine: {e_s:.1f} tok/s with per-step details ({e_s / p_s:.2f}x plain llama.cpp {p_s:.1f} tok/s, "
          f"{e_s / hf_s:.2f}x hf), greedy ids equal to llama.cpp's: {same} ({agree}/{len(plain_ids)}); "
          f"perplexity {ppl:.3f} ({delta:+.2f}% vs fp32)")
    plain.close()
    return (f"engine_tok_s={e_s:.2f} engine_ttft_ms={engine_ttft * 1000:.0f} engine_ppl_delta_pct={delta:.2f} "
            f"llamacpp_tok_s={p_s:.2f} engine_same_as_llamacpp={str(same).lower()} engine_speedup={e_s / hf_s:.2f} ")


if __name__ == "__main__":
    main()
