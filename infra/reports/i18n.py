"""One message catalogue for every report text, and numbers and dates formatted per language.

English strings are the message ids; `locale/<lang>/LC_MESSAGES/hatang.po` holds the
translations (Vietnamese first). The .po file is compiled in memory when first used, so there
is no binary .mo to keep in step. Templates use the same catalogue through jinja2's i18n
extension; charts and tables through `Messages.gettext`; texts made before the language is
known (data problems, history notes) are `Text`s, translated by `Messages.text` where shown.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Self

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern

from infra.reports.kinds import LANGUAGES

__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "N_", "Messages", "Text", "messages"]


DOMAIN = "hatang"
LOCALE_DIR = Path(__file__).parent / "locale"


def N_(message: str) -> str:
    """Mark a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


class Text(str):
    """An English text that keeps its message id and values, so a report can show it translated.

    It is the English string wherever a `str` goes (a `Problem`, stderr, JSON); values that are
    `Text`s are translated with it.
    """

    msgid: str
    values: Mapping[str, object]

    def __new__(cls, msgid: str, **values: object) -> Self:
        text = super().__new__(cls, msgid % values if values else msgid)
        text.msgid = msgid
        text.values = values
        return text

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, object]]:  # the history worker pickles it
        return (self.msgid,), dict(self.values)


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as stream:
        catalog = read_po(stream, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Messages:
    """Texts, numbers and dates in one language."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; use one of: {', '.join(LANGUAGES)}")
        self.lang = lang
        self.locale = Locale.parse(lang)
        self.translations = _translations(lang)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def text(self, value: str) -> str:
        """A `Text` in this language; any other string (e.g. a schema message) as it is."""
        if not isinstance(value, Text):
            return value
        translated = self.gettext(value.msgid)
        if not value.values:
            return translated
        return translated % {k: self.text(v) if isinstance(v, str) else v for k, v in value.values.items()}

    def num(self, value: float | None, digits: int = 0) -> str:
        """A number with the language's separators; '–' for unknown."""
        if value is None:
            return "–"
        text: str = _pattern("#,##0" + ("." + "0" * digits if digits else "")).apply(value, self.locale)
        return text

    def pct(self, value: float | None, digits: int = 1) -> str:
        """A share (0..1) as a percentage; '–' for unknown."""
        if value is None:
            return "–"
        text: str = _pattern("#,##0" + ("." + "0" * digits if digits else "") + "%").apply(value, self.locale)
        return text

    def date(self, value: dt.date | dt.datetime | None) -> str:
        """A day, e.g. '28 tháng 11, 2026' / 'November 28, 2026'; '–' for unknown."""
        if value is None:
            return "–"
        day = value.date() if isinstance(value, dt.datetime) else value
        return format_date(day, "long", locale=self.lang)

    def month(self, value: dt.date | dt.datetime | None) -> str:
        """A month, e.g. 'tháng 11 năm 2026' / 'November 2026'; '–' for unknown."""
        if value is None:
            return "–"
        day = value.date() if isinstance(value, dt.datetime) else value
        return format_skeleton("yMMMM", day, locale=self.lang)


@cache
def _pattern(pattern: str) -> NumberPattern:
    """A parsed number pattern (babel parses it again on every format_decimal call)."""
    return parse_pattern(pattern)


@cache
def messages(lang: str) -> Messages:
    """The (cached) `Messages` for a language."""
    return Messages(lang)
