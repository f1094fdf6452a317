"""The host firewall checks (HT-FW-01/03/04/05) as pure functions: what the evaluated input path
(`infra.audit._nft`) admits, compared with what the site's flows allow into the host's zones."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.audit._facts import AllowedFlow
from infra.audit._nft import Admitted, InputPath
from infra.audit._nftspace import Cube, Ints, Names, cube, describe, meet, minus_all
from infra.hostnet import attachments
from infra.site import Site

__all__ = [
    "ZoneIfaces",
    "default_drop",
    "flow_findings",
    "listening_findings",
    "parse_ss",
    "ssh_sources",
    "zones_of_host",
]

_PROTOCOLS = {"tcp": (6,), "udp": (17,), "icmp": (1, 58), "vrrp": (112,)}
"""What the firewall renders for a flow's protocol (icmp: `meta l4proto { icmp, ipv6-icmp }`)."""
_ND = frozenset({"nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit", "nd-router-advert"})
_NOT_ESTABLISHED = Names(True, frozenset({"new", "untracked", "invalid"}))
_HOUSEKEEPING: tuple[Cube, ...] = (
    Cube((("ct.state", Names(True, frozenset({"established", "related"}))),)),
    Cube((("iif", Names(True, frozenset({"lo"}))),)),
    Cube(
        (
            ("nfproto", Ints(((6, 6),))),
            ("l4proto", Ints(((58, 58),))),
            ("icmpv6.type", Names(True, _ND)),
            ("ip6.hoplimit", Names(True, frozenset({"255"}))),
        )
    ),
)
"""What the firewall design accepts without a flow: established/related traffic, loopback, and
IPv6 neighbour discovery from on-link neighbours (hop limit 255)."""


@dataclass(frozen=True)
class ZoneIfaces:
    """One zone the host has an address in: where its packets arrive and its networks."""

    zone: str
    interfaces: tuple[str, ...]
    networks: tuple[str, ...]


def zones_of_host(site: Site, name: str) -> dict[str, ZoneIfaces]:
    """The zones `name` has addresses in, from the site model (hostnet's derivation)."""
    host = next(h for h in site.hosts if h.name == name)
    out = {}
    for a in attachments(site, host):
        if a.ipv4 is None or a.ipv6 is None:
            continue  # a bridge only: no address of the host listens there
        out[a.zone] = ZoneIfaces(a.zone, a.interfaces, (str(a.ipv4.network), str(a.ipv6.network)))
    return out


def _prefix_cube(prefix: str) -> tuple[int, Ints]:
    net = ipaddress.ip_network(prefix, strict=False)
    return net.version, Ints(((int(net.network_address), int(net.broadcast_address)),))


def flow_cubes(flow: AllowedFlow, zones: Mapping[str, ZoneIfaces] | None) -> list[Cube]:
    """The packets one flow allows into the host, in both address families."""
    out = []
    protos = _PROTOCOLS.get(flow.protocol)
    for source in flow.sources:
        version, addresses = _prefix_cube(source)
        values: dict[str, Any] = {"nfproto": Ints(((version, version),)), f"saddr{version}": addresses}
        if protos is not None:
            values["l4proto"] = Ints.of((p, p) for p in protos)
        if flow.ports:
            values["dport"] = Ints.of(flow.ports)
        if zones is not None:
            values["iif"] = Names(True, frozenset(zones[flow.zone].interfaces) if flow.zone in zones else frozenset())
        c = cube(values)
        if c is not None:
            out.append(c)
    return out


def _label(piece: Admitted) -> str:
    return " then ".join(str(r) for r in piece.refs)


def _summary(cubes: Sequence[Cube]) -> str:
    more = f" [1 of {len(cubes)} packet sets shown]" if len(cubes) > 1 else ""
    return describe(cubes[0]) + more


# --------------------------------------------------------------------------- HT-FW-01


