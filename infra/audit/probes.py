"""Parsers for what the host checks read: pure functions over command output and file text.

Kept out of the check files so that they are unit-tested without a host, and so that the checks
stay thin over testinfra's `host` fixture (a change of engine then stays cheap).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping

from infra.audit._nft import InputPath, evaluate_input

__all__ = [
    "AUDITD_LOW_SPACE_ACTIONS",
    "CORE_LIMIT_EVERY_LOGIN",
    "SUDO_EVERY_USER",
    "SUDO_LOGGING",
    "LogrotateInclude",
    "apt_config",
    "apt_interval_off",
    "apt_interval_on",
    "apt_uris",
    "auditd_log_actions",
    "banner_leaks",
    "bash_declared",
    "chrony_includes",
    "chrony_sources",
    "chronyc_activity",
    "chronyc_sources",
    "core_limits",
    "logrotate_create_mode",
    "logrotate_days",
    "logrotate_retention",
    "nft_input_path",
    "packet_socket_findings",
    "parse_keyvalues",
    "parse_sshd_t",
    "parse_timespan",
    "rsyslog_create_modes",
    "shell_umasks",
    "sudo_bound_weakenings",
    "sudo_defaults",
    "sudo_listings",
    "sysctl_boot_value",
    "sysctl_conf",
    "sysctl_script_writes",
    "sysctl_unit_writes",
    "systemd_exec",
    "umask_bits",
]


_OS_ESCAPES = ("\\s", "\\S", "\\r", "\\v", "\\m")
"""agetty's escapes that print the operating system: its name (\\s, \\S: os-release's PRETTY_NAME),
kernel release and version, architecture."""


def banner_leaks(text: str, os_release: str) -> list[str]:
    """What a login banner tells about the system before sign-in: agetty's OS escapes, and the
    system's name (os-release `ID`, as a word, any case)."""
    leaks = [escape for escape in _OS_ESCAPES if escape in text]
    os_id = parse_keyvalues(os_release, "=").get("ID", "").strip('"').lower()
    if os_id and re.search(rf"\b{re.escape(os_id)}\b", text, re.IGNORECASE):
        leaks.append(os_id)
    return leaks


def _sudo_section(lines: list[str], title: str) -> str:
    """The entries under `title…` in `sudo -l` output, up to the next blank line, joined."""
    start = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
    if start is None:
        return ""
    body = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        body.append(line.strip())
    return " ".join(body)


def _sudo_settings(text: str) -> list[tuple[str, bool, str]]:
    """`name`, negated, value of each comma-separated Defaults setting (`\\,` is no separator)."""
    out = []
    for item in re.split(r"(?<!\\),\s*", text):
        name, _, value = item.partition("=")
        out.append((name.lstrip("!").strip(), name.startswith("!"), value.strip().strip('"')))
    return out


SUDO_LOGGING = ("logfile", "use_pty", "log_allowed")
"""The settings that make sudo log every command it runs, on a pseudo-terminal."""


SUDO_DEFAULT_TIMESTAMP_TIMEOUT = 15.0
"""Minutes a sudo authentication lasts when sudoers does not say (sudo's built-in default)."""


def sudo_defaults(listing: str) -> dict[str, str | bool | float | None]:
    """`logfile`, `use_pty`, `log_allowed` and `timestamp_timeout` as sudo applies them, from
    `sudo -l -U USER`: its "Matching Defaults entries" are the files sudo really parsed (not
    sudoers.d names with a dot or ending in ~), in its order, so a later `!use_pty` or `!logfile`
    wins as it does in sudo. `log_allowed` is on unless negated (sudo's default);
    `timestamp_timeout` is in minutes (negative: never expires; `!timestamp_timeout`: 0, always
    ask; unset: sudo's default; a value sudo would refuse: None)."""
    found: dict[str, str | bool | float | None] = {
        "logfile": None, "use_pty": False, "log_allowed": True, "timestamp_timeout": SUDO_DEFAULT_TIMESTAMP_TIMEOUT,
    }  # fmt: skip
    body = _sudo_section(listing.splitlines(), "Matching Defaults entries for ")
    for key, negated, value in _sudo_settings(body) if body else []:
        if key == "logfile":
            found["logfile"] = None if negated else value or None
        elif key in ("use_pty", "log_allowed"):
            found[key] = not negated
        elif key == "timestamp_timeout":
            found[key] = 0.0 if negated else _minutes(value)
    return found


