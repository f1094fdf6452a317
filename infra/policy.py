"""The segmentation policy as a query: what may cross between zones.

The firewall role, the Pulumi security groups and the audit all ask this one object, so the
three renderings cannot disagree about an allowed flow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from infra.schema import ENDPOINT_ANY, ENDPOINT_TENANTS, Flow
from infra.site import Site

__all__ = [
    "ADMIN_PORTS",
    "IP_PROTOCOLS",
    "PORT_PROTOCOLS",
    "FlowPolicy",
    "PortRange",
    "admin_openings",
    "admin_ports_opened",
    "ip_protocol",
    "port_ranges",
    "reaches_world",
    "remote_networks",
    "rule_ports",
    "rule_protocol",
    "world_cover",
    "world_families",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ADMIN_PORTS: dict[int, str] = {
    22: "ssh",
    3389: "rdp",
    3306: "mysql",
    5432: "postgresql",
    1433: "mssql",
    1521: "oracle",
    27017: "mongodb",
    6379: "redis",
    5672: "amqp",
    623: "ipmi",
}
"""Ports never opened to the world (0.0.0.0/0 or ::/0): remote administration and databases."""

IP_PROTOCOLS: dict[str, int] = {
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "tcp": 6,
    "egp": 8,
    "udp": 17,
    "dccp": 33,
    "ipv6-encap": 41,
    "ipv6-route": 43,
    "ipv6-frag": 44,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ospf": 89,
    "vrrp": 112,
    "pgm": 113,
    "sctp": 132,
    "udplite": 136,
}
"""The protocol names Neutron accepts in a security-group rule (any case), by IP protocol number."""

_EVERY = 0

PORT_PROTOCOLS: frozenset[int] = frozenset({6, 17, 33, 132, 136})
"""The protocols whose rules carry a port range in Neutron: tcp, udp, dccp, sctp, udplite."""

_ALL_PORTS = (1, 65535)
_WORLDS: dict[int, Network] = {4: ipaddress.IPv4Network("0.0.0.0/0"), 6: ipaddress.IPv6Network("::/0")}


def ip_protocol(value: object) -> int:
    """A security-group rule's protocol as Neutron reads it, as an IP protocol number.

    Neutron takes a name in any case (`tcp`, `TCP`), a number (`6`) or a number as text (`"6"`,
    `"006"`). None, `""` and `"any"` mean every protocol: 0 here. Protocol number 0 itself
    (`0`, `"0"`, `"hopopt"`) is read as every protocol too, to be safe (as the cloud audit did).

    Raises:
        ValueError: not a protocol Neutron accepts (the callers treat it as every protocol).
    """
    if value is None or value == "":
        return _EVERY
    if isinstance(value, bool):
        raise ValueError(f"protocol {value!r} is not a protocol")
    if isinstance(value, float) and value.is_integer():  # the engine hands numbers over as floats
        value = int(value)
    if isinstance(value, str):
        name = value.strip().lower()
        if name == "any":
            return _EVERY
        if name in IP_PROTOCOLS:
            return IP_PROTOCOLS[name]
        try:
            value = int(name)
        except ValueError:
            raise ValueError(f"protocol {value!r} is not a protocol name or number") from None
    if isinstance(value, int) and 0 <= value <= 255:
        return value
    raise ValueError(f"protocol {value!r} is not a protocol name or number 0-255")


def _port(value: object) -> int | None:
    """A port bound of a rule (int, whole float, digits); None when unset, 0 or unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value > 0 else None


def rule_protocol(value: object) -> int:
    """`ip_protocol`, failing closed: a protocol Neutron would not accept is read as every protocol."""
    try:
        return ip_protocol(value)
    except ValueError:
        return _EVERY


def rule_ports(protocol: object, port_min: object, port_max: object) -> tuple[int, int] | None:
    """The port range a rule opens, as Neutron applies it; None for a protocol without ports.

    Every protocol (None, "any", 0, unreadable): every port. A port protocol (PORT_PROTOCOLS, by
    name in any case or by number): its range, an unset bound meaning the end of the range (no
    range at all: every port), a reversed range read low to high. ICMP and other protocols: None
    (their "ports" are ICMP types and codes).
    """
    number = rule_protocol(protocol)
    if number == _EVERY:
        return _ALL_PORTS
    if number not in PORT_PROTOCOLS:
        return None
    low, high = _port(port_min) or _ALL_PORTS[0], _port(port_max) or _ALL_PORTS[1]
    return min(low, high), max(low, high)


def admin_openings(protocol: object, port_min: object, port_max: object) -> set[tuple[int, int]]:
    """(protocol number, admin port) pairs a rule lets through: every port protocol for a rule of
    every protocol, else the rule's own protocol on the admin ports inside its range."""
    ports = rule_ports(protocol, port_min, port_max)
    if ports is None:
        return set()
    number = rule_protocol(protocol)
    protocols = PORT_PROTOCOLS if number == _EVERY else {number}
    return {(proto, port) for proto in protocols for port in ADMIN_PORTS if ports[0] <= port <= ports[1]}


def admin_ports_opened(protocol: object, port_min: object, port_max: object) -> list[int]:
    """The admin ports (ADMIN_PORTS) a security-group rule lets through, whoever it lets in.

    Every protocol (None, "any", 0) or one Neutron would not accept: every admin port. A port
    protocol (tcp, udp, sctp, dccp, udplite by name in any case or by number): the admin ports
    inside the port range (`rule_ports`). Other protocols (ICMP, ...) reach no admin port.
    """
    return sorted({port for _, port in admin_openings(protocol, port_min, port_max)})


