"""What the test hosts of a site look like: pure derivation from the site model, no podman."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from infra.errors import HatangError
from infra.hostnet import attachments
from infra.schema import Zone, ZoneKind
from infra.services import catalogue
from infra.site import Site, host_ipv6

CEPH_OSD = "ceph-osd"
"""The catalogue's service whose hosts run the storage cluster's disks."""

__all__ = [
    "LABEL_HOST",
    "LABEL_SITE",
    "LimitError",
    "Plan",
    "PlannedAttachment",
    "PlannedHost",
    "PlannedNetwork",
    "container_name",
    "network_name",
    "plan",
    "prefix",
]

LABEL_SITE = "hatang.testhosts.site"
LABEL_HOST = "hatang.testhosts.host"


class LimitError(HatangError):
    """`--limit` names neither a host group nor a host of the site."""


def prefix(site: str) -> str:
    """Every podman object of a site's test hosts starts with this."""
    return f"hatang-{site}-"


def container_name(site: str, host: str) -> str:
    """The test host's container name (also what the podman connection and testinfra use)."""
    return f"{prefix(site)}{host}"


def network_name(site: str, zone: str) -> str:
    """The podman network standing in for a zone."""
    return f"{prefix(site)}{zone}"


@dataclass(frozen=True)
class PlannedNetwork:
    name: str
    zone: str
    subnet4: ipaddress.IPv4Network
    subnet6: ipaddress.IPv6Network
    gateway4: ipaddress.IPv4Address
    gateway6: ipaddress.IPv6Address
    internal: bool
    """No route out: only the mgmt zone's network reaches the outside (the apt mirror)."""


@dataclass(frozen=True)
class PlannedAttachment:
    network: str
    device: str
    ipv4: ipaddress.IPv4Address
    ipv6: ipaddress.IPv6Address

    def option(self) -> str:
        """The `podman run --network` value."""
        return f"{self.network}:ip={self.ipv4},ip6={self.ipv6},interface_name={self.device}"


@dataclass(frozen=True)
class PlannedHost:
    container: str
    host: str
    groups: tuple[str, ...]
    attachments: tuple[PlannedAttachment, ...]
    devices: tuple[str, ...] = ()
    """Host devices passed into the container (`podman run --device`)."""
    syscalls: tuple[str, ...] = ()
    """System calls allowed besides those of podman's default seccomp profile."""


TUN = "/dev/net/tun"
"""Open vSwitch's userspace datapath (no openvswitch kernel module here) opens its ports as taps."""

STORAGE_SYSCALLS = ("io_pgetevents",)
"""What a Ceph OSD needs beyond podman's default seccomp profile: Debian 13's libaio waits for
BlueStore's asynchronous I/O with io_pgetevents, which the profile refuses (a real host has no
such filter)."""


@dataclass(frozen=True)
class Plan:
    site: str
    networks: tuple[PlannedNetwork, ...]
    hosts: tuple[PlannedHost, ...]


def _gateway(site: Site, zone: Zone) -> tuple[ipaddress.IPv4Address, ipaddress.IPv6Address]:
    """The address podman's bridge takes: the zone's gateway, else the last free host address."""
    used = {h.ipv4[zone.name] for h in site.hosts if zone.name in h.ipv4}
    if zone.gateway4 is not None and zone.gateway4 not in used:
        gw4 = zone.gateway4
    else:
        gw4 = next(a for a in reversed(list(zone.ipv4.hosts())) if a not in used)
    gw6 = zone.gateway6 if zone.gateway6 is not None else host_ipv6(zone, gw4)
    return gw4, gw6


def _selected(site: Site, limit: str | None) -> list[str]:
    names = [h.name for h in site.hosts]
    if not limit:
        return names
    wanted: set[str] = set()
    for item in (part.strip() for part in limit.split(",")):
        if item in site.groups:
            wanted |= {h.name for h in site.hosts_in(item)}
        elif item in names:
            wanted.add(item)
        else:
            choices = ", ".join(sorted(set(site.groups) | set(names)))
            raise LimitError(
                f"--limit {item!r} is neither a host group nor a host (use one of: {choices})"
            )
    return [n for n in names if n in wanted]


def plan(site: Site, limit: str | None = None) -> Plan:
    """The networks and containers that stand in for the site's hosts (or those in `limit`).

    Args:
        site: the loaded site.
        limit: comma-separated host groups or host names; None for every host.

    Raises:
        LimitError: `limit` names something the site does not have.
    """
    selected = _selected(site, limit)
    by_name = {h.name: h for h in site.hosts}
    hosts = []
    zones_used: set[str] = set()
    for name in selected:
        host = by_name[name]
        # a zone the host only bridges (no address) has no network here: podman would give
        # the container an address the site does not have
        addressed = [a for a in attachments(site, host) if a.ipv4 and a.ipv6]
        planned = tuple(
            PlannedAttachment(network_name(site.name, a.zone), a.device, a.ipv4.ip, a.ipv6.ip)
            for a in addressed
            if a.ipv4 and a.ipv6
        )
        zones_used |= {a.zone for a in addressed}
        # an OVN chassis: a tunnel endpoint (overlay zone) or a provider bridge
        chassis = any(a.kind == ZoneKind.OVERLAY.value or a.bridge for a in attachments(site, host))
        devices = (TUN,) if chassis else ()
        syscalls = STORAGE_SYSCALLS if set(host.groups) & set(catalogue().services[CEPH_OSD].groups) else ()
        hosts.append(PlannedHost(container_name(site.name, name), name, host.groups, planned, devices, syscalls))
    networks = []
    for zone in site.zones:
        if zone.name not in zones_used:
            continue
        gw4, gw6 = _gateway(site, zone)
        networks.append(
            PlannedNetwork(
                name=network_name(site.name, zone.name),
                zone=zone.name,
                subnet4=zone.ipv4,
                subnet6=zone.ipv6,
                gateway4=gw4,
                gateway6=gw6,
                internal=zone.kind != ZoneKind.MGMT,
            )
        )
    return Plan(site.name, tuple(networks), tuple(hosts))
