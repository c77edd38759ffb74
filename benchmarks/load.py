"""Load test: N concurrent sessions drive every page through Streamlit's websocket protocol.

Each simulated session opens a websocket like a browser tab does, then loops over the pages:
load the page (a rerun with its page name) and, where the page has one, do its main non-training
interaction (set a few widgets by key, press its button). We time each request from send to
`script_finished`, count errors (exception boxes, error alerts, disconnects), and sample the
server's peak resident memory (RSS, its child processes included).

    .venv/bin/python benchmarks/load.py --sessions 20 --seconds 60   # a cold server, as after a deploy
    .venv/bin/python benchmarks/load.py --warmup ...   # every page visited once before timing
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8501 ...   # against a running server
    .venv/bin/python benchmarks/load.py --vary ...   # different inputs on every click: nothing is reused
The server it starts is cold (no model loaded, no module imported yet), as after every deploy or
restart. By default it runs serve.py, as `make run` and the Dockerfile do: that server imports the app and
renders every page once before its health check answers, and `ready_s` is how long that took (the
sessions start at the first answer). `--entry streamlit_app.py` runs the plain script, which answers at
once and is warmed by its first visitors. Its stdout and stderr go to a log file (kept: `--log`, default
benchmarks/load-server.log); every traceback and "Uncaught app execution" in it counts as an error, and the distinct exception
types seen there are printed, as are the visitors' error boxes.
Ends with: load: sessions=… errors=… p50_ms=… p95_ms=… peak_rss_mb=… peak_anon_mb=… … ready_s=… entry=… (peak_anon_mb: the part
that is not shared libraries or memory-mapped weight files, which the kernel can drop and re-read)
Targets: errors=0, p95 ≤ 3000 ms for non-training interactions, peak RSS ≤ 2500 MB.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from serve import WARM_PAGES  # noqa: E402 - the course's pages (tests/core/test_serve.py checks them)

PAGES = list(WARM_PAGES)
# page -> ({widget_key: value}, button_key or None): the page's main non-training interaction.
# Pages that compute as soon as an input changes (analogy, translation, attention, fill-mask) get a
# new input; the RNN and GPT pages get their Generate button (short outputs, as a curious user would).
INTERACTIONS: dict[str, tuple[dict, str | None]] = {
    "basics": ({"ba_surface": "saddle"}, None),
    "classic_nlp": ({"cl_text": "结婚的和尚未结婚的"}, None),
    "word_vectors": ({"wv_a": "paris", "wv_b": "france", "wv_c": "tokyo"}, None),
    "lm_lineage": ({"lm_ng_sent_words_zh": "中国 经济 发展 很 快"}, None),
    "rnn_text": ({"rnn_length": 200}, "rnn_generate"),
    "seq2seq": ({"seq2seq_text": "where is the station ?"}, None),
    "attention": ({"att_sentence": "the cat sat on the warm mat"}, None),
    "transformer": ({"tf_part": "enc_self"}, None),  # the first tab (Build it): another box of the diagram
    "bert": ({"bert_text": "the capital of france is [MASK] ."}, None),
    "gpt": ({"gpt_max_new": 16}, "gpt_generate"),
}


# --vary: every request of every session carries different inputs, so no result can be reused
# (a worst case: real visitors mostly keep the defaults). n counts requests across sessions.
_ANALOGIES = [("paris", "france", "tokyo"), ("man", "king", "woman"), ("good", "better", "bad"),
              ("walk", "walked", "swim"), ("berlin", "germany", "rome"), ("boy", "girl", "brother")]
_WORDS = ["river", "garden", "teacher", "window", "market", "winter", "doctor", "forest", "letter", "kitchen"]


def varied(page: str, n: int) -> dict:
    word = _WORDS[n % len(_WORDS)]
    if page == "classic_nlp":
        return {"cl_text": f"研究生命起源第{n}次"}
    if page == "word_vectors":
        a, b, c = _ANALOGIES[n % len(_ANALOGIES)]
        return {"wv_a": a, "wv_b": b, "wv_c": c}
    if page == "lm_lineage":
        return {"lm_ng_sent_words_zh": f"{n} 年 {word} 经济 发展"}
    if page == "rnn_text":
        return {"rnn_length": 200, "rnn_prime": f"{word.upper()}:\n"}
    if page == "seq2seq":
        return {"seq2seq_text": f"where is the {word} number {n} ?"}
    if page == "attention":
        return {"att_sentence": f"the cat sat near the {word} {n}"}
    if page == "bert":
        return {"bert_text": f"the {word} {n} is very [MASK] ."}
    if page == "gpt":
        return {"gpt_max_new": 16, "gpt_prompt": f"The {word} number {n} was"}
    return {}


def _walk_widgets(element) -> tuple[str, str] | None:
    """(widget id, element type) of a widget element, or None for other elements."""
    kind = element.WhichOneof("type")
    if kind is None:
        return None
    sub = getattr(element, kind)
    wid = getattr(sub, "id", "")
    return (wid, kind) if wid else None


class Session:
    def __init__(self, url: str, stats: dict, think_s: float = 0.0, seed: int = 0, vary: bool = False):
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.stats = stats
        self.widgets: dict[str, str] = {}  # user key -> widget id (from the last run)
        self.kinds: dict[str, str] = {}  # widget id -> element type ("slider", "text_input", ...)
        self.think_s = think_s  # mean pause between requests (a person reading the page)
        self.rng = random.Random(seed)
        self.vary = vary
        self.n = seed * 100_000  # request counter for --vary inputs

    async def think(self) -> None:
        if self.think_s > 0:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.think_s)

    async def request(self, ws, page: str, widget_values: dict | None = None, button: str | None = None,
                      label: str = "load") -> None:
        msg = BackMsg()
        msg.rerun_script.query_string = ""
        msg.rerun_script.page_name = page
        for key, value in (widget_values or {}).items():
            wid = self.widgets.get(key)
            if wid is None:
                self.stats["errors"].append(f"/{page}: widget {key!r} not found")
                return
            state = msg.rerun_script.widget_states.widgets.add()
            state.id = wid
            if self.kinds.get(wid) == "slider":  # sliders send [value] (or [lo, hi] for a range)
                state.double_array_value.data.extend(value if isinstance(value, (list, tuple)) else [value])
            elif isinstance(value, bool):
                state.bool_value = value
            elif isinstance(value, int):
                state.int_value = value
            elif isinstance(value, float):
                state.double_value = value
            else:
                state.string_value = str(value)
        if button:
            wid = self.widgets.get(button)
            if wid is None:
                self.stats["errors"].append(f"/{page}: button {button!r} not found")
                return
            state = msg.rerun_script.widget_states.widgets.add()
            state.id = wid
            state.trigger_value = True
        start = time.perf_counter()
        await ws.send(msg.SerializeToString())
        self.widgets = {}
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=120))
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                etype = el.WhichOneof("type")
                if etype == "exception":
                    self.stats["errors"].append(f"/{page} {label}: exception {el.exception.message[:120]}")
                elif etype == "alert" and el.alert.format == 1:  # Alert.ERROR
                    self.stats["errors"].append(f"/{page} {label}: error {el.alert.body[:120]}")
                found = _walk_widgets(el)
                if found:
                    wid, wkind = found
                    self.widgets[wid.rsplit("-", 1)[-1] if wid.startswith("$$ID-") else wid] = wid
                    self.kinds[wid] = wkind
            elif kind == "page_not_found":
                self.stats["errors"].append(f"/{page}: page not found")
            elif kind == "script_finished":
                if fm.script_finished == ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN:
                    self.widgets = {}  # the page reran itself (st.rerun): its widgets come with the rerun
                    continue
                break
        self.stats["latency_ms"].append((label, (time.perf_counter() - start) * 1000))
        self.stats.setdefault("by_page", {}).setdefault(f"/{page} {label}", []).append(self.stats["latency_ms"][-1][1])

    async def run(self, deadline: float, offset: int) -> None:
        try:
            async with websockets.connect(self.ws_url, max_size=None, subprotocols=["streamlit"]) as ws:
                pages = PAGES[offset % len(PAGES):] + PAGES[:offset % len(PAGES)]
                while time.monotonic() < deadline:
                    for page in pages:
                        if time.monotonic() >= deadline:
                            break
                        await self.request(ws, page, label="load")
                        await self.think()
                        if page in INTERACTIONS and time.monotonic() < deadline:
                            values, button = INTERACTIONS[page]
                            if self.vary:
                                self.n += 1
                                values = {**values, **varied(page, self.n)}
                            await self.request(ws, page, values, button, label="interact")
                            await self.think()
        except Exception as exc:  # noqa: BLE001 - a dropped session is an error to report
            self.stats["errors"].append(f"session: {type(exc).__name__}: {exc}")


_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
# The line that closes a traceback names the exception: "ValueError: ..." or "torch.OutOfMemoryError".
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s|:?$)")


def server_log_errors(text: str) -> tuple[int, dict[str, int]]:
    """(reports, {exception type: count}) of the tracebacks in a server log.

    One report is one "Traceback (most recent call last)" that does not continue a chained
    exception ("During handling of the above exception ..."); Streamlit's "Uncaught app execution"
    line precedes such a traceback and is not counted again. The type is the last exception of it.
    """
    lines = text.splitlines()
    reports = 0
    types: dict[str, int] = {}
    for i, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        if not any(c in prev for prev in lines[max(0, i - 3):i] for c in _CHAINED):
            reports += 1
        for end in lines[i + 1:]:  # the first unindented line after the frames names the exception
            if end and not end[0].isspace():
                m = _EXC_LINE.match(end)
                chained_next = any(c in end for c in _CHAINED)
                if m and not chained_next:
                    types[m.group(1)] = types.get(m.group(1), 0) + 1
                break
    reports += sum(1 for i, line in enumerate(lines) if "Uncaught app execution" in line
                   and not any(x.startswith("Traceback") for x in lines[i + 1:i + 2]))
    return reports, types


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} is not healthy")


def _anon_bytes(pid: int) -> int:
    """Anonymous resident memory (RssAnon: the heap, not shared libraries or memory-mapped weight files)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _rss_sampler(pid: int, peak: list, stop: threading.Event) -> None:
    """peak[0]: the most resident memory seen (RSS, children included); peak[1]: the most anonymous memory."""
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            family = [proc, *proc.children(recursive=True)]
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in family))
            peak[1] = max(peak[1], sum(_anon_bytes(p.pid) for p in family))
        except psutil.Error:
            pass
        stop.wait(0.25)


