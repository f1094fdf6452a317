"""Rules that need the whole site: references, address overlaps, duplicates, policy, capacity.

`validate_site` returns every problem at once; each names the file, the field path, what is
wrong and how to fix it. Nothing here writes a file.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from infra import _yaml
from infra.errors import InventoryError, Problem
from infra.ipam import Span, Spans, span
from infra.policy import ADMIN_PORTS, FlowPolicy, port_ranges
from infra.quotas import ProfileError, capacity_totals, resolve_profile
from infra.schema import ENDPOINT_ANY, ENDPOINT_TENANTS, Hosting, NetworkAccess, TenantState, Zone, ZoneKind
from infra.site import Site, display_path, gc_paused, load_site

__all__ = ["RESERVED_PROJECT_NAMES", "check_site", "load_valid_site", "validate_site"]

RESERVED_PROJECT_NAMES = frozenset({"admin", "service", "services", "default", "demo", "heat"})
"""Names Keystone deployments already use for their own projects and domains."""

ACCESS_ZONE = {
    NetworkAccess.GOV: ZoneKind.GOV,
    NetworkAccess.DMZ: ZoneKind.DMZ,
    NetworkAccess.INTERNET: ZoneKind.INTERNET,
}
"""Which zone kind carries each kind of tenant network access."""

ALLOCATED_STATES = (TenantState.APPROVED, TenantState.ACTIVE, TenantState.RETIRED)
CONSUMING_STATES = (TenantState.APPROVED, TenantState.ACTIVE)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Report:
    """Collects problems and finds their line numbers in the files they point at."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.problems: list[Problem] = []
        self.span = Spans()
        """The rules' spans of the site's prefixes, each computed once."""

    def rel(self, path: Path) -> str:
        return display_path(path)

    def add(self, file: str | Path, loc: tuple[Any, ...], message: str, hint: str = "") -> None:
        path = file if isinstance(file, Path) else self.site.root / file
        self.problems.append(
            Problem(
                file=self.rel(path),
                field=".".join(str(p) for p in loc),
                message=message,
                hint=hint,
                line=_line(path, loc),
            )
        )

    def tenant(self, code: str) -> Path:
        path = self.site.tenant_files.get(code)
        return path if path is not None else self.site.root / "tenants" / f"{code}.yml"


@cache
def _document(path: Path) -> Any:
    try:
        return _yaml.load(path)
    except (OSError, _yaml.YamlSyntaxError):
        return None


def _line(path: Path, loc: tuple[Any, ...]) -> int | None:
    return _yaml.line_of(_document(path), loc)


def _duplicates(values: Iterable[Any]) -> set[Any]:
    return {value for value, count in Counter(values).items() if count > 1}


def _overlaps(spans: list[Span]) -> Iterator[tuple[int, int]]:
    """Index pairs of overlapping spans, the first before the second in address order (ties in
    list order), found by one sort (n log n, not n²)."""
    open_: list[int] = []
    for version, start, index in sorted((v, s, i) for i, (v, s, _) in enumerate(spans)):
        open_ = [j for j in open_ if spans[j][0] == version and spans[j][2] >= start]
        for j in open_:
            yield j, index
        open_.append(index)


def _inside(inner: Span, outer: Span) -> bool:
    """`subnet_of` on spans."""
    return inner[0] == outer[0] and outer[1] <= inner[1] and inner[2] <= outer[2]


# --------------------------------------------------------------------------- rules


