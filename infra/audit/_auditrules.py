"""What the audit rules record once loaded, read from /etc/audit/rules.d as the next boot loads them.

Debian's audit-rules.service runs `augenrules --load`: the `*.rules` files in version order, merged
into one list (comments and blank lines dropped; a bare `-D` moved to the top, the last `-b` and
`-f` after it, the last `-e` at the end; `-D` with options stays in place), which `auditctl -R`
then applies in order. `-a` appends a rule to its list, `-A`
prepends it, `-w` appends a watch, `-W` and `-d` delete, and the kernel decides each event by the
first rule of a list that matches it. The same reading applies to `auditctl -l` (the loaded rules,
on a machine whose kernel runs this auditd).

A control is met only when an unconditional `always` rule records the events and no `never` rule
before it, no `never` task rule and no exclude rule can drop them: a later file removing a watch,
a watch of reads instead of writes, a `never` rule loaded first or an `auid` filter all fail.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

__all__ = ["AuditRule", "augenrules_order", "execve_findings", "load_rules", "watch_findings"]

_LISTS = frozenset({"exit", "task", "user", "exclude", "filesystem", "io_uring"})
_ACTIONS = frozenset({"always", "never"})
_FIELD = re.compile(r"^([A-Za-z_]+)(!=|<=|>=|&=|=|<|>|&)(.*)$")
_WATCH_FIELDS = frozenset({"path", "dir", "perm", "key", "arch"})
_EXEC_FIELDS = frozenset({"arch", "key"})
_NATIVE_ARCH = "b64"
_WRITES = frozenset({"open", "openat", "openat2", "creat", "truncate", "ftruncate", "rename", "renameat",
                     "renameat2", "unlink", "unlinkat", "link", "linkat", "symlink", "symlinkat", "chmod",
                     "fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown", "setxattr", "lsetxattr",
                     "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "write", "pwrite64", "writev",
                     "mknod", "mknodat", "utime", "utimes", "utimensat", "futimesat",
                     "mkdir", "mkdirat", "rmdir"})  # fmt: skip
"""Syscalls by which a watched file is changed: a `never` rule limited to others cannot hide a change."""
_RUNS = frozenset({"execve", "execveat"})
"""Syscalls by which a watched executable is run."""


@dataclass(frozen=True)
class AuditRule:
    """One rule of a kernel list, as auditctl builds it from a line."""

    text: str
    filter_list: str
    action: str
    syscalls: frozenset[str] = frozenset()
    """Empty: every syscall."""
    fields: tuple[tuple[str, str, str], ...] = ()
    watch: str | None = None
    perms: str = ""

    def field_values(self, name: str) -> list[str]:
        return [value for n, op, value in self.fields if n == name and op == "="]

    def identity(self) -> tuple[object, ...]:
        return (self.filter_list, self.action, self.syscalls, tuple(sorted(self.fields)), self.watch, self.perms)


def _natural(name: str) -> list[object]:
    """`ls -v` order: digit runs compared as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def augenrules_order(files: Mapping[str, str]) -> list[str]:
    """The lines of audit.rules as augenrules writes them from rules.d (path -> text)."""
    delete_all = ""
    buffers, flush, enable = "", "", ""
    rest: list[str] = []
    for path in sorted(files, key=lambda p: _natural(p.rsplit("/", 1)[-1])):
        if not path.endswith(".rules"):
            continue
        for raw in files[path].splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line == "-D":
                delete_all = line
            elif line.startswith("-b"):
                buffers = line
            elif line.startswith("-f"):
                flush = line
            elif line.startswith("-e"):
                enable = line
            else:
                rest.append(line)
    return [x for x in (delete_all, buffers, flush) if x] + rest + ([enable] if enable else [])


@dataclass
class _Line:
    """One auditctl command line, parsed."""

    op: str = ""
    filter_list: str = ""
    action: str = ""
    syscalls: set[str] = field(default_factory=set)
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    watch: str | None = None
    perms: str = ""


def _parse(line: str) -> _Line | None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    parsed = _Line()
    i = 0
    while i < len(words):
        word, value = words[i], words[i + 1] if i + 1 < len(words) else ""
        if word in ("-a", "-A", "-d"):
            parts = {p.strip() for p in value.split(",")}
            parsed.op = word
            parsed.filter_list = next(iter(parts & _LISTS), "")
            parsed.action = next(iter(parts & _ACTIONS), "")
        elif word in ("-w", "-W"):
            parsed.op, parsed.watch = word, value.rstrip("/") or "/"
        elif word == "-p":
            parsed.perms = value
        elif word == "-k":
            parsed.fields.append(("key", "=", value))
        elif word == "-S":
            parsed.syscalls |= {s for s in value.split(",") if s}
        elif word in ("-F", "-C"):
            found = _FIELD.match(value)
            if found:
                parsed.fields.append((found[1].lower(), found[2], found[3]))
        elif word == "-D":
            parsed.op = "-D"
            i += 1
            continue
        else:
            i += 1
            continue
        i += 2
    return parsed if parsed.op else None


