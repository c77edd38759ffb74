"""Translations: one gettext catalogue per language in `locales/`, one language per script run.

Many visitors share one process, each with their own language, so nothing here installs a
process-wide `gettext` function. The entry point calls `set_language(lang)` at the start of every
script run; Streamlit runs a session's script in its own thread, so the choice is kept per thread
and `_()` translates into the language of the run that calls it, in pages and in core alike
(core's error messages are shown to the visitor too).

Strings are marked `_("...")` with `{named}` placeholders filled by `.format(...)` *after*
translation (an f-string can't be looked up in a catalogue). `N_("...")` marks a string that is
translated later, where it is shown (module-level tables). The catalogues: `locales/messages.pot`
(extracted), `locales/zh_CN/LC_MESSAGES/messages.po` (translations) and its compiled `.mo`;
CONTRIBUTING.md gives the commands.
"""
from __future__ import annotations

import functools
import gettext
import threading
from pathlib import Path

LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "zh": "中文"}  # URL value -> what the switch shows
DEFAULT = "en"
_CATALOGUES = {"zh": "zh_CN"}
_run = threading.local()


@functools.lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English: the messages as written)."""
    if lang not in _CATALOGUES:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES, languages=[_CATALOGUES[lang]], fallback=True)


def set_language(lang: str | None) -> str:
    """Use `lang` ("en" or "zh"; anything else: English) for this script run's thread."""
    _run.lang = lang if lang in LANGUAGES else DEFAULT
    return _run.lang


def language() -> str:
    return getattr(_run, "lang", DEFAULT)


def from_locale(locale: str | None) -> str:
    """The language to start in for a browser locale such as "zh-CN" or "en-US"."""
    return "zh" if (locale or "").lower().startswith("zh") else DEFAULT


def _(message: str) -> str:
    """`message` in this run's language (an empty message stays empty: gettext would return the
    catalogue's header for it)."""
    return translations(language()).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark `message` for translation without translating it here (call `_()` where it is shown)."""
    return message