def _check_duplicates(site: Site, report: _Report) -> None:
    # (file, list key, field, values aligned with the list; None = not subject to the rule, what)
    checks: list[tuple[str, str, str, list[Any], str]] = [
        ("zones.yml", "zones", "name", [z.name for z in site.zones], "zone names"),
        ("zones.yml", "zones", "vlan", [z.vlan for z in site.zones], "VLAN ids"),
        (
            "zones.yml",
            "zones",
            "kind",
            [z.kind.value if z.kind != ZoneKind.OTHER else None for z in site.zones],
            "zone kinds (one zone per kind, except 'other')",
        ),
        ("flows.yml", "flows", "name", [f.name for f in site.flows], "flow names"),
        ("hosts.yml", "hosts", "name", [h.name for h in site.host_specs], "host names"),
        ("agencies.yml", "agencies", "code", [a.code for a in site.agencies], "agency codes"),
        ("applications.yml", "applications", "id", [a.id for a in site.applications], "application ids"),
    ]
    for file, section, key, values, what in checks:
        dupes = _duplicates(v for v in values if v is not None)
        for index, value in enumerate(values):
            if value in dupes:
                report.add(file, (section, index, key), f"duplicate {what}: {value}", "give each a unique value")
    for tenant in site.tenants:
        names = [n.name for n in tenant.networks]
        twice = _duplicates(names)
        for index, name in enumerate(names):
            if name in twice:
                report.add(
                    report.tenant(tenant.code),
                    ("networks", index, "name"),
                    f"duplicate network name {name!r}",
                    "give each network a unique name",
                )
    display = _duplicates(t.name for t in site.tenants)
    for tenant in site.tenants:
        if tenant.name in display:
            report.add(
                report.tenant(tenant.code),
                ("name",),
                f"display name {tenant.name!r} is used by another tenant",
                "make the display names unique (Keystone descriptions are shown side by side)",
            )


def _check_vip(site: Site, index: int, zone: Zone, report: _Report) -> None:
    """A virtual address of the api zone, free, and there whenever several controllers share the APIs."""
    from infra.services import api_hosts

    loc = ("zones", index, "vip4")
    vip = zone.vip4
    if zone.kind is not ZoneKind.API:
        if vip is not None:
            report.add("zones.yml", loc, f"vip4 on a {zone.kind.value} zone", "set vip4 on the api zone only")
        return
    controllers = api_hosts(site)
    if vip is None:
        if len(controllers) > 1:
            report.add(
                "zones.yml",
                loc,
                f"{len(controllers)} controllers share the APIs but the api zone has no vip4",
                f"set vip4 to a free address of {zone.ipv4} (keepalived moves it to a healthy controller)",
            )
        return
    if len(controllers) < 2:
        report.add(
            "zones.yml",
            loc,
            f"vip4 with {len(controllers)} controller{'' if len(controllers) == 1 else 's'}: nothing to share",
            "remove vip4 (a lone controller serves the APIs on its own address) or add controllers",
        )
        return
    taken = {h.ipv4.get(zone.name): h.name for h in site.hosts}
    if vip not in zone.ipv4 or vip in (zone.ipv4.network_address, zone.ipv4.broadcast_address):
        report.add(
            "zones.yml", loc, f"{vip} is not a host address of {zone.ipv4}", f"use an address inside {zone.ipv4}"
        )
    elif vip == zone.gateway4:
        report.add("zones.yml", loc, f"{vip} is the zone's gateway", "use a free address of the zone")
    elif vip in taken:
        report.add("zones.yml", loc, f"{vip} is {taken[vip]}'s address", "use a free address of the zone")


