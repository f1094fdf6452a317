"""What the cloud should hold, derived from the site model (pure: no Pulumi, no I/O).

Every fact comes from the site: CIDRs and gateways from zones.yml, the tenant subnets from the
allocation `hatang tenant approve` wrote, quotas from the resolved profile, security-group rules
from the flows into the pseudo-zone 'tenants'. The components only map these specs to resources.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from infra.policy import FlowPolicy, port_ranges
from infra.quotas import SECTIONS, ProfileError, resolve_profile
from infra.schema import (
    ENDPOINT_ANY,
    NetworkAccess,
    TenantRequest,
    TenantState,
    Zone,
    ZoneKind,
)
from infra.services import catalogue
from infra.site import Site
from infra.specs.flavors import STANDARD_FLAVORS, FlavorSpec, parse_flavor
from infra.validate import ACCESS_ZONE

__all__ = [
    "AGENCY_GROUP_PREFIX",
    "AGENCY_ROLES",
    "BUILTIN_ROLES",
    "GROUPS",
    "PLATFORM_PROJECT",
    "PLATFORM_SCOPE_TAG",
    "REVIEWERS_GROUP",
    "SERVICE_USERS_DOMAIN",
    "SUBNET_POOL_NAMES",
    "USAGE_READERS_GROUP",
    "USAGE_READERS_ROLE",
    "USAGE_READER_USERS",
    "ExternalNetworkSpec",
    "GroupSpec",
    "PlatformSpec",
    "RouterSpec",
    "RuleSpec",
    "SecurityGroupSpec",
    "SpecError",
    "TenantNetworkSpec",
    "TenantSpec",
    "TenantsPlan",
    "agency_group",
    "external_network_name",
    "parse_tags",
    "platform_spec",
    "portal_groups",
    "tag",
    "tenant_spec",
    "tenants_plan",
]

AGENCY_ROLES = ("agency-admin", "agency-member", "agency-reader")
"""Roles the platform creates; agencies see these names in Horizon."""

BUILTIN_ROLES = ("member", "reader")
"""Keystone's bootstrap roles, which the services' default policies understand (looked up)."""

GROUPS: dict[str, tuple[str, ...]] = {
    "admins": ("agency-admin", "member"),
    "members": ("agency-member", "member"),
    "auditors": ("agency-reader", "reader"),
}
"""Per tenant group suffix -> the roles it holds on the project (custom role + built-in role)."""

AGENCY_GROUP_PREFIX = "agency-"
"""`agency-<code>`: the Keystone group (agencies domain) of an agency's staff, for the portal."""

REVIEWERS_GROUP = "dc-reviewers"
"""The Keystone group (agencies domain) of the data center's reviewers, for the portal."""

USAGE_READERS_GROUP = "portal-usage-readers"
"""The Keystone group (agencies domain) of the identity the portal reads quotas and usage with: it
holds the built-in `reader` role inherited on every project of the domain (read, never change)."""

USAGE_READERS_ROLE = "reader"
"""The role `USAGE_READERS_GROUP` holds on the agencies' projects (one of `BUILTIN_ROLES`)."""

SERVICE_USERS_DOMAIN = "default"
"""The id of the Keystone domain of the services' users (`keystone-manage bootstrap`'s Default)."""

USAGE_READER_USERS = tuple(
    service.role for service in catalogue().services.values() if service.service_user and service.web is not None
)
"""Keystone users (Default domain) the platform puts in `USAGE_READERS_GROUP`: the service users of
the catalogue's web sites that have one, named after their role (the served portal's, `portal`)."""


def agency_group(code: str) -> str:
    """The Keystone group whose members act for agency `code` (agencies.yml) in the portal."""
    return f"{AGENCY_GROUP_PREFIX}{code}"

SUBNET_POOL_NAMES = {4: "tenants-v4", 6: "tenants-v6"}
"""Names of the address scopes and subnet pools of the tenant pools (looked up by the tenants)."""

PLATFORM_PROJECT = "hatang-platform"
"""The platform's Pulumi project (pulumi/platform/Pulumi.yaml): the engine writes it into every URN
of the platform stack, which is how the policy pack knows a resource is the platform's."""

