"""Small readers over testinfra's `host` shared by the checks.

Every command is a round trip to the host (a few milliseconds through the audit's kept-open
shell, infra/audit/_shell.py; 0.1-0.4 s through testinfra's own `podman://` or `ssh://`), so what
several checks need (`sshd -T`, `sysctl -a`, the package list) is read once per host and cached.
"""

from __future__ import annotations

import glob
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from infra.audit import _finding, _pam, _sshd, probes

T = TypeVar("T")
_CACHE: dict[tuple[str, str], Any] = {}


def _cached(host: Any, key: str, compute: Callable[[], T]) -> T:
    slot = (str(host.backend.get_hostname()), key)
    if slot not in _CACHE:
        _CACHE[slot] = compute()
    value: T = _CACHE[slot]
    return value


# Files and globs the checks read, fetched in one round trip on the first read.
PREFETCH_FILES = (
    "/etc/login.defs", "/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/issue", "/etc/issue.net",
    "/etc/pam.d/common-auth", "/etc/pam.d/common-password", "/etc/security/faillock.conf",
    "/etc/security/pwquality.conf", "/etc/security/pwhistory.conf", "/etc/chrony/chrony.conf",
    "/etc/rsyslog.conf", "/etc/logrotate.conf", "/etc/logrotate.d/rsyslog", "/etc/apt/sources.list",
    "/etc/audit/auditd.conf",
)  # fmt: skip
PREFETCH_GLOBS = (
    "/etc/sudoers.d/*", "/etc/profile.d/*.sh", "/etc/security/pwquality.conf.d/*.conf",
    "/etc/chrony/conf.d/*.conf", "/etc/chrony/sources.d/*.sources", "/etc/rsyslog.d/*.conf",
    "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources", "/etc/audit/rules.d/*.rules",
)  # fmt: skip
_SEP = "\x1e"  # record separator; printf writes it as \036


def _glob_script(pattern: str) -> str:
    return f'for f in {pattern}; do [ -f "$f" ] && cat "$f"; echo; done'


def _snapshot(host: Any) -> dict[str, str | None]:
    """Every prefetched file ('file:<path>': text, None when absent or unreadable) and glob
    ('glob:<pattern>'). An unreadable file must never read as "" (an empty /etc/shadow passes)."""
    parts = [
        f"if [ -f '{path}' ] && [ -r '{path}' ]; then printf '\\036file:%s\\n' '{path}'; cat -- '{path}'; "
        f"else printf '\\036missing:%s\\n' '{path}'; fi"
        for path in PREFETCH_FILES
    ]
    parts += [f"printf '\\036glob:%s\\n' '{pattern}'; {_glob_script(pattern)}" for pattern in PREFETCH_GLOBS]
    found: dict[str, str | None] = {}
    for chunk in host.run("; ".join(parts)).stdout.split(_SEP)[1:]:
        key, _, body = chunk.partition("\n")
        if key.startswith("missing:"):
            found["file:" + key.removeprefix("missing:")] = None
        else:
            found[key] = body
    return found


def read(host: Any, path: str) -> str | None:
    """A file's text, or None when it does not exist or cannot be read."""
    if path in PREFETCH_FILES:
        return _cached(host, "snapshot", lambda: _snapshot(host)).get(f"file:{path}")

    def compute() -> str | None:
        result = host.run("cat -- %s", path)
        return result.stdout if result.rc == 0 else None

    return _cached(host, f"read:{path}", compute)


def read_glob(host: Any, pattern: str) -> str:
    """Concatenated text of the files matching a shell glob (sorted), '' when none."""
    if pattern in PREFETCH_GLOBS:
        return _cached(host, "snapshot", lambda: _snapshot(host)).get(f"glob:{pattern}") or ""

    def compute() -> str:
        result = host.run(_glob_script(pattern))
        return str(result.stdout) if result.rc == 0 else ""

    return _cached(host, f"glob:{pattern}", compute)


def stat(host: Any, *paths: str) -> dict[str, dict[str, str] | str]:
    """Owner, group and octal mode of each path ('absent' when it does not exist)."""
    result = host.run("stat -c '%%n %%U %%G %%a' -- " + " ".join(["%s"] * len(paths)), *paths)
    found = {}
    for line in result.stdout.splitlines():
        name, user, group, mode = line.rsplit(" ", 3)
        found[name] = {"user": user, "group": group, "mode": oct(int(mode, 8))}
    return {p: found.get(p, "absent") for p in paths}