def _check_zones(site: Site, report: _Report) -> None:
    groups = set(site.groups)
    for i, zone in enumerate(site.zones):
        if zone.ipv6.prefixlen != 64:
            report.add(
                "zones.yml",
                ("zones", i, "ipv6"),
                f"IPv6 prefix {zone.ipv6} is not a /64",
                "give every zone a /64 (SLAAC and host addresses need it)",
            )
        for key, gateway, network in (("gateway4", zone.gateway4, zone.ipv4), ("gateway6", zone.gateway6, zone.ipv6)):
            if gateway is not None and gateway not in network:
                report.add(
                    "zones.yml",
                    ("zones", i, key),
                    f"gateway {gateway} is outside {network}",
                    f"use an address inside {network}",
                )
        _check_vip(site, i, zone, report)
        if zone.provider and zone.provider.external and (zone.gateway4 is None or zone.gateway6 is None):
            report.add(
                "zones.yml",
                ("zones", i, "provider"),
                "an external provider network needs gateway4 and gateway6",
                "set the upstream router's addresses as gateway4/gateway6",
            )
        for j, group in enumerate(zone.groups):
            if group not in groups:
                report.add(
                    "zones.yml",
                    ("zones", i, "groups", j),
                    f"unknown host group {group!r}",
                    f"use one of: {', '.join(sorted(groups))}",
                )
    for kind in (
        ZoneKind.OOB,
        ZoneKind.MGMT,
        ZoneKind.API,
        ZoneKind.STORAGE,
        ZoneKind.OVERLAY,
        ZoneKind.DMZ,
        ZoneKind.GOV,
    ):
        if site.zone_of_kind(kind) is None:
            report.add(
                "zones.yml",
                ("zones",),
                f"no zone of kind {kind.value!r}",
                "the segmentation policy needs oob, mgmt, api, storage, overlay, dmz and gov zones",
            )
    for i, uplink in enumerate(site.info.uplinks):
        if uplink.zone not in site.zone_names():
            report.add(
                "site.yml",
                ("uplinks", i, "zone"),
                f"unknown zone {uplink.zone!r}",
                f"use one of: {', '.join(sorted(site.zone_names()))}",
            )


def _check_flows(site: Site, report: _Report) -> None:
    zones = site.zone_names()
    endpoints = zones | {ENDPOINT_ANY, ENDPOINT_TENANTS}
    kinds = {z.name: z.kind for z in site.zones}
    for i, flow in enumerate(site.flows):
        for key, value in (("from", flow.source), ("to", flow.destination)):
            if value not in endpoints:
                report.add(
                    "flows.yml",
                    ("flows", i, key),
                    f"unknown zone {value!r}",
                    f"use one of: {', '.join(sorted(endpoints))}",
                )
        if flow.destination == ENDPOINT_ANY:
            report.add(
                "flows.yml",
                ("flows", i, "to"),
                "outbound flows to 'any' are not policed here",
                "name the zone that egresses (e.g. dmz) as the destination",
            )
        for j, group in enumerate(flow.groups):
            if group not in site.groups:
                report.add(
                    "flows.yml",
                    ("flows", i, "groups", j),
                    f"unknown host group {group!r}",
                    f"use one of: {', '.join(sorted(site.groups))}",
                )
        if flow.protocol in {"tcp", "udp"} and not flow.ports:
            report.add(
                "flows.yml",
                ("flows", i, "ports"),
                f"a {flow.protocol} flow needs ports",
                "list the destination ports; 'all ports' is not a flow",
            )
        if flow.protocol in {"icmp", "vrrp"} and flow.ports:
            report.add("flows.yml", ("flows", i, "ports"), f"{flow.protocol} has no ports", "remove ports")
        for j, rng in enumerate(port_ranges(flow)):
            if rng.low > rng.high or rng.high > 65535:
                report.add(
                    "flows.yml",
                    ("flows", i, "ports", j),
                    f"bad port range {rng}",
                    "write low-high with 1 <= low <= high <= 65535",
                )
        pair = {kinds.get(flow.source), kinds.get(flow.destination)}
        if ZoneKind.GOV in pair and (ZoneKind.INTERNET in pair or flow.source == ENDPOINT_ANY):
            report.add(
                "flows.yml",
                ("flows", i),
                "the gov (TSLCD) zone must never be bridged to the internet",
                "remove the flow; publish through the DMZ instead",
            )
    for flow, port in FlowPolicy(site).world_open_admin_ports():
        i = site.flows.index(flow)
        report.add(
            "flows.yml",
            ("flows", i, "ports"),
            f"opens {ADMIN_PORTS[port]} port {port} to the world (0.0.0.0/0 and ::/0)",
            "allow administration and database ports only from the mgmt zone",
        )


