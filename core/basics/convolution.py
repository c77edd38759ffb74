"""Convolutions by hand: kernels, output sizes, one output cell's window, pooling, and images to try them on.

Deep learning's "convolution" is a cross-correlation (the kernel is not flipped); `convolve` runs
`torch.nn.functional.conv2d`, and `window` shows the products that make up one output cell, so a
page can check one against the other. Images are 2-D float arrays in 0..1.
"""
from __future__ import annotations

import functools
import io
import struct

import numpy as np
import torch
import torch.nn.functional as F

from core.i18n import N_, _

# Largest image side (pixels) that convolve / pool accept: keeps one call well under a second on a 2-core CPU.
MAX_SIDE = 1024
# Largest kernel side, padding, stride and dilation accepted (the page's sliders stay well inside).
MAX_KERNEL = 15
MAX_PADDING = 16
MAX_STRIDE = 16
MAX_DILATION = 8
# Largest upload accepted by image_from_upload (bytes).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Largest decoded image (width x height pixels) we agree to decode; PIL's own bomb check
# (Image.MAX_IMAGE_PIXELS, about 89 M pixels) is a second line of defence behind this one.
MAX_PIXELS = 4096 * 4096
# Largest side of the image returned by image_from_upload.
MAX_UPLOAD_SIZE = 256

KERNELS: dict[str, tuple[str, np.ndarray]] = {
    "identity": (N_("Identity"), np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64)),
    "edge_x": (N_("Vertical edges (Sobel x)"), np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)),
    "edge_y": (N_("Horizontal edges (Sobel y)"), np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)),
    "blur": (N_("Blur (Gaussian)"), np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16.0),
    "sharpen": (N_("Sharpen"), np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)),
    "laplacian": (N_("Laplacian (all edges)"), np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)),
}

POOLS: dict[str, str] = {"max": N_("Max pooling"), "avg": N_("Average pooling")}


def kernel(name: str) -> np.ndarray:
    """A copy of the built-in 3x3 kernel `name` (ValueError for an unknown name)."""
    if name not in KERNELS:
        raise ValueError(_("Unknown kernel {name!r}. Choose one of: {names}.").format(
            name=name, names=", ".join(KERNELS)))
    return KERNELS[name][1].copy()


# Largest custom kernel side and entry size parse_kernel accepts, and the longest text.
MAX_CUSTOM_KERNEL = 7
MAX_KERNEL_VALUE = 1000.0
MAX_KERNEL_TEXT = 400


