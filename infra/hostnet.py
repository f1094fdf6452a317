"""A host's network attachments, derived from the site model: one per zone it has an address in.

The netzones role (interfaces), the firewall (which interface a zone's traffic arrives on) and
the test hosts (which podman network and interface name) all read this one derivation, so they
cannot disagree about what a zone's interface is called on a host.

Naming: a zone's device on a host is named after the zone (a VLAN netdev on hardware, the
container's interface on a test host); a zone with a Neutron provider network also gets the
provider bridge, which then carries the host's addresses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from infra.errors import HatangError
from infra.schema import Zone
from infra.site import Host, Site, host_ipv6

__all__ = ["IFNAME_MAX", "Attachment", "InterfaceNameError", "attachments", "device_name"]

IFNAME_MAX = 15
"""Linux interface names are at most 15 bytes (IFNAMSIZ - 1)."""


class InterfaceNameError(HatangError):
    """A zone name cannot be used as a Linux interface name."""


@dataclass(frozen=True)
class Attachment:
    """One zone as seen from one host."""

    zone: str
    kind: str
    vlan: int
    device: str
    """Zone device: a VLAN netdev on hardware, the container's interface on a test host."""
    bridge: str | None
    """Provider bridge the device is a port of (provider-network zones only)."""
    ipv4: ipaddress.IPv4Interface | None
    """The host's address; None when the host only carries the zone's provider bridge."""
    ipv6: ipaddress.IPv6Interface | None
    gateway4: ipaddress.IPv4Address | None
    gateway6: ipaddress.IPv6Address | None

    @property
    def interface(self) -> str:
        """The interface that carries the host's addresses (the bridge when there is one)."""
        return self.bridge or self.device

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Every interface the zone's packets may arrive on at this host."""
        return (self.device, self.bridge) if self.bridge else (self.device,)


def device_name(zone: Zone) -> str:
    """The zone's device name on every host.

    Raises:
        InterfaceNameError: the zone name is longer than a Linux interface name may be.
    """
    if len(zone.name) > IFNAME_MAX:
        raise InterfaceNameError(
            f"zones.yml: zone {zone.name!r}: the name is longer than {IFNAME_MAX} characters and "
            "cannot name the zone's interface on the hosts (fix: shorten the zone name)"
        )
    return zone.name


def attachments(site: Site, host: Host) -> tuple[Attachment, ...]:
    """The host's zones in zones.yml order.

    A zone is attached when the host has an address in it (both families), or when the zone
    carries a provider network and one of the host's groups attaches to it (zones.yml `groups`):
    then the host has the provider bridge without an address of its own (e.g. a gateway node).
    """
    out = []
    for zone in site.zones:
        address = host.ipv4.get(zone.name)
        bridged = zone.provider is not None and bool(set(zone.groups) & set(host.groups))
        if address is None and not bridged:
            continue
        v4 = v6 = None
        if address is not None:
            v4 = ipaddress.IPv4Interface(f"{address}/{zone.ipv4.prefixlen}")
            derived = host.ipv6.get(zone.name) or host_ipv6(zone, address)
            v6 = ipaddress.IPv6Interface(f"{derived}/{zone.ipv6.prefixlen}")
        out.append(
            Attachment(
                zone=zone.name,
                kind=zone.kind.value,
                vlan=zone.vlan,
                device=device_name(zone),
                bridge=zone.provider.bridge if zone.provider else None,
                ipv4=v4,
                ipv6=v6,
                gateway4=zone.gateway4 if v4 else None,
                gateway6=zone.gateway6 if v6 else None,
            )
        )
    return tuple(out)