def _check_hosts(site: Site, report: _Report) -> None:
    zones = {z.name: z for z in site.zones}
    azs = set(site.info.availability_zones)
    seen: dict[ipaddress.IPv4Address, str] = {}
    for i, host in enumerate(site.host_specs):
        for j, group in enumerate(host.groups):
            if group not in site.groups:
                report.add(
                    "hosts.yml",
                    ("hosts", i, "groups", j),
                    f"unknown host group {group!r}",
                    f"use one of: {', '.join(sorted(site.groups))}",
                )
        if host.az is not None and host.az not in azs:
            report.add(
                "hosts.yml",
                ("hosts", i, "az"),
                f"unknown availability zone {host.az!r}",
                f"use one of: {', '.join(sorted(azs))}",
            )
        attached = {z.name for z in site.zones if set(z.groups) & set(host.groups)}
        addressed = {z.name for z in site.zones if z.provider is None}
        for zone_name in sorted((attached & addressed) - set(host.addresses)):
            report.add(
                "hosts.yml",
                ("hosts", i, "addresses"),
                f"no address in zone {zone_name!r}",
                f"its groups attach to {zone_name}: add '{zone_name}: <IPv4 in {zones[zone_name].ipv4}>'",
            )
        for zone_name, address in host.addresses.items():
            loc = ("hosts", i, "addresses", zone_name)
            zone = zones.get(zone_name)
            if zone is None:
                report.add("hosts.yml", loc, f"unknown zone {zone_name!r}", f"use one of: {', '.join(sorted(zones))}")
                continue
            if zone_name not in attached:
                report.add(
                    "hosts.yml",
                    loc,
                    f"none of the host's groups attach to zone {zone_name!r}",
                    f"add a group of the host to zones.yml {zone_name}.groups, or remove the address",
                )
            if address not in zone.ipv4 or address in (zone.ipv4.network_address, zone.ipv4.broadcast_address):
                report.add(
                    "hosts.yml",
                    loc,
                    f"{address} is not a host address of {zone.ipv4}",
                    f"use an address inside {zone.ipv4}",
                )
            elif address == zone.gateway4:
                report.add("hosts.yml", loc, f"{address} is the zone's gateway", "use another address")
            elif address in seen:
                report.add(
                    "hosts.yml", loc, f"{address} is already used by {seen[address]}", "give every host its own address"
                )
            seen[address] = host.name
    for group in site.capacity.groups:
        if group not in site.groups:
            report.add(
                "capacity.yml",
                ("groups", group),
                f"unknown host group {group!r}",
                f"use one of: {', '.join(sorted(site.groups))}",
            )


def _check_addresses(site: Site, report: _Report) -> None:
    """No two zones, pools or allocations share an address, in either family."""
    pools = site.pools
    items: list[tuple[Network, str]] = []
    where: list[tuple[str | Path, tuple[Any, ...]]] = []

    def entry(net: Network, label: str, file: str | Path, loc: tuple[Any, ...]) -> None:
        items.append((net, label))
        where.append((file, loc))

    for i, zone in enumerate(site.zones):
        entry(zone.ipv4, f"zone {zone.name}", "zones.yml", ("zones", i, "ipv4"))
        entry(zone.ipv6, f"zone {zone.name}", "zones.yml", ("zones", i, "ipv6"))
    entry(pools.ipv4, "the tenant IPv4 pool", "pools.yml", ("ipv4",))
    entry(pools.ipv6, "the tenant IPv6 pool", "pools.yml", ("ipv6",))
    for a, b in _overlaps([span(net) for net, _ in items]):
        for this, other in ((a, b), (b, a)):
            file, loc = where[this]
            report.add(
                file,
                loc,
                f"{items[this][0]} ({items[this][1]}) overlaps {items[other][0]} ({items[other][1]})",
                "give every zone and pool its own address range",
            )

    if not pools.ipv4.prefixlen <= pools.tenant_prefix_v4 <= pools.network_prefix_v4:
        report.add(
            "pools.yml",
            ("tenant_prefix_v4",),
            f"prefix lengths must nest: pool /{pools.ipv4.prefixlen} <= tenant "
            f"/{pools.tenant_prefix_v4} <= network /{pools.network_prefix_v4}",
            "a tenant prefix holds its networks and sits inside the pool",
        )
    if pools.ipv6.prefixlen > 56:
        report.add("pools.yml", ("ipv6",), f"{pools.ipv6} is too small for tenant /64s", "use a /48 (or at most a /56)")

    _check_allocations(site, report)


