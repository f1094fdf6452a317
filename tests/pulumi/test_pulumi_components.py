"""Each component under mocks: resources by type, arguments, parents, outputs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import pulumi
from infra.quotas import SECTIONS
from infra.site import load_site
from infra.specs.cloud import (
    AGENCY_ROLES,
    BUILTIN_ROLES,
    REVIEWERS_GROUP,
    USAGE_READERS_GROUP,
    agency_group,
    platform_spec,
    tenant_spec,
)
from infra.stacks.mockrun import MockRun, run_under_mocks
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
from infra.stacks.policies import QUOTA_TYPES
from infra.stacks.tenant_components import AgencyTenant, AgencyTenantArgs
from tests.conftest import AIO, SAMPLE


def _types(run: MockRun) -> Counter[str]:
    return Counter(r.type.rsplit(":", 1)[-1] for r in run.custom())


def _tenant(code: str) -> tuple[MockRun, dict[str, Any]]:
    site = load_site(SAMPLE)
    tenant = site.tenant(code)
    assert tenant is not None
    spec = tenant_spec(site, tenant)
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[Any]:
        component = AgencyTenant(
            code,
            AgencyTenantArgs(
                spec=spec,
                domain_id="domain-id",
                role_ids={r: f"role-{r}" for r in (*AGENCY_ROLES, *BUILTIN_ROLES)},
                external_network_ids={"gov": "ext-gov-id", "dmz": "ext-dmz-id", "internet": "ext-internet-id"},
                subnet_pool_ids={4: "pool-v4", 6: "pool-v6"},
            ),
        )
        first = next(iter(component.networks.values()))
        return pulumi.Output.all(component.project.id, first.id).apply(
            lambda ids: outputs.update(project=ids[0], app=ids[1])
        )

    return run_under_mocks(program, project="test", stack="thainguyen"), outputs


def test_agency_tenant_resources_by_type() -> None:
    run, _ = _tenant("vp-ubnd")  # networks app [gov], web [dmz], db []
    assert _types(run) == {
        "Project": 1, "GroupV3": 3, "RoleAssignment": 6,
        "QuotaSetV2": 1, "QuotaV2": 1, "QuoteSetV3": 1,
        "RbacPolicyV2": 2, "Router": 2, "Network": 3, "Subnet": 6, "RouterInterface": 4,
        "SecGroup": 3, "SecGroupRule": 8,  # gov 443, dmz 80+443, mgmt 22; x2 families
    }


def test_agency_tenant_children_are_parented_to_the_component() -> None:
    run, _ = _tenant("vp-ubnd")
    component = next(r for r in run.resources if r.type == "hatang:tenants:AgencyTenant")
    for r in run.custom():
        assert r.parent == component.urn, r.urn


def test_agency_tenant_outputs_are_the_resource_ids() -> None:
    _, outputs = _tenant("vp-ubnd")
    assert outputs == {"project": "mock:project:vp-ubnd-project", "app": "mock:network:vp-ubnd-net-app"}


def test_agency_tenant_project_is_protected_tagged_in_the_domain() -> None:
    run, _ = _tenant("vp-ubnd")
    project = run.find("openstack:identity/project:Project")
    assert project is not None
    assert project.protect, project.urn
    assert project.inputs["domainId"] == "domain-id" and project.inputs["enabled"] is True
    assert {"hatang:agency=vp-ubnd", "hatang:level=3", "hatang:app=qlvb", "hatang:app=cong-ttdt"} <= set(
        project.inputs["tags"]
    )


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_agency_tenant_quota_sets_every_key_of_the_profile(section: str) -> None:
    run, _ = _tenant("vp-ubnd")
    quota = run.find(QUOTA_TYPES[section])
    assert quota is not None
    keys = {k for k in quota.inputs if k != "projectId"}
    camel = {k.split("_")[0] + "".join(p.title() for p in k.split("_")[1:]) for k in SECTIONS[section].model_fields}
    assert keys == camel, quota.urn
    assert quota.property_dependencies.get("projectId"), quota.urn


def test_agency_tenant_subnets_dual_stack_slaac_from_the_allocation() -> None:
    run, _ = _tenant("vp-ubnd")
    v6 = run.find("openstack:networking/subnet:Subnet", name="app-v6")
    v4 = run.find("openstack:networking/subnet:Subnet", name="app-v4")
    assert v4 is not None and v6 is not None
    assert (v4.inputs["cidr"], v4.inputs["subnetpoolId"]) == ("10.64.4.0/24", "pool-v4")
    assert (v6.inputs["cidr"], v6.inputs["ipv6AddressMode"], v6.inputs["ipv6RaMode"]) == (
        "fdb4:7e10:8000:1::/64", "slaac", "slaac")
    assert v4.protect and v6.protect


def test_agency_tenant_router_waits_for_its_rbac_grant() -> None:
    run, _ = _tenant("vp-ubnd")
    rbac = run.find("openstack:networking/rbacPolicyV2:RbacPolicyV2", objectId="ext-gov-id")
    router = run.find("openstack:networking/router:Router", externalNetworkId="ext-gov-id")
    assert rbac is not None and router is not None
    assert rbac.inputs["action"] == "access_as_external"
    assert rbac.urn in router.dependencies, router.urn


def test_agency_tenant_secondary_access_uses_a_port_and_a_route() -> None:
    site = load_site(SAMPLE)
    code = next(t.code for t in site.tenants if any(len(n.access) == 2 for n in t.networks))
    run, _ = _tenant(code)
    assert (_types(run)["Port"], _types(run)["SubnetRoute"]) == (1, 1)
    route = run.find("openstack:networking/subnetRoute:SubnetRoute")
    assert route is not None and route.inputs["destinationCidr"] == "203.0.113.0/24"


def test_external_network_created_not_external_not_shared_with_both_families() -> None:
    """Created with router:external False (Neutron would open it to every project, '*'); the
    tenants' RBAC grants make it external, and Pulumi must not undo that (ignore_changes)."""
    spec = next(e for e in platform_spec(load_site(SAMPLE)).externals if e.zone == "gov")
    ignored: dict[str, list[str] | None] = {}

    def program() -> None:
        def spy(args: pulumi.ResourceTransformationArgs) -> None:
            ignored[args.name] = args.opts.ignore_changes

        pulumi.runtime.register_stack_transformation(spy)
        ExternalNetwork("ext-gov", ExternalNetworkArgs("thainguyen", spec))

    run = run_under_mocks(program, project="test", stack="thainguyen")
    network = run.find("openstack:networking/network:Network")
    assert network is not None
    assert (network.inputs["external"], network.inputs["shared"], network.protect) == (False, False, True), network.urn
    assert ignored[network.name] == ["external"], network.urn
    segment = {"networkType": "vlan", "physicalNetwork": "physnet-gov", "segmentationId": 200}
    assert network.inputs["segments"] == [segment]
    subnets = [r for r in run.custom() if r.type.endswith("Subnet")]
    assert sorted(s.inputs["ipVersion"] for s in subnets) == [4, 6]
    assert all(s.inputs["enableDhcp"] is False for s in subnets)


