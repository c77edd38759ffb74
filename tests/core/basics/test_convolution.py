"""core.basics.convolution: output sizes against conv2d, convolve / window / pool against brute force,
digits, and uploads (pictures, junk bytes, oversized files, decompression bombs)."""
from __future__ import annotations

import io
import itertools
import struct
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.basics import convolution as C


def brute_convolve(image, kernel, padding, stride, dilation):
    """Cross-correlation written out with loops (the definition)."""
    k = kernel.shape[0]
    padded = np.pad(image, padding)
    span = dilation * (k - 1) + 1
    out_h = (padded.shape[0] - span) // stride + 1
    out_w = (padded.shape[1] - span) // stride + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            for a in range(k):
                for b in range(k):
                    out[i, j] += padded[i * stride + a * dilation, j * stride + b * dilation] * kernel[a, b]
    return out


def test_output_size_equals_conv2d_shape():
    checked = 0
    for n, k, p, s, d in itertools.product(range(1, 12), (1, 2, 3, 5), (0, 1, 2), (1, 2, 3), (1, 2, 3)):
        x = torch.zeros(1, 1, n, n)
        w = torch.zeros(1, 1, k, k)
        if n + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError):
                C.output_size(n, k, p, s, d)
            with pytest.raises(RuntimeError):
                F.conv2d(x, w, padding=p, stride=s, dilation=d)
            continue
        out = F.conv2d(x, w, padding=p, stride=s, dilation=d)
        assert C.output_size(n, k, p, s, d) == out.shape[-1], (n, k, p, s, d)
        checked += 1
    assert checked > 900


def test_output_size_matches_the_notes_formula_for_dilation_1():
    for n, k, p, s in itertools.product(range(3, 30), (1, 3, 5), (0, 1, 2), (1, 2, 4)):
        if n + 2 * p >= k:
            assert C.output_size(n, k, p, s) == (n + 2 * p - k) // s + 1


def test_output_size_error_shows_the_formula_with_numbers():
    with pytest.raises(ValueError) as err:
        C.output_size(4, 7, 1, 2)
    message = str(err.value)
    assert "4 + 2*1" in message and "/ 2" in message and "< 1" in message
    for bad in [(0, 3, 0, 1), (5, 3, -1, 1), (5, 3, 0, 0), (5, 3, 0, 1, 0), (5.5, 3, 0, 1), ("5", 3, 0, 1)]:
        with pytest.raises(ValueError):
            C.output_size(*bad)


def test_kernels_are_3x3_and_sum_as_expected():
    assert list(C.KERNELS) == ["identity", "edge_x", "edge_y", "blur", "sharpen", "laplacian"]
    for name, (label, kern) in C.KERNELS.items():
        assert isinstance(label, str) and label
        assert kern.shape == (3, 3)
    sums = {name: C.KERNELS[name][1].sum() for name in C.KERNELS}
    assert sums["identity"] == sums["blur"] == sums["sharpen"] == 1.0
    assert sums["edge_x"] == sums["edge_y"] == sums["laplacian"] == 0.0
    np.testing.assert_array_equal(C.KERNELS["edge_y"][1], C.KERNELS["edge_x"][1].T)
    with pytest.raises(ValueError):
        C.kernel("emboss")


def test_identity_kernel_returns_the_image():
    rng = np.random.default_rng(0)
    image = rng.random((9, 13))
    np.testing.assert_allclose(C.convolve(image, C.kernel("identity"), padding=1), image, atol=1e-12)
    np.testing.assert_allclose(C.convolve(image, C.kernel("identity")), image[1:-1, 1:-1], atol=1e-12)


def test_convolve_equals_brute_force_and_output_size():
    rng = np.random.default_rng(1)
    for h, w, k, p, s, d in [(7, 7, 3, 0, 1, 1), (8, 11, 3, 1, 2, 1), (10, 9, 2, 2, 3, 2), (12, 12, 5, 1, 1, 2),
                             (5, 6, 1, 0, 2, 1), (6, 6, 3, 3, 1, 3)]:
        image = rng.standard_normal((h, w))
        kern = rng.standard_normal((k, k))
        out = C.convolve(image, kern, padding=p, stride=s, dilation=d)
        assert out.shape == (C.output_size(h, k, p, s, d), C.output_size(w, k, p, s, d))
        np.testing.assert_allclose(out, brute_convolve(image, kern, p, s, d), atol=1e-10)


