"""Results of an audit: per check, per control, per host; and how they add up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from infra.catalogue import Control, Instrument, Profile, Waiver

__all__ = [
    "AuditResult",
    "CheckResult",
    "ControlResult",
    "HostResult",
    "Outcome",
    "control_outcome",
]


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_CHECKABLE = "not_checkable"
    WAIVED = "waived"
    ERROR = "error"
    MANUAL = "manual"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class CheckResult:
    """One check run on one host: what was seen, what the site model expects."""

    check_id: str
    outcome: Outcome
    observed: Any = None
    expected: Any = None
    message: str = ""
    timestamp: str = ""
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "result": self.outcome.value,
            "observed": self.observed,
            "expected": self.expected,
            "message": self.message,
            "timestamp": self.timestamp,
            "duration": round(self.duration, 3),
        }


@dataclass(frozen=True)
class ControlResult:
    control: Control
    outcome: Outcome
    checks: tuple[CheckResult, ...] = ()
    waiver: Waiver | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.control
        return {
            "control_id": c.id,
            "title": {"en": c.title_en, "vi": c.title_vi},
            "level": c.level,
            "status": c.status.value,
            "result": self.outcome.value,
            "checks": [r.to_dict() for r in self.checks],
            "references": [r.to_dict() for r in c.references],
            "waiver": None
            if self.waiver is None
            else {"run": self.waiver.run, "justification": self.waiver.justification},
        }


@dataclass(frozen=True)
class HostResult:
    name: str
    target: str
    controls: tuple[ControlResult, ...]
    error: str | None = None
    duration: float = 0.0
    started: str = ""
    finished: str = ""

    @property
    def outcome(self) -> Outcome:
        if self.error:
            return Outcome.ERROR
        outcomes = {c.outcome for c in self.controls}
        for worst in (Outcome.ERROR, Outcome.FAIL):
            if worst in outcomes:
                return worst
        return Outcome.PASS

    def counts(self) -> Mapping[str, int]:
        return Counter(c.outcome.value for c in self.controls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "result": self.outcome.value,
            "error": self.error,
            "duration": round(self.duration, 3),
            "started": self.started,
            "finished": self.finished,
            "summary": dict(sorted(self.counts().items())),
            "controls": [c.to_dict() for c in self.controls],
        }


@dataclass(frozen=True)
class AuditResult:
    """Everything one `run_audit` found; the reports and the exit code derive from it."""

    site: str
    profile: Profile
    catalogue_version: str
    hosts: tuple[HostResult, ...]
    started: str
    finished: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    instruments: Mapping[str, Instrument] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        """'cloud' when the audited controls are cloud controls, else 'host'."""
        scopes = {c.control.scope.value for h in self.hosts for c in h.controls}
        return "cloud" if scopes == {"cloud"} else "host"

    @property
    def exit_code(self) -> int:
        """0 compliant, 1 non-compliant, 2 error (a host unreachable, a check broken)."""
        outcomes = {h.outcome for h in self.hosts}
        if Outcome.ERROR in outcomes:
            return 2
        return 1 if Outcome.FAIL in outcomes else 0

    @property
    def compliant(self) -> bool:
        return self.exit_code == 0

    def failed_controls(self, host: str | None = None) -> list[str]:
        """Ids of the controls that failed (on `host`, or on any host), sorted."""
        return sorted(
            {
                c.control.id
                for h in self.hosts
                if host is None or h.name == host
                for c in h.controls
                if c.outcome is Outcome.FAIL
            }
        )

    def by_level(self) -> dict[int, dict[str, int]]:
        """Per control level, how many (host, control) results had each outcome."""
        out: dict[int, Counter[str]] = {}
        for h in self.hosts:
            for c in h.controls:
                out.setdefault(c.control.level, Counter())[c.outcome.value] += 1
        return {level: dict(sorted(out[level].items())) for level in sorted(out)}

    def to_dict(self) -> dict[str, Any]:
        p = self.profile
        return {
            "tool": f"hatang audit {'cloud' if self.scope == 'cloud' else 'hosts'}",
            "site": self.site,
            "catalogue_version": self.catalogue_version,
            "profile": {
                "id": p.id,
                "regime": p.regime,
                "level": p.level,
                "title": {"en": p.title_en, "vi": p.title_vi},
                "references": [r.to_dict() for r in p.references],
            },
            "started": self.started,
            "finished": self.finished,
            "result": {0: "compliant", 1: "non_compliant", 2: "error"}[self.exit_code],
            "exit_code": self.exit_code,
            "summary": {
                "hosts": {h.name: h.outcome.value for h in self.hosts},
                "by_level": {str(k): v for k, v in self.by_level().items()},
            },
            "meta": dict(self.meta),
            "hosts": [h.to_dict() for h in self.hosts],
        }


def control_outcome(control: Control, checks: Mapping[str, CheckResult], waiver: Waiver | None) -> ControlResult:
    """A control's outcome from its checks: a failing check fails it, a broken one errors,
    one that could not run makes it not checkable; only all checks passing passes it."""
    if waiver is not None and not waiver.run:
        return ControlResult(control, Outcome.WAIVED, (), waiver)
    if control.status.value == "manual":
        return ControlResult(control, Outcome.MANUAL)
    if control.status.value == "not_applicable":
        return ControlResult(control, Outcome.NOT_APPLICABLE)
    results = tuple(
        checks.get(cid) or CheckResult(cid, Outcome.ERROR, message=f"check {cid} was not found or did not run")
        for cid in control.checks
    )
    outcomes = {r.outcome for r in results}
    for outcome in (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_CHECKABLE):
        if outcome in outcomes:
            return ControlResult(control, outcome, results, waiver)
    return ControlResult(control, Outcome.PASS, results, waiver)