def parse_kernel(text: str) -> np.ndarray:
    """A square kernel typed as rows separated by ';' (or new lines), entries by spaces or commas:
    "1 0 -1; 2 0 -2; 1 0 -1" -> a (3, 3) float64 array. Sides 1..7, finite entries with |v| <= 1000;
    anything else is a ValueError saying what to fix. Only float() reads the numbers (no eval)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("Type the kernel as rows separated by ';', e.g. 1 0 -1; 2 0 -2; 1 0 -1."))
    if len(text) > MAX_KERNEL_TEXT:
        raise ValueError(_("The kernel text is {n} characters long; the limit is {limit}.").format(
            n=len(text), limit=MAX_KERNEL_TEXT))
    rows = [row for row in text.replace("\n", ";").split(";") if row.strip()]
    values: list[list[float]] = []
    for row in rows:
        entries = row.replace(",", " ").split()
        parsed = []
        for entry in entries:
            try:
                value = float(entry)
            except ValueError:
                raise ValueError(_("{entry!r} is not a number. Use numbers such as 1, -2 or 0.25.").format(
                    entry=entry[:20])) from None
            if not np.isfinite(value) or abs(value) > MAX_KERNEL_VALUE:
                raise ValueError(_("Kernel entries must be finite numbers between -{limit} and {limit}; got {entry}.")
                                 .format(limit=int(MAX_KERNEL_VALUE), entry=entry[:20]))
            parsed.append(value)
        values.append(parsed)
    side = len(values)
    if not 1 <= side <= MAX_CUSTOM_KERNEL or any(len(row) != side for row in values):
        raise ValueError(_("The kernel must be square, 1x1 to {limit}x{limit}: as many rows as numbers in each "
                           "row. You typed {rows} rows with {lengths} numbers.").format(
            limit=MAX_CUSTOM_KERNEL, rows=side, lengths="/".join(str(len(row)) for row in values)))
    return np.array(values, dtype=np.float64)  # (k, k)


def _check_int(value, name: str, low: int, high: int) -> int:
    """`value` as an int in [low, high], else a ValueError naming the setting."""
    try:
        as_int = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(_("{name} must be a whole number, not {value!r}.").format(name=name, value=value)) from None
    if as_int != value or not low <= as_int <= high:
        raise ValueError(_("{name} must be a whole number between {low} and {high}; got {value!r}.").format(
            name=name, low=low, high=high, value=value))
    return as_int


def output_size(n: int, k: int, p: int, s: int, d: int = 1) -> int:
    """Output side of a convolution or pooling: floor((n + 2p - d(k-1) - 1) / s) + 1.

    With dilation d = 1 this is the notes' floor((n + 2p - k) / s) + 1. ValueError (showing the
    formula with the numbers filled in) when the kernel does not fit, i.e. the result would be < 1.
    """
    n = _check_int(n, "n", 1, 10**6)
    k = _check_int(k, "k", 1, 10**4)
    p = _check_int(p, "p", 0, 10**4)
    s = _check_int(s, "s", 1, 10**4)
    d = _check_int(d, "d", 1, 10**4)
    span = d * (k - 1) + 1  # the kernel's reach in input pixels
    if n + 2 * p < span:
        message = _("The kernel does not fit: floor((n + 2p - d(k-1) - 1) / s) + 1 = {formula} = {out} < 1. "
                    "Use a smaller kernel or dilation, or more padding.")
        formula = f"floor(({n} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1"  # the formula with the numbers filled in
        raise ValueError(message.format(formula=formula, out=(n + 2 * p - span) // s + 1))
    return (n + 2 * p - span) // s + 1


def _check_image(image, what: str = "image") -> np.ndarray:
    """A finite 2-D float64 array with sides 1..MAX_SIDE, else ValueError."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(_("The {what} must be a 2-D array (height, width); got shape {shape}.").format(
            what=_(what), shape=tuple(arr.shape)))
    if min(arr.shape) < 1 or max(arr.shape) > MAX_SIDE:
        raise ValueError(_("The {what} must have sides between 1 and {limit} pixels; got {shape}.").format(
            what=_(what), limit=MAX_SIDE, shape=tuple(arr.shape)))
    if not np.isfinite(arr).all():
        raise ValueError(_("The {what} contains NaN or infinite values; use finite numbers.").format(what=_(what)))
    return arr


WHAT = (N_("image"), N_("kernel"))  # what _check_image calls its argument (translated where shown)


def _check_kernel(kern) -> np.ndarray:
    arr = _check_image(kern, "kernel")
    if arr.shape[0] != arr.shape[1] or arr.shape[0] > MAX_KERNEL:
        raise ValueError(_("The kernel must be square with a side of 1 to {limit}; got shape {shape}.").format(
            limit=MAX_KERNEL, shape=tuple(arr.shape)))
    return arr


def _check_settings(padding, stride, dilation) -> tuple[int, int, int]:
    return (_check_int(padding, _("padding"), 0, MAX_PADDING), _check_int(stride, _("stride"), 1, MAX_STRIDE),
            _check_int(dilation, _("dilation"), 1, MAX_DILATION))


