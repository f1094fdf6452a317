"""sshd decisions of the host checks (HT-SSH-*): `sshd -T -C` per representative connection,
judged per connection, and the listening sockets."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infra.audit._finding import Finding, to_int

__all__ = [
    "OUTSIDE_ADDRESSES",
    "Judge",
    "probes_within",
    "ss_listen_addresses",
    "sshd_all_equal",
    "sshd_equals",
    "sshd_forwarding_off",
    "sshd_listen_finding",
    "sshd_match_specs",
    "sshd_over_specs",
    "sshd_range",
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


def sshd_match_specs(
    passwd: str | None, ssh_sources: Sequence[str], mgmt_addresses: Sequence[str], port: int
) -> list[str]:
    """`sshd -T -C` connection specs covering what `Match` blocks can select on.

    Users: root and one ordinary account (uid 1000..59999 with a login shell; `nobody` when
    none). Client addresses: one from every network allowed to reach SSH, plus a documentation
    address of each family that none of them covers. The local address is the host's management
    address of the same family (so `Match LocalAddress/LocalPort` blocks are evaluated too).
    """
    users = ["root", _human_user(passwd)]
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
    """HT-SSH-13: sshd is configured to listen, and live listens, on management addresses only.

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


def sshd_forwarding_off(conf: Mapping[str, list[str]]) -> tuple[Any, bool]:
    """Judge: X11, agent and TCP forwarding are off (or DisableForwarding yes)."""
    keys = ("x11forwarding", "allowagentforwarding", "allowtcpforwarding")
    observed = {k: _first(conf, k) for k in (*keys, "disableforwarding")}
    return observed, observed["disableforwarding"] == "yes" or all(observed[k] == "no" for k in keys)