def _minutes(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


_SUDO_BOUND_SETTING = re.compile(
    r'(?<=[\s,])(!?)(logfile|use_pty|log_allowed|timestamp_timeout)(?:=("[^"]*"|[^\s,]*))?(?=[\s,]|$)'
)
"""A `SUDO_LOGGING` setting or the authentication timeout in a bound Defaults entry, whose commands
(aliases expanded, commas and spaces in them) come before its settings."""


def sudo_bound_weakenings(listing: str, max_timeout: float = SUDO_DEFAULT_TIMESTAMP_TIMEOUT) -> list[str]:
    """Defaults bound to a run-as user or a command (`Defaults>root !use_pty`, `Defaults!SHELLS
    !logfile`, `Defaults>root timestamp_timeout=-1`) that switch off or redirect what
    `SUDO_LOGGING` names, or make an authentication last longer than `max_timeout` minutes, from
    `sudo -l -U USER`'s "Runas and Command-specific defaults" (sudo prints them without separators)."""
    body = _sudo_section(listing.splitlines(), "Runas and Command-specific defaults for ")
    weakened = []
    for entry in re.split(r"\s*(?=\bDefaults[>!])", body):
        for found in _SUDO_BOUND_SETTING.finditer(entry):
            negated, key, value = found.groups()
            if key == "timestamp_timeout":
                minutes = 0.0 if negated else _minutes(value or "")
                weak = minutes is None or not 0 <= minutes <= max_timeout
            else:
                weak = bool(negated) or key == "logfile"
            if weak:
                binding = entry[: found.start()].strip().rstrip(",")
                weakened.append(f"{binding} {negated}{key}{'=' + value if value else ''}")
    return weakened


def sudo_listings(output: str) -> dict[str, tuple[int, str]]:
    """`=== USER` / `sudo -l -U USER` output / `=== rc N` blocks (`SUDO_EVERY_USER`), per user."""
    found: dict[str, tuple[int, str]] = {}
    for block in re.split(r"^=== user ", output, flags=re.M)[1:]:
        user, _, rest = block.partition("\n")
        listing, _, rc = rest.rpartition("=== rc ")
        found[user.strip()] = (int(rc.strip()) if rc.strip().isdigit() else -1, listing)
    return found


SUDO_EVERY_USER = (
    "getent passwd | cut -d: -f1 | while read -r u; do "
    "printf '=== user %s\\n' \"$u\"; sudo -l -U \"$u\" </dev/null 2>&1; printf '=== rc %s\\n' \"$?\"; done"
)
"""`sudo -l -U` for every account the name service knows (`sudo_listings`)."""


CORE_LIMIT_EVERY_LOGIN = (
    "getent passwd | while IFS=: read -r name _ uid _ _ _ shell; do "
    "case \"$shell\" in ''|*/nologin|*/false) [ \"$uid\" = 0 ] || continue ;; esac; "
    "printf '%s %s\\n' \"$name\" \"$(runuser -l \"$name\" -s /bin/sh -c 'ulimit -Hc' </dev/null 2>/dev/null "
    "|| echo failed)\"; done"
)
"""The hard core-file limit a login of each account with a shell (and root) gets, through PAM as
a login gets it (`runuser -l`: pam_limits with limits.conf and limits.d; `core_limits`)."""


def core_limits(output: str) -> dict[str, str]:
    """`name limit` lines of `CORE_LIMIT_EVERY_LOGIN`: account -> "0", "unlimited", "failed"..."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        name, _, limit = line.strip().partition(" ")
        if name:
            found[name] = limit.strip() or "failed"
    return found


def parse_keyvalues(
    text: str, separator: str | None = None, lower: bool = False, first_wins: bool = False
) -> dict[str, str]:
    """`key value` or `key=value` lines (comments and blanks skipped); last value wins by default."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if separator is None:
            key, _, value = line.partition(" ")
            if "\t" in key:
                key, _, rest = key.partition("\t")
                value = f"{rest} {value}".strip()
        else:
            key, sep, value = line.partition(separator)
            if not sep:
                continue
        key, value = key.strip(), value.strip()
        if lower:
            key = key.lower()
        if first_wins and key in out:
            continue
        out[key] = value
    return out


AUDITD_LOW_SPACE_ACTIONS = ("space_left_action", "admin_space_left_action", "disk_full_action")
"""auditd.conf actions taken when the log partition fills, each of which may be `rotate`
(auditd.conf(5)): deleting the oldest logs to make room."""


def auditd_log_actions(text: str) -> tuple[dict[str, str | None], list[str]]:
    """What auditd does with its logs: max_log_file_action (must be keep_logs) and the low-space
    actions (none may be rotate), as auditd reads auditd.conf (`key = value`, the last line of a
    key wins, values in any case). Returns (observed, problems)."""
    conf = parse_keyvalues(text, "=")
    observed = {k: (conf[k].lower() if k in conf else None) for k in ("max_log_file_action", *AUDITD_LOW_SPACE_ACTIONS)}
    problems = []
    if observed["max_log_file_action"] != "keep_logs":
        problems.append(f"max_log_file_action = {observed['max_log_file_action']}: full logs are not kept (keep_logs)")
    problems += [
        f"{key} = rotate: the oldest audit logs are deleted when space runs low"
        for key in AUDITD_LOW_SPACE_ACTIONS
        if observed[key] == "rotate"
    ]
    return observed, problems


_UMASK_COMMAND = re.compile(r"(?:^|[\s;&|(){}`])umask(?:\s+-S)?\s+([^\s;&|)}`]+)")
_WHO = {"u": 0o700, "g": 0o070, "o": 0o007, "a": 0o777}
_PERMS = {"r": 0o444, "w": 0o222, "x": 0o111}


def shell_umasks(text: str) -> list[str]:
    """The values of every `umask VALUE` command of a shell script (comments left out), in order.
    `umask` alone (which prints) sets nothing and is not listed."""
    values = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw)
        values += [m.strip("'\"") for m in _UMASK_COMMAND.findall(line)]
    return values


