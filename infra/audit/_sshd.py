"""sshd decisions of the host checks (HT-SSH-*): `sshd -T -C` per representative connection,
judged per connection, and the listening sockets."""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from infra.audit._finding import Finding, to_int

__all__ = [
    "FORWARDING_KEYS",
    "OUTSIDE_ADDRESSES",
    "SSHD_DIR",
    "Judge",
    "probes_within",
    "ss_listen_addresses",
    "sshd_all_equal",
    "sshd_equals",
    "sshd_files_finding",
    "sshd_forwarding_off",
    "sshd_includes",
    "sshd_listen_finding",
    "sshd_match_specs",
    "sshd_match_users",
    "sshd_over_specs",
    "sshd_range",
    "sshd_started_before",
    "sshd_subset",
]

OUTSIDE_ADDRESSES = ("192.0.2.77", "2001:db8::77")
"""Documentation addresses (RFC 5737, RFC 3849): a client from nowhere the site knows."""


def _human_user(passwd: str | None) -> str:
    for raw in (passwd or "").splitlines():
        fields = raw.split(":")
        login = len(fields) >= 7 and not fields[6].endswith(("nologin", "false"))
        if login and fields[2].isdigit() and 1000 <= int(fields[2]) < 60000:
            return fields[0]
    return "nobody"


def _sample_address(network: str) -> str:
    net = ipaddress.ip_network(network, strict=False)
    if net.num_addresses == 1:
        return str(net.network_address)
    return str(net.network_address + 1)


SSHD_DIR = "/etc/ssh"
"""Where sshd looks for an `Include` path that is not absolute (sshd_config(5))."""


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote: sshd -t refuses it; read the words as they are
        return line.split("#", 1)[0].split()


