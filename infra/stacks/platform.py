"""The platform program: what every tenant relies on, created once per site.

Run as `pulumi up -C pulumi/platform -s <site>` (the stack name is the site name).
"""

from __future__ import annotations

import pulumi_openstack as openstack

import pulumi
from infra.specs.cloud import PLATFORM_PROJECT, SERVICE_USERS_DOMAIN, USAGE_READERS_ROLE, platform_spec
from infra.stacks._program import load_program_site, provider
from infra.stacks.platform_components import (
    AgencyIdentity,
    AgencyIdentityArgs,
    ExternalNetwork,
    ExternalNetworkArgs,
    FlavorSet,
    FlavorSetArgs,
    TenantAddressing,
    TenantAddressingArgs,
)

__all__ = ["PROJECT", "main"]

PROJECT = PLATFORM_PROJECT
"""The Pulumi project name (pulumi/platform/Pulumi.yaml)."""


def main(*, lenient: bool = False) -> None:
    """Read the stack config, load the site, declare the platform's components."""
    site = load_program_site(lenient=lenient)
    spec = platform_spec(site)
    cloud = provider(site)
    opts = pulumi.ResourceOptions(providers={"openstack": cloud})
    lookup = pulumi.InvokeOptions(provider=cloud)
    reader = openstack.identity.get_role(name=USAGE_READERS_ROLE, opts=lookup)
    # the control plane's playbooks create these service users before the platform exists
    members = {
        name: openstack.identity.get_user(name=name, domain_id=SERVICE_USERS_DOMAIN, opts=lookup).id
        for name in spec.usage_reader_users
    }
    identity = AgencyIdentity(
        "identity",
        AgencyIdentityArgs(
            domain=spec.domain, site=spec.site, roles=spec.roles, groups=spec.groups,
            usage_readers=spec.usage_readers, reader_role_id=reader.id, usage_reader_user_ids=members,
        ),
        opts,
    )
    pools = TenantAddressing(
        "tenant-pools",
        TenantAddressingArgs(
            site=spec.site,
            pool_v4=str(spec.pool_v4),
            prefix_v4=spec.pool_v4_prefix,
            tenant_prefix_v4=spec.pool_v4_tenant_prefix,
            pool_v6=str(spec.pool_v6),
            prefix_v6=spec.pool_v6_prefix,
        ),
        opts,
    )
    externals = {
        ext.zone: ExternalNetwork(ext.name, ExternalNetworkArgs(site=spec.site, spec=ext), opts)
        for ext in spec.externals
    }
    FlavorSet("flavors", FlavorSetArgs(flavors=spec.flavors), opts)
    pulumi.export("domainId", identity.domain.id)
    pulumi.export("subnetPoolIds", {"v4": pools.pool_v4.id, "v6": pools.pool_v6.id})
    pulumi.export("externalNetworkIds", {zone: ext.network.id for zone, ext in externals.items()})
