"""Reports people read: adoption (plan §II.3), capacity, and the site report.

`build_report` gathers the figures (pure functions in `adoption`, `capacity`, `forecast`,
`series`, fed by the site and its git history); `render` turns them into HTML with charts,
Markdown or JSON, in Vietnamese or English; `write_report` does both for the CLI. Imported
lazily: the charts need matplotlib, which other commands should not pay for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from infra.reports.kinds import LANGUAGES, Format, Kind

__all__ = ["LANGUAGES", "Format", "Kind", "Report", "build_report", "render", "to_data", "write_report"]

_LAZY = {
    "Report": "infra.reports.build",
    "build_report": "infra.reports.build",
    "render": "infra.reports.rendering",
    "to_data": "infra.reports.rendering",
    "write_report": "infra.reports.output",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'infra.reports' has no attribute {name!r}")