def remote_networks(prefix: object, ethertype: object = None) -> tuple[Network, ...]:
    """The addresses a rule's remote prefix admits, failing closed.

    No prefix: every address of the rule's ethertype (both families when the ethertype is not
    IPv4 or IPv6). A prefix that cannot be read: every address of both families.
    """
    family = {"ipv4": 4, "ipv6": 6}.get(str(ethertype or "").strip().lower())
    if prefix is None or prefix == "":
        return (_WORLDS[family],) if family else tuple(_WORLDS.values())
    if not isinstance(prefix, str):
        return tuple(_WORLDS.values())
    try:
        return (ipaddress.ip_network(prefix.strip(), strict=False),)
    except ValueError:
        return tuple(_WORLDS.values())


def world_families(networks: Iterable[Network]) -> list[int]:
    """The IP versions (4, 6) whose every address the union of `networks` covers.

    Two /1s, four /2s or any set of prefixes that together leave no address out count as the
    world, as much as one /0 does.
    """
    networks = list(networks)
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    out = []
    # pieces that add up to fewer addresses than the family cannot cover it: no collapse needed
    if sum(n.num_addresses for n in v4) >= _WORLDS[4].num_addresses and any(
        n == _WORLDS[4] for n in ipaddress.collapse_addresses(v4)
    ):
        out.append(4)
    if sum(n.num_addresses for n in v6) >= _WORLDS[6].num_addresses and any(
        n == _WORLDS[6] for n in ipaddress.collapse_addresses(v6)
    ):
        out.append(6)
    return out


def reaches_world(prefix: object) -> bool:
    """True when a rule's remote prefix admits every address of its family.

    No prefix (None, ""), a /0 however written (`0.0.0.0/0`, `::/0`, `0::/0`, `::0/0`,
    `0.0.0.0/00`, `10.0.0.0/0`, `0.0.0.0/0.0.0.0`), and anything that is not a prefix (fail
    closed: a value that cannot be read is never passed as narrow).
    """
    if prefix is None or prefix == "":
        return True
    if not isinstance(prefix, str):
        return True
    try:
        return ipaddress.ip_network(prefix, strict=False).prefixlen == 0
    except ValueError:
        return True


def world_cover(admitted: Sequence[Sequence[Network]]) -> dict[int, list[int]]:
    """For each IP version the union of `admitted` covers, the indexes of a minimal set of its
    entries (each entry: the networks one rule admits) that still covers it: the rules to name."""
    out: dict[int, list[int]] = {}
    for version in world_families([n for nets in admitted for n in nets]):
        keep = list(range(len(admitted)))
        for index in list(keep):
            rest = [i for i in keep if i != index]
            if version in world_families([n for i in rest for n in admitted[i]]):
                keep = rest
        out[version] = keep
    return out


@dataclass(frozen=True, order=True)
class PortRange:
    low: int
    high: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


def port_ranges(flow: Flow) -> tuple[PortRange, ...]:
    """The flow's ports as ranges; empty for protocols without ports."""
    out = []
    for item in flow.ports:
        if isinstance(item, int):
            out.append(PortRange(item, item))
        else:
            low, high = (int(part) for part in item.split("-"))
            out.append(PortRange(low, high))
    return tuple(sorted(out))


class FlowPolicy:
    """Default deny between zones; a packet is allowed only when a flow names it."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def allows(self, source: str, destination: str, protocol: str, port: int | None = None) -> bool:
        """True when some flow allows `protocol`/`port` from zone `source` to zone `destination`.

        Zones are names from zones.yml, or 'tenants' (the tenant pools) and 'any' (outside).
        Traffic inside one zone needs a flow too: hosts drop what no flow names.
        """
        return any(True for _ in self.matching(source, destination, protocol, port))

    def matching(self, source: str, destination: str, protocol: str, port: int | None = None) -> Iterator[Flow]:
        for flow in self.site.flows:
            if flow.source != source or flow.destination != destination:
                continue
            if flow.protocol != protocol:
                continue
            ranges = port_ranges(flow)
            if port is None or not ranges or any(port in r for r in ranges):
                yield flow

    def flows_to(self, destination: str, groups: tuple[str, ...] = ()) -> tuple[Flow, ...]:
        """Flows into a zone that apply to a host in `groups` (all hosts when a flow names none)."""
        return tuple(
            f for f in self.site.flows if f.destination == destination and (not f.groups or set(f.groups) & set(groups))
        )

    def networks(self, endpoint: str) -> tuple[Network, ...]:
        """The address ranges of a flow endpoint, both families."""
        if endpoint == ENDPOINT_ANY:
            return (ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
        if endpoint == ENDPOINT_TENANTS:
            return (self.site.pools.ipv4, self.site.pools.ipv6)
        zone = self.site.zone(endpoint)
        return (zone.ipv4, zone.ipv6)

    def world_open_admin_ports(self) -> list[tuple[Flow, int]]:
        """Flows from 'any' that reach an administration or database port."""
        found = []
        for flow in self.site.flows:
            if flow.source != ENDPOINT_ANY or flow.protocol not in {"tcp", "udp"}:
                continue
            for port, _name in sorted(ADMIN_PORTS.items()):
                if any(port in r for r in port_ranges(flow)):
                    found.append((flow, port))
        return found
