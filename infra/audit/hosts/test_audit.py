"""HT-AUDIT-*: the kernel audit daemon and its rules.

A container shares the kernel of the machine it runs on, and the kernel accepts only that
machine's audit daemon: there, the persisted rules can be read but neither the daemon nor the
loaded rules can be seen, and the result is "not checkable", never passed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from infra.audit import _auditrules, probes
from infra.audit._finding import Finding
from infra.audit.hosts import _host
from infra.audit.plugin import Check

_RULES = "/etc/audit/rules.d/*.rules"
"""What augenrules reads (only names ending in .rules)."""


_DAEMON = "/usr/sbin/auditd"

_DAEMON_STATE = (
    "systemctl show auditd -p MainPID --value; systemctl show auditd -p ExecStart --value; "
    "pid=$(auditctl -s 2>/dev/null | sed -n 's/^pid //p'); echo \"kernel=${pid:-none}\"; "
    '[ -n "$pid" ] && [ "$pid" != 0 ] && echo "exe=$(readlink /proc/$pid/exe)"; true'
)


def _daemon(host: Any) -> dict[str, Any]:
    """What really runs as the audit daemon: the programs the unit starts (after its drop-ins),
    its main process, and the process the kernel sends events to (`auditctl -s`) with its program."""
    _, out, _ = _host.run(host, _DAEMON_STATE)
    lines = out.splitlines()
    fields = dict(line.split("=", 1) for line in lines if line.startswith(("kernel=", "exe=")))
    return {
        "unit starts": sorted(set(re.findall(r"path=(\S+)", out))),
        "unit main pid": lines[0].strip() if lines else "",
        "kernel's audit daemon pid": fields.get("kernel", "none"),
        "its program": fields.get("exe", "none"),
    }


def test_auditd_running(host: Any, check: Check) -> None:
    """auditd enabled and active, its unit starting the real daemon, and that daemon the one the
    kernel sends events to (a unit made "active" by a drop-in running /bin/true does not pass).
    Needs a VM: not checkable in a container."""
    if check.in_container:
        check.not_checkable("auditd cannot run in a container (needs a VM)")
    observed: dict[str, Any] = {**_host.service(host, "auditd"), **_daemon(host)}
    pid = observed["kernel's audit daemon pid"]
    check.expect(
        observed,
        {"enabled": True, "active": True, "unit starts": [_DAEMON], "unit main pid": "the kernel's audit daemon",
         "kernel's audit daemon pid": "a process", "its program": _DAEMON},
        ok=observed["enabled"] and observed["active"] and observed["unit starts"] == [_DAEMON]
        and pid not in {"none", "0"} and observed["unit main pid"] == pid and observed["its program"] == _DAEMON,
    )  # fmt: skip


_EXECUTABLES = 'for p in "$@"; do [ -f "$p" ] && [ -x "$p" ] && printf "%s\\n" "$p"; done; true'


def _wanted_watches(host: Any, paths: list[str]) -> dict[str, str]:
    """Each path with the permission that records what matters about it: `x` (a run) for an
    executable file, `w` (a change) for anything else."""
    _, out, _ = _host.run(host, f"sh -c {shlex.quote(_EXECUTABLES)} sh {' '.join(shlex.quote(p) for p in paths)}")
    executables = set(out.split())
    return {p: "x" if p in executables else "w" for p in paths}


def _rules_check(host: Any, check: Check, judge: Callable[[list[_auditrules.AuditRule]], list[str]]) -> None:
    """The rules the next boot loads (rules.d merged as augenrules does) and the loaded ones
    (`auditctl -l`, a VM) must both record the events: `judge` lists why not."""
    merged = _auditrules.augenrules_order(_host.read_files(host, _RULES))
    at_boot = judge(_auditrules.load_rules(merged))
    if not at_boot and check.in_container:
        check.not_checkable(
            "rules are in /etc/audit/rules.d; the loaded rules need a VM",
            observed={"rules.d, as augenrules loads it": at_boot},
            expected={"rules.d, as augenrules loads it": []},
        )
    if check.in_container:
        loaded: Any = "not read: the loaded rules need a VM"
    else:
        rc, stdout, stderr = _host.run(host, "auditctl -l")
        loaded = judge(_auditrules.load_rules(stdout.splitlines())) if rc == 0 else [f"auditctl -l: {stderr.strip()}"]
    check.expect(
        {"rules.d, as augenrules loads it": at_boot, "loaded (auditctl -l)": loaded},
        {"rules.d, as augenrules loads it": [], "loaded (auditctl -l)": []},
        ok=not at_boot and loaded == [],
    )


def test_audit_rules_logins(host: Any, check: Check) -> None:
    """Every path of `watches` has its changes recorded (a watch with `w`; `x` for an executable),
    by the rules the next boot loads (rules.d in augenrules' order: a later `-W` removes a watch) and
    the loaded ones (a VM), with no `never` rule first, no `never` task rule."""
    wanted = _wanted_watches(host, list(check.params["watches"]))
    _rules_check(host, check, lambda rules: _auditrules.watch_findings(rules, wanted))


def test_audit_rules_privileged(host: Any, check: Check) -> None:
    """Every path of `watches` is recorded: runs of an executable (`x`), changes of a file (`w`), in
    the rules the next boot loads and the loaded ones (a VM), with no `never` rule first."""
    wanted = _wanted_watches(host, list(check.params["watches"]))
    _rules_check(host, check, lambda rules: _auditrules.watch_findings(rules, wanted))


def test_audit_rules_exec(host: Any, check: Check) -> None:
    """Every execve of each of `arches` is recorded: an `always` exit rule with no field but arch
    and key (an `auid` filter narrows it), no `never` rule before it, no `never` task rule, no
    exclude rule dropping SYSCALL or EXECVE records; in the rules the next boot loads and the loaded
    ones (a VM)."""
    arches = list(check.params["arches"])
    _rules_check(host, check, lambda rules: _auditrules.execve_findings(rules, arches))


def test_audit_logs_kept(host: Any, check: Check) -> None:
    """auditd.conf max_log_file_action = keep_logs, and no low-space action rotates logs away."""
    observed, problems = probes.auditd_log_actions(_host.read(host, "/etc/audit/auditd.conf") or "")
    expected = {"max_log_file_action": "keep_logs", **dict.fromkeys(probes.AUDITD_LOW_SPACE_ACTIONS, "not rotate")}
    _host.expect(check, Finding(observed, expected, not problems, tuple(problems)))
