"""Device choice, seeded generators, the source registry, text checks and the work gate."""
import threading
import time

import pytest
import torch

from core import device, limits, loaders, sources, textio


def test_device_is_one_of_the_three_and_stable():
    assert device.get_device() in {"cuda", "mps", "cpu"}
    assert device.get_device() == device.get_device()
    assert device.device_label().startswith(device.get_device())


def test_same_seed_same_draws_and_global_rng_untouched():
    torch.manual_seed(0)
    before = torch.random.get_rng_state().clone()
    a = torch.rand(5, generator=device.make_generator(42))
    b = torch.rand(5, generator=device.make_generator(42))
    c = torch.rand(5, generator=device.make_generator(43))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("bad", [-1, 2**40, "abc", None, 1.5e30])
def test_bad_seeds_are_value_errors(bad):
    with pytest.raises(ValueError, match="seed"):
        device.make_generator(bad)


def test_registry_has_the_three_packaged_models_available():
    for family, name in [("word_vectors", "glove-6b-50d"), ("encoder", "minilm-l6"), ("causal_lm", "smollm2-135m")]:
        src = sources.get_source(family, name)
        assert src.kind == "packaged" and src.available(), name
        assert loaders.packaged_path(name).exists()
    assert sources.sources_for("causal_lm")[0].kind == "packaged"


def test_unknown_source_and_bad_hub_ids_are_clear_value_errors():
    with pytest.raises(ValueError, match="Available"):
        sources.get_source("causal_lm", "nope")
    for bad in ["", "../etc/passwd", "a b", "x" * 300, "owner/name/extra", "a..b"]:
        with pytest.raises(ValueError):
            sources.check_hub_id(bad)
    assert sources.check_hub_id(" gpt2 ") == "gpt2"
    assert sources.check_hub_id("google-bert/bert-base-uncased") == "google-bert/bert-base-uncased"


def test_hub_models_fail_offline_with_a_message_naming_the_model():
    src = sources.hub_source("causal_lm", "surely-not-cached/model-xyz")
    with pytest.raises(ValueError, match="surely-not-cached/model-xyz.*network"):
        src.load()
    with pytest.raises(ValueError, match="network"):
        sources.hub_source("word_vectors", "glove-wiki-gigaword-100").load()


def test_scratch_sources_cannot_be_loaded():
    with pytest.raises(ValueError, match="train"):
        sources.get_source("char_lm", "scratch").load()


@pytest.mark.parametrize("data,match", [
    (b"", "empty"), (b"\x00\x01\x02binary", "binary"), (b"abc \xfa\xfb\xfc", "UTF-8"),
    (b"   \n\t ", "no visible"), (b"x" * 100, "limit"),
])
def test_bad_uploads_are_rejected_with_a_reason(data, match):
    with pytest.raises(ValueError, match=match):
        textio.decode_upload(data, max_bytes=50)


def test_good_uploads_decode():
    assert textio.decode_upload("héllo\r\nwörld 你好".encode("utf-8")) == "héllo\nwörld 你好"
    assert textio.decode_upload("hi".encode("utf-16")) == "hi"
    assert textio.decode_upload(b"\xef\xbb\xbfbom") == "bom"


def test_check_text():
    assert textio.check_text(" a\x07b ") == " ab "
    with pytest.raises(ValueError, match="empty"):
        textio.check_text("  ")
    with pytest.raises(ValueError, match="limit"):
        textio.check_text("x" * 11, max_chars=10)


def test_gate_admits_limit_and_tells_the_rest_to_wait():
    gate = limits.Gate("test", 1)
    entered = threading.Event()
    release = threading.Event()

    def hold():
        with gate():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    assert entered.wait(5)
    with pytest.raises(ValueError, match="busy"):
        with gate(wait_s=0.2):
            pass
    release.set()
    t.join()
    start = time.monotonic()
    with gate(wait_s=1):
        assert gate.running == 1
    assert time.monotonic() - start < 1


def test_gate_serves_waiters_in_arrival_order_and_reports_their_place():
    gate = limits.Gate("test", 1)
    release = threading.Event()
    order, places = [], {"first": [], "second": []}

    def hold():
        with gate():
            release.wait(5)

    moved_up = threading.Event()

    def report(name, place):
        places[name].append(place)
        if name == "second" and place == 1:
            moved_up.set()

    def wait_in_line(name):
        with gate(wait_s=5, on_wait=lambda place: report(name, place)):
            order.append(name)
            if name == "first":
                moved_up.wait(5)  # hold the slot until the second one has seen its new place

    holder = threading.Thread(target=hold)
    holder.start()
    while gate.running == 0:
        time.sleep(0.01)
    first = threading.Thread(target=wait_in_line, args=("first",))
    first.start()
    while gate.waiting < 1:
        time.sleep(0.01)
    second = threading.Thread(target=wait_in_line, args=("second",))
    second.start()
    while gate.waiting < 2:
        time.sleep(0.01)
    assert places == {"first": [1], "second": [2]}
    release.set()
    for t in (holder, first, second):
        t.join(5)
    assert order == ["first", "second"]
    assert places["second"] == [2, 1]  # moved up when the first one got the slot
    assert gate.running == 0 and gate.waiting == 0


def test_heatmap_labels_are_names_shown_as_written():
    """Token labels are categories (a "3" is not placed on a number line) and HTML-escaped (plotly shows
    labels as HTML: <s> would start a strike-through and swallow the axis)."""
    from core.plots import heatmap

    fig = heatmap([[0.5, 0.5], [1.0, 0.0]], ["<s>", "3"], ["3", "3"])
    assert list(fig.data[0].x) == ["&lt;s&gt;", "3"]
    assert fig.data[0].y[0] == "3" and fig.data[0].y[1].startswith("3") and fig.data[0].y[1] != "3"  # deduped
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