def convolve(image: np.ndarray, kernel: np.ndarray, padding: int = 0, stride: int = 1,
             dilation: int = 1) -> np.ndarray:
    """Cross-correlate `image` (H, W) with `kernel` (k, k) via F.conv2d, zero padding; float64 result
    of shape (output_size(H, k, padding, stride, dilation), output_size(W, ...))."""
    img = _check_image(image)
    kern = _check_kernel(kernel)
    padding, stride, dilation = _check_settings(padding, stride, dilation)
    k = kern.shape[0]
    out_h = output_size(img.shape[0], k, padding, stride, dilation)
    out_w = output_size(img.shape[1], k, padding, stride, dilation)
    x = torch.from_numpy(img).view(1, 1, *img.shape)  # (1, 1, H, W): batch and channel of one
    w = torch.from_numpy(kern).view(1, 1, k, k)  # (out C, in C, k, k)
    y = F.conv2d(x, w, padding=padding, stride=stride, dilation=dilation)  # (1, 1, H', W')
    result = y[0, 0].numpy()  # (H', W')
    assert result.shape == (out_h, out_w)
    return result


def window(image: np.ndarray, kernel: np.ndarray, i: int, j: int, padding: int = 0, stride: int = 1,
           dilation: int = 1) -> dict:
    """What makes output cell (i, j) of `convolve(image, kernel, padding, stride, dilation)`.

    Returns "rows" and "cols" (k, k) ints: the coordinates of each kernel tap in the zero-padded
    image (subtract `padding` for the original image's coordinates; taps in the padding read 0),
    "patch" (k, k) the values under the kernel, "products" = patch * kernel, "value" = their sum,
    "padded" the padded image (H + 2p, W + 2p) and "in_padding" (k, k) bools.
    """
    img = _check_image(image)
    kern = _check_kernel(kernel)
    padding, stride, dilation = _check_settings(padding, stride, dilation)
    k = kern.shape[0]
    out_h = output_size(img.shape[0], k, padding, stride, dilation)
    out_w = output_size(img.shape[1], k, padding, stride, dilation)
    i = _check_int(i, "i", 0, out_h - 1)
    j = _check_int(j, "j", 0, out_w - 1)
    padded = np.pad(img, padding)  # (H + 2p, W + 2p)
    taps = np.arange(k) * dilation  # offsets of the kernel taps, (k,)
    rows = np.repeat((i * stride + taps)[:, None], k, axis=1)  # (k, k): row of tap (a, b)
    cols = np.repeat((j * stride + taps)[None, :], k, axis=0)  # (k, k): column of tap (a, b)
    patch = padded[rows, cols]  # (k, k)
    products = patch * kern  # (k, k)
    h, w = img.shape
    in_padding = (rows < padding) | (rows >= h + padding) | (cols < padding) | (cols >= w + padding)
    return {"rows": rows, "cols": cols, "patch": patch, "products": products, "value": float(products.sum()),
            "padded": padded, "in_padding": in_padding}


def pool(image: np.ndarray, kind: str, size: int, stride: int) -> np.ndarray:
    """Max or average pooling of `image` (H, W) with a `size` x `size` window (F.max_pool2d / F.avg_pool2d,
    no padding); result (output_size(H, size, 0, stride), output_size(W, size, 0, stride))."""
    if kind not in POOLS:
        raise ValueError(_("Unknown pooling {kind!r}. Choose one of: {names}.").format(kind=kind,
                                                                                       names=", ".join(POOLS)))
    img = _check_image(image)
    size = _check_int(size, _("pool size"), 1, MAX_KERNEL)
    stride = _check_int(stride, _("stride"), 1, MAX_STRIDE)
    out_h = output_size(img.shape[0], size, 0, stride)
    out_w = output_size(img.shape[1], size, 0, stride)
    x = torch.from_numpy(img).view(1, 1, *img.shape)  # (1, 1, H, W)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    result = fn(x, kernel_size=size, stride=stride)[0, 0].numpy()  # (H', W')
    assert result.shape == (out_h, out_w)
    return result


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float64)  # (1797, 8, 8), 0..1 (1 = ink)
    images.setflags(write=False)
    labels = bunch.target.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's handwritten digits: images (1797, 8, 8) in 0..1 (1 = ink) and labels (1797,) 0..9 (copies)."""
    images, labels = _digits()
    return images.copy(), labels.copy()


