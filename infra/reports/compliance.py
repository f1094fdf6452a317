"""The compliance status for the site report, read from an audit evidence file (JSON).

The evidence format belongs to `hatang audit` (infra/audit): `{"result", "hosts": [{"name",
"result", "controls": [{"control_id", "title", "result"}]}]}`, or a top-level `controls` list;
the controls not checked are read from the audit's `verdict.unchecked_controls` (when given).
Anything else is described as "format not recognised" rather than guessed at: the site report
still renders, and the problem is listed with the other data problems.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.errors import Problem
from infra.reports.i18n import N_, Text

__all__ = ["Compliance", "FailedControl", "read_evidence", "summarise_evidence"]


@dataclass(frozen=True)
class FailedControl:
    control_id: str
    title: Mapping[str, str]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Compliance:
    """What the report shows of an audit: overall result, outcome counts, failed controls."""

    source: str
    recognised: bool
    result: str = ""
    tool: str = ""
    finished: str = ""
    targets: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    failed: tuple[FailedControl, ...] = ()
    unchecked: tuple[str, ...] = ()
    """Controls the audit did not check (its verdict is then at best compliant for what was checked)."""

    @property
    def checked(self) -> int:
        return sum(self.counts.values())


def _title(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {"en": str(value or ""), "vi": str(value or "")}


def summarise_evidence(data: Any, source: str = "") -> Compliance:
    """Summarise a parsed evidence document; `recognised` is False for an unknown shape."""
    if not isinstance(data, Mapping):
        return Compliance(source, False)
    hosts = data.get("hosts")
    if isinstance(hosts, list) and all(isinstance(h, Mapping) for h in hosts):
        groups = [(str(h.get("name", "?")), h.get("controls"), str(h.get("result", ""))) for h in hosts]
    elif isinstance(data.get("controls"), list):
        groups = [(str(data.get("site", "cloud")), data["controls"], str(data.get("result", "")))]
    else:
        return Compliance(source, False)
    counts: Counter[str] = Counter()
    failed: dict[str, tuple[dict[str, str], list[str]]] = {}
    targets: dict[str, str] = {}
    for name, controls, result in groups:
        if not isinstance(controls, list):
            return Compliance(source, False)
        targets[name] = result
        for control in controls:
            if not isinstance(control, Mapping) or "result" not in control:
                return Compliance(source, False)
            outcome = str(control["result"])
            counts[outcome] += 1
            if outcome in {"fail", "error"}:
                cid = str(control.get("control_id", control.get("id", "?")))
                entry = failed.setdefault(cid, (_title(control.get("title")), []))
                entry[1].append(name)
    verdict = data.get("verdict")
    listed = verdict.get("unchecked_controls") if isinstance(verdict, Mapping) else None
    unchecked = tuple(str(c) for c in listed) if isinstance(listed, list) else ()
    return Compliance(
        source=source,
        recognised=True,
        result=str(data.get("result", "")),
        tool=str(data.get("tool", "")),
        finished=str(data.get("finished", "")),
        targets=targets,
        counts=dict(sorted(counts.items())),
        failed=tuple(
            FailedControl(cid, title, tuple(sorted(set(hosts_)))) for cid, (title, hosts_) in sorted(failed.items())
        ),
        unchecked=unchecked,
    )


_HINT = N_("give the JSON written by `hatang audit ... --format json`")


def read_evidence(path: Path) -> tuple[Compliance, list[Problem]]:
    """Read an evidence file; an unreadable or unknown one is a problem, not an error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = Text(N_("cannot read the audit evidence: %(error)s"), error=str(exc))
        return Compliance(str(path), False), [Problem(str(path), "", message, Text(_HINT))]
    summary = summarise_evidence(data, str(path))
    if not summary.recognised:
        message = Text(N_("audit evidence format not recognised; compliance not shown"))
        return summary, [Problem(str(path), "", message, Text(_HINT))]
    return summary, []