def umask_bits(value: str) -> int | None:
    """The mask a umask value sets: octal (`027`, `0022`) or absolute symbolic (`u=rwx,g=rx,o=`,
    the permissions it allows); None when it cannot be known alone (`g+w` is relative to the
    mask before it) or is not a umask at all."""
    if re.fullmatch(r"[0-7]{1,4}", value):
        return int(value, 8) & 0o777
    allowed = 0o777
    for clause in value.split(","):
        match = re.fullmatch(r"([ugoa]*)=([rwx]*)", clause)
        if match is None:
            return None
        who = 0
        for letter in match.group(1) or "a":
            who |= _WHO[letter]
        perms = 0
        for letter in match.group(2):
            perms |= _PERMS[letter]
        allowed = (allowed & ~who) | (perms & who)
    return ~allowed & 0o777


def bash_declared(text: str, name: str) -> tuple[str, str] | None:
    """(value, attribute flags) of `name` from bash's `declare -p NAME` output
    (`declare -rx TMOUT="600"`: ("600", "rx")), None when it is not set."""
    match = re.search(rf'^declare -([a-zA-Z-]+) {re.escape(name)}(?:="((?:[^"\\]|\\.)*)")?\s*$', text, re.M)
    if match is None:
        return None
    return match.group(2) or "", match.group(1).replace("-", "")


