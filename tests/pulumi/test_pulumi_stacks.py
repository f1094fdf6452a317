"""The real programs under mocks, per stack: counts, lookups, config errors, duplicates."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import pulumi
from infra.errors import InventoryError
from infra.site import load_site
from infra.specs.cloud import USAGE_READERS_GROUP, tenants_plan
from infra.stacks._program import ProgramConfigError
from infra.stacks.mockrun import MockRun, run_programs, run_under_mocks
from infra.tenants import NewTenant, create_tenant, reject_tenant
from tests.conftest import AIO, SAMPLE
from tests.helpers import edit_yaml
from tests.pulumi.conftest import NOW


def _count(run: MockRun, program: str) -> Counter[str]:
    return Counter(r.type.rsplit(":", 1)[-1] for r in run.custom() if r.program == program)


def test_platform_stack_aio_resources_by_type(aio_run: MockRun) -> None:
    assert _count(aio_run, "platform") == {
        "Project": 1, "Role": 3, "GroupV3": 5, "InheritRoleAssignment": 1, "UserMembershipV3": 1,
        "AddressScope": 2, "SubnetPool": 2, "Network": 2, "Subnet": 4, "Flavor": 15,
    }


def test_platform_stack_groups_are_the_ones_the_portal_maps(tn_run: MockRun) -> None:
    """The platform's `agency-<code>` and `dc-reviewers` groups give exactly the portal's rights; the
    usage readers' group gives none (it is the portal's own identity, not a person's)."""
    from infra.portal.auth import identity_from_groups

    site = load_site(SAMPLE)
    domain = tn_run.find("openstack:identity/project:Project", name=site.info.agencies_domain)
    assert domain is not None
    groups = {r.inputs["name"]: r for r in tn_run.custom() if r.program == "platform" and r.type.endswith("GroupV3")}
    assert all(g.inputs["domainId"] == domain.id for g in groups.values()), sorted(g.urn for g in groups.values())
    rights = {name: identity_from_groups("u", "u", "", [name]) for name in groups}
    reader = rights.pop(USAGE_READERS_GROUP)
    assert not reader.agencies and not reader.reviewer
    assert sorted(code for me in rights.values() for code in me.agencies) == sorted(a.code for a in site.agencies)
    assert [name for name, me in rights.items() if me.reviewer] == ["dc-reviewers"]
    assert all(me.agencies or me.reviewer for me in rights.values())


def test_rejected_request_creates_nothing(aio_copy: Path) -> None:
    fields = NewTenant(
        code="so-yte-x", agency="so-yte", name="Từ chối", security_level=2, quota_profile="S",
        contacts=({"name": "An", "email": "an@example.org", "role": "requester"},),
        networks=({"name": "app", "access": ["gov"]},),
    )
    create_tenant(aio_copy, fields, "an@example.org", "test")
    reject_tenant(aio_copy, "so-yte-x", "dc@example.org", "not needed")
    plan = tenants_plan(load_site(aio_copy), NOW)
    assert ("so-yte-x", "rejected: never approved, creates nothing") in plan.skipped
    run = run_programs(aio_copy, now=NOW, lenient=False)
    assert not [r.urn for r in run.resources if "so-yte-x" in r.urn or "so-yte-x" in str(r.inputs)]
    assert sorted(r.name for r in run.resources if r.type == "hatang:tenants:AgencyTenant") == ["so-khcn", "so-yte"]


def test_platform_stack_thainguyen_has_the_three_access_zones(tn_run: MockRun) -> None:
    names = sorted(r.inputs["name"] for r in tn_run.custom() if r.program == "platform" and r.type.endswith("Network"))
    assert names == ["ext-dmz", "ext-gov", "ext-internet"]


def test_tenants_stack_aio_resources_by_type(aio_run: MockRun) -> None:
    # so-khcn: app [gov], web [dmz]; so-yte: app [dmz]
    assert _count(aio_run, "tenants") == {
        "Project": 2, "GroupV3": 6, "RoleAssignment": 12,
        "QuotaSetV2": 2, "QuotaV2": 2, "QuoteSetV3": 2,
        "RbacPolicyV2": 3, "Router": 3, "Network": 3, "Subnet": 6, "RouterInterface": 6,
        "SecGroup": 5, "SecGroupRule": 14,  # so-khcn 2+4+2, so-yte 4+2
    }


