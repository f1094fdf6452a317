"""Capacity figures: tenants' quotas and address allocations against what the site can give.

Per resource: **used** by active tenants, **reserved** for approved ones (and, for addresses,
for retired ones too: an allocation is never reused), **free** what is left, and **pending**
what the requested tenants would take once approved. Quotas count in full: a quota is a promise
the hardware must be able to keep, overcommit included. Pure functions: no files, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from infra.quotas import ProfileError, Quotas, capacity_totals, resolve_profile
from infra.schema import Capacity, HostSpec, Pools, Profile, TenantRequest, TenantState, Zone, ZoneKind

__all__ = [
    "FLOATING_IP_ZONES",
    "Demand",
    "Resource",
    "Usage",
    "demand",
    "hardware",
    "usage",
]

FLOATING_IP_ZONES = (ZoneKind.DMZ, ZoneKind.INTERNET)
"""Zones whose provider networks hand out public floating IPs."""


class Resource(StrEnum):
    """What is counted; the unit of each is given by `UNITS`."""

    VCPU = "vcpu"
    RAM = "ram_gib"
    VOLUME = "volume_gb"
    FLOATING_IP = "floating_ip"
    TENANT_V4 = "tenant_v4"
    TENANT_V6 = "tenant_v6"


UNITS: Mapping[Resource, str] = {
    Resource.VCPU: "vCPU",
    Resource.RAM: "GiB",
    Resource.VOLUME: "GB",
    Resource.FLOATING_IP: "IP",
    Resource.TENANT_V4: "prefix",
    Resource.TENANT_V6: "/64",
}


@dataclass(frozen=True)
class Usage:
    """One resource: what the site can give and who holds it."""

    resource: Resource
    capacity: int
    used: int
    reserved: int
    pending: int

    @property
    def free(self) -> int:
        return self.capacity - self.used - self.reserved

    @property
    def committed(self) -> int:
        """Used plus reserved: the demand the growth forecast follows."""
        return self.used + self.reserved

    @property
    def committed_share(self) -> float | None:
        return self.committed / self.capacity if self.capacity else None

    @property
    def after_pending(self) -> int:
        """What would be left once every pending request is approved."""
        return self.free - self.pending


@dataclass(frozen=True)
class Demand:
    """Per resource: (used, reserved, pending), and profile names that did not resolve."""

    amounts: Mapping[Resource, tuple[int, int, int]]
    bad_profiles: tuple[str, ...]


def hardware(
    capacity: Capacity, hosts: Iterable[HostSpec], zones: Iterable[Zone], pools: Pools
) -> dict[Resource, int]:
    """What the site can give tenants, per resource, overcommit included."""
    counts = Counter(group for host in hosts for group in host.groups)
    totals = capacity_totals(capacity, counts)
    floating = 0
    for zone in zones:
        if zone.kind in FLOATING_IP_ZONES and zone.provider is not None:
            # addresses below allocation_start are the infrastructure's; the last is broadcast
            floating += max(zone.ipv4.num_addresses - zone.provider.allocation_start - 1, 0)
    return {
        Resource.VCPU: totals.vcpus,
        Resource.RAM: totals.ram_mb // 1024,
        Resource.VOLUME: totals.volume_gb,
        Resource.FLOATING_IP: floating,
        Resource.TENANT_V4: 2 ** max(pools.tenant_prefix_v4 - pools.ipv4.prefixlen, 0),
        Resource.TENANT_V6: 2 ** max(pools.network_prefix_v6 - pools.ipv6.prefixlen, 0),
    }


def _quota_amounts(quotas: Quotas) -> dict[Resource, int]:
    return {
        Resource.VCPU: quotas.compute.cores,
        Resource.RAM: quotas.compute.ram // 1024,
        Resource.VOLUME: quotas.volume.gigabytes,
        Resource.FLOATING_IP: quotas.network.floatingip,
    }


_COLUMNS = {TenantState.ACTIVE: 0, TenantState.APPROVED: 1, TenantState.REQUESTED: 2}
"""Where a tenant's quota counts: used, reserved or pending (retired: nowhere)."""


def demand(tenants: Iterable[TenantRequest], profiles: Mapping[str, Profile]) -> Demand:
    """Used, reserved and pending amounts of every resource over the tenants."""
    amounts = {r: [0, 0, 0] for r in Resource}
    resolved: dict[str, dict[Resource, int] | None] = {}
    bad: set[str] = set()
    for tenant in tenants:
        column = _COLUMNS.get(tenant.state)
        # addresses: retired allocations stay taken (never reused)
        if tenant.allocation is not None and tenant.state != TenantState.REQUESTED:
            where = 0 if tenant.state == TenantState.ACTIVE else 1
            amounts[Resource.TENANT_V4][where] += 1
            amounts[Resource.TENANT_V6][where] += len(tenant.allocation.networks)
        elif tenant.state == TenantState.REQUESTED:
            amounts[Resource.TENANT_V4][2] += 1
            amounts[Resource.TENANT_V6][2] += len(tenant.networks)
        if column is None:
            continue
        name = tenant.quota_profile
        if name not in resolved:
            try:
                resolved[name] = _quota_amounts(resolve_profile(name, profiles))
            except ProfileError:
                resolved[name] = None
        quota = resolved[name]
        if quota is None:
            bad.add(name)
            continue
        for resource, amount in quota.items():
            amounts[resource][column] += amount
    return Demand({r: (v[0], v[1], v[2]) for r, v in amounts.items()}, tuple(sorted(bad)))


def usage(hardware_totals: Mapping[Resource, int], tenant_demand: Demand) -> list[Usage]:
    """One `Usage` per resource, in `Resource` order."""
    return [
        Usage(r, hardware_totals[r], *tenant_demand.amounts[r])
        for r in Resource
    ]