async def _drive(url: str, sessions: int, seconds: float, stats: dict, think_s: float, vary: bool = False) -> None:
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(Session(url, stats, think_s, seed=i, vary=vary).run(deadline, i) for i in range(sessions)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--url", help="drive a server that is already running (RSS is then not measured)")
    ap.add_argument("--warmup", action="store_true", help="visit every page once before timing (loads models)")
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean seconds a session pauses after each answer, like a person reading (0: none)")
    ap.add_argument("--log", default=str(ROOT / "benchmarks" / "load-server.log"),
                    help="where the started server's output goes (kept for reading)")
    ap.add_argument("--entry", default="serve.py",
                    help="the file the started server runs: serve.py (what `make run` serves: it warms up before "
                         "it answers) or streamlit_app.py (the plain script: the first visitors warm it)")
    ap.add_argument("--vary", action="store_true",
                    help="different inputs on every interaction (nothing can be reused; default: the same inputs)")
    args = ap.parse_args()

    proc = None
    url = args.url
    log = None
    if url is None:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(args.log, "w", encoding="utf-8")  # noqa: SIM115 - open while the server runs
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", args.entry, "--server.port",
                                 str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    peak = [0, 0]
    stop = threading.Event()
    ready_s = 0.0
    try:
        if proc is not None:  # memory is sampled from the start: serve.py loads models before it answers
            threading.Thread(target=_rss_sampler, args=(proc.pid, peak, stop), daemon=True).start()
        _wait_healthy(url, timeout=600)
        if proc is not None:
            ready_s = time.monotonic() - started
            print(f"server ready (health check answers) {ready_s:.1f} s after start ({args.entry})")
        warm = {"latency_ms": [], "errors": []}
        if args.warmup:
            t0 = time.perf_counter()
            asyncio.run(_warm(url, warm))
            print(f"warm-up: every page once in {time.perf_counter() - t0:.1f} s, errors {len(warm['errors'])}")
        stats = {"latency_ms": [], "errors": []}
        asyncio.run(_drive(url, args.sessions, args.seconds, stats, args.think, args.vary))
    finally:
        stop.set()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log is not None:
            log.close()

    log_errors, log_types = 0, {}
    if log is not None:
        log_errors, log_types = server_log_errors(Path(args.log).read_text(encoding="utf-8", errors="replace"))
        print(f"server log: {args.log}: {log_errors} traceback(s)"
              + (": " + ", ".join(f"{t} ×{n}" for t, n in sorted(log_types.items())) if log_types else ""))

    lat = stats["latency_ms"]
    by_kind = {}
    for label, ms in lat:
        by_kind.setdefault(label, []).append(ms)
    for label, values in sorted(by_kind.items()):
        values.sort()
        print(f"{label:9s} n={len(values):5d} p50={statistics.median(values):7.0f} ms "
              f"p95={values[int(0.95 * (len(values) - 1))]:7.0f} ms max={values[-1]:7.0f} ms")
    for name, values in sorted(stats.get("by_page", {}).items()):
        values.sort()
        print(f"  {name:24s} n={len(values):4d} p50={statistics.median(values):7.0f} ms max={values[-1]:7.0f} ms")
    for err in stats["errors"][:20]:
        print("error:", err)
    shown = {}
    for err in stats["errors"]:
        m = re.search(r"\(([A-Za-z_]\w*)\)|exception (\w+)", err)
        kind = (m.group(1) or m.group(2)) if m else err.split(":")[0]
        shown[kind] = shown.get(kind, 0) + 1
    if shown:
        print("visitor errors by kind: " + ", ".join(f"{k} ×{n}" for k, n in sorted(shown.items())))
    for err in warm["errors"][:20]:
        print("warm-up error:", err)
    errors = len(stats["errors"]) + log_errors + len(warm["errors"])
    all_ms = sorted(ms for _, ms in lat) or [0.0]
    p50 = statistics.median(all_ms)
    p95 = all_ms[int(0.95 * (len(all_ms) - 1))]
    print(f"requests={len(lat)} load average {os.getloadavg()[0]:.2f} "
          f"low_memory={os.environ.get('NLP_PLAYGROUND_LOW_MEMORY', '0')}")
    print(f"load: sessions={args.sessions} errors={errors} p50_ms={p50:.0f} p95_ms={p95:.0f} "
          f"peak_rss_mb={peak[0] / 2**20:.0f} peak_anon_mb={peak[1] / 2**20:.0f} think_s={args.think:g} requests={len(lat)} vary={str(args.vary).lower()} "
          f"ready_s={ready_s:.1f} entry={args.entry if proc is not None else 'url'}")


async def _warm(url: str, stats: dict) -> None:
    session = Session(url, stats)
    async with websockets.connect(session.ws_url, max_size=None, subprotocols=["streamlit"]) as ws:
        for page in PAGES:
            await session.request(ws, page, label="warmup")
            if page in INTERACTIONS:
                values, button = INTERACTIONS[page]
                await session.request(ws, page, values, button, label="warmup")


if __name__ == "__main__":
    main()