def _check_allocations(site: Site, report: _Report) -> None:
    """Allocations sit inside the pools and the tenant prefix, and are never shared between tenants."""
    pools = site.pools
    allocs: list[tuple[Network, str]] = []
    alloc_spans: list[Span] = []
    alloc_where: list[tuple[Path, tuple[Any, ...]]] = []
    subnets: list[tuple[Network, Path, int]] = []
    subnet_spans: list[Span] = []
    pool4, pool6 = span(pools.ipv4), span(pools.ipv6)
    for number, tenant in enumerate(site.tenants):
        alloc = tenant.allocation
        if alloc is None:
            continue
        path = report.tenant(tenant.code)
        tenant4 = report.span(alloc.ipv4)
        names = {n.name for n in tenant.networks}
        if not _inside(tenant4, pool4):
            report.add(
                path,
                ("allocation", "ipv4"),
                f"{alloc.ipv4} is outside the tenant pool {pools.ipv4}",
                "let `hatang tenant approve` allocate it",
            )
        allocs.append((alloc.ipv4, f"tenant {tenant.code}"))
        alloc_spans.append(tenant4)
        alloc_where.append((path, ("allocation", "ipv4")))
        for name, net in alloc.networks.items():
            loc = ("allocation", "networks", name)
            if name not in names:
                report.add(
                    path,
                    loc,
                    f"allocation for unknown network {name!r}",
                    "keep allocations of removed networks under their old name, or re-add the network",
                )
            subnet4, subnet6 = report.span(net.ipv4), report.span(net.ipv6)
            if not _inside(subnet4, tenant4):
                report.add(
                    path,
                    (*loc, "ipv4"),
                    f"{net.ipv4} is outside the tenant prefix {alloc.ipv4}",
                    "let `hatang tenant approve` allocate it",
                )
            if not _inside(subnet6, pool6):
                report.add(
                    path,
                    (*loc, "ipv6"),
                    f"{net.ipv6} is outside the tenant pool {pools.ipv6}",
                    "let `hatang tenant approve` allocate it",
                )
            if net.ipv6.prefixlen != pools.network_prefix_v6:
                report.add(
                    path,
                    (*loc, "ipv6"),
                    f"{net.ipv6} is not a /{pools.network_prefix_v6}",
                    "every tenant network gets one /64",
                )
            allocs.append((net.ipv6, f"tenant {tenant.code} network {name}"))
            alloc_spans.append(subnet6)
            alloc_where.append((path, (*loc, "ipv6")))
            subnets.append((net.ipv4, path, number))
            subnet_spans.append(subnet4)
    for a, b in _overlaps(subnet_spans):  # one sweep over every tenant's subnets: a tenant's own pairs
        if subnets[a][2] == subnets[b][2]:
            report.add(
                subnets[a][1],
                ("allocation", "networks"),
                f"{subnets[b][0]} overlaps {subnets[a][0]}",
                "give each network its own subnet",
            )
    for a, b in _overlaps(alloc_spans):
        for this, other in ((a, b), (b, a)):
            file, loc = alloc_where[this]
            report.add(
                file,
                loc,
                f"{allocs[this][0]} ({allocs[this][1]}) overlaps {allocs[other][0]} ({allocs[other][1]})",
                "allocations are never shared or reused; let `hatang tenant approve` allocate",
            )


