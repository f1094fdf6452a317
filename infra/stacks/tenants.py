"""The tenants program: one `AgencyTenant` per approved, active or retired-in-grace tenant.

Run after the platform: `pulumi up -C pulumi/tenants -s <site>`. The platform's domain, roles,
external networks and subnet pools are looked up by name, so the two stacks share no state.
"""

from __future__ import annotations

import pulumi_openstack as openstack

import pulumi
from infra.specs.cloud import (
    AGENCY_ROLES,
    BUILTIN_ROLES,
    PLATFORM_SCOPE_TAG,
    SUBNET_POOL_NAMES,
    tag,
    tenants_plan,
)
from infra.stacks._program import as_of, load_program_site, provider, stack_tenant
from infra.stacks.tenant_components import AgencyTenant, AgencyTenantArgs

__all__ = ["PROJECT", "main"]

PROJECT = "hatang-tenants"
"""The Pulumi project name (pulumi/tenants/Pulumi.yaml)."""


def main(*, lenient: bool = False) -> None:
    """Read the stack config, load the site, look up the platform, declare the stack's tenants.

    The stack `<site>` declares every tenant (the offline plan); `<site>.<code>` declares that
    tenant alone, or nothing once it is removed (`hatang cloud` runs one such stack per tenant,
    so a tenant's change reads and writes only its own state).
    """
    site = load_program_site(lenient=lenient)
    plan = tenants_plan(site, as_of(), lenient=lenient)
    only = stack_tenant(pulumi.get_stack())
    specs = [spec for spec in plan.tenants if only in (None, spec.code)]
    removed = [(code, reason) for code, reason in plan.removed if only in (None, code)]
    pulumi.export("tenants", [spec.code for spec in specs])
    pulumi.export("removed", [code for code, _ in removed])
    for code, reason in removed:
        pulumi.log.info(f"tenant {code} not declared (removed): {reason}")
    if not specs:
        return
    cloud = provider(site)
    invoke = pulumi.InvokeOptions(provider=cloud)
    domain_id = openstack.identity.get_project(name=site.info.agencies_domain, is_domain=True, opts=invoke).id
    role_ids = {
        role: openstack.identity.get_role(name=role, opts=invoke).id for role in (*AGENCY_ROLES, *BUILTIN_ROLES)
    }
    zones = sorted({router.zone for spec in specs for router in spec.routers})
    # Not `external=True`: a zone's network becomes router:external only when its first tenant
    # grant is created (platform_components.ExternalNetwork), so that filter would miss it for
    # the first tenant. By the platform's tags, not the name: the provider's data source drops
    # every other filter (the name included) once tags are given, so an agency network that
    # shares the name would make a name-and-scope lookup ambiguous (seen with the real engine).
    external_ids = {
        zone: openstack.networking.get_network(tags=[PLATFORM_SCOPE_TAG, tag("zone", zone)], opts=invoke).id
        for zone in zones
    }
    pool_ids = {
        version: openstack.networking.get_subnet_pool(name=name, ip_version=version, opts=invoke).id
        for version, name in SUBNET_POOL_NAMES.items()
    }
    opts = pulumi.ResourceOptions(providers={"openstack": cloud})
    for spec in specs:
        AgencyTenant(
            spec.code,
            AgencyTenantArgs(
                spec=spec,
                domain_id=domain_id,
                role_ids=role_ids,
                external_network_ids=external_ids,
                subnet_pool_ids=pool_ids,
            ),
            opts,
        )