def test_tenant_addressing_pools_in_their_scopes() -> None:
    run = run_under_mocks(
        lambda: TenantAddressing("tenant-pools", TenantAddressingArgs("t", "10.64.0.0/12", 24, 22, "fd00::/48", 64)),
        project="test", stack="t")
    assert _types(run) == {"AddressScope": 2, "SubnetPool": 2}
    v4 = run.find("openstack:networking/subnetPool:SubnetPool", ipVersion=4)
    assert v4 is not None
    assert (v4.inputs["prefixes"], v4.inputs["shared"], v4.inputs["addressScopeId"]) == (
        ["10.64.0.0/12"], False, "mock:addressscope:tenant-pools-scope-v4")


def test_flavor_set_sizes_from_names() -> None:
    spec = platform_spec(load_site(SAMPLE))
    run = run_under_mocks(lambda: FlavorSet("flavors", FlavorSetArgs(spec.flavors)), project="test", stack="t")
    flavor = run.find("openstack:compute/flavor:Flavor", name="SCS-4V-16-100s")
    assert flavor is not None
    assert (flavor.inputs["vcpus"], flavor.inputs["ram"], flavor.inputs["disk"]) == (4, 16384, 100)
    assert len(run.custom()) == 15


def test_agency_identity_makes_one_protected_group_per_agency_and_the_reviewers_in_the_domain() -> None:
    site = load_site(AIO)
    spec = platform_spec(site)

    def program() -> None:
        AgencyIdentity("identity", AgencyIdentityArgs(spec.domain, spec.site, spec.roles, spec.groups,
                                                      spec.usage_readers, "lookup:role:reader"))

    run = run_under_mocks(program, project="test", stack="aio")
    assert _types(run) == {"Project": 1, "Role": 3, "GroupV3": 5, "InheritRoleAssignment": 1}
    component = next(r for r in run.resources if r.type == "hatang:platform:AgencyIdentity")
    domain = run.find("openstack:identity/project:Project", name=spec.domain)
    assert domain is not None
    groups = [r for r in run.custom() if r.type == "openstack:identity/groupV3:GroupV3"]
    want = sorted([*(agency_group(a.code) for a in site.agencies), REVIEWERS_GROUP, USAGE_READERS_GROUP])
    assert sorted(g.inputs["name"] for g in groups) == want == ["agency-phuong-mau", "agency-so-khcn", "agency-so-yte",
                                                                  "dc-reviewers", "portal-usage-readers"]
    for group in groups:
        assert group.inputs["domainId"] == domain.id, group.urn
        assert (group.protect, group.parent) == (True, component.urn), group.urn
        assert group.name == f"identity-group-{group.inputs['name']}", group.urn
    so_yte = run.find("openstack:identity/groupV3:GroupV3", name="agency-so-yte")
    assert so_yte is not None and "Department of Health (so-yte)" in so_yte.inputs["description"], so_yte.urn
    readers = run.find("openstack:identity/groupV3:GroupV3", name=USAGE_READERS_GROUP)
    (grant,) = [r for r in run.custom() if r.type.endswith("InheritRoleAssignment")]
    assert readers is not None
    # on the domain, inherited by its projects (those created later too), the built-in reader role only
    assert grant.inputs == {"groupId": readers.id, "domainId": domain.id, "roleId": "lookup:role:reader"}, grant.inputs
    assert grant.parent == component.urn


def test_agency_identity_puts_the_served_portals_service_user_in_the_usage_readers() -> None:
    """The one member the platform manages: the portal's own service user, looked up by the program."""
    spec = platform_spec(load_site(AIO))
    assert spec.usage_reader_users == ("portal",)  # the catalogue's web site with a service user

    def program() -> None:
        AgencyIdentity("identity", AgencyIdentityArgs(spec.domain, spec.site, spec.roles, spec.groups,
                                                      spec.usage_readers, "lookup:role:reader",
                                                      {"portal": "lookup:user:portal"}))

    run = run_under_mocks(program, project="test", stack="aio")
    readers = run.find("openstack:identity/groupV3:GroupV3", name=USAGE_READERS_GROUP)
    (member,) = [r for r in run.custom() if r.type.endswith("UserMembershipV3")]
    assert readers is not None
    assert member.inputs == {"userId": "lookup:user:portal", "groupId": readers.id}, member.inputs
    assert member.name == "identity-usage-reader-portal"
    assert not [r for r in run.custom() if r.type.endswith("UserMembershipV3") and r.inputs["groupId"] != readers.id]
