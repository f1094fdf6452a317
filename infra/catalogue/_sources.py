"""Citations of the project's own record: a catalogue `source` must point at a file and section
that exist.

A citation reads `<file>[#<anchor>][ (<note>)]`, e.g.
`docs/standards.md#decree-85-2016 (Art. 7-11: criteria for levels 1-5)`. The file is relative to
the project root; an anchor is an explicit `<a id="…"></a>` in it (stable, unlike heading slugs).
A `clauses` section additionally holds a table whose first column lists the clause numbers the
catalogue may cite for an instrument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PROJECT_DIR",
    "SOURCES_DIR",
    "Citation",
    "Record",
    "parse_citation",
]

PROJECT_DIR = Path(__file__).resolve().parents[2]
"""The project root when the package runs from a source checkout."""

SOURCES_DIR: Path | None = PROJECT_DIR if (PROJECT_DIR / "pyproject.toml").is_file() else None
"""Where cited files are looked up; None in an installed wheel, which ships no `docs/`."""

_CITATION = re.compile(
    r"^(?P<path>[A-Za-z0-9_][A-Za-z0-9_./-]*)(?:#(?P<anchor>[a-z0-9][a-z0-9-]*))?(?:\s+\((?P<note>.+)\))?$"
)
_ANCHOR = re.compile(r"""<a\s+id=["']([^"']+)["']\s*>\s*</a>""")
_HEADING = re.compile(r"^#{1,6}\s")
_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|")

CITATION_FORMAT = "'<project file>#<anchor> (<note>)', e.g. 'docs/standards.md#decree-85-2016 (Art. 7-11)'"


@dataclass(frozen=True)
class Citation:
    path: str
    anchor: str | None
    note: str | None


def parse_citation(text: str) -> Citation | None:
    """The parts of a citation, or None when `text` does not have the citation form."""
    match = _CITATION.match(" ".join(text.split()))
    if match is None or ".." in Path(match["path"]).parts:
        return None
    return Citation(match["path"], match["anchor"], match["note"])


class Record:
    """The cited files of one project, read once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[str, str | None] = {}

    def text(self, path: str) -> str | None:
        """The file's text, or None when the project has no such file."""
        if path not in self._texts:
            file = self.root / path
            self._texts[path] = file.read_text(encoding="utf-8") if file.is_file() else None
        return self._texts[path]

    def anchors(self, path: str) -> list[str]:
        text = self.text(path) or ""
        return _ANCHOR.findall(text)

    def check(self, citation: str, *, anchor_required: bool) -> tuple[str, str] | None:
        """What is wrong with `citation` and how to fix it, or None when it resolves.

        Returns:
            (message, hint), or None.
        """
        parsed = parse_citation(citation)
        if parsed is None or (anchor_required and parsed.anchor is None):
            return (
                f"source {citation!r} does not cite a section of a project file",
                f"write it as {CITATION_FORMAT}",
            )
        if self.text(parsed.path) is None:
            return (
                f"cites {parsed.path}, which is not in the project",
                f"create {parsed.path} or cite an existing file (paths are relative to the project root)",
            )
        if parsed.anchor is not None and parsed.anchor not in self.anchors(parsed.path):
            known = ", ".join(sorted(self.anchors(parsed.path))) or "none"
            return (
                f"cites {parsed.path}#{parsed.anchor}, but {parsed.path} has no anchor {parsed.anchor!r}",
                f'add <a id="{parsed.anchor}"></a> to {parsed.path} or cite one of its anchors: {known}',
            )
        return None

    def clauses(self, citation: str) -> frozenset[str] | None:
        """The clause numbers listed in the table of the cited section (None if it does not resolve).

        The section runs from its anchor to the next anchor or heading after the table; the first
        cell of each table row is a clause number (the header and separator rows are skipped).
        """
        parsed = parse_citation(citation)
        if parsed is None or parsed.anchor is None or self.check(citation, anchor_required=True):
            return None
        lines = (self.text(parsed.path) or "").splitlines()
        start = next(i for i, line in enumerate(lines) if parsed.anchor in _ANCHOR.findall(line))
        found: list[str] = []
        in_table = False
        for line in lines[start + 1 :]:
            if _ANCHOR.search(line) or (_HEADING.match(line) and found):
                break
            row = _ROW.match(line)
            if row is None:
                if in_table:
                    break
                continue
            in_table = True
            cell = row[1]
            if not set(cell) <= set("-: "):
                found.append(cell)
        return frozenset(found[1:])  # the first row is the header