def _directives(text: str, keyword: str) -> list[list[str]]:
    """The arguments of every `keyword` line (case-insensitive, `Keyword=value` too), in order."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        head = line.split(None, 1)[0] if line else ""
        words = _words(line.replace("=", " ", 1) if "=" in head else line)
        if words and words[0].lower() == keyword:
            found.append(words[1:])
    return found


def sshd_includes(text: str) -> list[str]:
    """The paths (glob patterns) of every `Include` of one configuration file, made absolute as
    sshd makes them (relative to /etc/ssh), in order; an `Include` inside a `Match` block counts."""
    return [
        arg if arg.startswith("/") else posixpath.join(SSHD_DIR, arg)
        for args in _directives(text, "include")
        for arg in args
    ]


def sshd_match_users(texts: Iterable[str], passwd: str | None) -> list[str]:
    """Every account a `Match User` criterion can select: the names it writes out, and the
    accounts of /etc/passwd its wildcard patterns match (`!` negations select no one by name)."""
    accounts = [line.split(":", 1)[0] for line in (passwd or "").splitlines() if ":" in line]
    users: list[str] = []
    for text in texts:
        for args in _directives(text, "match"):
            pairs = zip(args[::2], args[1::2], strict=False)
            for criterion, value in pairs:
                if criterion.lower() != "user":
                    continue
                for pattern in value.split(","):
                    if not pattern or pattern.startswith("!"):
                        continue
                    if any(c in pattern for c in "*?"):
                        names = [a for a in accounts if fnmatch.fnmatchcase(a, pattern)]
                    else:
                        names = [pattern]
                    users += [n for n in names if n not in users]
    return users


def sshd_match_specs(
    passwd: str | None,
    ssh_sources: Sequence[str],
    mgmt_addresses: Sequence[str],
    port: int,
    match_users: Sequence[str] = (),
) -> list[str]:
    """`sshd -T -C` connection specs covering what `Match` blocks can select on.

    Users: root, one ordinary account (uid 1000..59999 with a login shell; `nobody` when none)
    and every account a `Match User` block names (`sshd_match_users`). Client addresses: one
    from every network allowed to reach SSH, plus a documentation address of each family that
    none of them covers. The local address is the host's management address of the same family
    (so `Match LocalAddress/LocalPort` blocks are evaluated too).
    """
    users = ["root", _human_user(passwd)]
    users += [u for u in match_users if u not in users and re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]*", u)]
    addresses: list[str] = []
    for network in ssh_sources:
        sample = _sample_address(network)
        if sample not in addresses:
            addresses.append(sample)
    for outside in OUTSIDE_ADDRESSES:
        if not probes_within(outside, ssh_sources):
            addresses.append(outside)
    specs = []
    for user in users:
        for address in addresses:
            version = ipaddress.ip_address(address).version
            local = next((a for a in mgmt_addresses if ipaddress.ip_address(a).version == version), None)
            spec = f"user={user},host={address},addr={address}"
            if local is not None:
                spec += f",laddr={local},lport={port}"
            specs.append(spec)
    return specs


Judge = Callable[[Mapping[str, list[str]]], tuple[Any, bool]]


def sshd_over_specs(configs: Mapping[str, Mapping[str, list[str]]], judge: Judge) -> tuple[Any, bool]:
    """Judge the effective config of every connection spec; ok only if every spec is.

    Returns (observed, ok): the observed value once when every spec agrees, else the value per
    spec (so the message names the connection that gets the non-compliant value).
    """
    if not configs:
        return "no connection evaluated", False
    results = {spec: judge(conf) for spec, conf in configs.items()}
    ok = all(r[1] for r in results.values())
    values = [r[0] for r in results.values()]
    if all(v == values[0] for v in values):
        return values[0], ok
    return {spec: r[0] for spec, r in results.items()}, ok


_SS_PROCESS = re.compile(r'\("([^"]+)"')


def ss_listen_addresses(output: str, ports: Sequence[int], process: str = "sshd") -> list[str]:
    """Local addresses (`addr:port`) of listening TCP sockets that belong to `process` or use
    one of `ports`, from `ss -Htlnp` (no header). `*`, `0.0.0.0` and `[::]` are kept as shown."""
    out: list[str] = []
    for line in output.splitlines():
        words = line.split()
        if len(words) < 4 or words[0] != "LISTEN":
            continue
        local = words[3]
        port_text = local.rpartition(":")[2]
        port = int(port_text) if port_text.isdigit() else -1
        owners = _SS_PROCESS.findall(line)
        if process in owners or any(o.startswith(process + "-") for o in owners) or port in ports:
            out.append(local)
    return sorted(set(out))


def _bare(address: str) -> str:
    """`10.0.0.5:22`, `[fd00::5]:22`, `[fe80::1]%eth0:22`, `*:22` -> the address alone."""
    host = address.rsplit(":", 1)[0]
    return re.sub(r"%[^\]]*", "", host).strip("[]")


def sshd_listen_finding(
    configured: Sequence[str], live: Sequence[str] | str, mgmt_addresses: Sequence[str], mgmt_networks: Sequence[str]
) -> Finding:
    """HT-SSH-13: sshd is configured to listen, and live listens, on management addresses only,
    and on each configured address (one it could not bind at start is left out without a word).

    `configured` are `sshd -T` listenaddress values; `live` the listening sockets of sshd (or why
    they could not be read). Wildcards (`0.0.0.0`, `::`, `*`) listen on every zone and fail.
    """
    problems: list[str] = []
    if isinstance(live, str):
        problems.append(live)
        live = []
    for label, addresses in (("configured", configured), ("listening", live)):
        if not addresses:
            problems.append(f"no {label} address found")
        for item in addresses:
            bare = _bare(item)
            if bare not in mgmt_addresses:
                problems.append(f"{label} on {item}: not a management address {sorted(mgmt_addresses)}")
            elif not probes_within(bare, mgmt_networks):
                problems.append(f"{label} on {item}: outside the management networks {sorted(mgmt_networks)}")
    listening = {_bare(item) for item in live}
    if listening and not listening & {"*", "0.0.0.0", "::"}:  # a wildcard has failed above
        problems += [
            f"configured on {item}, but sshd does not listen there (did it start before the address was up?)"
            for item in configured
            if _bare(item) not in listening
        ]
    return Finding(
        {"configured": sorted(configured), "listening": sorted(live)},
        {"configured": sorted(mgmt_addresses), "listening": sorted(mgmt_addresses)},
        not problems,
        tuple(problems),
    )


def probes_within(address: str, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        ip.version == ipaddress.ip_network(n, strict=False).version and ip in ipaddress.ip_network(n, strict=False)
        for n in networks
    )


def _first(conf: Mapping[str, list[str]], key: str) -> str | None:
    values = conf.get(key)
    return values[0].lower() if values else None


def sshd_equals(key: str, wanted: str, exact: bool = False) -> Judge:
    """Judge: `key` is `wanted` (case-insensitive unless `exact`, for paths)."""

    def judge(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
        values = conf.get(key)
        value = values[0] if values else None
        if not exact and value is not None:
            return value.lower(), value.lower() == wanted.lower()
        return value, value == wanted

    return judge


def sshd_all_equal(keys: Sequence[str], wanted: str) -> Judge:
    """Judge: every key in `keys` is `wanted`."""

    def judge(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
        observed = {k: _first(conf, k) for k in keys}
        return observed, all(v == wanted.lower() for v in observed.values())

    return judge


def sshd_subset(key: str, allowed: Sequence[str]) -> Judge:
    """Judge: the comma list `key` is not empty and uses only `allowed` algorithms."""

    def judge(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
        values = conf.get(key) or [""]
        observed = [v for v in values[0].split(",") if v]
        return observed, bool(observed) and set(observed) <= set(allowed)

    return judge


def sshd_range(limits: Mapping[str, int]) -> Judge:
    """Judge: every key is an integer in 1..limit."""

    def judge(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
        observed = {k: to_int(_first(conf, k)) for k in limits}
        return observed, all(v is not None and 0 < v <= limits[k] for k, v in observed.items())

    return judge


def _names_everyone(entries: Sequence[str], users: bool) -> bool:
    """Whether an AllowUsers/AllowGroups list admits any name: empty, or a pattern (`*`, `?`) that
    is not a plain name (`adm*` reads like a group but admits `admin-anyone` too)."""
    names = [entry.split("@")[0] if users else entry for entry in entries]
    return not names or any(set(name) & set("*?") for name in names)


def sshd_logins_limited(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
    """Judge: AllowGroups or AllowUsers names who may log in, with no pattern that admits anyone.
    sshd requires a login to pass both lists when both are set, so one plain list is enough."""
    observed = {key: [word for value in conf.get(key, []) for word in value.split()]
                for key in ("allowgroups", "allowusers")}  # fmt: skip
    ok = not _names_everyone(observed["allowgroups"], False) or not _names_everyone(observed["allowusers"], True)
    return observed, ok


FORWARDING_KEYS = ("x11forwarding", "allowagentforwarding", "allowtcpforwarding", "allowstreamlocalforwarding")
"""The forwardings `DisableForwarding yes` turns off all at once (sshd_config(5))."""


def sshd_forwarding_off(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
    """Judge: X11, agent, TCP and stream-local (Unix socket) forwarding are off (or
    DisableForwarding yes, which covers them), and no tunnel device (PermitTunnel no, which
    DisableForwarding does not cover)."""
    observed = {k: _first(conf, k) for k in (*FORWARDING_KEYS, "disableforwarding", "permittunnel")}
    forwarding_off = observed["disableforwarding"] == "yes" or all(observed[k] == "no" for k in FORWARDING_KEYS)
    return observed, forwarding_off and observed["permittunnel"] == "no"


def sshd_files_finding(
    stats: Mapping[str, Mapping[str, str] | str], included: Sequence[str], folders: Sequence[str], mode: int
) -> Finding:
    """HT-SSH-10: sshd_config is root:root with exactly `mode`; every file it includes (however
    deep) is owned by root with no permission beyond `mode`; every folder an `Include` reads
    from is owned by root and writable by no one else. `stats` maps each path to its owner,
    group and mode (`_host.stat`); a missing folder includes nothing and passes."""
    problems: list[str] = []
    main = stats.get(f"{SSHD_DIR}/sshd_config", "absent")
    wanted = {"user": "root", "group": "root", "mode": oct(mode)}
    if main != wanted:
        problems.append(f"{SSHD_DIR}/sshd_config is {main}, not {wanted}")
    for path in included:
        info = stats.get(path, "absent")
        if isinstance(info, str):
            continue  # the glob's file went away between listing and stat: nothing included
        if info["user"] != "root":
            problems.append(f"{path} (included) is owned by {info['user']}, not root")
        if int(info["mode"], 8) & ~mode & 0o7777:
            problems.append(f"{path} (included) has mode {info['mode']}, more than {oct(mode)}")
    for path in folders:
        info = stats.get(path, "absent")
        if isinstance(info, str):
            continue
        if info["user"] != "root":
            problems.append(f"{path} (an Include folder) is owned by {info['user']}, not root")
        if int(info["mode"], 8) & 0o022:
            problems.append(f"{path} (an Include folder) has mode {info['mode']}: others can add files sshd reads")
    return Finding(
        {path: stats.get(path, "absent") for path in (f"{SSHD_DIR}/sshd_config", *included, *folders)},
        {"sshd_config": wanted, "included": f"owner root, mode within {oct(mode)}",
         "folders": "owner root, not group/other-writable"},
        not problems,
        tuple(problems),
    )


def _systemd_time(value: str) -> float | None:
    """`Fri 2026-12-04 20:29:49.128101 UTC` (systemctl show --timestamp=us+utc) -> epoch seconds."""
    match = re.fullmatch(r"\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC", value.strip())
    if match is None:
        return None
    stamp = match.group(1)
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def sshd_started_before(show: str, mtimes: str) -> tuple[str, float, float] | None:
    """The newest configuration file when it changed after the running sshd started, as
    (path, its mtime, the daemon's start), else None.

    `show` is `systemctl show ssh.service -p MainPID -p ExecMainStartTimestamp --timestamp=us+utc`
    (no main process: sshd is socket-activated or stopped, and every connection reads the files);
    `mtimes` lines of `stat -c '%.9Y %n'`. A reload (SIGHUP) since is the caller's to look for.
    """
    fields = dict(line.partition("=")[::2] for line in show.splitlines() if "=" in line)
    started = _systemd_time(fields.get("ExecMainStartTimestamp", ""))
    if fields.get("MainPID", "0").strip() in ("", "0") or started is None:
        return None
    newest: tuple[str, float] | None = None
    for line in mtimes.splitlines():
        stamp, _, path = line.partition(" ")
        try:
            when = float(stamp)
        except ValueError:
            continue
        if newest is None or when > newest[1]:
            newest = (path, when)
    if newest is None or newest[1] <= started:
        return None
    return newest[0], newest[1], started
