"""HT-LOG-*: journald, rsyslog forwarding and retention, log file modes."""

from __future__ import annotations

from typing import Any

import _host

from infra.audit import probes
from infra.audit.plugin import Check


def _journald(host: Any) -> dict[str, str]:
    rc, stdout, _ = _host.run(host, "systemd-analyze cat-config systemd/journald.conf")
    return probes.parse_keyvalues(stdout if rc == 0 else "", "=")


def test_journald_persistent(host: Any, check: Check) -> None:
    check.expect(_journald(host).get("Storage"), "persistent")


def test_journald_retention_12_months(host: Any, check: Check) -> None:
    conf = _journald(host)
    raw = conf.get("MaxRetentionSec")
    seconds = probes.parse_timespan(raw) if raw else 0.0
    keep_free = conf.get("SystemKeepFree")
    minimum = check.params["min_seconds"]
    ok = seconds is not None and (seconds == 0 or seconds >= minimum) and bool(keep_free)
    check.expect(
        {"MaxRetentionSec": raw, "SystemKeepFree": keep_free},
        {"MaxRetentionSec": f"0 (unlimited) or >= {minimum}s", "SystemKeepFree": "set"},
        ok=ok,
    )


def test_syslog_forwarded(host: Any, check: Check) -> None:
    text = (_host.read(host, "/etc/rsyslog.conf") or "") + "\n"
    text += _host.read_glob(host, "/etc/rsyslog.d/*.conf")
    targets = sorted(set(probes.rsyslog_targets(text)))
    active = _host.service(host, "rsyslog")["active"]
    expected = sorted(check.facts.syslog)
    check.expect(
        {"rsyslog_active": active, "targets": targets},
        {"rsyslog_active": True, "targets": f"include {expected}"},
        ok=active and set(expected) <= set(targets),
    )


def test_logrotate_retention_12_months(host: Any, check: Check) -> None:
    text = (_host.read(host, "/etc/logrotate.conf") or "") + "\n"
    text += _host.read(host, "/etc/logrotate.d/rsyslog") or ""
    days = probes.logrotate_days(text, "/var/log/syslog")
    minimum = check.params["min_days"]
    check.expect(days, f">= {minimum} days", ok=days is not None and days >= minimum)


def test_log_files_protected(host: Any, check: Check) -> None:
    stats = _host.stat(host, *check.params["files"])
    observed = {p: s["mode"] if isinstance(s, dict) else s for p, s in stats.items()}
    ok = all(v != "absent" and not int(v, 8) & 0o004 for v in observed.values())
    check.expect(observed, dict.fromkeys(check.params["files"], "not world-readable"), ok=ok)
