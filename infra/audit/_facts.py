"""What a host should look like, from the site model: the expected side of every host check.

Site facts (zones, flows, services) are never copied into the checks; the checks read this.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

from infra.errors import HatangError
from infra.firewall import SSH_PORT
from infra.policy import FlowPolicy, port_ranges
from infra.schema import ZoneKind
from infra.site import Site

__all__ = ["AllowedFlow", "HostFacts", "UnknownHostError", "host_facts", "within"]


class UnknownHostError(HatangError):
    """A host name that the site does not define."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown host {name!r}; hosts of the site: {', '.join(sorted(known))}")


@dataclass(frozen=True)
class AllowedFlow:
    """A flow into a zone the host is attached to, as seen from the host."""

    name: str
    source: str
    zone: str
    protocol: str
    ports: tuple[tuple[int, int], ...]
    sources: tuple[str, ...]
    """Source networks (both families); 0.0.0.0/0 and ::/0 for 'any'."""

    def allows_port(self, protocol: str, port: int) -> bool:
        return self.protocol == protocol and any(lo <= port <= hi for lo, hi in self.ports)


@dataclass(frozen=True)
class HostFacts:
    """The expected values for one host, plain data (it crosses into the pytest process)."""

    site: str
    host: str
    groups: tuple[str, ...]
    routes: bool
    mgmt_addresses: tuple[str, ...]
    mgmt_networks: tuple[str, ...]
    addresses: tuple[str, ...]
    ntp: tuple[str, ...]
    syslog: tuple[str, ...]
    apt_mirror: str
    flows: tuple[AllowedFlow, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostFacts:
        flows = tuple(
            AllowedFlow(
                name=f["name"],
                source=f["source"],
                zone=f["zone"],
                protocol=f["protocol"],
                ports=tuple((int(lo), int(hi)) for lo, hi in f["ports"]),
                sources=tuple(f["sources"]),
            )
            for f in data["flows"]
        )
        plain: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        plain["flows"] = flows
        return cls(**plain)

    def port_allowed(self, protocol: str, port: int) -> bool:
        return any(f.allows_port(protocol, port) for f in self.flows)

    def ssh_sources(self) -> tuple[str, ...]:
        return tuple(n for f in self.flows if f.allows_port("tcp", SSH_PORT) for n in f.sources)


def host_facts(site: Site, name: str) -> HostFacts:
    """The expected values of host `name` of `site`.

    Raises:
        UnknownHostError: the site has no such host.
    """
    host = next((h for h in site.hosts if h.name == name), None)
    if host is None:
        raise UnknownHostError(name, [h.name for h in site.hosts])
    policy = FlowPolicy(site)
    mgmt = site.zone_of_kind(ZoneKind.MGMT)
    mgmt_addresses: list[str] = []
    mgmt_networks: list[str] = []
    if mgmt is not None:
        mgmt_networks = [str(mgmt.ipv4), str(mgmt.ipv6)]
        if mgmt.name in host.ipv4:
            mgmt_addresses = [str(host.ipv4[mgmt.name]), str(host.ipv6[mgmt.name])]
    flows = []
    for zone in host.ipv4:
        for flow in policy.flows_to(zone, host.groups):
            flows.append(
                AllowedFlow(
                    name=flow.name,
                    source=flow.source,
                    zone=zone,
                    protocol=flow.protocol,
                    ports=tuple((r.low, r.high) for r in port_ranges(flow)),
                    sources=tuple(str(n) for n in policy.networks(flow.source)),
                )
            )
    addresses = [str(a) for a in host.ipv4.values()] + [str(a) for a in host.ipv6.values()]
    services = site.info.services
    return HostFacts(
        site=site.name,
        host=host.name,
        groups=host.groups,
        routes=any(site.groups[g].routes for g in host.groups if g in site.groups),
        mgmt_addresses=tuple(mgmt_addresses),
        mgmt_networks=tuple(mgmt_networks),
        addresses=tuple(addresses),
        ntp=tuple(str(a) for a in services.ntp),
        syslog=tuple(str(a) for a in services.syslog),
        apt_mirror=services.apt_mirror,
        flows=tuple(flows),
    )


def within(address: str, networks: tuple[str, ...]) -> bool:
    """Whether `address` (an address or a network) lies inside one of `networks`."""
    net = ipaddress.ip_network(address, strict=False)
    for item in networks:
        other = ipaddress.ip_network(item, strict=False)
        if net.version == other.version and net.subnet_of(other):  # type: ignore[arg-type]
            return True
    return False