def sysctl_conf(text: str) -> dict[str, str]:
    """The explicit keys sysctl.d files set, as systemd-sysctl reads them (sysctl.d(5)): `#` and
    `;` comments, `/` or `.` separators, the last assignment of a key wins, and a `-` before the
    key only means "ignore a failure": the value is applied all the same. A bare `-key` (no `=`)
    excludes that key from globs and sets nothing; glob keys never override an explicit one, so
    they are left out here."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        key = key.strip().removeprefix("-").strip().replace("/", ".")
        if not sep or not key or any(c in key for c in "*?["):
            continue
        out.pop(key, None)  # keep the order of the last assignment
        out[key] = value.strip()
    return out


def sysctl_boot_value(text: str, key: str) -> str | None:
    """The value systemd-sysctl gives `key` at boot from the sysctl.d files (`text`, in its
    order): the last explicit assignment, else the last glob that matches it (`net.ipv6.conf.*.x`
    reaches every interface; a bare `-key` keeps globs off it); None when no file sets it."""
    explicit: str | None = None
    globbed: str | None = None
    excluded = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        bare_minus = name.startswith("-") and not sep
        name = name.removeprefix("-").strip().replace("/", ".")
        if bare_minus and name == key:
            excluded = True
        elif sep and name == key:
            explicit = value.strip()
        elif sep and any(c in name for c in "*?[") and fnmatch.fnmatchcase(key, name):
            globbed = value.strip()
    return explicit if explicit is not None else (None if excluded else globbed)


_PROC_SYS_WRITE = re.compile(r"echo\s+(?:-n\s+)?['\"]?([^'\"\s>]+)['\"]?\s*>>?\s*/proc/sys/(\S+?)['\";]*(?:\s|$)")


def _sysctl_writes(command: str) -> list[tuple[str, str]]:
    """(key, value) a command writes: `sysctl [-w] key=value`, `echo value > /proc/sys/...`."""
    found: list[tuple[str, str]] = []
    words = command.replace(";", " ").split()
    names = [w.lstrip("-@:+!").rsplit("/", 1)[-1] for w in words]
    if "sysctl" in names:
        for word in words[names.index("sysctl") + 1 :]:
            key, sep, value = word.strip("'\"").partition("=")
            if sep and key and not key.startswith("-"):
                found.append((key.replace("/", "."), value))
    for value, path in _PROC_SYS_WRITE.findall(command):
        found.append((path.replace("/", "."), value))
    return found


def sysctl_unit_writes(units: str) -> list[tuple[str, str, str]]:
    """(unit, key, value) for every sysctl a unit's Exec lines write at boot: `sysctl [-w] key=value`
    and `echo value > /proc/sys/...` (through a shell too), from `systemctl cat` of the units
    (each begins with its `# /path/to/unit` line)."""
    found: list[tuple[str, str, str]] = []
    unit = "?"
    for raw in units.splitlines():
        line = raw.strip()
        if line.startswith("# /"):
            unit = line[2:]
            continue
        if re.match(r"Exec\w*\s*=", line):
            found.extend((unit, key, value) for key, value in _sysctl_writes(line.partition("=")[2]))
    return found


def sysctl_script_writes(scripts: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(path, key, value) for every sysctl a script or crontab line writes (comments skipped)."""
    return [
        (path, key, value)
        for path, text in scripts.items()
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for key, value in _sysctl_writes(line)
    ]


