"""The ledger's file layout: how hatang writes an entry, and a fast reader for exactly that layout.

Every value is a JSON string, which is also a YAML double-quoted scalar, so the file is plain YAML
for people and tools. A ledger in this layout is read line by line (ten times faster than the YAML
constructor for 5,000 entries); anything else — a hand edit, a comment between entries, another
layout — returns None and is read by the strict YAML loader instead, with its located errors.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["HEADER", "entry_text", "only_entries", "read_fast"]

HEADER = """\
# Allocation ledger: every prefix this site ever handed out, appended by `hatang tenant approve`.
# Append-only. Never edit, reorder or delete an entry: a prefix recorded here is never given to
# anyone else, even when its tenant file is emptied or removed (docs/tenancy.md).
allocations:
"""

_LINE = re.compile(r'(  - |    )([a-z]+): ("(?:[^"\\]|\\.)*")\n?')
"""A line of an entry: `  - key: "value"` starts one, `    key: "value"` continues it."""


_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Line breaks of `str.splitlines` besides \\n."""


def only_entries(text: str) -> bool:
    """Whether `text` is the header and then only lines of entries (each starting `  - ` or four
    spaces): the layout appending keeps. Counted with `str` methods, a hundredth of a line loop."""
    if not text.startswith(HEADER):
        return False
    rest = text[len(HEADER) :]
    if any(mark in rest for mark in _BREAKS):
        return False
    lines = rest.count("\n") + (rest != "" and not rest.endswith("\n"))
    return lines == rest.count("\n  - ") + rest.count("\n    ") + rest.startswith(("  - ", "    "))


def entry_text(fields: list[tuple[str, str]]) -> str:
    """One entry in block style, each value JSON-quoted."""
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields]
    return "  - " + "\n    ".join(lines) + "\n"


def read_fast(text: str) -> dict[str, Any] | None:
    """The ledger document when `text` is exactly in hatang's layout, else None."""
    if not text.startswith(HEADER):
        return None
    entries: list[dict[str, str]] = []
    for line in text[len(HEADER) :].splitlines(keepends=True):
        match = _LINE.fullmatch(line)
        if match is None:
            return None
        lead, key, value = match.groups()
        if lead == "  - ":
            entries.append({})
        elif not entries or key in entries[-1]:
            return None  # a duplicate key: the YAML loader reports it with its line
        if "\\" not in value and value.isprintable():
            entries[-1][key] = value[1:-1]  # what json.loads returns here, at a tenth of its cost
            continue
        try:
            entries[-1][key] = json.loads(value)
        except ValueError:
            return None
    return {"allocations": entries or None}
