"""Results of an audit: per check, per control, per host; and how they add up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from infra.catalogue import Control, Instrument, Profile, Waiver

__all__ = [
    "UNCHECKED",
    "AuditResult",
    "CheckResult",
    "ControlResult",
    "HostResult",
    "Outcome",
    "Verdict",
    "control_outcome",
    "judge",
]


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_CHECKABLE = "not_checkable"
    WAIVED = "waived"
    ERROR = "error"
    MANUAL = "manual"
    NOT_APPLICABLE = "not_applicable"


UNCHECKED = frozenset({Outcome.NOT_CHECKABLE, Outcome.MANUAL, Outcome.WAIVED})
"""Outcomes of a control that applies but whose state the audit did not establish: it could not
be checked here, it needs a person, or it was waived (not run). `not_applicable` is not among
them: there is nothing to establish."""


class Verdict(StrEnum):
    """What an audit (or one host of it) adds up to; the reports and the exit code show it."""

    COMPLIANT = "compliant"
    """Every applicable control was checked and passed."""
    COMPLIANT_WITH_UNCHECKED = "compliant_with_unchecked"
    """Nothing failed, but at least one control was not checked: compliant for what was checked."""
    NON_COMPLIANT = "non_compliant"
    """A control failed (or, for the cloud, the cloud differs from the site model)."""
    NOT_VERIFIED = "not_verified"
    """Nothing passed and nothing failed: the audit established nothing (every control unchecked,
    or no control or host at all). Never compliant."""
    ERROR = "error"
    """A host could not be audited or a check broke."""

    def exit_code(self, strict: bool = False) -> int:
        """0 compliant; 1 non-compliant; 2 error or nothing verified. Compliant with unchecked
        controls is 0, or 1 when `strict` (unchecked controls count as findings)."""
        if self is Verdict.COMPLIANT_WITH_UNCHECKED:
            return 1 if strict else 0
        return _EXIT_CODES[self]


_EXIT_CODES = {Verdict.COMPLIANT: 0, Verdict.NON_COMPLIANT: 1, Verdict.NOT_VERIFIED: 2, Verdict.ERROR: 2}
_SEVERITY = (
    Verdict.COMPLIANT,
    Verdict.COMPLIANT_WITH_UNCHECKED,
    Verdict.NON_COMPLIANT,
    Verdict.NOT_VERIFIED,
    Verdict.ERROR,
)
"""Least to most severe: an audit's verdict is its worst host's (as an unreachable host makes
the whole audit an error, a host where nothing could be verified makes it not verified)."""


def judge(outcomes: Iterable[Outcome], *, error: bool = False, findings: bool = False) -> Verdict:
    """The verdict of one host's control outcomes (`error`: the host could not be audited;
    `findings`: a finding outside the controls, such as the cloud's drift from the site model)."""
    seen = set(outcomes)
    if error or Outcome.ERROR in seen:
        return Verdict.ERROR
    if findings or Outcome.FAIL in seen:
        return Verdict.NON_COMPLIANT
    if Outcome.PASS not in seen:
        return Verdict.NOT_VERIFIED
    if seen & UNCHECKED:
        return Verdict.COMPLIANT_WITH_UNCHECKED
    return Verdict.COMPLIANT


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
            "references": [r.to_dict(mapping=True) for r in c.references],
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

    @property
    def verdict(self) -> Verdict:
        return judge((c.outcome for c in self.controls), error=bool(self.error))

    def unchecked_controls(self) -> list[str]:
        """Ids of the controls that apply but were not checked on this host, sorted."""
        return sorted(c.control.id for c in self.controls if c.outcome in UNCHECKED)

    def counts(self) -> Mapping[str, int]:
        return Counter(c.outcome.value for c in self.controls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "result": self.outcome.value,
            "verdict": self.verdict.value,
            "unchecked_controls": self.unchecked_controls(),
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
    strict: bool = False
    """Unchecked controls count as findings for the exit code (`--strict`); the verdict stays."""

    @property
    def scope(self) -> str:
        """'cloud' when the audited controls are cloud controls, else 'host'."""
        scopes = {c.control.scope.value for h in self.hosts for c in h.controls}
        return "cloud" if scopes == {"cloud"} else "host"

    @property
    def findings(self) -> bool:
        """A finding outside the control results (the cloud audit's drift); none here."""
        return False

    @property
    def verdict(self) -> Verdict:
        """The worst host's verdict; no host at all is not verified; a finding outside the
        controls makes an audit that did not error non-compliant."""
        worst = max((h.verdict for h in self.hosts), key=_SEVERITY.index, default=Verdict.NOT_VERIFIED)
        if self.findings and worst is not Verdict.ERROR:
            return Verdict.NON_COMPLIANT
        return worst

    @property
    def exit_code(self) -> int:
        """0 compliant (also with unchecked controls, unless `strict`: then 1), 1 non-compliant,
        2 error (a host unreachable, a check broken) or nothing verified."""
        return self.verdict.exit_code(self.strict)

    @property
    def compliant(self) -> bool:
        """Fully compliant: every applicable control checked and passed."""
        return self.verdict is Verdict.COMPLIANT

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

    def unchecked_controls(self, host: str | None = None) -> list[str]:
        """Ids of the controls that apply but were not checked (on `host`, or on any host), sorted."""
        return sorted({cid for h in self.hosts if host is None or h.name == host for cid in h.unchecked_controls()})

    def by_level(self) -> dict[int, dict[str, int]]:
        """Per control level, how many (host, control) results had each outcome."""
        out: dict[int, Counter[str]] = {}
        for h in self.hosts:
            for c in h.controls:
                out.setdefault(c.control.level, Counter())[c.outcome.value] += 1
        return {level: dict(sorted(out[level].items())) for level in sorted(out)}

    def verdict_dict(self) -> dict[str, Any]:
        """The verdict for machines: the status, whether it is fully compliant, and what was not
        checked (control ids, on any host) or failed; `*_results` count (host, control) results."""
        results = Counter(c.outcome for h in self.hosts for c in h.controls)
        unchecked = self.unchecked_controls()
        return {
            "status": self.verdict.value,
            "compliant": self.compliant,
            "strict": self.strict,
            "unchecked": len(unchecked),
            "unchecked_controls": unchecked,
            "failed_controls": self.failed_controls(),
            "passed_results": results[Outcome.PASS],
            "failed_results": results[Outcome.FAIL],
            "unchecked_results": sum(results[o] for o in UNCHECKED),
            "hosts": {h.name: h.verdict.value for h in self.hosts},
        }

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
                "references": [r.to_dict(mapping=True) for r in p.references],
            },
            "started": self.started,
            "finished": self.finished,
            "result": self.verdict.value,
            "exit_code": self.exit_code,
            "verdict": self.verdict_dict(),
            "summary": {
                "hosts": {h.name: h.outcome.value for h in self.hosts},
                "by_level": {str(k): v for k, v in self.by_level().items()},
            },
            "meta": dict(self.meta),
            "hosts": [h.to_dict() for h in self.hosts],
        }


def control_outcome(control: Control, checks: Mapping[str, CheckResult], waiver: Waiver | None) -> ControlResult:
    """A control's outcome from its checks: a failing check fails it, a broken one errors,
    one that could not run (or reported anything but pass) makes it not checkable; only all
    checks passing passes it, and a control without checks never passes."""
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
    for outcome in (Outcome.FAIL, Outcome.ERROR):
        if outcome in outcomes:
            return ControlResult(control, outcome, results, waiver)
    if outcomes == {Outcome.PASS}:
        return ControlResult(control, Outcome.PASS, results, waiver)
    return ControlResult(control, Outcome.NOT_CHECKABLE, results, waiver)