def parse_sshd_t(text: str) -> dict[str, list[str]]:
    """`sshd -T` output: lower-case keyword -> every value it printed (ListenAddress repeats)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            out.setdefault(key.lower(), []).append(value.strip())
    return out


_SPAN_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "month": 2630016, "months": 2630016, "M": 2630016,
    "y": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
"""systemd.time(7) units; a month is 30.44 days and a year 365.25 days."""


def parse_timespan(value: str) -> float | None:
    """A systemd time span ("1year", "12month 5d", "3600") in seconds; None when malformed."""
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)", value)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)|\s+", "", value):
        return None
    for number, unit in parts:
        if unit not in _SPAN_UNITS:
            return None
        total += float(number) * _SPAN_UNITS[unit]
    return total


def chrony_sources(text: str) -> list[str]:
    """Addresses of `server`, `pool` and `peer` directives in chrony configuration text."""
    out = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in {"server", "pool", "peer"}:
            out.append(words[1])
    return out


_CHRONY_INCLUDES = {"include": "{}", "confdir": "{}/*.conf", "sourcedir": "{}/*.sources"}


def chrony_includes(text: str) -> list[str]:
    """The file globs chrony configuration text makes chronyd read too: `include PATTERN`,
    `confdir DIR...` (its *.conf) and `sourcedir DIR...` (its *.sources), in order."""
    out: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in _CHRONY_INCLUDES:
            args = words[1:2] if words[0] == "include" else words[1:]
            out.extend(_CHRONY_INCLUDES[words[0]].format(arg.rstrip("/") or "/") for arg in args)
    return out


_CHRONYC_SOURCE = re.compile(r"^[\^=#][*+\-?x~]\s+(\S+)\s")


_CHRONYC_ACTIVITY = re.compile(r"^(\d+) sources? (.+)$")


def chronyc_activity(output: str) -> dict[str, int]:
    """`chronyc activity` as {"online": n, "offline": n, "unknown address": n}: a source in a burst
    counts as what it returns to."""
    counts = {"online": 0, "offline": 0, "unknown address": 0}
    for line in output.splitlines():
        found = _CHRONYC_ACTIVITY.match(line.strip())
        if not found:
            continue
        state = found[2]
        key = "unknown address" if "unknown address" in state else "offline" if "offline" in state else "online"
        counts[key] += int(found[1])
    return counts


def chronyc_sources(output: str) -> list[str]:
    """Addresses of the sources the running chronyd uses, from `chronyc -n sources`; IP addresses
    in their canonical form (IPv6 compressed)."""
    out = []
    for line in output.splitlines():
        found = _CHRONYC_SOURCE.match(line)
        if found:
            try:
                out.append(str(ipaddress.ip_address(found.group(1))))
            except ValueError:
                out.append(found.group(1))
    return out


_PERIOD_DAYS = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}
_LOGROTATE_SCRIPTS = frozenset({"postrotate", "prerotate", "firstaction", "lastaction", "preremove"})
_LOGROTATE_TABOO = (
    ",v", ".cfsaved", ".disabled", ".dpkg-bak", ".dpkg-del", ".dpkg-dist", ".dpkg-new", ".dpkg-old",
    ".dpkg-tmp", ".rpmnew", ".rpmorig", ".rpmsave", ".swp", ".ucf-dist", ".ucf-new", ".ucf-old", "~",
)  # fmt: skip
"""logrotate's default tabooext: files of an included folder it skips."""

LogrotateInclude = Callable[[str], Mapping[str, str] | None]
"""Reads an `include` target: {file path: text} (a folder's files, or the one file), None if absent."""


def _logrotate_lines(text: str, include: LogrotateInclude | None, depth: int = 0) -> Iterator[str]:
    """Logical lines with `include` expanded in place and script bodies dropped."""
    in_script = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if in_script:
            in_script = line != "endscript"
            continue
        if not line:
            continue
        words = line.split()
        if words[0] in _LOGROTATE_SCRIPTS:
            in_script = True
            continue
        if words[0] == "include" and len(words) > 1:
            files = include(words[1].strip('"')) if include is not None and depth < 8 else None
            if files is None:
                yield f"include-unreadable {words[1]}"
                continue
            for name in sorted(files):
                if not name.endswith(_LOGROTATE_TABOO):
                    yield from _logrotate_lines(files[name], include, depth + 1)
            continue
        # braces can share a line with names or directives: make each its own line
        yield from (part.strip() for part in re.split(r"([{}])", line) if part.strip())


