"""Components of the platform stack: each maps one spec to its resources, one to one.

No config, environment or file I/O here; `infra.stacks.platform.main` does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_openstack as openstack

import pulumi
from infra.specs.cloud import PLATFORM_SCOPE_TAG, SUBNET_POOL_NAMES, ExternalNetworkSpec, GroupSpec, tag
from infra.specs.flavors import FlavorSpec

__all__ = [
    "AgencyIdentity",
    "AgencyIdentityArgs",
    "ExternalNetwork",
    "ExternalNetworkArgs",
    "FlavorSet",
    "FlavorSetArgs",
    "TenantAddressing",
    "TenantAddressingArgs",
]


def _child(parent: pulumi.Resource, protect: bool = False) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=protect)


@dataclass(frozen=True)
class TenantAddressingArgs:
    site: str
    pool_v4: str
    prefix_v4: int
    tenant_prefix_v4: int
    pool_v6: str
    prefix_v6: int


class TenantAddressing(pulumi.ComponentResource):
    """Address scopes and subnet pools over the tenant pools, IPv4 and IPv6.

    hatang's IPAM allocates first; Neutron refusing an overlap inside a pool is the second
    line of defence. Pools are owned by the admin project and shared with no one: tenant
    subnets are created by the tenants program with an explicit CIDR from the allocation.
    """

    def __init__(self, name: str, args: TenantAddressingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hatang:platform:TenantAddressing", name, None, opts)
        tags = [PLATFORM_SCOPE_TAG, tag("site", args.site)]
        self.scope_v4 = openstack.networking.AddressScope(
            f"{name}-scope-v4", name=SUBNET_POOL_NAMES[4], ip_version=4, shared=False, opts=_child(self, True)
        )
        self.scope_v6 = openstack.networking.AddressScope(
            f"{name}-scope-v6", name=SUBNET_POOL_NAMES[6], ip_version=6, shared=False, opts=_child(self, True)
        )
        self.pool_v4 = openstack.networking.SubnetPool(
            f"{name}-pool-v4",
            name=SUBNET_POOL_NAMES[4],
            ip_version=4,
            prefixes=[args.pool_v4],
            default_prefixlen=args.prefix_v4,
            min_prefixlen=args.tenant_prefix_v4,
            max_prefixlen=args.prefix_v4,
            address_scope_id=self.scope_v4.id,
            shared=False,
            is_default=False,
            tags=tags,
            opts=_child(self, True),
        )
        self.pool_v6 = openstack.networking.SubnetPool(
            f"{name}-pool-v6",
            name=SUBNET_POOL_NAMES[6],
            ip_version=6,
            prefixes=[args.pool_v6],
            default_prefixlen=args.prefix_v6,
            min_prefixlen=args.prefix_v6,
            max_prefixlen=args.prefix_v6,
            address_scope_id=self.scope_v6.id,
            shared=False,
            is_default=False,
            tags=tags,
            opts=_child(self, True),
        )
        self.register_outputs({"poolV4Id": self.pool_v4.id, "poolV6Id": self.pool_v6.id})


@dataclass(frozen=True)
class ExternalNetworkArgs:
    site: str
    spec: ExternalNetworkSpec


class ExternalNetwork(pulumi.ComponentResource):
    """A zone's provider network: NOT shared, and attachable only by the tenants granted it.

    Created with `external=False` on purpose. Neutron answers `router:external=True` at creation
    (or on update) by adding an RBAC `access_as_external` entry with target `*`: every project
    could then put a router gateway on the zone (HC-NET-01). Instead, the tenants program grants
    each tenant its own `access_as_external` entry, and Neutron marks the network
    `router:external` itself when the first such entry is created (and clears it when the last
    one goes). `ignore_changes=["external"]` keeps Pulumi from fighting that flip: setting the
    attribute back to False would make Neutron delete every tenant's grant (or refuse, once a
    router has its gateway there).
    """

    def __init__(self, name: str, args: ExternalNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hatang:platform:ExternalNetwork", name, None, opts)
        spec = args.spec
        tags = [PLATFORM_SCOPE_TAG, tag("site", args.site), tag("zone", spec.zone), tag("kind", spec.kind.value)]
        segment = openstack.networking.NetworkSegmentArgs(
            physical_network=spec.physnet,
            network_type=spec.network_type,
            segmentation_id=spec.segmentation_id,
        )
        self.network = openstack.networking.Network(
            f"{name}-network",
            name=spec.name,
            description=f"Provider network of zone {spec.zone} ({spec.kind.value})",
            external=False,  # Neutron sets it with the first tenant's grant; see the docstring
            shared=False,
            admin_state_up=True,
            segments=[segment],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["external"]),
        )
        self.subnet_v4 = openstack.networking.Subnet(
            f"{name}-v4",
            name=f"{spec.name}-v4",
            network_id=self.network.id,
            ip_version=4,
            cidr=str(spec.ipv4),
            gateway_ip=str(spec.gateway4),
            enable_dhcp=False,
            allocation_pools=[
                openstack.networking.SubnetAllocationPoolArgs(start=str(spec.pool4[0]), end=str(spec.pool4[1]))
            ],
            tags=tags,
            opts=_child(self, True),
        )
        self.subnet_v6 = openstack.networking.Subnet(
            f"{name}-v6",
            name=f"{spec.name}-v6",
            network_id=self.network.id,
            ip_version=6,
            cidr=str(spec.ipv6),
            gateway_ip=str(spec.gateway6),
            enable_dhcp=False,
            allocation_pools=[
                openstack.networking.SubnetAllocationPoolArgs(start=str(spec.pool6[0]), end=str(spec.pool6[1]))
            ],
            tags=tags,
            opts=_child(self, True),
        )
        self.register_outputs({"networkId": self.network.id})


@dataclass(frozen=True)
class FlavorSetArgs:
    flavors: tuple[FlavorSpec, ...]


class FlavorSet(pulumi.ComponentResource):
    """The standard public flavors, sized by their SCS names."""

    def __init__(self, name: str, args: FlavorSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hatang:platform:FlavorSet", name, None, opts)
        self.flavors = {
            flavor.name: openstack.compute.Flavor(
                f"{name}-{flavor.name.lower()}",
                name=flavor.name,
                vcpus=flavor.vcpus,
                ram=flavor.ram_mib,
                disk=flavor.disk_gb,
                is_public=True,
                extra_specs=flavor.extra_specs,
                opts=_child(self),
            )
            for flavor in args.flavors
        }
        self.register_outputs({"names": sorted(self.flavors)})


@dataclass(frozen=True)
class AgencyIdentityArgs:
    domain: str
    site: str
    roles: tuple[str, ...]
    groups: tuple[GroupSpec, ...]
    usage_readers: GroupSpec
    reader_role_id: pulumi.Input[str]
    """Keystone's built-in `reader` role (looked up by the program: hatang does not create it)."""
    usage_reader_user_ids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Users put in the usage readers' group, by name (the served portal's service user, looked up)."""


class AgencyIdentity(pulumi.ComponentResource):
    """The Keystone domain holding the agencies' projects, the agency roles, and the portal's groups.

    The groups (`agency-<code>` per agency, `dc-reviewers`, and the portal's usage readers) are
    created empty and protected: who is in them is managed in Keystone and recorded nowhere else,
    so deleting one (an agency removed from agencies.yml) must be a decision, not a side effect of
    an `up`. The usage readers hold `reader` inherited on every project of the domain, so the
    portal reads quotas and usage of projects created later without a grant per project; their one
    member the platform manages is the served portal's own service user (`usage_reader_user_ids`).
    """

    def __init__(self, name: str, args: AgencyIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hatang:platform:AgencyIdentity", name, None, opts)
        self.domain = openstack.identity.Project(
            f"{name}-domain",
            name=args.domain,
            is_domain=True,
            enabled=True,
            description=f"Agencies' projects of site {args.site} (managed by hatang)",
            tags=[tag("site", args.site), "hatang:scope=platform"],
            opts=_child(self, True),
        )
        self.roles = {
            role: openstack.identity.Role(f"{name}-role-{role}", name=role, opts=_child(self))
            for role in args.roles
        }
        self.groups = {
            group.name: openstack.identity.GroupV3(
                f"{name}-group-{group.name}",
                name=group.name,
                domain_id=self.domain.id,
                description=group.description,
                opts=_child(self, True),
            )
            for group in args.groups
        }
        self.usage_readers = openstack.identity.GroupV3(
            f"{name}-group-{args.usage_readers.name}",
            name=args.usage_readers.name,
            domain_id=self.domain.id,
            description=args.usage_readers.description,
            opts=_child(self, True),
        )
        self.usage_readers_grant = openstack.identity.InheritRoleAssignment(
            f"{name}-usage-readers-grant",
            group_id=self.usage_readers.id,
            domain_id=self.domain.id,
            role_id=args.reader_role_id,
            opts=_child(self),
        )
        self.usage_reader_members = {
            user: openstack.identity.UserMembershipV3(
                f"{name}-usage-reader-{user}", user_id=user_id, group_id=self.usage_readers.id, opts=_child(self)
            )
            for user, user_id in args.usage_reader_user_ids.items()
        }
        self.register_outputs({"domainId": self.domain.id, "groupIds": {k: g.id for k, g in self.groups.items()}})
