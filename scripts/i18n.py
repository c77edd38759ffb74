"""The translation catalogues, with Babel: extract, update, compile, check, and import translations.

    .venv/bin/python scripts/i18n.py extract    # core/, pages/, streamlit_app.py -> locales/messages.pot
    .venv/bin/python scripts/i18n.py update     # new messages into locales/zh_CN/.../messages.po
    .venv/bin/python scripts/i18n.py compile    # messages.po -> messages.mo (committed)
    .venv/bin/python scripts/i18n.py check      # untranslated messages, placeholders a translation dropped
    .venv/bin/python scripts/i18n.py all        # extract + update + compile + check
    .venv/bin/python scripts/i18n.py import F.json ...   # {msgid: msgstr} files into messages.po

The same as `pybabel extract -F babel.cfg -k N_ -o locales/messages.pot core pages streamlit_app.py`,
`pybabel update -i locales/messages.pot -d locales -l zh_CN` and `pybabel compile -d locales`;
`check` is what tests/core/test_i18n.py asserts.
"""
from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
LOCALE = "zh_CN"
PO = LOCALES / LOCALE / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
SOURCES = ("core", "pages", "streamlit_app.py")
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def extracted() -> Catalog:
    """Every marked message of the app's sources (what pybabel extract finds)."""
    cat = Catalog(project="NLP Playground", charset="utf-8")
    method_map = [("**.py", "python")]
    for src in SOURCES:
        path = ROOT / src
        if path.is_dir():
            found = extract_from_dir(str(path), method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
                                     strip_comment_tags=True)
            prefix = src
        else:
            found = ((path.name, lineno, msg, comments, ctx) for lineno, msg, comments, ctx in _extract_file(path))
            prefix = ""
        for filename, lineno, message, comments, context in found:
            where = f"{prefix}/{filename}" if prefix else filename
            cat.add(message, None, [(where, lineno)], auto_comments=comments, context=context)
    return cat


def _extract_file(path: Path):
    from babel.messages.extract import extract

    with open(path, "rb") as fh:
        for lineno, message, comments, context in extract("python", fh, keywords=KEYWORDS):
            yield lineno, message, comments, context


def read_catalog(path: Path = PO) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=LOCALE)


def write_catalog(cat: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, cat, width=100, sort_by_file=False, omit_header=False)


def compiled(cat: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    return buf.getvalue()


def problems(po: Catalog, pot: Catalog) -> list[str]:
    """Messages of the sources that lack a Chinese translation, and translations whose {placeholders}
    differ from their message's."""
    found = []
    for msg in pot:
        if not msg.id:
            continue
        tr = po.get(msg.id, context=msg.context)
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strs = (tr.string if isinstance(tr.string, tuple) else (tr.string,)) if tr is not None else ("",)
        if tr is None or tr.fuzzy or not all(strs):
            found.append(f"untranslated: {ids[0]!r}")
            continue
        for s in strs:
            if set(PLACEHOLDER.findall(ids[0])) != set(PLACEHOLDER.findall(s)):
                found.append(f"placeholders differ: {ids[0]!r} -> {s!r}")
    return found


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "all"
    if cmd in ("extract", "all"):
        write_catalog(extracted(), POT)
        print(f"{POT.relative_to(ROOT)}: {len(read_catalog(POT))} messages")
    if cmd in ("update", "all"):
        pot = read_catalog(POT)
        po = read_catalog() if PO.exists() else Catalog(locale=LOCALE, project="NLP Playground")
        po.update(pot, no_fuzzy_matching=True)
        write_catalog(po, PO)
        print(f"{PO.relative_to(ROOT)}: {len(po)} messages")
    if cmd == "import":
        po = read_catalog()
        added = 0
        for f in argv[1:]:
            for msgid, msgstr in json.loads(Path(f).read_text(encoding="utf-8")).items():
                if msgstr and msgid in po:
                    po[msgid].string = msgstr
                    po[msgid].flags.discard("fuzzy")
                    added += 1
        write_catalog(po, PO)
        print(f"imported {added} translations")
    if cmd in ("compile", "all", "import"):
        MO.write_bytes(compiled(read_catalog()))
        print(f"{MO.relative_to(ROOT)} written")
    if cmd in ("check", "all"):
        found = problems(read_catalog(), extracted())
        for line in found[:50]:
            print(line)
        print(f"{len(found)} problem(s)")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
