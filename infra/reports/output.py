"""Write a report to a file (or stdout): the one public call behind `hatang report`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from infra.errors import Problem
from infra.reports.build import build_report
from infra.reports.kinds import Format, Kind
from infra.reports.rendering import prepare, render

__all__ = ["REPORTS_DIR", "Written", "default_path", "write_report"]

REPORTS_DIR = Path("reports")
"""Where reports go by default (git-ignored)."""


@dataclass(frozen=True)
class Written:
    """Where the report went (None: stdout) and the data problems it lists."""

    path: Path | None
    problems: tuple[Problem, ...]


def default_path(site: str, kind: Kind, fmt: Format, lang: str) -> Path:
    """reports/<site>-<kind>-<lang>.<ext>"""
    return REPORTS_DIR / f"{site}-{kind.value}-{lang}.{fmt.value}"


def write_report(
    root: Path,
    kind: Kind,
    fmt: Format = Format.HTML,
    lang: str = "vi",
    out: Path | None = None,
    *,
    evidence: Path | None = None,
    now: datetime | None = None,
    with_history: bool = True,
) -> Written:
    """Build the report of the site at `root` and write it to `out` ('-': stdout).

    Raises:
        SiteNotFoundError, InventoryError: the site cannot be loaded at all.
        ValueError: an unknown language.
    """
    report = build_report(root, kind, evidence=evidence, now=now, with_history=with_history,
                          meanwhile=lambda: prepare(fmt, lang))
    text = render(report, fmt, lang)
    if out is not None and str(out) == "-":
        sys.stdout.write(text)
        return Written(None, report.problems)
    path = out or default_path(report.site.name, kind, Format(fmt), lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Written(path, report.problems)
