"""The CrossGuard policy pack's rules, built from the site model (importable; no gRPC server).

The rules reuse the model instead of restating it: quota keys are checked by the pydantic
quota models (`infra.quotas.SECTIONS`), admin ports come from `infra.policy.ADMIN_PORTS`,
the tenant pools from `FlowPolicy.networks('tenants')`, the access zones from
`infra.validate.ACCESS_ZONE`, tenant facts (agency, level, applications) from the tenant
files. Only `pulumi/policy/__main__.py` constructs a `PolicyPack` from `make_policies`.

Inputs arrive with Pulumi's camelCase names (`remoteIpPrefix`, `projectId`).

What a rule trusts (issue 15): a resource's own tags say what the program meant, not what it
is. The platform exemption follows the project in the resource's URN (the engine writes it from
Pulumi.yaml; no resource can set it), not the `hatang:scope=platform` tag alone. The level-3 rule
reads the router's gateway network against the platform's zone networks and the tenant's level
from the tenant file of the project it belongs to. Security-group protocols, ports and prefixes
are read as Neutron reads them (`infra.policy.admin_ports_opened`, `reaches_world`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError
from pydantic import ValidationError

from infra.policy import (
    ADMIN_PORTS,
    FlowPolicy,
    admin_openings,
    admin_ports_opened,
    ip_protocol,
    reaches_world,
    remote_networks,
    world_cover,
    world_families,
)
from infra.quotas import SECTIONS
from infra.schema import ENDPOINT_TENANTS, ZoneKind
from infra.site import Site
from infra.specs.cloud import PLATFORM_PROJECT, PLATFORM_SCOPE_TAG, parse_tags
from infra.validate import ACCESS_ZONE

__all__ = [
    "COMBINED_WORLD_POLICY",
    "EXTERNAL_NETWORK_IDS",
    "LEVEL3_POLICY",
    "POLICY_NAMES",
    "QUOTA_TYPES",
    "T_ADDRESS_GROUP",
    "T_NETWORK",
    "T_PORT",
    "T_PROJECT",
    "T_RBAC",
    "T_ROUTER",
    "T_SG",
    "T_SG_RULE",
    "T_SUBNET",
    "make_policies",
    "platform_external_networks",
    "urn_project",
]

T_PROJECT = "openstack:identity/project:Project"
T_NETWORK = "openstack:networking/network:Network"
T_SUBNET = "openstack:networking/subnet:Subnet"
T_ROUTER = "openstack:networking/router:Router"
T_SG = "openstack:networking/secGroup:SecGroup"
T_SG_RULE = "openstack:networking/secGroupRule:SecGroupRule"
T_PORT = "openstack:networking/port:Port"
T_RBAC = "openstack:networking/rbacPolicyV2:RbacPolicyV2"
T_ADDRESS_GROUP = "openstack:networking/addressGroupV2:AddressGroupV2"
QUOTA_TYPES = {
    "compute": "openstack:compute/quotaSetV2:QuotaSetV2",
    "network": "openstack:networking/quotaV2:QuotaV2",
    "volume": "openstack:blockstorage/quoteSetV3:QuoteSetV3",
}
TENANT_TAGGED_TYPES = (T_NETWORK, T_SUBNET, T_ROUTER, T_SG, T_PORT)

POLICY_NAMES = (
    "tenant-quotas-explicit",
    "no-world-open-admin-ports",
    "no-world-open-admin-ports-combined",
    "tenant-subnets-in-pools",
    "no-shared-networks-outside-platform",
    "tenant-networks-dual-stack",
    "level3-internet-only-via-dmz",
    "required-tags",
)

LEVEL3_POLICY = "level3-internet-only-via-dmz"
COMBINED_WORLD_POLICY = "no-world-open-admin-ports-combined"
EXTERNAL_NETWORK_IDS = "externalNetworkIds"
"""Config key of level3-internet-only-via-dmz: zone -> id of the platform's zone networks, as the
platform stack exports it (`pulumi stack output externalNetworkIds`). The offline plan fills it
from the platform program it runs; the engine takes it from `--policy-pack-config`."""

_UNKNOWN = object()
"""A property the engine does not know yet (preview): not the same as an unset one."""


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _known(props: Mapping[str, Any], key: str) -> Any:
    """props[key], None when unset, `_UNKNOWN` when the engine cannot know it yet (preview)."""
    try:
        return props.get(key)
    except UnknownValueError:
        return _UNKNOWN


def urn_project(urn: str) -> str | None:
    """The Pulumi project of a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`), else None."""
    if not urn.startswith("urn:pulumi:"):
        return None
    parts = urn.split("::")
    return parts[1] if len(parts) >= 4 else None


def _has_platform_tag(props: Mapping[str, Any]) -> bool:
    # the engine hands lists over as its own read-only sequence type, the SDK's mocks as lists
    tags = _known(props, "tags")
    try:
        return isinstance(tags, Sequence) and not isinstance(tags, str) and PLATFORM_SCOPE_TAG in tags
    except UnknownValueError:
        return False


def _is_platform(urn: str, props: Mapping[str, Any]) -> bool:
    """The platform's own resource: in the platform stack (by its URN) AND tagged as the platform's.

    The tag alone proves nothing: any program can write it. A tenants-stack resource carrying it
    is checked like any other (and `required-tags` reports the tag).
    """
    return urn_project(urn) == PLATFORM_PROJECT and _has_platform_tag(props)


def _is_tenant_project(resource_type: str, urn: str, props: Mapping[str, Any]) -> bool:
    return resource_type == T_PROJECT and not props.get("isDomain") and not _is_platform(urn, props)


def _tags(props: Mapping[str, Any]) -> dict[str, list[str]]:
    try:
        return parse_tags(_known(props, "tags"))
    except UnknownValueError:
        return {}


def platform_external_networks(resources: Sequence[tuple[str, str, Mapping[str, Any], str | None]]) -> dict[str, str]:
    """zone -> id of the platform's zone networks among (urn, type, inputs, id) of declared resources.

    What the platform stack exports as `externalNetworkIds`, read from the platform's own
    resources (platform project, platform tag, zone tag): the offline plan's policy config.
    """
    found: dict[str, str] = {}
    for urn, type_, props, resource_id in resources:
        if type_ != T_NETWORK or not resource_id or not _is_platform(urn, props):
            continue
        for zone in parse_tags(props.get("tags")).get("zone", []):
            found[zone] = resource_id
    return found


def _parses(prefix: str) -> bool:
    try:
        ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False
    return True


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
        self.internet_zones = {z.name for z in site.zones if z.kind == ZoneKind.INTERNET}
        self.internet_access = {a.value for a, kind in ACCESS_ZONE.items() if kind == ZoneKind.INTERNET}

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
        projects = [r for r in args.resources if _is_tenant_project(r.resource_type, r.urn, r.props)]
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
        if args.resource_type == T_PORT and not _is_platform(args.urn, args.props):
            if args.props.get("portSecurityEnabled") is False:
                report(
                    "port security disabled: no security group filters this port, every port of it is open "
                    "to whoever reaches its network",
                    None,
                )
            return
        if args.resource_type != T_SG_RULE:
            return
        props = args.props
        if str(props.get("direction") or "").lower() == "egress":
            return  # anything else (Neutron knows only ingress and egress) is read as ingress
        if props.get("remoteGroupId") or props.get("remoteAddressGroupId"):
            return
        prefix = props.get("remoteIpPrefix")
        if not reaches_world(prefix):
            return
        protocol = props.get("protocol")
        opened = admin_ports_opened(protocol, props.get("portRangeMin"), props.get("portRangeMax"))
        if not opened:
            return
        if prefix is None or prefix == "":
            world = "any address"
        elif isinstance(prefix, str) and _parses(prefix):
            world = prefix
        else:
            world = f"{prefix!r} (not a prefix: read as any address)"
        try:
            ip_protocol(protocol)
            unread = ""
        except ValueError:
            unread = f" (protocol {protocol!r} is not a protocol Neutron knows: read as every protocol)"
        ports = ", ".join(f"{ADMIN_PORTS[port]} port {port}" for port in opened)
        report(f"ingress from {world} opens {ports} to the world{unread}", None)

    @staticmethod
    def _project_key(resource: PolicyResource) -> str | None:
        """The project a resource is created in: its `tenantId` (or `projectId`), as a value or
        as the project resource it depends on (by that resource's id when known)."""
        for key in ("tenantId", "projectId"):
            for dep in resource.property_dependencies.get(key, []):
                known = _known(dep.props, "id")
                return f"project {known}" if isinstance(known, str) and known else f"project {dep.urn}"
            value = _known(resource.props, key)
            if isinstance(value, str) and value:
                return f"project {value}"
        return None

    def _owner(self, rule: PolicyResource, groups: Mapping[str, PolicyResource]) -> str:
        """Whose ports a rule's group may filter: the rule's project, else its security group's,
        else the provider's default project (where a resource without a tenant is created)."""
        found = self._project_key(rule)
        if found is None:
            for dep in rule.property_dependencies.get("securityGroupId", []):
                group = groups.get(dep.urn)
                found = self._project_key(group) if group is not None else None
        return found or "the provider's project"

    @staticmethod
    def _address_group(rule: PolicyResource, groups: Mapping[str, PolicyResource]) -> tuple[Any, ...] | None:
        """The networks a rule's remote address group admits, when the group is in the stack."""
        for dep in rule.property_dependencies.get("remoteAddressGroupId", []):
            group = groups.get(dep.urn)
            addresses = _known(group.props, "addresses") if group is not None else None
            if isinstance(addresses, Sequence) and not isinstance(addresses, str):
                return tuple(n for address in addresses for n in remote_networks(address))
        return None

    def no_world_open_admin_ports_combined(self, args: StackValidationArgs, report: ReportViolation) -> None:
        """Ingress rules that together admit every address to an admin port: two /1s, four /2s,
        any set of prefixes whose union leaves no address out, or a remote address group of the
        stack holding them (a rule whose prefix alone admits the world is
        `no-world-open-admin-ports`'s), across the rules of one project (its groups may filter
        one port together): the rule's tenant, else its security group's, else the provider's."""
        openings: dict[tuple[str, int, int], list[tuple[PolicyResource, tuple[Any, ...]]]] = {}
        groups = {r.urn: r for r in args.resources if r.resource_type == T_SG}
        address_groups = {r.urn: r for r in args.resources if r.resource_type == T_ADDRESS_GROUP}
        for r in args.resources:
            if r.resource_type != T_SG_RULE:
                continue
            props = r.props
            if str(_known(props, "direction") or "").lower() == "egress":
                continue
            if _known(props, "remoteGroupId"):
                continue
            if _known(props, "remoteAddressGroupId"):
                admitted = self._address_group(r, address_groups)
                if admitted is None:
                    continue  # a group of another stack: its addresses are not known here
            else:
                prefix = _known(props, "remoteIpPrefix")
                if prefix is _UNKNOWN:
                    continue
                admitted = remote_networks(prefix, _known(props, "ethertype"))
            opened = admin_openings(_known(props, "protocol"), _known(props, "portRangeMin"),
                                    _known(props, "portRangeMax"))  # fmt: skip
            for proto, port in opened:
                openings.setdefault((self._owner(r, groups), proto, port), []).append((r, admitted))
        messages: dict[tuple[str, ...], tuple[set[int], set[int], list[PolicyResource]]] = {}
        covers: dict[tuple[str, ...], dict[int, list[int]]] = {}  # many ports share one set of rules
        for (_owner, _proto, port), rules in sorted(openings.items(), key=lambda kv: kv[0]):
            if len(rules) < 2 and not _known(rules[0][0].props, "remoteAddressGroupId"):
                continue  # one prefix rule: the resource rule's to report
            # a prefix that alone is the world is the resource rule's report; an address group is not
            alone = {
                v for r, admitted in rules if not _known(r.props, "remoteAddressGroupId")
                for v in world_families(admitted)
            }  # fmt: skip
            key = tuple(r.urn for r, _ in rules)
            if key not in covers:
                covers[key] = world_cover([a for _, a in rules])
            cover = {v: i for v, i in covers[key].items() if v not in alone}
            if not cover:
                continue
            together = sorted(cover)
            rules = [rules[i] for i in sorted({i for indexes in cover.values() for i in indexes})]
            names = tuple(sorted({r.name for r, _ in rules}))
            ports, families, resources = messages.setdefault(names, (set(), set(), [r for r, _ in rules]))
            ports.add(port)
            families.update(together)
        for names, (ports, families, resources) in sorted(messages.items()):
            which = " and ".join(f"IPv{v}" for v in sorted(families))
            opened_ports = ", ".join(f"{ADMIN_PORTS[p]} port {p}" for p in sorted(ports))
            if len(names) == 1:
                message = (
                    f"ingress rule {names[0]} admits every {which} address to {opened_ports} "
                    "(its remote address group holds the world)"
                )
            else:
                message = (
                    f"ingress rules {', '.join(names)} together admit every {which} address to {opened_ports} "
                    "(their remote prefixes add up to the world)"
                )
            for resource in sorted({r.urn: r for r in resources}.values(), key=lambda r: r.urn):
                report(message, resource.urn)

    # -- addresses ------------------------------------------------------------------------

    def tenant_subnets_in_pools(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != T_SUBNET or _is_platform(args.urn, args.props):
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
        if args.resource_type != T_NETWORK or _is_platform(args.urn, args.props):
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
            if network.resource_type != T_NETWORK or _is_platform(network.urn, network.props):
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

    def _zone_of_address(self, address: Any) -> str | None:
        """The site zone whose IPv4 or IPv6 prefix holds an address (a router's gateway IP)."""
        if not isinstance(address, str):
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for zone in self.site.zones:
            if ip in (zone.ipv4 if ip.version == 4 else zone.ipv6):
                return zone.name
        return None

    def _levels(self, resource: PolicyResource, project_keys: Sequence[str]) -> list[int]:
        """Every level the resource can be tied to: the tenant file of the project it is created in
        (its property dependency, e.g. `tenantId`), the tenant its tag names, its level tag.

        The highest counts, so a tag cannot lower what the tenant file says.
        """
        levels: list[int] = []
        sources = [resource] + [
            dep
            for key in project_keys
            for dep in resource.property_dependencies.get(key, [])
            if dep.resource_type == T_PROJECT
        ]
        for source in sources:
            tags = _tags(source.props)
            levels += [int(v) for v in tags.get("level", []) if v.isdigit()]
            codes = list(tags.get("tenant", []))
            if source.resource_type == T_PROJECT:
                codes.append(str(_known(source.props, "name")))  # a tenant's project is named by its code
            levels += [self.tenants[c].security_level for c in codes if c in self.tenants]
        return levels

    def _network_zone(self, network_id: Any, zones_by_id: Mapping[str, str]) -> str | None:
        return zones_by_id.get(network_id) if isinstance(network_id, str) else None

    def level3_internet_only_via_dmz(self, args: StackValidationArgs, report: ReportViolation) -> None:
        """No project of a level-3+ tenant reaches the internet zone's network directly.

        The network is what Neutron connects: the router's `externalNetworkId` compared with the
        ids of the platform's zone networks (config `externalNetworkIds`, or the platform's networks
        when they are in the same evaluation), and the gateway addresses Neutron assigned
        (`externalFixedIps`, known once the router exists) placed in the site's zone prefixes. The
        router's own zone/access tags only add to that (they cannot clear it). With the ids known, a
        gateway on a network that is none of the platform's zone networks is refused for level 3+,
        and so are an RBAC grant or a port on the internet zone's network.
        """
        config = args.get_config().get(EXTERNAL_NETWORK_IDS)
        config = config if isinstance(config, Mapping) else {}
        zones_by_id = {str(i): str(z) for z, i in config.items() if i}
        zones_by_id |= {
            i: z
            for z, i in platform_external_networks(
                [
                    (r.urn, r.resource_type, r.props, _known(r.props, "id"))
                    for r in args.resources
                    if r.resource_type == T_NETWORK and urn_project(r.urn) == PLATFORM_PROJECT
                ]
            ).items()
            if isinstance(i, str)
        }
        internet = self.internet_zones
        for r in args.resources:
            if _is_platform(r.urn, r.props):
                continue
            if r.resource_type == T_ROUTER:
                self._level3_router(r, zones_by_id, internet, report)
            elif r.resource_type in (T_RBAC, T_PORT):
                key = "objectId" if r.resource_type == T_RBAC else "networkId"
                zone = self._network_zone(_known(r.props, key), zones_by_id)
                if zone not in internet:
                    continue
                if r.resource_type == T_RBAC and _known(r.props, "targetTenant") == "*":
                    report(
                        f"RBAC grant on the internet zone's network ({zone}) to every project ('*'), "
                        "level-3 tenants included",
                        r.urn,
                    )
                    continue
                levels = self._levels(r, ("targetTenant", "tenantId", "projectId"))
                if levels and max(levels) >= 3:
                    what = "an RBAC grant" if r.resource_type == T_RBAC else "a port"
                    report(
                        f"a level-{max(levels)} tenant gets {what} on the internet zone's network ({zone}); "
                        "level 3 and above reach the internet only through the DMZ",
                        r.urn,
                    )

    def _level3_router(
        self, router: PolicyResource, zones_by_id: Mapping[str, str], internet: set[str], report: ReportViolation
    ) -> None:
        network = _known(router.props, "externalNetworkId")
        fixed = _known(router.props, "externalFixedIps")
        if not network and not fixed:
            return  # no gateway
        levels = self._levels(router, ("tenantId", "projectId"))
        if not levels or max(levels) < 3:
            return
        evidence: list[str] = []
        zone = self._network_zone(network, zones_by_id)
        if zone in internet:
            evidence.append(f"network {network} is zone {zone}'s")
        try:
            addresses = [_known(ip, "ipAddress") for ip in fixed] if isinstance(fixed, Sequence) else []
        except (UnknownValueError, TypeError, AttributeError):
            addresses = []
        for address in addresses:
            where = self._zone_of_address(address)
            if where in internet:
                evidence.append(f"gateway address {address} is in zone {where}")
        tags = _tags(router.props)
        evidence += [f"tagged hatang:zone={z}" for z in tags.get("zone", []) if z in internet]
        evidence += [f"tagged hatang:access={a}" for a in tags.get("access", []) if a in self.internet_access]
        if evidence:
            report(
                f"a level-{max(levels)} tenant's router has its gateway on the internet zone "
                f"({'; '.join(evidence)}); level 3 and above reach the internet only through the DMZ",
                router.urn,
            )
        elif zones_by_id and isinstance(network, str) and network and zone is None:
            report(
                f"a level-{max(levels)} tenant's router has its gateway on network {network}, which is none "
                f"of the platform's zone networks ({', '.join(sorted(set(zones_by_id.values())))}); "
                "a level 3+ gateway must be on a known zone that is not the internet",
                router.urn,
            )

    # -- tags -----------------------------------------------------------------------------

    def required_tags(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        props = args.props
        if _is_platform(args.urn, props):
            return
        if _has_platform_tag(props):
            report(
                f"carries {PLATFORM_SCOPE_TAG} outside the platform stack (project {urn_project(args.urn)!r}, "
                f"not {PLATFORM_PROJECT!r}); the tag is the platform's and exempts nothing here",
                None,
            )
        tags = parse_tags(props.get("tags"))
        if _is_tenant_project(args.resource_type, args.urn, props):
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
        (
            "no-world-open-admin-ports",
            "No ingress rule opens SSH, RDP, database or other admin ports to 0.0.0.0/0 or ::/0.",
            rules.no_world_open_admin_ports,
        ),
        (
            "tenant-subnets-in-pools",
            "Tenant subnets lie inside the tenant pools of pools.yml.",
            rules.tenant_subnets_in_pools,
        ),
        (
            "no-shared-networks-outside-platform",
            "Only the platform's networks are shared or external; tenants get RBAC grants.",
            rules.no_shared_networks_outside_platform,
        ),
        (
            "required-tags",
            "Projects carry agency, level and application tags; tenant network resources carry tenant and level.",
            rules.required_tags,
        ),
    ]
    stack: list[tuple[str, str, Callable[[StackValidationArgs, ReportViolation], None]]] = [
        (
            "tenant-quotas-explicit",
            "Every tenant project has compute, network and volume quota sets with every key explicit.",
            rules.tenant_quotas_explicit,
        ),
        (
            "tenant-networks-dual-stack",
            "Every tenant network has an IPv4 and an IPv6 subnet.",
            rules.tenant_networks_dual_stack,
        ),
        (
            COMBINED_WORLD_POLICY,
            "No set of ingress rules opens an admin port to every address together (two /1s, a v4 and a v6 rule, ...).",
            rules.no_world_open_admin_ports_combined,
        ),
        (
            LEVEL3_POLICY,
            "Tenants of security level 3 and above reach the internet only through the DMZ "
            "(by the network a router's gateway is on, not by its tags).",
            rules.level3_internet_only_via_dmz,
        ),
    ]
    policies: list[Policy] = [
        ResourceValidationPolicy(name=name, description=text, validate=fn, enforcement_level=mandatory)
        for name, text, fn in resource
    ]
    schemas = {
        LEVEL3_POLICY: PolicyConfigSchema(
            properties={EXTERNAL_NETWORK_IDS: {"type": "object", "additionalProperties": {"type": "string"}}}
        )
    }
    policies.extend(
        StackValidationPolicy(
            name=name, description=text, validate=fn, enforcement_level=mandatory, config_schema=schemas.get(name)
        )
        for name, text, fn in stack
    )
    return policies