def _rule(line: str, parsed: _Line) -> AuditRule:
    if parsed.watch is not None:
        return AuditRule(line, "exit", "always", fields=tuple(parsed.fields), watch=parsed.watch,
                         perms=parsed.perms or "rwxa")  # fmt: skip
    syscalls = frozenset() if "all" in parsed.syscalls else frozenset(parsed.syscalls)
    return AuditRule(line, parsed.filter_list, parsed.action, syscalls, tuple(parsed.fields))


def load_rules(lines: Iterable[str]) -> list[AuditRule]:
    """The kernel's rule lists after each line is applied in order (every list, in order)."""
    rules: list[AuditRule] = []
    for line in lines:
        parsed = _parse(line)
        if parsed is None:
            continue
        if parsed.op == "-D":
            keys = [v for n, _, v in parsed.fields if n == "key"]
            rules = [r for r in rules if keys and not set(r.field_values("key")) & set(keys)]
        elif parsed.op == "-W":
            rules = [r for r in rules if r.watch != parsed.watch]
        elif parsed.op == "-d":
            gone = _rule(line, parsed).identity()
            rules = [r for r in rules if r.identity() != gone]
        elif parsed.op in ("-a", "-w"):
            rules.append(_rule(line, parsed))
        elif parsed.op == "-A":
            rules.insert(0, _rule(line, parsed))
    return [_as_watch(r) for r in rules]


def _as_watch(rule: AuditRule) -> AuditRule:
    """A syscall rule of the exit list on one path with a perm field is a watch (`auditctl -l`
    prints watches as `-w`, but `-a always,exit -F path=… -F perm=wa` is the same rule)."""
    paths = rule.field_values("path") or rule.field_values("dir")
    perms = rule.field_values("perm")
    if rule.watch is None and rule.filter_list == "exit" and len(paths) == 1 and perms and not rule.syscalls:
        return replace(rule, watch=paths[0].rstrip("/") or "/", perms=perms[0])
    return rule


def _covers(rule: AuditRule, path: str) -> bool:
    """The rule can match an event on `path` (no path or dir field, or one that names it or a parent)."""
    names = rule.field_values("path") + rule.field_values("dir") + ([rule.watch] if rule.watch else [])
    if not names:
        return True
    return any(path == n or path.startswith(n.rstrip("/") + "/") for n in names)


def _task_never(rules: list[AuditRule]) -> list[str]:
    return [f"{r.text} (turns syscall auditing off for the tasks it matches)" for r in rules
            if r.filter_list == "task" and r.action == "never"]  # fmt: skip


def watch_findings(rules: list[AuditRule], wanted: Mapping[str, str]) -> list[str]:
    """Why a change (or, for `x`, a run) of each path of `wanted` (path -> the permission letter
    that records it) is not recorded by the rules; empty when every one is."""
    findings = _task_never(rules)
    exits = [r for r in rules if r.filter_list == "exit"]
    for path, letter in wanted.items():
        position = next((i for i, r in enumerate(exits) if r.action == "always" and r.watch == path.rstrip("/")
                         and letter in r.perms and {n for n, _, _ in r.fields} <= _WATCH_FIELDS), None)  # fmt: skip
        if position is None:
            others = [f"{r.watch} -p {r.perms}" for r in exits if r.watch == path.rstrip("/")]
            findings.append(f"{path}: no watch records '{letter}'" + (f" (only {', '.join(others)})" if others else ""))
            continue
        by = _RUNS if letter == "x" else _WRITES
        for rule in exits[:position]:
            if rule.action == "never" and _covers(rule, path) and (not rule.syscalls or rule.syscalls & by):
                findings.append(f"{path}: '{rule.text}' comes first and drops its events")
    return findings


def _arches(rule: AuditRule) -> set[str]:
    arch = rule.field_values("arch")
    if arch:
        return set(arch)
    return {_NATIVE_ARCH} if rule.syscalls else {"b64", "b32"}


def execve_findings(rules: list[AuditRule], arches: Iterable[str]) -> list[str]:
    """Why a program execution of each arch is not recorded: no unconditional `always` exit rule
    for execve (only arch and key fields), a `never` rule before it, a `never` task rule, or an
    exclude rule dropping SYSCALL or EXECVE records."""
    findings = _task_never(rules)
    for rule in rules:
        types = {v.upper() for v in rule.field_values("msgtype")}
        if rule.filter_list == "exclude" and (not types or types & {"SYSCALL", "EXECVE"}):
            findings.append(f"'{rule.text}' excludes the records of program executions")
    exits = [r for r in rules if r.filter_list == "exit" and r.watch is None]
    execs = [r for r in exits if not r.syscalls or "execve" in r.syscalls]
    for arch in arches:
        mine = [r for r in execs if arch in _arches(r)]
        position = next((i for i, r in enumerate(mine) if r.action == "always" and r.syscalls
                         and {n for n, _, _ in r.fields} <= _EXEC_FIELDS), None)  # fmt: skip
        if position is None:
            narrowed = [r.text for r in mine if r.action == "always"]
            findings.append(f"{arch}: no rule records every execve" + (f" (only {narrowed})" if narrowed else ""))
            continue
        dropping = [r for r in mine[:position] if r.action == "never"]
        findings += [f"{arch}: '{r.text}' comes first and drops executions" for r in dropping]
    return findings