PLATFORM_SCOPE_TAG = "hatang:scope=platform"
"""Tag on every Neutron resource the platform owns (the only place shared/external is allowed).

Only the platform stack may carry it: the policy pack exempts a tagged resource only when its URN
is in the platform project (`PLATFORM_PROJECT`), and reports the tag anywhere else."""

ACCESS_SOURCE_KINDS = {kind: access for access, kind in ACCESS_ZONE.items()}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SpecError(ValueError):
    """The site cannot be rendered as resources (the validator names the cause)."""


def tag(key: str, value: object) -> str:
    """A resource tag `hatang:<key>=<value>` (Keystone and Neutron accept it: no '/' or ',')."""
    return f"hatang:{key}={value}"


def parse_tags(tags: object) -> dict[str, list[str]]:
    """`hatang:` tags as key -> values (other tags ignored; anything not a sequence gives {}).

    The engine's policy library hands lists over as its own read-only sequence type.
    """
    out: dict[str, list[str]] = {}
    if not isinstance(tags, Sequence) or isinstance(tags, str):
        return out
    for item in tags:
        if isinstance(item, str) and item.startswith("hatang:") and "=" in item:
            key, value = item[len("hatang:") :].split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def external_network_name(zone: str) -> str:
    """Neutron name of a zone's provider network (what the tenants program looks up)."""
    return f"ext-{zone}"


# --------------------------------------------------------------------------- platform


@dataclass(frozen=True)
class ExternalNetworkSpec:
    """A zone's provider network, external (router gateways) and shared with nobody."""

    zone: str
    kind: ZoneKind
    physnet: str
    network_type: str
    segmentation_id: int | None
    ipv4: ipaddress.IPv4Network
    gateway4: ipaddress.IPv4Address
    pool4: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    ipv6: ipaddress.IPv6Network
    gateway6: ipaddress.IPv6Address
    pool6: tuple[ipaddress.IPv6Address, ipaddress.IPv6Address]

    @property
    def name(self) -> str:
        return external_network_name(self.zone)


@dataclass(frozen=True)
class GroupSpec:
    """A Keystone group of the agencies domain the platform creates (members are managed in Keystone)."""

    name: str
    description: str


@dataclass(frozen=True)
class PlatformSpec:
    site: str
    region: str
    domain: str
    roles: tuple[str, ...]
    groups: tuple[GroupSpec, ...]
    usage_readers: GroupSpec
    """Not a portal right: the group whose members read every agency project (`USAGE_READERS_GROUP`)."""
    usage_reader_users: tuple[str, ...]
    """Keystone users of the Default domain made members of `usage_readers` (`USAGE_READER_USERS`)."""
    flavors: tuple[FlavorSpec, ...]
    pool_v4: ipaddress.IPv4Network
    pool_v4_prefix: int
    pool_v4_tenant_prefix: int
    pool_v6: ipaddress.IPv6Network
    pool_v6_prefix: int
    externals: tuple[ExternalNetworkSpec, ...]


def _external(zone: Zone) -> ExternalNetworkSpec:
    provider = zone.provider
    if provider is None or zone.gateway4 is None or zone.gateway6 is None:
        raise SpecError(f"zone {zone.name}: an external provider network needs provider, gateway4, gateway6")
    offset = provider.allocation_start
    return ExternalNetworkSpec(
        zone=zone.name,
        kind=zone.kind,
        physnet=provider.physnet,
        network_type=provider.network_type,
        segmentation_id=zone.vlan if provider.network_type == "vlan" else None,
        ipv4=zone.ipv4,
        gateway4=zone.gateway4,
        pool4=(zone.ipv4.network_address + offset, zone.ipv4.broadcast_address - 1),
        ipv6=zone.ipv6,
        gateway6=zone.gateway6,
        pool6=(zone.ipv6.network_address + offset, zone.ipv6.broadcast_address - 1),
    )


def tenant_reachable_zones(site: Site) -> tuple[Zone, ...]:
    """Zones with an external provider network whose kind tenants may ask for (gov, dmz, internet)."""
    kinds = set(ACCESS_ZONE.values())
    return tuple(z for z in site.zones if z.kind in kinds and z.provider is not None and z.provider.external)