def _package_states(host: Any) -> dict[str, str]:
    """Package -> dpkg's abbreviated status (`ii`, `iU`, `rc`, ...)."""

    def compute() -> dict[str, str]:
        out = host.run("dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n'").stdout
        return {w[0]: w[1] for w in (line.split() for line in out.splitlines()) if len(w) > 1}

    return _cached(host, "packages", compute)


def installed(host: Any) -> set[str]:
    """Names of the installed (configured) packages."""
    return {name for name, state in _package_states(host).items() if state == "ii"}


_NO_FILES = frozenset("nc")
"""dpkg states whose package has no files on disk: not-installed, config-files only."""


def on_disk(host: Any) -> set[str]:
    """Names of the packages whose files are on disk: installed, or unpacked, half-configured,
    half-installed or awaiting triggers (`iU`, `iF`, `iH`, `iW`, `it`): what a package brings is
    there even when dpkg never configured it."""
    return {name for name, state in _package_states(host).items() if state[1:2] not in _NO_FILES}


def service(host: Any, name: str) -> dict[str, bool]:
    """Whether a systemd unit is enabled and active (False for a unit that does not exist)."""
    out = host.run(f"systemctl is-enabled {name}; systemctl is-active {name}").stdout.split()
    enabled = bool(out) and out[0] in {"enabled", "enabled-runtime", "static", "alias"}
    active = len(out) > 1 and out[-1] == "active"
    return {"enabled": enabled, "active": active}


def run(host: Any, command: str) -> tuple[int, str, str]:
    """(rc, stdout, stderr) of a read-only command, run once per host and cached."""

    def compute() -> tuple[int, str, str]:
        result = host.run(command)
        return int(result.rc), str(result.stdout), str(result.stderr)

    return _cached(host, f"run:{command}", compute)


def sshd(host: Any) -> dict[str, list[str]]:
    """The effective sshd configuration (`sshd -T`); raises when sshd cannot evaluate it."""

    def compute() -> dict[str, list[str]]:
        result = host.run("sshd -T")
        if result.rc != 0:
            raise RuntimeError(f"sshd -T failed (rc {result.rc}): {result.stderr.strip()}")
        return probes.parse_sshd_t(result.stdout)

    return _cached(host, "sshd", compute)


def sshd_value(host: Any, key: str) -> str | None:
    values = sshd(host).get(key.lower())
    return values[0] if values else None


def sysctl_all(host: Any) -> dict[str, str]:
    """Every live sysctl the kernel shows (one `sysctl -a`)."""
    return _cached(host, "sysctl-a", lambda: probes.parse_keyvalues(host.run("sysctl -a 2>/dev/null").stdout, "="))


def sysctl_live(host: Any, key: str) -> str | None:
    """A live sysctl value, None when the kernel does not show it."""
    return sysctl_all(host).get(key)


def sysctl_files(host: Any) -> str:
    """The sysctl.d files as systemd-sysctl reads them, in its order (empty when unreadable)."""
    rc, text, _ = run(host, "systemd-analyze cat-config sysctl.d")
    return text if rc == 0 else ""


def sysctl_persisted(host: Any) -> dict[str, str]:
    """Keys set by the sysctl.d files, in systemd-sysctl's order (last wins)."""
    return _cached(host, "sysctl.d", lambda: probes.sysctl_conf(sysctl_files(host)))


CRON_TABLES = "/etc/crontab /etc/anacrontab /etc/cron.d/* /var/spool/cron/crontabs/*"
"""cron's tables: each line is a job."""
BOOT_SCRIPTS = "/etc/rc.local /etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*"
"""Scripts that run when executable: rc.local (systemd's rc-local generator) and run-parts' folders."""


