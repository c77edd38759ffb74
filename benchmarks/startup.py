"""Startup benchmark: server start to /_stcore/health ok, and packaged model load times.

Every figure is measured in a fresh process. For each model we report
- lib_s:  importing the libraries its loader needs (torch, transformers, gensim, ...), and
- load_s: the loader itself once the libraries are imported (what a page waits for).
SmolLM2 is measured cold (empty model cache: the GGUF is de-quantized and converted) and warm
(converted safetensors already in the cache folder).

    .venv/bin/python benchmarks/startup.py
Ends with: startup: server_s=… glove_s=… minilm_s=… smollm_cold_s=… smollm_warm_s=…
Targets: server ≤ 3 s, every packaged model warm ≤ 3 s.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch, transformers, gensim, numpy, pandas  # noqa: F401  (library import, timed apart)
from core import loaders
t1 = time.perf_counter()
getattr(loaders, sys.argv[1])()
t2 = time.perf_counter()
print("RESULT " + json.dumps({"lib_s": t1 - t0, "load_s": t2 - t1}))
"""


def time_load(func: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, func], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{func} failed:\n{out.stderr[-2000:]}")


def time_server() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port",
                             str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    if r.read().strip() == b"ok":
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not become healthy within 60 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    server_s = time_server()
    print(f"server start -> health ok: {server_s:.2f} s")
    res = {}
    for name, func in [("glove", "load_glove"), ("minilm", "load_minilm")]:
        res[name] = time_load(func)
        print(f"{name:7s} libraries {res[name]['lib_s']:.2f} s, load {res[name]['load_s']:.2f} s")
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = time_load("load_smollm", {"NLP_PLAYGROUND_CACHE": empty_cache})
    time_load("load_smollm")  # make sure the real cache is populated
    warm = time_load("load_smollm")
    print(f"smollm  cold (de-quantize + convert) {cold['load_s']:.2f} s, warm (cached safetensors) "
          f"{warm['load_s']:.2f} s, libraries {warm['lib_s']:.2f} s")
    print(f"startup: server_s={server_s:.2f} glove_s={res['glove']['load_s']:.2f} "
          f"minilm_s={res['minilm']['load_s']:.2f} smollm_cold_s={cold['load_s']:.2f} "
          f"smollm_warm_s={warm['load_s']:.2f}")


if __name__ == "__main__":
    main()