def _check_tenants(site: Site, report: _Report) -> None:
    agencies = {a.code for a in site.agencies}
    apps = {a.id: a for a in site.applications}
    zone_kinds = {z.kind: z for z in site.zones if z.provider is not None and z.provider.external}
    for tenant in site.tenants:
        path = report.tenant(tenant.code)
        if tenant.code in RESERVED_PROJECT_NAMES:
            report.add(
                path,
                ("code",),
                f"{tenant.code!r} is reserved by Keystone deployments",
                "choose another code, e.g. the agency's abbreviation",
            )
        if tenant.agency not in agencies:
            report.add(path, ("agency",), f"unknown agency {tenant.agency!r}", "add it to agencies.yml or fix the code")
        if tenant.quota_profile not in site.profiles:
            report.add(
                path,
                ("quota_profile",),
                f"unknown quota profile {tenant.quota_profile!r}",
                f"use one of: {', '.join(sorted(site.profiles))}",
            )
        for i, app_id in enumerate(tenant.applications):
            app = apps.get(app_id)
            if app is None:
                report.add(
                    path,
                    ("applications", i),
                    f"unknown application {app_id!r}",
                    "add it to applications.yml or fix the id",
                )
            elif app.security_level > tenant.security_level:
                report.add(
                    path,
                    ("security_level",),
                    f"level {tenant.security_level} is below its application {app_id!r} (level {app.security_level})",
                    f"raise security_level to at least {app.security_level}",
                )
        if tenant.security_level >= 4 and len(tenant.applications) > 1:
            report.add(
                path,
                ("applications",),
                f"a level-{tenant.security_level} tenant hosts {len(tenant.applications)} systems",
                "level 4 and 5 systems get one project each (Decree 331/2026 Art. 30.8: logical separation)",
            )
        for i, network in enumerate(tenant.networks):
            for j, access in enumerate(network.access):
                if ACCESS_ZONE[access] not in zone_kinds:
                    report.add(
                        path,
                        ("networks", i, "access", j),
                        f"the site has no external {ACCESS_ZONE[access].value} provider network",
                        "remove the access or add the zone with provider.external in zones.yml",
                    )
            if NetworkAccess.INTERNET in network.access and tenant.security_level >= 3:
                report.add(
                    path,
                    ("networks", i, "access"),
                    f"a level-{tenant.security_level} tenant may not reach the internet directly",
                    "use 'dmz' (published through the DMZ) instead of 'internet'",
                )
            if {NetworkAccess.GOV, NetworkAccess.INTERNET} <= set(network.access):
                report.add(
                    path,
                    ("networks", i, "access"),
                    "one network routed to both gov (TSLCD) and internet would bridge them",
                    "put the gov-facing and internet-facing parts on separate networks",
                )
        # lifecycle
        last = tenant.history[-1].state
        if last != tenant.state:
            report.add(
                path,
                ("state",),
                f"state {tenant.state.value!r} differs from the last history entry {last.value!r}",
                "change state with `hatang tenant approve/activate/retire`, which records history",
            )
        times = [change.at for change in tenant.history]
        try:
            ordered = times == sorted(times)
        except TypeError:
            ordered = False
            report.add(
                path,
                ("history",),
                "history mixes times with and without a time zone",
                "write every time with its offset, e.g. +07:00",
            )
        if not ordered and len(times) > 1:
            report.add(path, ("history",), "history is not in time order", "append new entries at the end")
        if tenant.state in ALLOCATED_STATES and tenant.allocation is None:
            report.add(
                path,
                ("allocation",),
                f"a {tenant.state.value} tenant has no address allocation",
                f"run `hatang tenant approve {tenant.code}`",
            )
        if tenant.state == TenantState.REQUESTED and tenant.allocation is not None:
            report.add(
                path,
                ("allocation",),
                "a requested tenant already has an allocation",
                f"approve it with `hatang tenant approve {tenant.code}` or remove the allocation",
            )
        if tenant.state == TenantState.REJECTED and tenant.allocation is not None:
            report.add(
                path,
                ("allocation",),
                "a rejected request holds no allocation (it was never approved)",
                "remove the allocation; a tenant that was approved is retired (`hatang tenant retire`), not rejected",
            )
        if tenant.allocation is not None and tenant.state in CONSUMING_STATES:
            missing = [n.name for n in tenant.networks if n.name not in tenant.allocation.networks]
            if missing:
                report.add(
                    path,
                    ("allocation", "networks"),
                    f"no subnets for network(s) {', '.join(missing)}",
                    f"run `hatang tenant approve {tenant.code}` again to allocate them",
                )