def test_it_is_cross_correlation_not_flipped_convolution():
    image = np.zeros((5, 5))
    image[2, 2] = 1.0
    kern = np.arange(9, dtype=float).reshape(3, 3)
    # an impulse cross-correlated with a kernel gives the kernel flipped (a true convolution would not flip it)
    np.testing.assert_allclose(C.convolve(image, kern)[::-1, ::-1], kern)


def test_window_value_equals_convolve_cell():
    rng = np.random.default_rng(2)
    for h, w, k, p, s, d in [(6, 6, 3, 1, 1, 1), (9, 7, 3, 2, 2, 2), (8, 8, 5, 0, 3, 1)]:
        image = rng.random((h, w))
        kern = rng.standard_normal((k, k))
        out = C.convolve(image, kern, padding=p, stride=s, dilation=d)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                win = C.window(image, kern, i, j, padding=p, stride=s, dilation=d)
                assert win["value"] == pytest.approx(out[i, j], abs=1e-10)
                np.testing.assert_allclose(win["products"], win["patch"] * kern)
                np.testing.assert_array_equal(win["patch"], win["padded"][win["rows"], win["cols"]])
                assert win["rows"].shape == win["cols"].shape == (k, k)
                assert (win["rows"] < h + 2 * p).all() and (win["cols"] < w + 2 * p).all()
                assert (win["patch"][win["in_padding"]] == 0).all()
                inside = ~win["in_padding"]
                np.testing.assert_array_equal(win["patch"][inside],
                                              image[win["rows"][inside] - p, win["cols"][inside] - p])
    with pytest.raises(ValueError):
        C.window(np.zeros((5, 5)), np.zeros((3, 3)), 3, 0)  # only 3x3 output cells: i = 0..2


def test_pool_shapes_and_values():
    rng = np.random.default_rng(3)
    image = rng.random((9, 10))
    for size, stride in [(2, 2), (3, 1), (3, 2), (1, 1), (4, 3)]:
        for kind in ("max", "avg"):
            out = C.pool(image, kind, size, stride)
            assert out.shape == (C.output_size(9, size, 0, stride), C.output_size(10, size, 0, stride))
            reduce = np.max if kind == "max" else np.mean
            for i, j in itertools.product(range(out.shape[0]), range(out.shape[1])):
                block = image[i * stride:i * stride + size, j * stride:j * stride + size]
                assert out[i, j] == pytest.approx(reduce(block))
    with pytest.raises(ValueError):
        C.pool(image, "median", 2, 2)
    with pytest.raises(ValueError):
        C.pool(image, "max", 11, 1)


@pytest.mark.parametrize("args", [
    (np.zeros(5), np.ones((3, 3)), {}),  # 1-D image
    (np.zeros((5, 5)), np.ones((3, 2)), {}),  # kernel not square
    (np.full((5, 5), np.nan), np.ones((3, 3)), {}),
    (np.zeros((5, 5)), np.ones((3, 3)), {"padding": -1}),
    (np.zeros((5, 5)), np.ones((3, 3)), {"stride": 0}),
    (np.zeros((5, 5)), np.ones((3, 3)), {"dilation": 1.5}),
    (np.zeros((2, 2)), np.ones((3, 3)), {}),  # kernel larger than the image
    (np.zeros((C.MAX_SIDE + 1, 2)), np.ones((1, 1)), {}),
    ([["a"]], np.ones((1, 1)), {}),
])
def test_convolve_rejects_bad_input_with_value_error(args):
    image, kern, kwargs = args
    with pytest.raises(ValueError):
        C.convolve(image, kern, **kwargs)


def test_digit_images():
    images, labels = C.digit_images()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(labels.tolist()) == set(range(10))
    images[0] = 5.0  # a copy: the cached data stays as it was
    assert C.digit_images()[0].max() == 1.0