def portal_groups(site: Site) -> tuple[GroupSpec, ...]:
    """The portal's groups: one per agency of agencies.yml (by code), then the reviewers."""
    agencies = tuple(
        GroupSpec(agency_group(a.code), f"Staff of {a.name_en} ({a.code}): its tenants and requests in the portal")
        for a in sorted(site.agencies, key=lambda a: a.code)
    )
    return (*agencies, GroupSpec(REVIEWERS_GROUP, "Data center reviewers: approve or reject requests in the portal"))


def platform_spec(site: Site) -> PlatformSpec:
    """The platform stack: tenant address scopes and pools, provider networks, flavors, identity
    (the agencies domain, the agency roles, the portal's groups)."""
    pools = site.pools
    return PlatformSpec(
        site=site.name,
        region=site.info.region,
        domain=site.info.agencies_domain,
        roles=AGENCY_ROLES,
        groups=portal_groups(site),
        usage_readers=GroupSpec(
            USAGE_READERS_GROUP, f"Reads quotas and usage of every agency project for the portal ({USAGE_READERS_ROLE})"
        ),
        usage_reader_users=USAGE_READER_USERS,
        flavors=tuple(parse_flavor(name) for name in STANDARD_FLAVORS),
        pool_v4=pools.ipv4,
        pool_v4_prefix=pools.network_prefix_v4,
        pool_v4_tenant_prefix=pools.tenant_prefix_v4,
        pool_v6=pools.ipv6,
        pool_v6_prefix=pools.network_prefix_v6,
        externals=tuple(_external(z) for z in tenant_reachable_zones(site)),
    )


# --------------------------------------------------------------------------- tenants


@dataclass(frozen=True)
class RouterSpec:
    """One router per kind of access the tenant asked for, gateway on that zone's network."""

    access: NetworkAccess
    zone: str
    zone_kind: ZoneKind

    @property
    def external_network(self) -> str:
        return external_network_name(self.zone)


@dataclass(frozen=True)
class SecondaryUplink:
    """A network's second (third) access: a router port at a fixed address plus host routes.

    A subnet's gateway address can sit on one router only; further routers get a port at the
    subnet's last host address, and the subnet routes that zone's prefix to it (IPv4; IPv6
    keeps its default route through the primary router).
    """

    access: NetworkAccess
    port_ip4: ipaddress.IPv4Address
    routes: tuple[ipaddress.IPv4Network, ...]


