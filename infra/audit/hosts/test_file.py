"""HT-FILE-*: owner and mode of account files and of cron."""

from __future__ import annotations

from typing import Any

from infra.audit.hosts import _host
from infra.audit.plugin import Check

_ACCOUNT_FILES = {
    "/etc/passwd": ("root", "root", 0o644),
    "/etc/shadow": ("root", "shadow", 0o640),
    "/etc/group": ("root", "root", 0o644),
    "/etc/gshadow": ("root", "shadow", 0o640),
}


def _no_wider(observed: dict[str, str] | str, user: str, group: str, mode: int) -> bool:
    return (
        isinstance(observed, dict)
        and observed["user"] == user
        and observed["group"] == group
        and not int(observed["mode"], 8) & ~mode
    )


def test_account_files_protected(host: Any, check: Check) -> None:
    """/etc/passwd and /etc/group root:root 0644, /etc/shadow and /etc/gshadow root:shadow 0640, or
    stricter; their backups (`/etc/shadow-`, with every hash of the previous copy, ...) the same when
    they exist."""
    files = {**_ACCOUNT_FILES, **{f"{path}-": spec for path, spec in _ACCOUNT_FILES.items()}}
    observed = _host.stat(host, *files)
    expected = {
        p: {"user": u, "group": g, "mode": f"{oct(m)} or stricter"} | ({"or": "absent"} if p.endswith("-") else {})
        for p, (u, g, m) in files.items()
    }
    ok = all(
        _no_wider(observed[p], *spec) or (p.endswith("-") and observed[p] == "absent") for p, spec in files.items()
    )
    check.expect(observed, expected, ok=ok)


def test_cron_restricted(host: Any, check: Check) -> None:
    """/etc/crontab root:root 0600 or stricter, and /etc/cron.allow present."""
    stats = _host.stat(host, "/etc/crontab", "/etc/cron.allow")
    crontab, allow = stats["/etc/crontab"], stats["/etc/cron.allow"] != "absent"
    check.expect(
        {"/etc/crontab": crontab, "/etc/cron.allow": "present" if allow else "absent"},
        {"/etc/crontab": {"user": "root", "group": "root", "mode": "0o600 or stricter"}, "/etc/cron.allow": "present"},
        ok=_no_wider(crontab, "root", "root", 0o600) and allow,
    )