def default_drop(path: InputPath) -> tuple[dict[str, Any], bool]:
    """Every input base chain drops by default, both families are filtered, and no rule of a
    base chain accepts unconditionally (a default accept in disguise)."""
    chains = [b for b in path.chains if b.hook == "input" and b.family in {"ip", "ip6", "inet"}]
    observed: dict[str, Any] = {
        "input_chains": {b.name: f"type {b.type} priority {b.priority} policy {b.policy}" for b in chains},
    }
    families = {f for b in chains if b.type == "filter" and b.policy == "drop" for f in _families(b.family)}
    base_names = {b.name for b in chains}
    unconditional = sorted(
        {
            str(r)
            for a in path.admitted
            for r in a.refs
            if r.unconditional and r.handle is not None and r.chain in base_names
        }
    )
    observed["accepts_everything"] = unconditional
    observed["families_dropped_by_default"] = sorted(f"ipv{f}" for f in families)
    ok = bool(chains) and all(b.policy == "drop" for b in chains) and families == {4, 6} and not unconditional
    return observed, ok


def _families(family: str) -> tuple[int, ...]:
    return {"ip": (4,), "ip6": (6,), "inet": (4, 6)}.get(family, ())


# --------------------------------------------------------------------------- HT-FW-03


def ssh_sources(path: InputPath, port: int = 22) -> dict[str, list[str]]:
    """Sources from which a new tcp/`port` connection is admitted (outside loopback), per family,
    and the rules that admit them."""
    query = Cube(
        (
            ("iif", Names(False, frozenset({"lo"}))),
            ("l4proto", Ints(((6, 6),))),
            ("dport", Ints(((port, port),))),
            ("ct.state", _NOT_ESTABLISHED),
        )
    )
    spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    refs: set[str] = set()
    for piece in path.admitted:
        hit = meet(piece.packets, query)
        if hit is None:
            continue
        refs.add(_label(piece))
        nfproto = hit.get("nfproto")
        for version in (4, 6):
            if isinstance(nfproto, Ints) and Ints(((version, version),)) & nfproto:
                value = hit.get(f"saddr{version}")
                assert isinstance(value, Ints)
                spans[version].extend(value.spans)
    out: dict[str, list[str]] = {}
    for version in (4, 6):
        cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        out[f"ipv{version}"] = [
            str(n)
            for lo, hi in Ints.of(spans[version]).spans
            for n in ipaddress.summarize_address_range(cls(lo), cls(hi))
        ]
    out["rules"] = sorted(refs)
    return out


# --------------------------------------------------------------------------- HT-FW-05


def flow_findings(
    path: InputPath, flows: Iterable[AllowedFlow], zones: Mapping[str, ZoneIfaces] | None
) -> dict[str, list[str]]:
    """What each accept admits beyond the flows, accepts that name no flow, flows not admitted."""
    by_name: dict[str, list[Cube]] = {}
    for flow in flows:
        by_name.setdefault(flow.name, []).extend(flow_cubes(flow, zones))
    allowed = [*_HOUSEKEEPING, *(c for cubes in by_name.values() for c in cubes)]
    pieces: dict[str, list[Cube]] = {}
    beyond: dict[str, list[Cube]] = {}
    other_flow: dict[str, list[Cube]] = {}
    unnamed: dict[str, list[Cube]] = {}
    names: dict[str, list[str]] = {}
    for piece in path.admitted:
        named = [str(r.comment) for r in piece.refs if r.handle is not None and r.comment in by_name]
        own = [*_HOUSEKEEPING, *(c for n in named for c in by_name[n])]
        excess = minus_all([piece.packets], own)
        if not excess:
            continue
        label = _label(piece)
        pieces.setdefault(label, []).append(piece.packets)
        names[label] = named
        outside = minus_all(excess, allowed)
        if outside:
            beyond.setdefault(label, []).extend(outside)
        elif named:
            other_flow.setdefault(label, []).extend(excess)
        else:
            unnamed.setdefault(label, []).extend(excess)
    accepted = [a.packets for a in path.admitted]
    missing = []
    for name, cubes in sorted(by_name.items()):
        new = [m for c in cubes if (m := meet(c, Cube((("ct.state", Names(True, frozenset({"new"}))),)))) is not None]
        left = minus_all(new, accepted)
        if left:
            missing.append(f"{name}: not admitted: {_summary(left)}")
    return {
        "accepts_beyond_flows": [_beyond(k, _summary(pieces[k]), _summary(v)) for k, v in sorted(beyond.items())],
        "accepts_of_another_flow": [
            f"{k} admits {_summary(pieces[k])}; flow {', '.join(names[k])} does not allow {_summary(v)}"
            for k, v in sorted(other_flow.items())
        ],
        "accepts_without_flow_name": [
            f"{k} admits {_summary(pieces[k])}, which flows allow, but its comment names no flow"
            for k in sorted(unnamed)
        ],
        "flows_not_admitted": missing,
        "not_understood": list(path.problems),
    }


