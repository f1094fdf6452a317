"""The `AgencyTenant` component: one agency's project and everything in it, from its spec.

No config, environment or file I/O here; `infra.stacks.tenants.main` does the lookups and
hands in the ids of the platform's domain, roles, external networks and subnet pools.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi_openstack as openstack

import pulumi
from infra.specs.cloud import GROUPS, RouterSpec, TenantNetworkSpec, TenantSpec, tag

__all__ = ["AgencyTenant", "AgencyTenantArgs"]


@dataclass(frozen=True)
class AgencyTenantArgs:
    """The spec plus the ids the platform owns (looked up by `main`)."""

    spec: TenantSpec
    domain_id: pulumi.Input[str]
    role_ids: Mapping[str, pulumi.Input[str]]
    external_network_ids: Mapping[str, pulumi.Input[str]]
    """Zone name -> id of its provider network."""
    subnet_pool_ids: Mapping[int, pulumi.Input[str]]
    """IP version -> id of the tenant subnet pool."""


class AgencyTenant(pulumi.ComponentResource):
    """Keystone project, groups and roles, explicit quotas, dual-stack networks, routers, SGs."""

    def __init__(self, name: str, args: AgencyTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hatang:tenants:AgencyTenant", name, None, opts)
        spec = args.spec
        self._name = name
        self._spec = spec
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=spec.protect)

        self.project = openstack.identity.Project(
            f"{name}-project",
            name=spec.code,
            description=spec.display_name,
            domain_id=args.domain_id,
            enabled=spec.enabled,
            tags=list(spec.project_tags),
            opts=kept,
        )
        project_id = self.project.id
        self._identity(project_id, child)
        self._network_quota = self._quotas(project_id, child)
        self._last: dict[str, pulumi.Resource] = {}
        self.routers = {r.access.value: self._router(r, project_id) for r in spec.routers}
        self.networks = {n.name: self._network(n, project_id, kept) for n in spec.networks}
        self._security_groups(project_id, child)
        self.register_outputs(
            {
                "projectId": project_id,
                "networkIds": {k: v.id for k, v in self.networks.items()},
                "routerIds": {k: v.id for k, v in self.routers.items()},
            }
        )

    # -- identity and quotas

    def _identity(self, project_id: pulumi.Output[str], child: pulumi.ResourceOptions) -> None:
        spec, name = self._spec, self._name
        for suffix, roles in GROUPS.items():
            group = openstack.identity.GroupV3(
                f"{name}-{suffix}",
                name=f"{spec.code}-{suffix}",
                domain_id=self._args.domain_id,
                description=f"{suffix} of {spec.display_name}",
                opts=child,
            )
            for role in roles:
                openstack.identity.RoleAssignment(
                    f"{name}-{suffix}-{role}",
                    group_id=group.id,
                    project_id=project_id,
                    role_id=self._args.role_ids[role],
                    opts=child,
                )

    def _quotas(self, project_id: pulumi.Output[str], child: pulumi.ResourceOptions) -> openstack.networking.QuotaV2:
        # Every key written out: an unset QuotaV2 argument would be created as 0. A key missing
        # from the spec (only in a lenient offline plan) stays unset, and the policy pack names it.
        name = self._name
        c, n, v = (self._spec.quotas.get(section, {}) for section in ("compute", "network", "volume"))
        openstack.compute.QuotaSetV2(
            f"{name}-quota-compute",
            project_id=project_id,
            instances=c.get("instances"),
            cores=c.get("cores"),
            ram=c.get("ram"),
            key_pairs=c.get("key_pairs"),
            metadata_items=c.get("metadata_items"),
            server_groups=c.get("server_groups"),
            server_group_members=c.get("server_group_members"),
            opts=child,
        )
        network = openstack.networking.QuotaV2(
            f"{name}-quota-network",
            project_id=project_id,
            network=n.get("network"),
            subnet=n.get("subnet"),
            port=n.get("port"),
            router=n.get("router"),
            floatingip=n.get("floatingip"),
            security_group=n.get("security_group"),
            security_group_rule=n.get("security_group_rule"),
            rbac_policy=n.get("rbac_policy"),
            subnetpool=n.get("subnetpool"),
            opts=child,
        )
        openstack.blockstorage.QuoteSetV3(
            f"{name}-quota-volume",
            project_id=project_id,
            volumes=v.get("volumes"),
            snapshots=v.get("snapshots"),
            gigabytes=v.get("gigabytes"),
            per_volume_gigabytes=v.get("per_volume_gigabytes"),
            backups=v.get("backups"),
            backup_gigabytes=v.get("backup_gigabytes"),
            groups=v.get("groups"),
            opts=child,
        )
        return network

    # -- routing

    def _in_turn(self, kind: str, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """Options that create this Neutron resource after the quota and the previous one of its kind.

        A profile's quota may be exactly what the tenant needs, and Neutron's quota check counts a
        resource being committed twice (as a row and as its reservation): two routers of one
        project created at once were refused `OverQuota` on the AIO. One at a time per kind and
        tenant; tenants still run in parallel.
        """
        previous = self._last.get(kind)
        after = [self._network_quota, *([previous] if previous is not None else [])]
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=after))

    def _router(self, router: RouterSpec, project_id: pulumi.Output[str]) -> openstack.networking.Router:
        spec, name = self._spec, self._name
        external_id = self._args.external_network_ids[router.zone]
        rbac = openstack.networking.RbacPolicyV2(
            f"{name}-rbac-{router.access.value}",
            action="access_as_external",
            object_type="network",
            object_id=external_id,
            target_tenant=project_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        created = openstack.networking.Router(
            f"{name}-router-{router.access.value}",
            name=f"{spec.code}-{router.access.value}",
            description=f"{spec.code}: gateway on zone {router.zone}",
            tenant_id=project_id,
            external_network_id=external_id,
            admin_state_up=True,
            tags=[*spec.resource_tags, tag("access", router.access.value), tag("zone", router.zone)],
            opts=self._in_turn("router", pulumi.ResourceOptions(parent=self, depends_on=[rbac])),
        )
        self._last["router"] = created
        return created

    # -- networks

    def _network(
        self, net: TenantNetworkSpec, project_id: pulumi.Output[str], kept: pulumi.ResourceOptions
    ) -> openstack.networking.Network:
        spec, name = self._spec, self._name
        child = pulumi.ResourceOptions(parent=self)
        tags = [*spec.resource_tags, tag("network", net.name)]
        prefix = f"{name}-net-{net.name}"
        network = openstack.networking.Network(
            prefix,
            name=net.name,
            tenant_id=project_id,
            shared=False,
            external=False,
            admin_state_up=True,
            tags=tags,
            opts=self._in_turn("network", kept),
        )
        self._last["network"] = network
        v4 = openstack.networking.Subnet(
            f"{prefix}-v4",
            name=f"{net.name}-v4",
            network_id=network.id,
            tenant_id=project_id,
            ip_version=4,
            cidr=str(net.ipv4),
            subnetpool_id=self._args.subnet_pool_ids[4],
            enable_dhcp=True,
            dns_nameservers=list(net.dns4),
            tags=tags,
            opts=self._in_turn("subnet", kept),
        )
        self._last["subnet"] = v4
        v6 = openstack.networking.Subnet(
            f"{prefix}-v6",
            name=f"{net.name}-v6",
            network_id=network.id,
            tenant_id=project_id,
            ip_version=6,
            cidr=str(net.ipv6),
            subnetpool_id=self._args.subnet_pool_ids[6],
            ipv6_address_mode="slaac",
            ipv6_ra_mode="slaac",
            enable_dhcp=True,
            dns_nameservers=list(net.dns6),
            tags=tags,
            opts=self._in_turn("subnet", kept),
        )
        self._last["subnet"] = v6
        if net.primary is not None:
            router = self.routers[net.primary.value]
            for family, subnet in (("v4", v4), ("v6", v6)):
                openstack.networking.RouterInterface(
                    f"{prefix}-{family}-{net.primary.value}", router_id=router.id, subnet_id=subnet.id, opts=child
                )
        for uplink in net.secondary:
            access = uplink.access.value
            port = openstack.networking.Port(
                f"{prefix}-uplink-{access}",
                name=f"{net.name}-uplink-{access}",
                network_id=network.id,
                tenant_id=project_id,
                admin_state_up=True,
                fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=v4.id, ip_address=str(uplink.port_ip4))],
                tags=tags,
                opts=child,
            )
            openstack.networking.RouterInterface(
                f"{prefix}-uplink-{access}", router_id=self.routers[access].id, port_id=port.id, opts=child
            )
            for destination in uplink.routes:
                openstack.networking.SubnetRoute(
                    f"{prefix}-route-{access}-{str(destination).replace('/', '-')}",
                    subnet_id=v4.id,
                    destination_cidr=str(destination),
                    next_hop=str(uplink.port_ip4),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[port]),
                )
        return network

    # -- security groups

    def _security_groups(self, project_id: pulumi.Output[str], child: pulumi.ResourceOptions) -> None:
        spec, name = self._spec, self._name
        for group_spec in spec.security_groups:
            group = openstack.networking.SecGroup(
                f"{name}-sg-{group_spec.name}",
                name=group_spec.name,
                description=f"Ingress allowed from {group_spec.source} by the site's flow policy; all else denied",
                tenant_id=project_id,
                tags=[*spec.resource_tags, tag("source", group_spec.source)],
                opts=self._in_turn("security_group", child),
            )
            self._last["security_group"] = group
            for rule in group_spec.rules:
                openstack.networking.SecGroupRule(
                    f"{name}-sg-{group_spec.name}-{rule.suffix}",
                    direction="ingress",
                    ethertype=rule.ethertype,
                    protocol=rule.protocol,
                    port_range_min=rule.port_min,
                    port_range_max=rule.port_max,
                    remote_ip_prefix=rule.remote_prefix,
                    security_group_id=group.id,
                    tenant_id=project_id,
                    description=f"flow {rule.flow}",
                    opts=child,
                )
