"""HT-AUDIT-02/03/04's reading of the audit rules as augenrules and auditctl load them."""

from __future__ import annotations

import pytest

from infra.audit._auditrules import AuditRule, augenrules_order, execve_findings, load_rules, watch_findings

HARDENED = {
    "/etc/audit/rules.d/60-hatang-logins.rules": "## logins\n-w /var/log/wtmp -p wa -k logins\n"
    "-w /var/log/btmp -p wa -k logins\n",
    "/etc/audit/rules.d/61-hatang-privileged.rules": "-w /usr/bin/sudo -p x -k privileged\n"
    "-w /etc/sudoers -p wa -k scope\n",
    "/etc/audit/rules.d/62-hatang-exec.rules": "-a always,exit -F arch=b64 -S execve -S execveat -k exec\n"
    "-a always,exit -F arch=b32 -S execve -S execveat -k exec\n",
    "/etc/audit/rules.d/99-hatang-finalize.rules": "-e 2\n",
    "/etc/audit/rules.d/audit.rules.dpkg-old": "-D\n",
}
WANTED = {"/var/log/wtmp": "w", "/var/log/btmp": "w", "/usr/bin/sudo": "x", "/etc/sudoers": "w"}
LOADED = """\
-w /var/log/wtmp -p wa -k logins
-w /var/log/btmp -p wa -k logins
-w /usr/bin/sudo -p x -k privileged
-w /etc/sudoers -p wa -k scope
-a always,exit -F arch=b64 -S execve,execveat -F key=exec
-a always,exit -F arch=b32 -S execve,execveat -F key=exec
"""


def _rules(extra: dict[str, str] | None = None, edit: tuple[str, str] | None = None) -> list[AuditRule]:
    files = dict(HARDENED) | (extra or {})
    if edit:
        files = {p: t.replace(*edit) for p, t in files.items()}
    return load_rules(augenrules_order(files))


def _findings(rules: list[AuditRule]) -> list[str]:
    """What HT-AUDIT-02/03 (the watches) and HT-AUDIT-04 (executions) would report."""
    return watch_findings(rules, WANTED) + execve_findings(rules, ["b64", "b32"])


def test_the_hardened_rules_and_the_loaded_ones_record_everything() -> None:
    assert _findings(_rules()) == []
    assert _findings(load_rules(LOADED.splitlines())) == []


def test_augenrules_order_moves_delete_first_and_enable_last() -> None:
    files = {"/r/10-b.rules": "-e 2\n-w /x -p wa\n", "/r/9-a.rules": "# c\n-w /y -p wa\n-D\n"}
    lines = augenrules_order(files | {"/r/20.rules": "-D\n-b 8192\n"})
    assert lines == ["-D", "-b 8192", "-w /y -p wa", "-w /x -p wa", "-e 2"]  # 9 before 10, as ls -v sorts


@pytest.mark.parametrize(
    ("rules", "finding"),
    [
        (_rules({"/etc/audit/rules.d/70-ops.rules": "-W /var/log/wtmp -p wa -k logins\n"}),
         "/var/log/wtmp: no watch records 'w'"),
        (_rules(edit=("-w /var/log/wtmp -p wa", "-w /var/log/wtmp -p r")),
         "/var/log/wtmp: no watch records 'w' (only /var/log/wtmp -p r)"),
        (_rules(edit=("-w /usr/bin/sudo -p x", "-w /usr/bin/sudo -p r")),
         "/usr/bin/sudo: no watch records 'x' (only /usr/bin/sudo -p r)"),
        (_rules({"/etc/audit/rules.d/10-ops.rules": "-a never,exit -F dir=/var/log\n"}),
         "/var/log/wtmp: '-a never,exit -F dir=/var/log' comes first and drops its events"),
        (_rules({"/etc/audit/rules.d/99-z.rules": "-A exit,never -F path=/var/log/wtmp\n"}),
         "/var/log/wtmp: '-A exit,never -F path=/var/log/wtmp' comes first and drops its events"),
        (_rules({"/etc/audit/rules.d/70-ops.rules": "-D -k logins\n"}),
         "/var/log/btmp: no watch records 'w'"),
        (_rules({"/etc/audit/rules.d/10-ops.rules": "-a task,never\n"}),
         "-a task,never (turns syscall auditing off for the tasks it matches)"),
        (_rules({"/etc/audit/rules.d/10-ops-noise.rules": "-a never,exit -F arch=b64 -S execve -S execveat\n"}),
         "b64: '-a never,exit -F arch=b64 -S execve -S execveat' comes first and drops executions"),
        (_rules(edit=("-S execveat -k exec", "-S execveat -F auid=4294967295 -k exec")),
         "b32: no rule records every execve (only ['-a always,exit -F arch=b32 -S execve -S execveat -F "
         "auid=4294967295 -k exec'])"),
        (_rules({"/etc/audit/rules.d/70-ops.rules": "-d always,exit -F arch=b32 -S execve -S execveat -k exec\n"}),
         "b32: no rule records every execve"),
        (_rules({"/etc/audit/rules.d/70-ops.rules": "-a always,exclude -F msgtype=EXECVE\n"}),
         "'-a always,exclude -F msgtype=EXECVE' excludes the records of program executions"),
        (_rules({"/etc/audit/rules.d/70-ops.rules": "-A never,exit -S all -F auid=1000\n"}),
         "b64: '-A never,exit -S all -F auid=1000' comes first and drops executions"),
    ],
    ids=["later-file-removes-watch", "read-permission-only", "sudo-read-only", "never-dir-first",
         "never-prepended", "delete-by-key-stays-in-place", "task-never", "never-rule-first",
         "filtered-to-no-login", "rule-deleted", "exclude-execve", "never-all-prepended"],
)  # fmt: skip
def test_events_the_rules_do_not_record_are_found(rules: list[AuditRule], finding: str) -> None:
    assert finding in _findings(rules)


def test_a_never_rule_limited_to_other_syscalls_or_paths_drops_no_watched_event() -> None:
    rules = _rules({"/etc/audit/rules.d/10-ops.rules": "-a never,exit -F arch=b64 -S adjtimex\n"
                    "-a never,exit -F dir=/var/cache\n"})  # fmt: skip
    assert watch_findings(rules, WANTED) == []


def test_a_later_delete_all_is_moved_first_and_removes_nothing() -> None:
    assert _findings(_rules({"/etc/audit/rules.d/98-ops.rules": "-D\n"})) == []


def test_a_never_rule_on_execve_drops_runs_of_a_watched_program_not_changes_of_a_file() -> None:
    rules = _rules({"/etc/audit/rules.d/10-ops-noise.rules": "-a never,exit -F arch=b64 -S execve -S execveat\n"})
    assert watch_findings(rules, WANTED) == [
        "/usr/bin/sudo: '-a never,exit -F arch=b64 -S execve -S execveat' comes first and drops its events"
    ]
