"""HT-FILE-*: owner and mode of account files and of cron; the file-integrity baseline; the
mount options of the temporary folders."""

from __future__ import annotations

from typing import Any

from infra.audit import _aide, _mounts
from infra.audit.hosts import _host
from infra.audit.plugin import Check

_ACCOUNT_FILES = {
    "/etc/passwd": ("root", "root", 0o644),
    "/etc/shadow": ("root", "shadow", 0o640),
    "/etc/group": ("root", "root", 0o644),
    "/etc/gshadow": ("root", "shadow", 0o640),
}


def _no_wider(observed: dict[str, str] | str, user: str, group: str, mode: int) -> bool:
    """Owned by `user`, by one of the `|`-separated groups in `group`, with no bit beyond `mode`."""
    return (
        isinstance(observed, dict)
        and observed["user"] == user
        and observed["group"] in group.split("|")
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


_CRON_FILES = {
    "/etc/crontab": ("root", "root", 0o600),
    # crontab(1) is setgid crontab on Debian and reads cron.allow as that group.
    "/etc/cron.allow": ("root", "root|crontab", 0o640),
}
_CRON_DIRS = ("/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly",
              "/etc/cron.yearly")


def test_cron_restricted(host: Any, check: Check) -> None:
    """/etc/crontab root:root 0600 and /etc/cron.allow root:root or root:crontab 0640 (present: the
    group crontab lets the listed users' crontab(1) read it), or stricter; each
    cron folder root:root 0700 or stricter when it exists (a writable /etc/cron.d takes anyone's
    job as root's)."""
    observed = _host.stat(host, *_CRON_FILES, *_CRON_DIRS)
    spec = {**_CRON_FILES, **dict.fromkeys(_CRON_DIRS, ("root", "root", 0o700))}
    expected = {
        p: {"user": u, "group": g, "mode": f"{oct(m)} or stricter"} | ({"or": "absent"} if p in _CRON_DIRS else {})
        for p, (u, g, m) in spec.items()
    }
    ok = all(_no_wider(observed[p], *want) or (p in _CRON_DIRS and observed[p] == "absent") for p, want in spec.items())
    check.expect(observed, expected, ok=ok)


def test_file_integrity_checked(host: Any, check: Check) -> None:
    """AIDE keeps a baseline of the host's files and checks it daily: the package, the enabled
    dailyaidecheck.timer running Debian's job with `check` or `update` and no extra arguments, the
    configuration selecting the account, sudo, sshd, PAM and audit-tool files with permissions,
    owner, group, size and a SHA-2/SHA-3 hash (a dry, limited `aide --init`: includes, rule order
    and the real file system), and the database, root's alone, holding them."""
    rc, out, err = _host.run(host, _aide.PROBE)
    if rc != 0 and _aide.SECTION not in out:
        check.expect(f"the AIDE probe failed (rc {rc}): {err.strip()[-200:]}", "AIDE's state", ok=False)
    _host.expect(check, _aide.aide_finding(out))


def test_temporary_folders_mounted_safely(host: Any, check: Check) -> None:
    """/tmp and /dev/shm, writable by everyone, mounted nodev, nosuid and noexec: now (the top
    mount holding each, options read as mount(8) reads them) and at the next boot (the unit
    systemd will load: /etc's, else /etc/fstab's lines, else the packaged one if enabled; then its
    drop-ins). In a container the runtime owns both mounts."""
    finding = _mounts.mounts_finding(_host.run(host, _mounts.mounts_probe())[1])
    if check.in_container:
        check.not_checkable("the container runtime mounts /tmp and /dev/shm (needs a VM)", finding.observed)
    _host.expect(check, finding)
