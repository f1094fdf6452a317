"""HT-AUDIT-*: the kernel audit daemon and its rules.

A container shares the kernel of the machine it runs on, and the kernel accepts only that
machine's audit daemon: there, the persisted rules can be read but neither the daemon nor the
loaded rules can be seen, and the result is "not checkable", never passed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.audit import probes
from infra.audit._finding import Finding
from infra.audit.hosts import _host
from infra.audit.plugin import Check

_RULES = "/etc/audit/rules.d/*.rules"


def test_auditd_running(host: Any, check: Check) -> None:
    """auditd enabled and active (needs a VM: not checkable in a container)."""
    if check.in_container:
        check.not_checkable("auditd cannot run in a container (needs a VM)")
    check.expect(_host.service(host, "auditd"), {"enabled": True, "active": True})


def _watches(text: str) -> set[str]:
    out = set()
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if "-w" in words and words.index("-w") + 1 < len(words):
            out.add(words[words.index("-w") + 1])
        for word in words:
            if word.startswith("path="):
                out.add(word.split("=", 1)[1])
    return out


def _execve(text: str) -> set[str]:
    """'execve' plus the arch= values of rules that audit the execve syscall."""
    found: set[str] = set()
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        syscalls = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-S"]
        if any("execve" in s.split(",") for s in syscalls):
            found.add("execve")
            found |= {w.split("=", 1)[1] for w in words if w.startswith("arch=")}
    return found


def _rules_check(host: Any, check: Check, wanted: list[str], parse: Callable[[str], set[str]]) -> None:
    missing = sorted(set(wanted) - parse(_host.read_glob(host, _RULES)))
    if not missing and check.in_container:
        check.not_checkable(
            "rules are in /etc/audit/rules.d; the loaded rules need a VM",
            observed={"missing_in_rules_d": missing},
            expected={"missing_in_rules_d": []},
        )
    rc, stdout, _ = _host.run(host, "auditctl -l")
    missing_loaded = sorted(set(wanted) - (parse(stdout) if rc == 0 else set()))
    check.expect(
        {"missing_in_rules_d": missing, "missing_loaded": missing_loaded},
        {"missing_in_rules_d": [], "missing_loaded": []},
        ok=not missing and not missing_loaded,
    )


def test_audit_rules_logins(host: Any, check: Check) -> None:
    """Every path of `watches` is watched, in /etc/audit/rules.d and in the loaded rules (a VM)."""
    _rules_check(host, check, list(check.params["watches"]), _watches)


def test_audit_rules_privileged(host: Any, check: Check) -> None:
    """Every path of `watches` is watched, in /etc/audit/rules.d and in the loaded rules (a VM)."""
    _rules_check(host, check, list(check.params["watches"]), _watches)


def test_audit_rules_exec(host: Any, check: Check) -> None:
    """The execve syscall is audited for each of `arches`, in rules.d and in the loaded rules (a VM)."""
    _rules_check(host, check, ["execve", *check.params["arches"]], _execve)


def test_audit_logs_kept(host: Any, check: Check) -> None:
    """auditd.conf max_log_file_action = keep_logs, and no low-space action rotates logs away."""
    observed, problems = probes.auditd_log_actions(_host.read(host, "/etc/audit/auditd.conf") or "")
    expected = {"max_log_file_action": "keep_logs", **dict.fromkeys(probes.AUDITD_LOW_SPACE_ACTIONS, "not rotate")}
    _host.expect(check, Finding(observed, expected, not problems, tuple(problems)))