def sysctl_at_boot(host: Any) -> dict[str, list[tuple[str, str]]]:
    """Key -> [(unit or file, value)] written after boot by enabled service units, the services
    enabled timers trigger, rc.local and cron (`sysctl -w`, `echo > /proc/sys`): any of them makes
    a value differ from the persisted one sooner or later."""

    def compute() -> dict[str, list[tuple[str, str]]]:
        units = (
            "{ systemctl list-unit-files --type=service --state=enabled --no-legend --no-pager | cut -d' ' -f1; "
            "systemctl list-unit-files --type=timer --state=enabled --no-legend --no-pager | cut -d' ' -f1 "
            "| xargs -r systemctl show -P Triggers -- | tr ' ' '\\n'; } | sort -u "
            "| while read -r unit; do [ -n \"$unit\" ] && systemctl cat --no-pager -- \"$unit\" 2>/dev/null; done"
        )
        scripts = read_files(host, CRON_TABLES) | read_files(host, BOOT_SCRIPTS, executable=True)
        out: dict[str, list[tuple[str, str]]] = {}
        writes = probes.sysctl_unit_writes(host.run(units).stdout) + probes.sysctl_script_writes(scripts)
        for where, key, value in writes:
            out.setdefault(key, []).append((where, value))
        return out

    return _cached(host, "sysctl-boot", compute)


def read_files(host: Any, pattern: str, executable: bool = False) -> dict[str, str]:
    """Readable regular files matching a shell glob (only executable ones if asked): path -> text
    (the order is the caller's)."""

    def compute() -> dict[str, str]:
        runs = ' && [ -x "$f" ]' if executable else ""
        each = f'[ -f "$f" ] && [ -r "$f" ]{runs} && {{ printf "\\036%s\\n" "$f"; cat -- "$f"; }}'
        script = f"for f in {pattern}; do {each}; done"
        out = host.run(script).stdout
        return dict(chunk.partition("\n")[::2] for chunk in out.split(_SEP)[1:])

    return _cached(host, f"files:{executable}:{pattern}", compute)


def read_tree(host: Any, path: str) -> dict[str, str] | None:
    """A folder's files (path -> text) or the one file at `path`; None when it cannot be read."""
    if read(host, path) is not None:
        return {path: read(host, path) or ""}
    rc, _, _ = run(host, f"test -d '{path}' && test -r '{path}'")
    return read_files(host, f"'{path}'/*") if rc == 0 else None


def pam_reader(host: Any) -> Callable[[str], str | None]:
    """Reads the host's PAM files for the PAM parser (includes are followed through it)."""
    return lambda path: read(host, path)


AUTH_SERVICES = ("common-auth", "login", "sshd")
"""Auth stacks HT-AUTH-01 judges: the shared one and the services administrators log in with."""
PASSWORD_SERVICES = ("common-password", "passwd")
"""Password stacks HT-AUTH-02/03/06 judge: the shared one and the passwd command's."""


def pam_stacks(host: Any, kind: str, services: tuple[str, ...]) -> dict[str, list[_pam.PamRule]] | str:
    """The flattened `kind` stack of each service whose file exists (the first must exist), or
    why the stacks cannot be read (a missing include, a malformed line)."""
    reader = pam_reader(host)
    stacks: dict[str, list[_pam.PamRule]] = {}
    for i, service in enumerate(services):
        if i and reader(f"/etc/pam.d/{service}") is None:
            continue
        try:
            stacks[service] = _pam.pam_rules(service, kind, reader)
        except _pam.PamError as err:
            return f"PAM stack {service} cannot be read as PAM would: {err}"
    return stacks


@dataclass(frozen=True)
class SshdTree:
    """sshd_config and everything it includes, however deep, as sshd reads them."""

    texts: dict[str, str | None]
    """Path -> text (None: unreadable), sshd_config first."""
    folders: tuple[str, ...]
    """The folders `Include` patterns read from (their last component is the glob)."""


_SSHD_MAX_FILES = 256


def _glob_escaped(pattern: str) -> str:
    """`pattern` for the shell: every character literal except the glob's own `*`, `?`, `[`, `]`."""
    return "".join(c if c.isalnum() or c in "*?[]/._-" else "\\" + c for c in pattern)


def sshd_tree(host: Any) -> SshdTree:
    """Follow `Include` from /etc/ssh/sshd_config: globs are expanded on the host, in order."""

    def compute() -> SshdTree:
        texts: dict[str, str | None] = {}
        folders: list[str] = []
        queue = [f"{_sshd.SSHD_DIR}/sshd_config"]
        while queue and len(texts) < _SSHD_MAX_FILES:
            path = queue.pop(0)
            if path in texts:
                continue
            texts[path] = text = read(host, path)
            for pattern in _sshd.sshd_includes(text or ""):
                folder = posixpath.dirname(pattern)
                if not glob.has_magic(folder) and folder not in folders:
                    folders.append(folder)
                found = host.run(f'for f in {_glob_escaped(pattern)}; do [ -f "$f" ] && printf "%s\\n" "$f"; done')
                queue += found.stdout.splitlines()
        return SshdTree(texts, tuple(folders))

    return _cached(host, "sshd-tree", compute)


