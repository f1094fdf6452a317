"""What `hatang audit hosts` and `hatang audit cloud` print: each host's verdict and counts, and
the audit's verdict with what was not checked and the exit code it gives."""

from __future__ import annotations

from collections.abc import Sequence

from infra.audit import AuditResult, HostResult, Verdict
from infra.audit.report import verdict_label
from infra.commands._common import err, out

__all__ = ["STRICT_HELP", "print_host", "print_verdict"]

STRICT_HELP = "Exit 1 when a control was not checked (not checkable, manual or waived), even if none failed."

_STYLE = {
    Verdict.COMPLIANT: "bold green",
    Verdict.COMPLIANT_WITH_UNCHECKED: "bold yellow",
    Verdict.NON_COMPLIANT: "bold red",
    Verdict.NOT_VERIFIED: "bold red",
    Verdict.ERROR: "bold red",
}


def print_host(h: HostResult, details: Sequence[str] = ()) -> None:
    """`<host>: <verdict> (<outcome> <count>, ...)`, its error, what it did not check, and `details`."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(h.counts().items()))
    line = f"{h.name}: {h.verdict.value}" + (f" ({counts})" if counts else "")
    (err if h.error else out).print(line, markup=False, highlight=False)
    if h.error:
        err.print(f"  {h.error}", markup=False, highlight=False)
    for text in details:
        out.print(f"  {text}", markup=False, highlight=False)
    unchecked = h.unchecked_controls()
    if unchecked:
        out.print(f"  not checked: {', '.join(unchecked)}", markup=False, highlight=False)


def print_verdict(result: AuditResult) -> None:
    """The last line: the verdict in words, the controls not checked, the exit code."""
    verdict = result.verdict
    line = f"verdict: {verdict_label(verdict, 'en')}"
    unchecked = result.unchecked_controls()
    if verdict is Verdict.COMPLIANT_WITH_UNCHECKED:
        line += f"; {len(unchecked)} not checked: {', '.join(unchecked)}"
    line += f" (exit {result.exit_code}"
    if verdict is Verdict.COMPLIANT_WITH_UNCHECKED and not result.strict:
        line += "; with --strict: exit 1"
    line += ")"
    (out if result.exit_code == 0 else err).print(line, style=_STYLE[verdict], markup=False, highlight=False)
    if verdict is Verdict.ERROR:
        err.print("audit incomplete: see the errors above", style="bold red")
    elif verdict is Verdict.NOT_VERIFIED:
        err.print("nothing was verified: no control passed or failed", style="bold red")