def test_tenants_stack_declares_every_allocated_tenant_once(tn_run: MockRun) -> None:
    components = [r.name for r in tn_run.resources if r.type == "hatang:tenants:AgencyTenant"]
    assert sorted(components) == sorted(
        ["ban-do-so", "du-lieu", "hcc", "lgsp", "so-gddt", "so-khcn", "so-tc", "so-yte", "thainguyen-id", "vp-ubnd"]
    )


def test_tenants_stack_lookups_resolve_to_platform_resources(aio_run: MockRun) -> None:
    ids = {r.id for r in aio_run.custom() if r.program == "platform"}
    for lookup in aio_run.lookups:
        # Keystone's bootstrap roles and the services' users are not the platform's: looked up as such
        external = str(lookup.result["id"]).startswith(("lookup:role:", "lookup:user:"))
        assert lookup.result["id"] in ids or external, lookup


def test_tenants_stack_router_gateway_is_the_platform_network(aio_run: MockRun) -> None:
    gov = aio_run.find("openstack:networking/network:Network", name="ext-gov")
    router = aio_run.find("openstack:networking/router:Router", name="so-khcn-gov")
    assert gov is not None and router is not None
    assert router.inputs["externalNetworkId"] == gov.id


def test_programs_register_no_duplicate_urns(tn_run: MockRun) -> None:
    assert tn_run.duplicates() == []


def test_duplicate_names_are_detected_although_the_mocks_accept_them() -> None:
    import pulumi_openstack as openstack

    def program() -> None:
        openstack.networking.Network("same")
        openstack.networking.Network("same")

    run = run_under_mocks(program, project="test", stack="t")
    duplicates = run.duplicates()
    assert len(duplicates) == 1 and duplicates[0].endswith("openstack:networking/network:Network::same")


def test_config_error_without_inventory() -> None:
    with pytest.raises(pulumi.ConfigMissingError, match="hatang:inventory"):
        from infra.stacks import platform

        run_under_mocks(platform.main, project="hatang-platform", stack="aio")


def test_config_error_stack_renders_another_site() -> None:
    from infra.stacks import tenants

    with pytest.raises(ProgramConfigError, match=r"stack 'thainguyen' would render site 'aio'"):
        run_under_mocks(tenants.main, project="hatang-tenants", stack="thainguyen",
                        config={"hatang:inventory": str(AIO)})


def test_config_error_bad_as_of() -> None:
    with pytest.raises(ProgramConfigError, match="hatang:asOf 'yesterday' is not an ISO date-time"):
        run_programs(AIO, programs=("tenants",), lenient=False, config={"hatang:asOf": "yesterday"})


def test_strict_program_refuses_an_invalid_site(aio_copy: Path) -> None:
    edit_yaml(aio_copy, "profiles.yml", lambda d: d["profiles"]["S"]["network"].pop("port"))
    with pytest.raises(InventoryError, match="missing key"):
        run_programs(aio_copy, now=NOW, lenient=False)


def test_registered_resources_keep_registration_order_of_dependencies(aio_run: MockRun) -> None:
    seen: set[str] = set()
    for r in aio_run.resources:
        for dep in (*r.dependencies, *(u for urns in r.property_dependencies.values() for u in urns)):
            assert dep in seen, f"{r.urn} registered before its dependency {dep}"
        seen.add(r.urn)


def test_sample_stack_uses_the_thainguyen_inventory() -> None:
    assert (SAMPLE.parent.parent / "pulumi" / "tenants" / "Pulumi.thainguyen.yaml").read_text().strip().endswith(
        "../../inventories/thainguyen"
    )


def test_retired_tenant_within_grace_is_disabled_and_unprotected() -> None:
    run = run_programs(SAMPLE, now=NOW.replace(month=5), programs=("platform", "tenants"), lenient=False)
    project = run.find("openstack:identity/project:Project", name="so-tttt")
    assert project is not None
    assert (project.inputs["enabled"], project.protect) == (False, False), project.urn
    assert "hatang:state=retired" in project.inputs["tags"]
    networks = [r for r in run.custom() if r.type.endswith("Network") and "hatang:tenant=so-tttt" in r.inputs["tags"]]
    assert networks and not any(n.protect for n in networks)
    active = run.find("openstack:identity/project:Project", name="vp-ubnd")
    assert active is not None and active.protect


def test_retired_tenant_after_grace_is_not_declared(tn_run: MockRun) -> None:
    assert tn_run.find("openstack:identity/project:Project", name="so-tttt") is None


def test_mock_runs_restore_the_garbage_collector() -> None:
    import gc

    from infra.stacks.mockrun import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