def _logrotate_stanza(
    text: str, path: str, include: LogrotateInclude | None
) -> tuple[dict[str, str] | None, list[str]]:
    """The settings of the first stanza naming `path` (its own over the defaults before it), and
    the includes that could not be read."""
    defaults: dict[str, str] = {}
    current: dict[str, str] | None = None
    names: list[str] = []
    found: dict[str, str] | None = None
    unreadable: list[str] = []
    for line in _logrotate_lines(text, include):
        words = line.split()
        if words[0] == "include-unreadable":
            unreadable.append(words[1])
            continue
        if line == "{":
            current = dict(defaults)
            continue
        if line == "}":
            if current is not None and found is None and any(fnmatch.fnmatchcase(path, n) for n in names):
                found = current
            current, names = None, []
            continue
        if current is None and words[0].startswith(("/", '"', "*", "~")):
            names += [w.strip('"') for w in words]
            continue
        target = current if current is not None else defaults
        if words[0] in _PERIOD_DAYS:
            target["criterion"] = words[0]
        elif words[0] == "size" and len(words) > 1:
            target["criterion"] = "size"
        elif words[0] in {"rotate", "maxage", "maxsize"} and len(words) > 1:
            target[words[0]] = words[1]
        elif words[0] == "create":  # create [mode] [owner [group]]: no mode keeps the rotated file's
            target["create"] = words[1] if len(words) > 1 and words[1].isdigit() else "same"
        elif words[0] == "nocreate":
            target.pop("create", None)
    return found, unreadable


def logrotate_create_mode(text: str, path: str, include: LogrotateInclude | None = None) -> tuple[int | None, str]:
    """The mode logrotate gives the new `path` after a rotation (`create MODE`), and how that was
    worked out; None when it sets none (no stanza, no `create`, `nocreate`, `create` without a
    mode) or cannot tell (an unreadable include: the text says so)."""
    found, unreadable = _logrotate_stanza(text, path, include)
    if unreadable:
        return None, f"include {', '.join(unreadable)} cannot be read"
    create = (found or {}).get("create")
    if create is None or create == "same":
        return None, "no mode of its own" if found is not None else f"no logrotate stanza names {path}"
    try:
        return int(create, 8), f"create {create}"
    except ValueError:
        return None, f"malformed create mode {create!r}"


_RSYSLOG_CREATE_MODE = re.compile(r'^\s*\$FileCreateMode\s+(\S+)|\bfileCreateMode\s*=\s*"([^"]*)"', re.I | re.M)


def rsyslog_create_modes(text: str) -> list[str]:
    """Every file creation mode rsyslog configuration text sets (`$FileCreateMode`, and
    `fileCreateMode="…"` of omfile's module or actions), in order; comments left out."""
    kept = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return [legacy or script for legacy, script in _RSYSLOG_CREATE_MODE.findall(kept)]


def logrotate_retention(text: str, path: str, include: LogrotateInclude | None = None) -> tuple[float | None, str]:
    """Days of history logrotate keeps for `path`, and how that was worked out.

    Read as logrotate reads it: directives before a stanza are the defaults for the stanzas after
    them (also across included files, which are spliced in place, folders in name order without
    logrotate's taboo extensions); a stanza's own directives override them; the first stanza
    whose names (globs allowed) match `path` is the one that applies (logrotate refuses a
    duplicate). History = rotate x period, cut to maxage when that is shorter (maxage deletes
    rotated files older than it); `rotate 0` keeps nothing; `rotate -1` keeps every file (then
    only maxage limits). Fails closed (None): no stanza, no period (logrotate's built-in
    criterion is size), `size`-only rotation (the last of size/period wins, as in logrotate),
    or `maxsize` (it rotates before the period is up), and an `include` that cannot be read.
    """
    found, unreadable = _logrotate_stanza(text, path, include)
    if unreadable:
        return None, f"include {', '.join(unreadable)} cannot be read"
    if found is None:
        return None, f"no logrotate stanza names {path}"
    criterion = found.get("criterion")
    if criterion is None:
        return None, f"{path}: no rotation period (daily/weekly/monthly/yearly), history unknown"
    if criterion == "size":
        return None, f"{path}: rotated by size only, history unknown"
    if "maxsize" in found:
        return None, f"{path}: maxsize {found['maxsize']} may rotate before the {criterion} period, history unknown"
    rotate_text = found.get("rotate", "0")
    if not re.fullmatch(r"-?\d+", rotate_text):
        return None, f"{path}: malformed rotate {rotate_text!r}"
    rotate = int(rotate_text)
    days = math.inf if rotate < 0 else rotate * _PERIOD_DAYS[criterion]
    how = f"rotate {rotate_text} x {criterion}"
    maxage = found.get("maxage")
    if maxage is not None:
        if not maxage.isdigit():
            return None, f"{path}: malformed maxage {maxage!r}"
        if int(maxage) < days:
            days, how = int(maxage), f"maxage {maxage} (shorter than {how})"
    return days, how


