"""The segmentation policy as a query: what may cross between zones.

The firewall role, the Pulumi security groups and the audit all ask this one object, so the
three renderings cannot disagree about an allowed flow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from infra.schema import ENDPOINT_ANY, ENDPOINT_TENANTS, Flow
from infra.site import Site

__all__ = ["ADMIN_PORTS", "FlowPolicy", "PortRange", "port_ranges"]

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