def _check_applications(site: Site, report: _Report) -> None:
    agencies = {a.code for a in site.agencies}
    tenants = {t.code: t for t in site.tenants}
    for i, app in enumerate(site.applications):
        loc = ("applications", i)
        if app.owner not in agencies:
            report.add(
                "applications.yml",
                (*loc, "owner"),
                f"unknown owner agency {app.owner!r}",
                "add the agency to agencies.yml or fix the code",
            )
        if app.hosting == Hosting.CLOUD:
            tenant = tenants.get(app.tenant or "")
            if app.tenant is None:
                report.add(
                    "applications.yml",
                    (*loc, "tenant"),
                    "an application on the cloud names its tenant",
                    "set tenant: <tenant code>",
                )
            elif tenant is None:
                report.add(
                    "applications.yml",
                    (*loc, "tenant"),
                    f"unknown tenant {app.tenant!r}",
                    "fix the code or file the tenant request first",
                )
            elif app.id not in tenant.applications:
                report.add(
                    "applications.yml",
                    (*loc, "tenant"),
                    f"tenant {app.tenant!r} does not list application {app.id!r}",
                    f"add {app.id} to applications: in tenants/{app.tenant}.yml",
                )
        elif app.tenant is not None:
            report.add(
                "applications.yml",
                (*loc, "tenant"),
                f"hosting is {app.hosting.value!r} but a tenant is named",
                "set hosting: cloud, or remove tenant",
            )
        if app.hosting == Hosting.PROVIDER and not app.provider:
            report.add(
                "applications.yml",
                (*loc, "provider"),
                "hosting 'provider' needs the provider's name",
                "set provider: <name of the domestic cloud provider>",
            )


def _check_quotas(site: Site, report: _Report) -> None:
    resolved = {}
    for name in site.profiles:
        try:
            resolved[name] = resolve_profile(name, site.profiles)
        except ProfileError as exc:
            report.add("profiles.yml", ("profiles", name), str(exc), "fix the profile so every key resolves")
    counts = Counter(g for h in site.host_specs for g in h.groups)
    total = capacity_totals(site.capacity, counts)
    demand: defaultdict[str, int] = defaultdict(int)
    for tenant in site.tenants_in(*CONSUMING_STATES):
        quotas = resolved.get(tenant.quota_profile)
        if quotas is None:
            continue
        demand["vcpus"] += quotas.compute.cores
        demand["ram_mb"] += quotas.compute.ram
        demand["volume_gb"] += quotas.volume.gigabytes
    for key, unit in (("vcpus", "vCPU"), ("ram_mb", "MiB RAM"), ("volume_gb", "GB of volumes")):
        have = getattr(total, key)
        if demand[key] > have:
            report.add(
                "capacity.yml",
                ("groups",),
                f"approved quotas need {demand[key]} {unit} but the hardware gives {have} "
                f"(over by {demand[key] - have} {unit}, overcommit included)",
                "add hosts, raise overcommit with care, or give tenants smaller profiles",
            )


def _check_ledger(site: Site, report: _Report) -> None:
    from infra.ledger import check_ledger  # the ledger module builds on this one's site model

    check_ledger(site, report.add, report.span)


RULES = (
    _check_duplicates,
    _check_zones,
    _check_flows,
    _check_hosts,
    _check_addresses,
    _check_tenants,
    _check_applications,
    _check_quotas,
    _check_ledger,
)


def validate_site(site: Site) -> list[Problem]:
    """Every cross-file problem of a loaded site, sorted by file and line."""
    report = _Report(site)
    _document.cache_clear()
    with gc_paused():
        for rule in RULES:
            rule(site, report)
    return sorted(set(report.problems), key=lambda p: (p.file, p.line or 0, p.field, p.message))


def load_valid_site(root: Path | str) -> Site:
    """Load a site and raise InventoryError unless it passes every rule."""
    site = load_site(root)
    problems = validate_site(site)
    if problems:
        raise InventoryError(problems)
    return site


def check_site(root: Path | str) -> list[Problem]:
    """Schema and site problems together (empty when the site is valid)."""
    try:
        site = load_site(root)
    except InventoryError as exc:
        return exc.problems
    return validate_site(site)
