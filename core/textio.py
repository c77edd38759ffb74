"""Reading user text safely: uploads and typed input become clean `str`, or a clear ValueError."""
from __future__ import annotations

import unicodedata

from core.i18n import N_, _

# Largest upload we accept for training corpora (also set as server.maxUploadSize).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# What callers call the text they hand in (`what=`), marked so the messages below can show it translated.
WHAT = (N_("file"), N_("text"), N_("upload"), N_("uploaded file"), N_("uploaded corpus"), N_("pairs file"),
        N_("prompt"), N_("sentence"), N_("sentence A"), N_("sentence B"), N_("second sentence"), N_("word"))


def decode_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES, what: str = "file") -> str:
    """Decode an uploaded text file (UTF-8, UTF-8 with BOM, or UTF-16 with BOM).

    Raises ValueError for empty, oversized or binary files, with a hint on how to fix it.
    """
    what = _(what)
    if data is None or len(data) == 0:
        raise ValueError(_("The {what} is empty. Upload a plain-text (.txt) file with some text in it.").format(
            what=what))
    if len(data) > max_bytes:
        raise ValueError(
            _("The {what} is {size:.1f} MB; the limit is {limit:.1f} MB. Upload a shorter excerpt.").format(
                what=what, size=len(data) / 1e6, limit=max_bytes / 1e6)
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
        if b"\x00" in data[:4096]:
            raise ValueError(
                _("The {what} looks binary (it contains NUL bytes). Upload a plain-text UTF-8 file.").format(what=what))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise ValueError(
            _("The {what} is not valid UTF-8 text. Save it as UTF-8 plain text and upload it again.").format(what=what)
        ) from None
    text = clean_text(text)
    if not text.strip():
        raise ValueError(_("The {what} has no visible text. Upload a file with some words in it.").format(what=what))
    control = sum(1 for ch in text[:100_000] if unicodedata.category(ch) == "Cc" and ch not in "\n\t")
    if control > 0.01 * min(len(text), 100_000):
        raise ValueError(_("The {what} looks binary (many control characters). Upload a plain-text file.").format(
            what=what))
    return text


def clean_text(text: str) -> str:
    """Normalize newlines and drop control characters other than newline and tab."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def check_text(text, what: str = "text", max_chars: int = 2000, allow_empty: bool = False) -> str:
    """Validate a typed string: a str, not blank (unless allowed), at most `max_chars` characters."""
    what = _(what)
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ValueError(_("The {what} must be text.").format(what=what))
    text = clean_text(text)
    if not allow_empty and not text.strip():
        raise ValueError(_("The {what} is empty. Type something first.").format(what=what))
    if len(text) > max_chars:
        raise ValueError(_("The {what} is {length} characters long; the limit is {limit}. Shorten it.").format(
            what=what, length=len(text), limit=max_chars))
    return text
