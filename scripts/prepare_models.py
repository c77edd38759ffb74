"""Make, once, the files the app would otherwise make while serving (run it at build time: the Dockerfile does).

    .venv/bin/python scripts/prepare_models.py

- SmolLM2's safetensors copies in the cache folder ($NLP_PLAYGROUND_CACHE or ~/.cache/nlp-playground):
  float32 (de-quantized from the packaged GGUF, ~20 s and a ~1 GB transient peak) and the bfloat16 copy that
  low-memory mode memory-maps. A 1 GB host that made them on its first visit could be killed doing so.
- GloVe's word list as plain text (`core.loaders.glove_words_file`): made while serving, it costs a child
  process a few seconds (reading the Parquet index in the server itself would keep ~30 MB of Arrow buffers).
- A check that every packaged model opens (GloVe, MiniLM, SmolLM2 through llama.cpp when installed).
Prints what it did and ends with one line `prepare_models: key=value ...`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import loaders  # noqa: E402
from core.transformers import llamacpp  # noqa: E402


def main() -> None:
    t0 = time.perf_counter()
    for bf16 in (False, True):
        folder = loaders.prepare_smollm(bf16=bf16)
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2**20
        print(f"SmolLM2 {'bfloat16' if bf16 else 'float32'}: {folder} ({size:.0f} MB)", flush=True)
    print(f"GloVe word list: {loaders.glove_words_file()}")
    kv = loaders.load_glove()
    print(f"GloVe: {len(kv.index_to_key):,} words")
    mini = loaders.load_minilm()
    print(f"MiniLM: {mini.info['params']:,} parameters")
    engine = "absent"
    if llamacpp.available():
        lm = loaders.load_smollm_llamacpp()
        engine = "ok" if lm.model.n_vocab == len(lm.tokenizer) else "vocabulary mismatch"
    print(f"llama.cpp: {engine}")
    print(f"prepare_models: cache={loaders.cache_dir()} seconds={time.perf_counter() - t0:.1f} llamacpp={engine}")
    llamacpp.close_all()


if __name__ == "__main__":
    main()