SSH_UNIT = "ssh.service"
"""Debian's unit of the OpenSSH server (roles/baseline's `_baseline_ssh_service`)."""


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def sshd_stale(host: Any) -> str | None:
    """Why the running sshd may not use what `sshd -T` reads from the files, or None.

    sshd reads its configuration when it starts (and on SIGHUP, `systemctl reload`): a file
    changed after that (a daemon restarted with a weaker file, then the file put back) means the
    daemon's values are not the files'.
    """

    def compute() -> str | None:
        files = list(sshd_tree(host).texts)
        show = run(host, f"systemctl show {SSH_UNIT} -p MainPID -p ExecMainStartTimestamp --timestamp=us+utc")[1]
        mtimes = host.run("stat -c '%%.9Y %%n' -- " + " ".join(["%s"] * len(files)), *files).stdout
        stale = _sshd.sshd_started_before(show, mtimes)
        if stale is None:
            return None
        path, changed, started = stale
        reloaded = host.run(f"journalctl -q -o cat -u {SSH_UNIT} --since @{changed:.6f} -g 'Received SIGHUP'")
        if reloaded.rc == 0 and reloaded.stdout.strip():
            return None
        return (
            f"{path} changed at {_iso(changed)}, after the running sshd started ({_iso(started)}) and with no "
            f"reload since: the daemon may use other values than its files (fix: systemctl restart ssh)"
        )

    return _cached(host, "sshd-stale", compute)


def sshd_connections(host: Any, facts: Any) -> dict[str, dict[str, list[str]]]:
    """`sshd -T -C <spec>` for each representative connection (`_sshd.sshd_match_specs`), so
    `Match` blocks are evaluated; raises when sshd cannot evaluate one."""

    def compute() -> dict[str, dict[str, list[str]]]:
        port = int((sshd(host).get("port") or ["22"])[0])
        passwd = read(host, "/etc/passwd")
        users = _sshd.sshd_match_users((t for t in sshd_tree(host).texts.values() if t), passwd)
        specs = _sshd.sshd_match_specs(passwd, facts.ssh_sources(), facts.mgmt_addresses, port, users)
        script = "; ".join(f"printf '\\036%s\\n' '{spec}'; sshd -T -C '{spec}' 2>&1; echo \"rc=$?\"" for spec in specs)
        out: dict[str, dict[str, list[str]]] = {}
        for chunk in host.run(script).stdout.split(_SEP)[1:]:
            spec, _, body = chunk.partition("\n")
            text, _, rc = body.rstrip("\n").rpartition("rc=")
            if rc.strip() != "0":
                raise RuntimeError(f"sshd -T -C {spec} failed (rc {rc.strip()}): {text.strip()[-300:]}")
            out[spec] = probes.parse_sshd_t(text)
        if set(out) != set(specs):
            raise RuntimeError(f"sshd -T -C answered {sorted(out)}, expected {specs}")
        return out

    return _cached(host, "sshd-connections", compute)


def sshd_sockets(host: Any) -> list[str] | str:
    """Live listening TCP sockets of sshd (or on its ports), or why they could not be read."""
    ports = [int(p) for p in sshd(host).get("port", ["22"]) if p.isdigit()]
    rc, stdout, stderr = run(host, "ss -Htlnp")
    if rc != 0:
        return f"ss -Htlnp failed (rc {rc}): {stderr.strip()}"
    return _sshd.ss_listen_addresses(stdout, ports)


def login_defs(host: Any) -> dict[str, str]:
    return probes.parse_keyvalues(read(host, "/etc/login.defs") or "")


def expect(check: Any, finding: _finding.Finding) -> None:
    """Record a parser's decision on the check; a failure lists every problem (what, where)."""
    observed = finding.observed
    if finding.problems:
        observed = {"found": finding.observed, "problems": list(finding.problems)}
    check.expect(observed, finding.expected, ok=finding.ok)