def _beyond(label: str, admits: str, outside: str) -> str:
    if admits == outside:
        return f"{label} admits {admits}, which no flow allows"
    return f"{label} admits {admits}; no flow allows {outside}"


# --------------------------------------------------------------------------- HT-FW-04


def parse_ss(text: str) -> list[tuple[str, str, int, str | None]]:
    """(protocol, address, port, bound device) of each socket in `ss -Htlnu` output."""
    out = set()
    for line in text.splitlines():
        words = line.split()
        if len(words) < 5:
            continue
        address, _, port = words[4].rpartition(":")
        device = None
        address = address.replace("[", "").replace("]", "")
        if "%" in address:
            address, device = address.split("%", 1)
        if address.startswith("::ffff:") and "." in address:
            address = address.removeprefix("::ffff:")
        if port.isdigit():
            out.add((words[0], address, int(port), device))
    return sorted(out, key=lambda s: (s[0], s[1], s[2], s[3] or ""))


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _zone_of(address: str, zones: Mapping[str, ZoneIfaces]) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    for z in zones.values():
        if any(ip in ipaddress.ip_network(n) for n in z.networks if ipaddress.ip_network(n).version == ip.version):
            return z.zone
    return None


def listening_findings(
    sockets: Iterable[tuple[str, str, int, str | None]],
    flows: Sequence[AllowedFlow],
    zones: Mapping[str, ZoneIfaces],
    path: InputPath,
) -> list[str]:
    """Sockets (outside loopback) that no flow allows where they listen.

    A socket bound to an address (or device) of a zone needs a flow into that zone for its
    port. A socket on every address (0.0.0.0, ::, *) or on an address of no zone is reachable
    wherever the firewall admits its port: each zone (or other interface) the firewall admits
    it on needs a flow allowing the port into that zone.
    """
    out = []
    known_ifaces = {i for z in zones.values() for i in z.interfaces}
    for proto, address, port, device in sockets:
        if _loopback(address) or device == "lo":
            continue
        label = f"{proto}/{port} on {address}" + (f"%{device}" if device else "")
        allowed = sorted({f.zone for f in flows if f.allows_port(proto, port)})
        if not allowed:
            out.append(f"{label}: no flow allows {proto}/{port} into this host")
            continue
        if device is not None:
            zone = next((z.zone for z in zones.values() if device in z.interfaces), None)
        elif address in {"0.0.0.0", "::", "*"}:
            zone = None
        else:
            zone = _zone_of(address, zones)
        if zone is not None:
            if zone not in allowed:
                out.append(
                    f"{label}: listens in zone {zone}; flows allow {proto}/{port} only into {', '.join(allowed)}"
                )
            continue
        reached = _reached(path, proto, port)
        exposed = [
            z.zone for z in zones.values() if z.zone not in allowed and reached & Names(True, frozenset(z.interfaces))
        ]
        foreign = reached & Names(False, frozenset(known_ifaces | {"lo"}))
        where = [f"zone {z}" for z in exposed] + ([f"interfaces {_names(foreign)}"] if foreign else [])
        if where:
            out.append(
                f"{label}: listens on every address and the firewall admits {proto}/{port} from "
                f"{', '.join(where)}; flows allow it only into {', '.join(allowed)}"
            )
    return out


def _reached(path: InputPath, proto: str, port: int) -> Names:
    """The interfaces on which the firewall admits new packets to `proto`/`port`."""
    number = _PROTOCOLS.get(proto, (-1,))[0]
    query = Cube(
        (("l4proto", Ints(((number, number),))), ("dport", Ints(((port, port),))), ("ct.state", _NOT_ESTABLISHED))
    )
    reached = Names(True, frozenset())
    for piece in path.admitted:
        hit = meet(piece.packets, query)
        if hit is not None:
            iif = hit.get("iif")
            assert isinstance(iif, Names)
            reached = _union(reached, iif)
    return reached


def _union(a: Names, b: Names) -> Names:
    if a.include and b.include:
        return Names(True, a.items | b.items)
    if a.include:
        return Names(False, b.items - a.items)
    if b.include:
        return Names(False, a.items - b.items)
    return Names(False, a.items & b.items)


def _names(value: Names) -> str:
    items = ", ".join(sorted(value.items))
    return items if value.include else f"any except {items}"
