"""Reference types: one format validator per instrument a control may cite.

A reference is written `type: [clause, ...]`; a null clause cites the instrument when the
clause is not known. An entry may also be a mapping: `{clause: "5.1.1", level: 1}` (the clause
and the level whose section holds it) or `{clause: ~, gap: not-read, note: …}` (no clause, and
why). Registering a type here is what makes it usable in the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from infra.catalogue._models import ClauseRefDoc

__all__ = ["VALIDATORS", "Entry", "check_clause", "entry_of"]

_ARTICLE = r"Art\. \d{1,3}(\.\d{1,2}){0,2}[a-z]?"
_APPENDIX = r"App\. (I|II|III|IV|V)"
_SECTION = r"\d{1,2}(\.\d{1,2}){0,3}"
_ANNEX = r"Annex [A-Z](\.\d{1,2}){0,2}"

# ISO/IEC 27001:2022 Annex A has exactly A.5.1-A.5.37, A.6.1-A.6.8, A.7.1-A.7.14, A.8.1-A.8.34.
_ISO_2022_SIZES = {5: 37, 6: 8, 7: 14, 8: 34}


def _regex(pattern: str, example: str) -> Callable[[str], str | None]:
    compiled = re.compile(rf"^(?:{pattern})$")

    def validate(clause: str) -> str | None:
        return None if compiled.match(clause) else f"expected a clause like '{example}'"

    return validate


def _iso27001_2022(clause: str) -> str | None:
    match = re.match(r"^A\.([5-8])\.(\d{1,2})$", clause)
    if match is None:
        return "expected an Annex A control like 'A.8.5'"
    theme, number = int(match[1]), int(match[2])
    if not 1 <= number <= _ISO_2022_SIZES[theme]:
        return f"Annex A theme {theme} has controls 1-{_ISO_2022_SIZES[theme]}"
    return None


_LEGAL = _regex(_ARTICLE, "Art. 16.6")
_STANDARD = _regex(rf"{_SECTION}|{_ANNEX}", "5.2")

VALIDATORS: Mapping[str, Callable[[str], str | None]] = {
    "decree-85-2016": _LEGAL,
    "circular-12-2022": _regex(rf"{_ARTICLE}|{_APPENDIX}", "Art. 10' or 'App. III"),
    "tcvn-11930-2017": _STANDARD,
    "law-116-2025": _LEGAL,
    "decree-331-2026": _LEGAL,
    "decree-333-2026": _LEGAL,
    "tcvn-14423-2025": _STANDARD,
    "decree-53-2022": _LEGAL,
    "decision-38-2021": _LEGAL,
    "iso27001-2022": _iso27001_2022,
    "cis-debian-12": _regex(r"[1-7](\.\d{1,2}){1,4}", "5.1.20"),
}
"""Reference type -> validator returning None when the clause is well formed, else why not."""


def check_clause(kind: str, clause: str | None) -> str | None:
    """Why `clause` is not a valid clause of reference type `kind`, or None when it is.

    A null clause (instrument cited, clause unknown) is valid for every registered type.
    """
    validator = VALIDATORS.get(kind)
    if validator is None:
        return f"unknown reference type {kind!r}; known: {', '.join(sorted(VALIDATORS))}"
    return None if clause is None else validator(clause)


@dataclass(frozen=True)
class Entry:
    """One reference entry, whichever way it was written."""

    clause: str | None
    level: int | None = None
    gap: str | None = None
    note: str | None = None

    @property
    def explicit(self) -> bool:
        """A null clause that says why (a gap), rather than a bare `~`."""
        return self.clause is not None or self.gap is not None


def entry_of(item: ClauseRefDoc | str | None) -> Entry:
    """The entry a YAML list item stands for: `"5.1"`, `~`, or a `{clause, level, gap, note}` mapping."""
    if isinstance(item, ClauseRefDoc):
        return Entry(item.clause, item.level, item.gap.value if item.gap else None, item.note)
    return Entry(item)
