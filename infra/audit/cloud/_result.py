"""The shape of a read-only check's result, shared by the checks and the probes."""

from __future__ import annotations

from typing import Any

from infra.audit._model import CheckResult, Outcome

__all__ = ["check_result"]


def check_result(check_id: str, findings: list[Any], observed: Any, expected: Any, what: str) -> CheckResult:
    """PASS without findings, FAIL with them; the message counts them. A dict `observed`
    carries the findings under "findings"."""
    if isinstance(observed, dict):
        observed = {**observed, "findings": findings}
    if findings:
        return CheckResult(check_id, Outcome.FAIL, observed, expected, f"{len(findings)} finding(s): {what}")
    return CheckResult(check_id, Outcome.PASS, observed, expected, "")
