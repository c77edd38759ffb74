"""Browser smoke test: start the server headless, open every page in Debian's Chromium, check
the title renders and no exception box shows, and save a screenshot per page."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "e2e" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# url path -> the page's st.title. A deep link comes first: a fresh server's first visitor may
# arrive by a shared link, and must still get the entry point (grouped navigation, sidebar).
PAGES = {
    "seq2seq": "Seq2seq translation",
    "": "NLP Playground",
    "basics": "How a network learns",
    "classic_nlp": "Classic NLP",
    "word_vectors": "Word vectors",
    "lm_lineage": "Language models: from counting to GPT",
    "rnn_text": "RNN text generation",
    "attention": "Attention",
    "transformer": "Transformer",
    "bert": "BERT fill-mask",
    "gpt": "GPT sampling",
    "classify": "Text classification",
}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = open(ROOT / "tests" / "e2e" / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # serve.py renders every page once before it answers
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("server did not answer /_stcore/health within 300 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _wait_until_idle(page, timeout_s: float = 240) -> None:
    """Wait until the script run is over: no "Running…" status and no skeleton placeholders, seen
    on three checks in a row (a run can start a moment after the title shows)."""
    busy = ("() => !!document.querySelector('[data-testid=\"stStatusWidget\"], [data-testid=\"stSkeleton\"], "
            "[data-testid=\"stSpinner\"]')")
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            raise AssertionError(f"{page.url}: still running after {timeout_s:.0f} s")
        quiet = 0 if page.evaluate(busy) else quiet + 1
        page.wait_for_timeout(500)


def test_every_page_renders_in_chromium(server):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: run `bash scripts/ensure_chromium.sh` (make test does).")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title in PAGES.items():
            page.goto(f"{server}/{path}", timeout=120_000)
            page.get_by_role("heading", name=title).first.wait_for(timeout=180_000)
            _wait_until_idle(page)
            page.screenshot(path=str(SHOTS / f"{path or 'home'}.png"), full_page=True)
            if page.locator('[data-testid="stException"]').count():
                problems.append(f"/{path}: exception box")
            if path and page.locator('[data-testid="stSidebarNav"]').count() == 0:
                problems.append(f"/{path}: navigation missing")
            if "Global seed" not in page.locator('[data-testid="stSidebar"]').inner_text():
                problems.append(f"/{path}: the entry point's sidebar (seed) is missing")
            if "Embeddings" not in page.locator('[data-testid="stSidebarNav"]').inner_text():
                problems.append(f"/{path}: navigation is not the grouped one of streamlit_app.py")
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        browser.close()
    assert not problems, problems
    for title in ["Word vectors", "RNN text generation", "Seq2seq translation", "Attention", "BERT fill-mask",
                  "GPT sampling", "Text classification"]:  # every page in sight (none behind "View N more")
        assert title in nav, (title, nav)


def test_every_page_renders_in_chinese_from_a_lang_link(server):
    """A link with ?lang=zh opens the app in Chinese (a new browser context for each page); a
    screenshot of every page in Chinese lands beside the English ones."""
    from playwright.sync_api import sync_playwright

    from core import i18n

    i18n.set_language("zh")
    seed_zh = i18n._("Global seed")  # the sidebar's seed label, in Chinese
    i18n.set_language("en")
    assert seed_zh != "Global seed"
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for path in [*PAGES, "glossary"]:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(f"{server}/{path}?lang=zh", timeout=120_000)
            page.locator("h1").first.wait_for(timeout=180_000)
            _wait_until_idle(page)
            page.screenshot(path=str(SHOTS / f"{path or 'home'}_zh.png"), full_page=True)
            main = page.locator('[data-testid="stMain"]').inner_text()
            if page.locator('[data-testid="stException"]').count():
                problems.append(f"/{path}: exception box")
            if sum(1 for ch in main if "\u4e00" <= ch <= "\u9fff") < 20:
                problems.append(f"/{path}: hardly any Chinese on the page")
            if seed_zh not in page.locator('[data-testid="stSidebar"]').inner_text():
                problems.append(f"/{path}: the sidebar is not in Chinese")
            if "lang=zh" not in page.url:
                problems.append(f"/{path}: the URL lost lang=zh ({page.url})")
            context.close()
        browser.close()
    assert not problems, problems


def test_every_tab_opens_in_chromium(server):
    """Tabs are lazy (a tab's code runs only when it is opened): open each tab of each page."""
    from playwright.sync_api import sync_playwright

    problems, opened = [], 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title in PAGES.items():
            if not path:
                continue
            page.goto(f"{server}/{path}", timeout=120_000)
            page.get_by_role("heading", name=title).first.wait_for(timeout=180_000)
            _wait_until_idle(page)
            tabs = page.get_by_role("tab")
            for i in range(1, tabs.count()):
                label = tabs.nth(i).inner_text()
                tabs.nth(i).click()
                _wait_until_idle(page)
                opened += 1
                if page.locator('[data-testid="stException"]').count():
                    problems.append(f"/{path} tab {label!r}: exception box")
                if page.get_by_text("Something went wrong").count():
                    problems.append(f"/{path} tab {label!r}: 'Something went wrong'")
                if page.get_by_role("tab", selected=True).inner_text() != label:
                    problems.append(f"/{path} tab {label!r}: did not stay open")
                page.screenshot(path=str(SHOTS / f"{path}_tab{i}.png"), full_page=True)
        browser.close()
    # hidden tabs: basics 4, classic NLP 5, word vectors 4, language models 3, RNN 3, seq2seq 3, Transformer 4,
    # BERT 6, GPT 2, text classification 5
    assert opened >= 39, opened
    assert not problems, problems


def test_figure_downloads_in_chromium(server):
    """Downloads are made only when pressed (deferred data): the figure's HTML and its data's CSV arrive."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(f"{server}/attention", timeout=120_000)
        page.get_by_role("heading", name="Attention").first.wait_for(timeout=180_000)
        _wait_until_idle(page)
        got = {}
        for label in ("Download figure (HTML)", "Download data (CSV)"):
            for attempt in range(2):  # a click that lands while the page reruns (a busy machine) is lost: once more
                try:
                    with page.expect_download(timeout=180_000) as info:
                        page.get_by_role("button", name=label).first.click(timeout=120_000)  # disabled while a busy server reruns
                    break
                except PlaywrightTimeoutError:
                    if attempt:
                        raise
                    _wait_until_idle(page)
            got[label] = (info.value.suggested_filename, Path(info.value.path()).read_text(encoding="utf-8"))
        browser.close()
    name, html = got["Download figure (HTML)"]
    assert name.endswith(".html") and "<html" in html and "Plotly.newPlot" in html
    name, csv = got["Download data (CSV)"]
    assert name.endswith(".csv") and len(csv.splitlines()) >= 3 and "," in csv


def test_every_button_of_every_tab_works_in_a_fresh_browser(server):
    """Each tab of each page opened FIRST by a link in a new browser context (a new session), then
    each button it shows pressed in yet another new context: no exception box, no 'Something went
    wrong'. Training buttons get small budgets through the link (the pages' URL keys)."""
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    from tests.pages.conftest import page_tabs
    from tests.pages.test_tabs_first import SMALL

    # extra views: the tiny GPT's training form shows only for "train your own"
    tabbed = [path for path in SMALL if path != "pages/attention.py"]  # its sections are a radio, no buttons
    views = [(path, label, SMALL[path]) for path in tabbed for label in page_tabs(path)[1]]
    views.append(("pages/gpt.py", next(lbl for lbl in page_tabs("pages/gpt.py")[1] if "Tiny" in lbl),
                  {**SMALL["pages/gpt.py"], "gpt_tiny_source": "scratch"}))
    buttons = ('[data-testid="stMain"] [data-testid="stButton"] button, '
               '[data-testid="stMain"] [data-testid="stFormSubmitButton"] button')
    problems, pressed = [], []

    def check(page, what):
        if page.locator('[data-testid="stException"]').count():
            problems.append(f"{what}: exception box")
        if page.get_by_text("Something went wrong").count():
            problems.append(f"{what}: 'Something went wrong'")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)

        def open_view(path, label, params):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            key, _ = page_tabs(path)
            url = f"{server}/{Path(path).stem}?" + urlencode({key: label, **params})
            page.goto(url, timeout=120_000)
            page.get_by_role("tab", name=label).wait_for(timeout=180_000)
            _wait_until_idle(page)
            return context, page

        for path, label, params in views:
            context, page = open_view(path, label, params)
            what = f"/{Path(path).stem} {label!r}"
            check(page, what)
            if page.get_by_role("tab", selected=True).inner_text() != label:
                problems.append(f"{what}: opened on another tab")
            names = [b.inner_text().strip() for b in page.locator(buttons).all()]
            context.close()
            for name in [n for n in names if n and "Stop" not in n]:
                context, page = open_view(path, label, params)
                page.locator(buttons).filter(has_text=name).first.click()
                page.wait_for_timeout(500)
                _wait_until_idle(page)
                check(page, f"{what} button {name!r}")
                pressed.append(f"{what} {name}")
                context.close()
        browser.close()
    assert len(pressed) >= 12, pressed
    assert not problems, problems


def test_classic_nlp_refuses_a_corpus_without_word_boundaries(server, tmp_path):
    """Uploading an unsegmented corpus to train the HMM on gives a clear error (AppTest can't upload)."""
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    plain = tmp_path / "plain.txt"
    plain.write_text("研究生命起源\n我爱北京天安门\n", encoding="utf-8")
    segmented = tmp_path / "segmented.txt"
    segmented.write_text("研究 生命 起源\n我 爱 北京 天安门\n" * 20, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/classic_nlp?" + urlencode({"cl_tab": "🏷️ HMM & CRF segmentation"}), timeout=120_000)
        page.get_by_role("heading", name="Classic NLP").first.wait_for(timeout=180_000)
        _wait_until_idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(plain))
        page.get_by_text("no word boundaries").first.wait_for(timeout=120_000)
        _wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Something went wrong").count() == 0
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(segmented))
        page.get_by_text("HMM trained on your 40 sentences").first.wait_for(timeout=120_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()


def test_basics_convolves_an_uploaded_picture_and_refuses_a_non_image(server, tmp_path):
    """The Convolutions tab takes a picture (AppTest can't upload): a PNG is convolved, a text file
    renamed .png is a clear error."""
    from urllib.parse import urlencode

    from PIL import Image
    from playwright.sync_api import sync_playwright

    picture = tmp_path / "square.png"
    img = Image.new("L", (80, 60), 0)
    img.paste(255, (20, 15, 60, 45))
    img.save(picture)
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/basics?" + urlencode({"ba_tab": "🔲 Convolutions", "ba_cv_source": "upload"}),
                  timeout=120_000)
        page.get_by_role("heading", name="How a network learns").first.wait_for(timeout=180_000)
        _wait_until_idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(fake))
        page.get_by_text("not a picture").first.wait_for(timeout=120_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Something went wrong").count() == 0
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(picture))
        page.get_by_text("torch's conv2d produced 32×32").first.wait_for(timeout=120_000)
        _wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(SHOTS / "basics_upload.png"), full_page=True)
        browser.close()
