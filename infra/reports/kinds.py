"""The names the CLI needs before anything heavy is imported: reports, formats, languages."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LANGUAGES", "Format", "Kind"]

LANGUAGES = ("vi", "en")
"""Report languages, the first is the default."""


class Kind(StrEnum):
    """Which report."""

    ADOPTION = "adoption"
    CAPACITY = "capacity"
    SITE = "site"


class Format(StrEnum):
    """What the report is written as."""

    HTML = "html"
    MD = "md"
    JSON = "json"