def image_from_upload(data: bytes, size: int = 48) -> np.ndarray:
    """An uploaded picture as a (size, size) float64 grayscale array in 0..1 (1 = white).

    The picture is turned upright (EXIF), transparent parts become white, the largest centred square
    is cropped (keeping the aspect ratio) and resized. ValueError with a fix-it message for empty or
    > 5 MB uploads, bytes PIL cannot read as an image, and images over MAX_PIXELS pixels
    (decompression bombs), which are rejected before their pixels are decoded.
    """
    from PIL import Image

    size = _check_int(size, _("size"), 4, MAX_UPLOAD_SIZE)
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise ValueError(_("The upload is empty. Upload a PNG or JPEG picture."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(_("The picture is {size:.1f} MB; the limit is {limit:.0f} MB. Upload a smaller one.").format(
            size=len(data) / 1e6, limit=MAX_UPLOAD_BYTES / 2**20))
    not_image = _("This file is not a picture we can read. Upload a PNG, JPEG, GIF, BMP or WebP image.")
    too_big = _("The picture is too large once decoded (over {limit} million pixels). Upload a smaller one.")
    too_big = too_big.format(limit=MAX_PIXELS // 1_000_000)
    try:
        # Image.open reads only the header. PIL raises DecompressionBombError above 2 x Image.MAX_IMAGE_PIXELS
        # (and warns above it); we refuse anything above MAX_PIXELS before any pixel is decoded.
        img = Image.open(io.BytesIO(bytes(data)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(too_big) from None
    except _PIL_ERRORS:
        raise ValueError(not_image) from None
    with img:
        width, height = img.size
        if width < 1 or height < 1:
            raise ValueError(not_image)
        if width * height > MAX_PIXELS:
            raise ValueError(too_big)
        try:
            pixels = _decode(img, size)  # (size, size)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError(too_big) from None
        except _PIL_ERRORS:
            raise ValueError(not_image) from None
    if pixels.shape != (size, size) or not np.isfinite(pixels).all():
        raise ValueError(not_image)
    return np.clip(pixels, 0.0, 1.0)


# What PIL raises on a file that is not an image or is damaged (ValueError too: e.g. "tile cannot extend outside
# image"; struct.error on truncated headers).
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError, KeyError, MemoryError,
               RuntimeError, ZeroDivisionError, struct.error)


def _decode(img, size: int) -> np.ndarray:
    """Decode an opened PIL image (size already checked) into a (size, size) float64 array in 0..1."""
    from PIL import Image, ImageOps

    if img.format == "JPEG":
        img.draft("L", (max(size * 2, 64), max(size * 2, 64)))  # decode a reduced JPEG: faster, less memory
    img.seek(0)  # first frame of an animation
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)  # transparent parts become white
    gray = img.convert("L")
    gray = ImageOps.fit(gray, (size, size), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    return np.asarray(gray, dtype=np.float64) / 255.0  # (size, size)


def digit_from_image(image: np.ndarray, invert: bool = True) -> np.ndarray:
    """Turn a grayscale picture (H, W) in 0..1 into an 8x8 digit in the dataset's style (0..1, 1 = ink):
    inverted (dark ink on white paper becomes bright), area-averaged down to 8x8, stretched to 0..1."""
    img = _check_image(image)
    if invert:
        img = 1.0 - img
    x = torch.from_numpy(img).view(1, 1, *img.shape)  # (1, 1, H, W)
    small = F.adaptive_avg_pool2d(x, (8, 8))[0, 0].numpy()  # (8, 8)
    low, high = float(small.min()), float(small.max())
    if high - low < 1e-6:
        return np.zeros((8, 8))
    return (small - low) / (high - low)