# ---------------------------------------------------------------------------------------------
# uploads
# ---------------------------------------------------------------------------------------------
def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid small PNG whose header (IHDR, with a correct CRC) claims width x height pixels."""
    data = bytearray(_png(Image.new("L", (4, 4), 0)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def test_upload_of_a_picture_becomes_a_square_grayscale_array():
    img = Image.new("RGB", (120, 60), (255, 255, 255))
    img.paste((0, 0, 0), (50, 20, 70, 40))  # a black square in the middle
    out = C.image_from_upload(_png(img), size=30)
    assert out.shape == (30, 30) and out.dtype == np.float64
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out[15, 15] < 0.1 and out[0, 0] > 0.9  # centre crop kept the square, white stays white
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    jpeg = C.image_from_upload(buf.getvalue())
    assert jpeg.shape == (48, 48) and jpeg[24, 24] < 0.2


def test_transparent_background_becomes_white():
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    out = C.image_from_upload(_png(img), size=8)
    np.testing.assert_allclose(out, 1.0)


@pytest.mark.parametrize("data", [b"", b"hello world, not a picture", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20,
                                  b"GIF89a" + b"\xff" * 30, bytes(range(256)) * 4, "text"])
def test_upload_rejects_non_images(data):
    with pytest.raises(ValueError) as err:
        C.image_from_upload(data)
    assert str(err.value)


def test_upload_rejects_truncated_picture():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    data = _png(img)
    with pytest.raises(ValueError, match="not a picture"):
        C.image_from_upload(data[:len(data) // 2])


def test_upload_rejects_files_over_5_mb():
    with pytest.raises(ValueError, match="MB"):
        C.image_from_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024))


@pytest.mark.parametrize("side", [5000, 20000, 100000])
def test_upload_rejects_decompression_bombs_before_decoding(side):
    # 5000^2 is over our own limit; 20000^2 and 100000^2 are over PIL's (DecompressionBombError)
    with pytest.raises(ValueError, match="too large"):
        C.image_from_upload(_png_claiming(side, side))


def test_upload_bomb_check_holds_when_pil_limit_is_off(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ValueError, match="too large"):
        C.image_from_upload(_png_claiming(100000, 100000))


@settings(max_examples=60, deadline=None)
@given(data=st.one_of(st.binary(max_size=400), st.binary(max_size=60).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
                      st.binary(max_size=60).map(lambda b: b"\xff\xd8\xff\xe0" + b)))
def test_upload_of_random_bytes_is_an_image_or_a_value_error(data):
    try:
        out = C.image_from_upload(data, size=16)
    except ValueError as err:
        assert str(err)
    else:
        assert out.shape == (16, 16) and np.isfinite(out).all()


def test_digit_from_image():
    img = np.ones((48, 48))
    img[10:38, 20:28] = 0.0  # a dark vertical stroke on white paper
    digit = C.digit_from_image(img)
    assert digit.shape == (8, 8) and digit.min() == 0.0 and digit.max() == 1.0
    assert digit[4, 3:5].min() > 0.5 and digit[4, 0] == 0.0
    np.testing.assert_array_equal(C.digit_from_image(np.ones((10, 10))), np.zeros((8, 8)))


def test_parse_kernel_reads_rows_and_rejects_anything_else():
    np.testing.assert_array_equal(C.parse_kernel("-1 0 1; -2 0 2; -1 0 1"), C.KERNELS["edge_x"][1])
    np.testing.assert_array_equal(C.parse_kernel(" 0.5, -1\n2e-1 3 "), [[0.5, -1.0], [0.2, 3.0]])
    assert C.parse_kernel("7").shape == (1, 1)
    assert C.parse_kernel("; ".join(["1 " * 7] * 7)).shape == (7, 7)
    for bad in ["", "   ", "1 2; 3", "1 2 3", "; ".join(["1 " * 8] * 8), "a b; c d", "nan 1; 1 1", "inf",
                "1e9", "__import__('os')", "1" * 500, None, "1 2; 3 4; 5 6"]:
        with pytest.raises(ValueError) as err:
            C.parse_kernel(bad)
        assert str(err.value)
