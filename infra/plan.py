"""The offline plan: what a site will contain, computed from the model alone (no cloud, no engine).

`build_plan` returns plain data (the JSON output); `render_plan` draws it as rich tables.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from infra.quotas import capacity_totals, resolve_profile
from infra.schema import Hosting, TenantState
from infra.site import Site
from infra.validate import ACCESS_ZONE, CONSUMING_STATES

__all__ = ["build_plan", "render_plan"]


def _usable_v4(prefix_hosts: int) -> int:
    return max(prefix_hosts - 2, 0)


def _capacity(site: Site) -> list[dict[str, Any]]:
    """Per resource: what the hardware (or address space) gives, approved demand, pending demand."""
    counts = Counter(g for h in site.host_specs for g in h.groups)
    total = capacity_totals(site.capacity, counts)
    approved: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    for tenant in site.tenants:
        if tenant.quota_profile not in site.profiles:
            continue
        quotas = resolve_profile(tenant.quota_profile, site.profiles)
        bucket = (
            approved if tenant.state in CONSUMING_STATES else pending if tenant.state == TenantState.REQUESTED else None
        )
        if bucket is None:
            continue
        bucket["vcpus"] += quotas.compute.cores
        bucket["ram_mb"] += quotas.compute.ram
        bucket["volume_gb"] += quotas.volume.gigabytes
        bucket["floating_ips"] += quotas.network.floatingip
        bucket["tenant_v4_prefixes"] += 1
        bucket["tenant_v6_networks"] += len(tenant.networks)
    floating = sum(
        _usable_v4(z.ipv4.num_addresses) - z.provider.allocation_start
        for z in site.zones
        if z.provider is not None and z.kind in set(ACCESS_ZONE.values())
    )
    pools = site.pools
    allocated = [t for t in site.tenants if t.allocation is not None]
    used_v4 = len(allocated)
    used_v6 = sum(len(t.allocation.networks) for t in allocated if t.allocation)
    have = {
        "vcpus": total.vcpus,
        "ram_mb": total.ram_mb,
        "volume_gb": total.volume_gb,
        "floating_ips": floating,
        "tenant_v4_prefixes": 1 << (pools.tenant_prefix_v4 - pools.ipv4.prefixlen),
        "tenant_v6_networks": 1 << (pools.network_prefix_v6 - pools.ipv6.prefixlen),
    }
    rows = []
    for key, capacity in have.items():
        used = used_v4 if key == "tenant_v4_prefixes" else used_v6 if key == "tenant_v6_networks" else approved[key]
        rows.append(
            {
                "resource": key,
                "capacity": capacity,
                "approved": used,
                "pending": pending[key],
                "free": capacity - used,
                "used_percent": round(100 * used / capacity, 1) if capacity else None,
            }
        )
    return rows


def build_plan(site: Site) -> dict[str, Any]:
    """Everything the site will contain, as JSON-ready data."""
    zones = [
        {
            "name": z.name,
            "kind": z.kind.value,
            "vlan": z.vlan,
            "ipv4": str(z.ipv4),
            "ipv6": str(z.ipv6),
            "groups": list(z.groups),
            "provider": z.provider.physnet if z.provider else None,
        }
        for z in site.zones
    ]
    tenants = []
    for t in sorted(site.tenants, key=lambda t: t.code):
        quotas = resolve_profile(t.quota_profile, site.profiles) if t.quota_profile in site.profiles else None
        tenants.append(
            {
                "code": t.code,
                "agency": t.agency,
                "name": t.name,
                "state": t.state.value,
                "security_level": t.security_level,
                "quota_profile": t.quota_profile,
                "ipv4": str(t.allocation.ipv4) if t.allocation else None,
                "networks": [
                    {
                        "name": n.name,
                        "access": [a.value for a in n.access],
                        "ipv4": str(t.allocation.networks[n.name].ipv4)
                        if t.allocation and n.name in t.allocation.networks
                        else None,
                        "ipv6": str(t.allocation.networks[n.name].ipv6)
                        if t.allocation and n.name in t.allocation.networks
                        else None,
                    }
                    for n in t.networks
                ],
                "applications": list(t.applications),
                "quotas": quotas.as_dict() if quotas else None,
            }
        )
    on_cloud = [a for a in site.applications if a.hosting == Hosting.CLOUD]
    apps = {
        "total": len(site.applications),
        "on_cloud": len(on_cloud),
        "by_hosting": dict(sorted(Counter(a.hosting.value for a in site.applications).items())),
        "not_on_cloud": [
            {"id": a.id, "owner": a.owner, "hosting": a.hosting.value, "wave": a.wave, "blocker": a.blocker}
            for a in site.applications
            if a.hosting != Hosting.CLOUD
        ],
    }
    return {
        "site": site.name,
        "title": site.info.title,
        "zones": zones,
        "flows": len(site.flows),
        "hosts": {g: sum(1 for h in site.host_specs if g in h.groups) for g in site.groups},
        "tenants": tenants,
        "tenant_states": dict(sorted(Counter(t.state.value for t in site.tenants).items())),
        "capacity": _capacity(site),
        "applications": apps,
    }


_UNITS = {"ram_mb": ("RAM (GiB)", 1 / 1024)}


def render_plan(plan: dict[str, Any], console: Console) -> None:
    """Draw the plan as tables on a terminal."""
    console.print(f"[bold]{plan['title']}[/bold] ({plan['site']}): offline plan from the site model")
    zones = Table(title="Zones", title_justify="left")
    for column in ("zone", "kind", "VLAN", "IPv4", "IPv6", "host groups", "provider"):
        zones.add_column(column)
    for z in plan["zones"]:
        zones.add_row(
            z["name"], z["kind"], str(z["vlan"]), z["ipv4"], z["ipv6"], ", ".join(z["groups"]), z["provider"] or ""
        )
    console.print(zones)
    tenants = Table(title="Tenants", title_justify="left")
    for column in ("code", "state", "level", "profile", "IPv4", "networks (access)", "applications"):
        tenants.add_column(column)
    for t in plan["tenants"]:
        nets = ", ".join(f"{n['name']}({'+'.join(n['access']) or 'internal'})" for n in t["networks"])
        tenants.add_row(
            t["code"],
            t["state"],
            str(t["security_level"]),
            t["quota_profile"],
            t["ipv4"] or "-",
            nets,
            ", ".join(t["applications"]),
        )
    console.print(tenants)
    capacity = Table(title="Capacity (approved + active tenants' quotas)", title_justify="left")
    for column in ("resource", "capacity", "approved", "free", "used %", "pending requests"):
        capacity.add_column(column, justify="right" if column != "resource" else "left")
    for row in plan["capacity"]:
        label, scale = _UNITS.get(row["resource"], (row["resource"], 1.0))
        capacity.add_row(
            label,
            f"{row['capacity'] * scale:,.0f}",
            f"{row['approved'] * scale:,.0f}",
            f"{row['free'] * scale:,.0f}",
            f"{row['used_percent']}",
            f"{row['pending'] * scale:,.0f}",
        )
    console.print(capacity)
    apps = plan["applications"]
    console.print(
        f"Applications on this cloud: {apps['on_cloud']} of {apps['total']} "
        f"({', '.join(f'{k}: {v}' for k, v in apps['by_hosting'].items())})"
    )
