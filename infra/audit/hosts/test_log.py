"""HT-LOG-*: journald, rsyslog forwarding and retention, log file modes."""

from __future__ import annotations

from typing import Any

from infra.audit import _journal, _rsyslog, probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def _journald(host: Any) -> dict[str, str]:
    """journald.conf and its drop-ins as systemd merges them (`_journal.journald_merge`)."""
    main = _host.read(host, "/etc/systemd/journald.conf")
    if main is None:
        main = _host.read(host, "/usr/lib/systemd/journald.conf")
    dropins: dict[str, str] = {}
    for folder in _journal.JOURNALD_DIRS:
        dropins.update(_host.read_files(host, f"{folder}/*.conf"))
    return _journal.journald_merge(main, dropins)


_JOURNAL_FILES = (
    'for f in /run/log/journal/*/system.journal; do [ -e "$f" ] && echo "run $f"; done; '
    'f="/var/log/journal/$(cat /etc/machine-id)/system.journal"; [ -e "$f" ] && echo "var $f"; true'
)
"""Where journald's system journal is open: /run (volatile) or /var (persistent, this machine's id)."""


def test_journald_persistent(host: Any, check: Check) -> None:
    """Storage=persistent after journald.conf and its drop-ins are merged as systemd merges them,
    and journald writes to disk now: this machine's system journal is in /var/log/journal and none
    is in /run/log/journal (where `journalctl --relinquish-var` or a failed flush leaves it)."""
    storage = _journald(host).get("Storage")
    found = [line.split(" ", 1) for line in host.run(_JOURNAL_FILES).stdout.splitlines() if " " in line]
    volatile = sorted(path for where, path in found if where == "run")
    persistent = sorted(path for where, path in found if where == "var")
    check.expect(
        {"Storage": storage, "system journal in /run": volatile, "system journal in /var": persistent},
        {"Storage": "persistent", "system journal in /run": [], "system journal in /var": "this machine's"},
        ok=storage == "persistent" and not volatile and bool(persistent),
    )


def test_journald_retention_12_months(host: Any, check: Check) -> None:
    """With journald.conf and its drop-ins merged as systemd merges them (/usr/lib,
    /usr/local/lib, /run, /etc; same name masks, file-name order, empty assignment resets):
    Storage=persistent, MaxRetentionSec >= `min_seconds` (unset or 0 fails: no retention period),
    SystemKeepFree set, no explicit SystemMaxUse below 4G nor a percentage, SystemMaxFiles not
    below 100."""
    _host.expect(check, _journal.journald_finding(_journald(host), check.params["min_seconds"]))


_RSYSLOG_FULLCONF = 'f=$(mktemp) && trap \'rm -f "$f"\' EXIT && rsyslogd -N1 -o "$f" >&2 && cat "$f"'
"""rsyslog's configuration as rsyslogd loads it, includes spliced in evaluation order (`_rsyslog`)."""


def _forward_to_syslog(host: Any) -> str:
    """journald's ForwardToSyslog as it runs: the kernel command line's
    `systemd.journald.forward_to_syslog` over the merged configuration; unset is `no` (journald.conf(5))."""
    value = _journald(host).get("ForwardToSyslog", "no")
    for word in (_host.read(host, "/proc/cmdline") or "").split():
        key, eq, flag = word.partition("=")
        if key == "systemd.journald.forward_to_syslog":
            value = flag if eq else "yes"
    return value