@dataclass(frozen=True)
class TenantNetworkSpec:
    name: str
    ipv4: ipaddress.IPv4Network
    ipv6: ipaddress.IPv6Network
    dns4: tuple[str, ...]
    dns6: tuple[str, ...]
    primary: NetworkAccess | None
    secondary: tuple[SecondaryUplink, ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    """One ingress rule: a flow into 'tenants' for one port range and one address family."""

    flow: str
    ethertype: str
    protocol: str
    port_min: int | None
    port_max: int | None
    remote_prefix: str

    @property
    def suffix(self) -> str:
        ports = (
            ""
            if self.port_min is None
            else f"-{self.port_min}" + ("" if self.port_max == self.port_min else f"-{self.port_max}")
        )
        family = "v4" if self.ethertype == "IPv4" else "v6"
        return f"{self.flow}{ports}-{family}"


@dataclass(frozen=True)
class SecurityGroupSpec:
    """Baseline group per flow source: ingress only what the site's flows allow; default deny."""

    source: str
    rules: tuple[RuleSpec, ...]

    @property
    def name(self) -> str:
        return f"from-{self.source}"


@dataclass(frozen=True)
class TenantSpec:
    """Everything one agency tenant gets."""

    site: str
    region: str
    code: str
    display_name: str
    agency: str
    level: int
    applications: tuple[str, ...]
    state: TenantState
    enabled: bool
    protect: bool
    quotas: Mapping[str, Mapping[str, int]]
    networks: tuple[TenantNetworkSpec, ...]
    routers: tuple[RouterSpec, ...]
    security_groups: tuple[SecurityGroupSpec, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def project_tags(self) -> tuple[str, ...]:
        """Keystone tags: agency code, security level, application ids, site and state."""
        return (
            tag("site", self.site),
            tag("agency", self.agency),
            tag("level", self.level),
            tag("state", self.state.value),
            *(tag("app", app) for app in self.applications),
        )

    @property
    def resource_tags(self) -> tuple[str, ...]:
        """Neutron tags: whose resource it is and at which level."""
        return (tag("site", self.site), tag("tenant", self.code), tag("level", self.level))


@dataclass(frozen=True)
class TenantsPlan:
    """The tenants the program declares, and those it leaves out with the reason."""

    tenants: tuple[TenantSpec, ...]
    removed: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def retired_at(tenant: TenantRequest) -> datetime | None:
    """When the tenant was retired (the last history entry in state retired)."""
    for change in reversed(tenant.history):
        if change.state == TenantState.RETIRED:
            return _aware(change.at)
    return None


def _quotas(site: Site, tenant: TenantRequest, lenient: bool, notes: list[str]) -> dict[str, dict[str, int]]:
    try:
        return resolve_profile(tenant.quota_profile, site.profiles).as_dict()
    except ProfileError as exc:
        if not lenient:
            raise SpecError(f"tenant {tenant.code}: quota profile {tenant.quota_profile}: {exc}") from exc
        notes.append(f"quota profile {tenant.quota_profile}: {exc}")
    # Lenient (offline plan of an invalid site): render what the profile chain has, so that the
    # policy pack names the quota resource that lacks a key.
    merged: dict[str, dict[str, int]] = {section: {} for section in SECTIONS}
    chain = []
    current: str | None = tenant.quota_profile
    while current is not None and current in site.profiles and current not in chain:
        chain.append(current)
        current = site.profiles[current].inherits
    for name in reversed(chain):
        for section in SECTIONS:
            merged[section].update(getattr(site.profiles[name], section))
    return merged


def _rules(site: Site, source: str, flows_policy: FlowPolicy) -> tuple[RuleSpec, ...]:
    rules: list[RuleSpec] = []
    for flow in site.flows:
        if flow.source != source or flow.destination != "tenants":
            continue
        for network in flows_policy.networks(source):
            v4 = network.version == 4
            protocol: str = flow.protocol
            if protocol == "icmp" and not v4:
                protocol = "ipv6-icmp"
            ranges = port_ranges(flow) or (None,)
            for rng in ranges:
                rules.append(
                    RuleSpec(
                        flow=flow.name,
                        ethertype="IPv4" if v4 else "IPv6",
                        protocol=protocol,
                        port_min=None if rng is None else rng.low,
                        port_max=None if rng is None else rng.high,
                        remote_prefix=str(network),
                    )
                )
    return tuple(rules)


def _security_groups(site: Site, accesses: set[NetworkAccess], lenient: bool) -> tuple[SecurityGroupSpec, ...]:
    """One group per source of a flow into 'tenants' that can reach this tenant.

    A source that is an access zone (gov, dmz, internet) reaches only tenants routed to it;
    'any' (outside the site) only tenants with internet access; inside zones (mgmt) reach all.
    """
    flows_policy = FlowPolicy(site)
    kinds = {z.name: z.kind for z in site.zones}
    sources: list[str] = []
    for flow in site.flows:
        if flow.destination != "tenants" or flow.source in sources:
            continue
        if flow.source == ENDPOINT_ANY:
            needed: NetworkAccess | None = NetworkAccess.INTERNET
        elif flow.source in kinds:
            needed = ACCESS_SOURCE_KINDS.get(kinds[flow.source])
        elif lenient:
            continue
        else:
            raise SpecError(f"flow {flow.name}: unknown source zone {flow.source!r}")
        if needed is None or needed in accesses:
            sources.append(flow.source)
    return tuple(SecurityGroupSpec(source, _rules(site, source, flows_policy)) for source in sources)


def tenant_spec(site: Site, tenant: TenantRequest, *, lenient: bool = False) -> TenantSpec:
    """The resources of one approved, active or retired tenant.

    Raises:
        SpecError: the tenant cannot be rendered (no allocation, unknown profile, no zone).
    """
    notes: list[str] = []
    alloc = tenant.allocation
    if alloc is None:
        raise SpecError(f"tenant {tenant.code}: no address allocation (run `hatang tenant approve {tenant.code}`)")
    zones_by_kind = {z.kind: z for z in tenant_reachable_zones(site)}
    dns = [ipaddress.ip_address(a) for a in site.info.services.dns]
    dns4 = tuple(str(a) for a in dns if a.version == 4)
    dns6 = tuple(str(a) for a in dns if a.version == 6)
    networks: list[TenantNetworkSpec] = []
    accesses: list[NetworkAccess] = []
    for network in tenant.networks:
        net_alloc = alloc.networks.get(network.name)
        if net_alloc is None:
            raise SpecError(f"tenant {tenant.code}: network {network.name} has no allocated subnets")
        usable = [a for a in network.access if ACCESS_ZONE[a] in zones_by_kind]
        if len(usable) != len(network.access) and not lenient:
            raise SpecError(f"tenant {tenant.code}: network {network.name} asks for an access the site has no zone for")
        secondary = tuple(
            SecondaryUplink(
                access=a,
                port_ip4=net_alloc.ipv4.broadcast_address - 1,
                routes=(zones_by_kind[ACCESS_ZONE[a]].ipv4,),
            )
            for a in usable[1:]
        )
        networks.append(
            TenantNetworkSpec(
                name=network.name,
                ipv4=net_alloc.ipv4,
                ipv6=net_alloc.ipv6,
                dns4=dns4,
                dns6=dns6,
                primary=usable[0] if usable else None,
                secondary=secondary,
            )
        )
        accesses.extend(a for a in usable if a not in accesses)
    order = list(NetworkAccess)
    routers = tuple(
        RouterSpec(access=a, zone=zones_by_kind[ACCESS_ZONE[a]].name, zone_kind=ACCESS_ZONE[a])
        for a in sorted(accesses, key=order.index)
    )
    retired = tenant.state == TenantState.RETIRED
    return TenantSpec(
        site=site.name,
        region=site.info.region,
        code=tenant.code,
        display_name=tenant.name,
        agency=tenant.agency,
        level=tenant.security_level,
        applications=tenant.applications,
        state=tenant.state,
        enabled=not retired,
        # Active data is protected against a mistaken edit; retiring (a reviewed change with a
        # history entry) lifts the protection so the removal after the grace period can happen.
        protect=not retired,
        quotas=_quotas(site, tenant, lenient, notes),
        networks=tuple(networks),
        routers=routers,
        security_groups=_security_groups(site, set(accesses), lenient),
        notes=tuple(notes),
    )


def tenants_plan(site: Site, now: datetime, *, lenient: bool = False) -> TenantsPlan:
    """Specs of every tenant the program declares: approved, active, and retired within grace.

    Requested and rejected tenants are left out (no allocation, nothing to create); retired ones past
    `site.info.retire_grace_days` are left out, which makes the engine delete them.
    With `lenient`, a tenant that cannot be rendered is skipped with its reason instead of
    raising (the offline plan of an invalid site still shows the rest).
    """
    now = _aware(now)
    grace = timedelta(days=site.info.retire_grace_days)
    specs: list[TenantSpec] = []
    removed: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for tenant in site.tenants:
        if tenant.state == TenantState.REQUESTED:
            skipped.append((tenant.code, "requested: not approved yet"))
            continue
        if tenant.state == TenantState.REJECTED:
            skipped.append((tenant.code, "rejected: never approved, creates nothing"))
            continue
        if tenant.state == TenantState.RETIRED:
            since = retired_at(tenant)
            if since is not None and now >= since + grace:
                removed.append(
                    (
                        tenant.code,
                        f"retired {since.date()}, grace period of {grace.days} days over on {(since + grace).date()}",
                    )
                )
                continue
        try:
            specs.append(tenant_spec(site, tenant, lenient=lenient))
        except SpecError as exc:
            if not lenient:
                raise
            skipped.append((tenant.code, str(exc)))
    return TenantsPlan(tuple(specs), tuple(removed), tuple(skipped))
