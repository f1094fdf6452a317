"""The CrossGuard policy pack's rules, built from the site model (importable; no gRPC server).

The rules reuse the model instead of restating it: quota keys are checked by the pydantic
quota models (`infra.quotas.SECTIONS`), admin ports come from `infra.policy.ADMIN_PORTS`,
the tenant pools from `FlowPolicy.networks('tenants')`, the access zones from
`infra.validate.ACCESS_ZONE`, tenant facts (agency, level, applications) from the tenant
files. Only `pulumi/policy/__main__.py` constructs a `PolicyPack` from `make_policies`.

Inputs arrive with Pulumi's camelCase names (`remoteIpPrefix`, `projectId`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pydantic import ValidationError

from infra.policy import ADMIN_PORTS, FlowPolicy
from infra.quotas import SECTIONS
from infra.schema import ENDPOINT_TENANTS, ZoneKind
from infra.site import Site
from infra.stacks.spec import PLATFORM_SCOPE_TAG, parse_tags

__all__ = [
    "POLICY_NAMES",
    "QUOTA_TYPES",
    "T_NETWORK",
    "T_PROJECT",
    "T_ROUTER",
    "T_SG_RULE",
    "T_SUBNET",
    "make_policies",
]

T_PROJECT = "openstack:identity/project:Project"
T_NETWORK = "openstack:networking/network:Network"
T_SUBNET = "openstack:networking/subnet:Subnet"
T_ROUTER = "openstack:networking/router:Router"
T_SG = "openstack:networking/secGroup:SecGroup"
T_SG_RULE = "openstack:networking/secGroupRule:SecGroupRule"
T_PORT = "openstack:networking/port:Port"
QUOTA_TYPES = {
    "compute": "openstack:compute/quotaSetV2:QuotaSetV2",
    "network": "openstack:networking/quotaV2:QuotaV2",
    "volume": "openstack:blockstorage/quoteSetV3:QuoteSetV3",
}
TENANT_TAGGED_TYPES = (T_NETWORK, T_SUBNET, T_ROUTER, T_SG, T_PORT)

POLICY_NAMES = (
    "tenant-quotas-explicit",
    "no-world-open-admin-ports",
    "tenant-subnets-in-pools",
    "no-shared-networks-outside-platform",
    "tenant-networks-dual-stack",
    "level3-internet-only-via-dmz",
    "required-tags",
)

_TCP_UDP = {"tcp", "udp", "", "any"}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _is_platform(props: Mapping[str, Any]) -> bool:
    # the engine hands lists over as its own read-only sequence type, the SDK's mocks as lists
    tags = props.get("tags")
    return isinstance(tags, Sequence) and not isinstance(tags, str) and PLATFORM_SCOPE_TAG in tags


def _is_tenant_project(resource_type: str, props: Mapping[str, Any]) -> bool:
    return resource_type == T_PROJECT and not props.get("isDomain") and not _is_platform(props)


def _int(value: Any) -> int | None:
    """A number from the inputs (the engine's protobuf numbers arrive as floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class _Rules:
    """The rules, bound to one site (lookups precomputed: a plan may hold 30,000 resources)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.tenants = {t.code: t for t in site.tenants}
        self.pools = FlowPolicy(site).networks(ENDPOINT_TENANTS)
        self.zone_kinds = {z.name: z.kind for z in site.zones}

    # -- quotas ---------------------------------------------------------------------------

    def quota_problems(self, section: str, props: Mapping[str, Any]) -> list[str]:
        """What the quota model says about a quota resource's inputs (missing/unknown/negative keys)."""
        model = SECTIONS[section]
        values = {_snake(k): v for k, v in props.items() if k not in {"projectId", "region"}}
        values = {k: v for k, v in values.items() if k in model.model_fields}
        try:
            model.model_validate(values)
        except ValidationError as exc:
            return [f"{section} quota {e['loc'][0]}: {e['msg'].lower()}" for e in exc.errors()]
        return []

    def tenant_quotas_explicit(self, args: StackValidationArgs, report: ReportViolation) -> None:
        sections = {type_: section for section, type_ in QUOTA_TYPES.items()}
        projects = [r for r in args.resources if _is_tenant_project(r.resource_type, r.props)]
        project_of_parent = {p.parent.urn: p.urn for p in projects if p.parent is not None}
        owned: dict[tuple[str, str], list[PolicyResource]] = {}
        for r in args.resources:
            section = sections.get(r.resource_type)
            if section is None:
                continue
            owners = {dep.urn for dep in r.property_dependencies.get("projectId", [])}
            if not owners and r.parent is not None and r.parent.urn in project_of_parent:
                owners = {project_of_parent[r.parent.urn]}
            for owner in owners:
                owned.setdefault((owner, section), []).append(r)
        for project in projects:
            for section, type_ in QUOTA_TYPES.items():
                quotas = owned.get((project.urn, section), [])
                if not quotas:
                    report(
                        f"project {project.props.get('name')!r} has no {section} quota set "
                        f"({type_.rsplit(':', 1)[-1]}); every project gets compute, network and volume quotas",
                        project.urn,
                    )
                for quota in quotas:
                    for problem in self.quota_problems(section, quota.props):
                        report(f"{problem} (every quota key is explicit; an unset Neutron quota becomes 0)", quota.urn)

    # -- security groups ------------------------------------------------------------------

    def no_world_open_admin_ports(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != T_SG_RULE:
            return
        props = args.props
        if props.get("direction") != "ingress":
            return
        if props.get("remoteGroupId") or props.get("remoteAddressGroupId"):
            return
        prefix = props.get("remoteIpPrefix")
        if isinstance(prefix, str) and prefix:
            try:
                if ipaddress.ip_network(prefix, strict=False).prefixlen != 0:
                    return
            except ValueError:
                return
        elif prefix is not None:
            return  # unknown at preview time
        protocol = str(props.get("protocol") or "").lower()
        if protocol not in _TCP_UDP:
            return
        low = _int(props.get("portRangeMin")) or 1  # unset or 0: every port
        high = _int(props.get("portRangeMax")) or 65535
        opened = [f"{name} port {port}" for port, name in sorted(ADMIN_PORTS.items()) if low <= port <= high]
        if opened:
            world = prefix or "any address"
            report(f"ingress from {world} opens {', '.join(opened)} to the world", None)

    # -- addresses ------------------------------------------------------------------------

    def tenant_subnets_in_pools(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != T_SUBNET or _is_platform(args.props):
            return
        cidr = args.props.get("cidr")
        if not isinstance(cidr, str):
            return
        try:
            subnet = ipaddress.ip_network(cidr)
        except ValueError:
            report(f"cidr {cidr!r} is not a network", None)
            return
        pools = [p for p in self.pools if p.version == subnet.version]
        if not any(subnet.subnet_of(pool) for pool in pools):  # type: ignore[arg-type]
            report(
                f"tenant subnet {subnet} is outside the tenant pool {', '.join(str(p) for p in pools)} (pools.yml)",
                None,
            )

    # -- sharing --------------------------------------------------------------------------

    def no_shared_networks_outside_platform(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != T_NETWORK or _is_platform(args.props):
            return
        for key in ("shared", "external"):
            if args.props.get(key) is True:
                report(
                    f"network {args.props.get('name')!r} has {key}=True; only the platform's networks may be "
                    "shared or external (tenants get RBAC grants instead)",
                    None,
                )

    # -- dual stack -----------------------------------------------------------------------

    def tenant_networks_dual_stack(self, args: StackValidationArgs, report: ReportViolation) -> None:
        versions_of: dict[str, set[int | None]] = {}
        for subnet in args.resources:
            if subnet.resource_type == T_SUBNET:
                for dep in subnet.property_dependencies.get("networkId", []):
                    versions_of.setdefault(dep.urn, set()).add(_int(subnet.props.get("ipVersion")))
        for network in args.resources:
            if network.resource_type != T_NETWORK or _is_platform(network.props):
                continue
            versions = versions_of.get(network.urn, set())
            missing = [f"IPv{v}" for v in (4, 6) if v not in versions]
            if missing:
                report(
                    f"tenant network {network.props.get('name')!r} has no {' or '.join(missing)} subnet; "
                    "every tenant network is dual-stack",
                    network.urn,
                )

    # -- internet access by level ---------------------------------------------------------

    def level3_internet_only_via_dmz(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != T_ROUTER or _is_platform(args.props):
            return
        tags = parse_tags(args.props.get("tags"))
        levels = [int(v) for v in tags.get("level", []) if v.isdigit()]
        zones = tags.get("zone", [])
        internet = [z for z in zones if self.zone_kinds.get(z) == ZoneKind.INTERNET] + [
            a for a in tags.get("access", []) if a == "internet"
        ]
        if levels and max(levels) >= 3 and internet:
            report(
                f"a level-{max(levels)} tenant's router has its gateway on the internet zone; "
                "level 3 and above reach the internet only through the DMZ",
                None,
            )

    # -- tags -----------------------------------------------------------------------------

    def required_tags(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        props = args.props
        if _is_platform(props):
            return
        tags = parse_tags(props.get("tags"))
        if _is_tenant_project(args.resource_type, props):
            missing = [k for k in ("site", "agency", "level") if not tags.get(k)]
            if missing:
                report(f"project is missing tag(s) {', '.join('hatang:' + k + '=' for k in missing)}", None)
            tenant = self.tenants.get(str(props.get("name")))
            if tenant is not None:
                expected = {
                    "agency": [tenant.agency],
                    "level": [str(tenant.security_level)],
                    "app": sorted(tenant.applications),
                }
                for key, values in expected.items():
                    if sorted(tags.get(key, [])) != values and key not in missing:
                        report(
                            f"project tag hatang:{key} is {sorted(tags.get(key, []))} "
                            f"but the tenant file says {values}",
                            None,
                        )
        elif args.resource_type in TENANT_TAGGED_TYPES:
            needed = ["site", "tenant", "level"]
            if args.resource_type == T_ROUTER and props.get("externalNetworkId") is not None:
                needed.append("zone")
            missing = [k for k in needed if not tags.get(k)]
            if missing:
                report(f"missing tag(s) {', '.join('hatang:' + k + '=' for k in missing)}", None)


def make_policies(site: Site) -> list[Policy]:
    """The pack's mandatory policies, bound to the site the stacks render."""
    rules = _Rules(site)
    mandatory = EnforcementLevel.MANDATORY
    resource: list[tuple[str, str, Callable[[ResourceValidationArgs, ReportViolation], None]]] = [
        ("no-world-open-admin-ports",
         "No ingress rule opens SSH, RDP, database or other admin ports to 0.0.0.0/0 or ::/0.",
         rules.no_world_open_admin_ports),
        ("tenant-subnets-in-pools", "Tenant subnets lie inside the tenant pools of pools.yml.",
         rules.tenant_subnets_in_pools),
        ("no-shared-networks-outside-platform",
         "Only the platform's networks are shared or external; tenants get RBAC grants.",
         rules.no_shared_networks_outside_platform),
        ("level3-internet-only-via-dmz",
         "Tenants of security level 3 and above reach the internet only through the DMZ.",
         rules.level3_internet_only_via_dmz),
        ("required-tags",
         "Projects carry agency, level and application tags; tenant network resources carry tenant and level.",
         rules.required_tags),
    ]
    stack: list[tuple[str, str, Callable[[StackValidationArgs, ReportViolation], None]]] = [
        ("tenant-quotas-explicit",
         "Every tenant project has compute, network and volume quota sets with every key explicit.",
         rules.tenant_quotas_explicit),
        ("tenant-networks-dual-stack", "Every tenant network has an IPv4 and an IPv6 subnet.",
         rules.tenant_networks_dual_stack),
    ]
    policies: list[Policy] = [
        ResourceValidationPolicy(name=name, description=text, validate=fn, enforcement_level=mandatory)
        for name, text, fn in resource
    ]
    policies.extend(
        StackValidationPolicy(name=name, description=text, validate=fn, enforcement_level=mandatory)
        for name, text, fn in stack
    )
    return policies