def logrotate_days(text: str, path: str, include: LogrotateInclude | None = None) -> float | None:
    """Days of history logrotate keeps for `path` (see `logrotate_retention`); None: unknown."""
    return logrotate_retention(text, path, include)[0]


_APT_CONFIG_LINE = re.compile(r'^(\S+?)(::)? "(.*)";$')


def apt_config(dump: str) -> dict[str, list[str]]:
    """`apt-config dump` as APT merged it: key -> its values (a list key's `::` entries in order,
    a scalar's one value); empty values (list heads) are left out."""
    out: dict[str, list[str]] = {}
    for line in dump.splitlines():
        found = _APT_CONFIG_LINE.match(line.strip())
        if found and found.group(3):
            out.setdefault(found.group(1), []).append(found.group(3))
    return out


_APT_INTERVAL = re.compile(r"^(\d+)[smhd]?$")


def apt_interval_on(value: str | None) -> bool:
    """Whether an APT::Periodic interval runs the job: a number of days (or with a unit, s/m/h/d)
    of at least 1, or `always`; unset, 0 and anything APT would not read as an interval do not."""
    if value is None:
        return False
    found = _APT_INTERVAL.match(value.strip())
    return value.strip() == "always" or (found is not None and int(found.group(1)) >= 1)


def apt_interval_off(value: str | None) -> bool:
    """Whether APT::Periodic::Enable switches every periodic job off (unset means on)."""
    return value is not None and value.strip().lower() in {"0", "false", "no", "off", "without", "disable"}


def apt_uris(text: str) -> list[str]:
    """Archive URIs from one-line `.list` text and deb822 `.sources` text."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("deb ", "deb-src ")):
            words = re.sub(r"\[[^\]]*\]", " ", line).split()
            if len(words) > 1:
                out.append(words[1])
        elif line.lower().startswith("uris:"):
            out.extend(line.split(":", 1)[1].split())
    return out


# --------------------------------------------------------------------------- nftables


def nft_input_path(ruleset_json: str) -> InputPath:
    """From `nft -j list ruleset`: what the input hook admits, evaluated as nftables does (every
    input base chain, rule order, jumps, sets, verdict maps; fail closed on what is not understood).
    The HT-FW checks compare it with the site's flows (`infra.audit._fwcheck`)."""
    return evaluate_input(ruleset_json)


def packet_socket_findings(output: str, allowed: Collection[str]) -> list[str]:
    """Packet sockets held by a program outside `allowed` (absolute paths of executables), or by an
    allowed path whose file is not the one its Debian package installed, from lines
    `<executable>\t<state>\t<ss -0 -p line>` (`-` for a socket no visible process holds). A packet
    socket reads frames before the firewall sees them: only the platform's link-layer daemons may
    hold one."""
    out: list[str] = []
    for line in output.splitlines():
        program, state, socket = [*line.split("\t", 2), "", ""][:3]
        if not socket or (program in allowed and state == "packaged"):
            continue
        described = " ".join(socket.split()[:5])
        if program == "-":
            out.append(f"{described} (no visible process)")
        else:
            out.append(f"{program} ({state}): {described}")
    return sorted(set(out))


_SYSTEMD_EXEC = re.compile(r"\{ path=[^;]* ; argv\[\]=(.*?) ; ignore_errors=(yes|no) ;")


def systemd_exec(value: str) -> list[tuple[list[str], bool]]:
    """The commands of an `Exec*=` property as `systemctl show` prints it: (argv, errors ignored)."""
    return [(argv.split(), ignored == "yes") for argv, ignored in _SYSTEMD_EXEC.findall(value)]