def test_syslog_forwarded(host: Any, check: Check) -> None:
    """rsyslog is active and this host's messages reach every address of the site's services.syslog,
    read from rsyslogd's own expansion of its configuration (`rsyslogd -N1 -o`). Every input that
    brings the host's messages in (the system log socket, other imuxsock sockets, imjournal, imklog)
    runs through a ruleset whose forwarding statement is outside any condition, with the selector
    `*.*`, and no `stop` or `~` before it; the legacy `$RuleSet` counts. The journal reaches rsyslog:
    through the system socket with journald's ForwardToSyslog on, or imjournal. A configuration
    rsyslogd refuses fails."""
    rc, fullconf, errors = _host.run(host, _RSYSLOG_FULLCONF)
    active = _host.service(host, "rsyslog")["active"]
    expected = set(check.facts.syslog)
    if rc != 0:
        check.expect(
            {"rsyslog_active": active, "configuration": f"refused by rsyslogd -N1: {errors.strip()[-300:]}"},
            {"rsyslog_active": True, "configuration": "loads"}, ok=False,
        )  # fmt: skip
    found = _rsyslog.rsyslog_forwarding(fullconf)
    forward_to_syslog = _forward_to_syslog(host)
    journald_forwards = _journal.is_yes(forward_to_syslog)
    journal_in = [s.name for s in found.sources if s.name == "imjournal" or (s.via_journald and journald_forwards)]
    unforwarded = [
        f"{s.name}: ruleset {s.ruleset!r} forwards every message to {sorted(found.rulesets.get(s.ruleset, []))}"
        for s in found.sources
        if not expected <= set(found.rulesets.get(s.ruleset, []))
    ]
    observed: dict[str, Any] = {
        "rsyslog_active": active,
        "every message to": sorted(set(found.every_message)),
        "journal read by": journal_in or f"nothing (journald ForwardToSyslog={forward_to_syslog})",
    }
    if unforwarded:
        observed["inputs not forwarded"] = unforwarded
    if found.some_messages:
        observed["only some messages to"] = found.some_messages
    if found.discards:
        observed["discarded before forwarding by"] = found.discards
    check.expect(
        observed,
        {"rsyslog_active": True, "every message to": f"include {sorted(expected)}", "journal read by": "an input",
         "inputs not forwarded": []},
        ok=active and expected <= set(found.every_message) and bool(journal_in) and not unforwarded,
    )  # fmt: skip


def test_logrotate_retention_12_months(host: Any, check: Check) -> None:
    """/var/log/syslog keeps >= `min_days` days of rotated files, read as logrotate reads
    logrotate.conf (includes spliced in place, globals before a stanza as its defaults, the first
    stanza naming the file): history = rotate x period, cut to maxage when shorter; size-only
    rotation, maxsize, a missing period or an unreadable include fail."""
    path = "/var/log/syslog"
    text = _host.read(host, "/etc/logrotate.conf")
    minimum = check.params["min_days"]
    if text is None:
        check.expect("/etc/logrotate.conf absent or unreadable", f"{path}: >= {minimum} days", ok=False)
    days, how = probes.logrotate_retention(text or "", path, lambda target: _host.read_tree(host, target))
    check.expect(
        {path: f"{days} days ({how})" if days is not None else how},
        {path: f">= {minimum} days"},
        ok=days is not None and days >= minimum,
    )


def _world_readable(mode: str) -> bool:
    """A mode string grants others read, or cannot be read as octal (then it cannot be vouched for)."""
    try:
        return bool(int(mode, 8) & 0o004)
    except ValueError:
        return True


def test_log_files_protected(host: Any, check: Check) -> None:
    """None of `files` is world-readable (and each exists), nor will be: every file creation mode
    rsyslog is configured with (`$FileCreateMode`, `fileCreateMode=`; none set means its default,
    0644) and the mode logrotate recreates each file with after a rotation (`create MODE` of the
    stanza naming it, read as logrotate reads its configuration) grant others no read."""
    files = check.params["files"]
    stats = _host.stat(host, *files)
    now = {p: s["mode"] if isinstance(s, dict) else s for p, s in stats.items()}
    rsyslog = (_host.read(host, "/etc/rsyslog.conf") or "") + "\n" + _host.read_glob(host, "/etc/rsyslog.d/*.conf")
    created = probes.rsyslog_create_modes(rsyslog) or ["0644 (rsyslog's default: none set)"]
    logrotate = _host.read(host, "/etc/logrotate.conf") or ""
    rotated = {}
    for path in files:
        mode, how = probes.logrotate_create_mode(logrotate, path, lambda target: _host.read_tree(host, target))
        rotated[path] = how if mode is None else f"{mode:04o} ({how})"
    unreadable = [how for how in rotated.values() if "cannot be read" in how]
    ok = (
        all(v != "absent" and not _world_readable(v) for v in now.values())
        and not any(_world_readable(m.split()[0]) for m in created)
        and not any(_world_readable(how.split()[0]) for how in rotated.values() if how[:1].isdigit())
        and not unreadable
    )
    check.expect(
        {"now": now, "rsyslog creates": created, "logrotate recreates": rotated},
        {
            "now": dict.fromkeys(files, "not world-readable"),
            "rsyslog creates": "not world-readable",
            "logrotate recreates": "not world-readable, or the rotated file's own mode",
        },
        ok=ok,
    )
