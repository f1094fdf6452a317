"""Specs derived from the site: lifecycle, routers, security groups, quotas."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from infra.quotas import SECTIONS
from infra.schema import NetworkAccess, TenantState
from infra.site import load_site
from infra.specs.cloud import SpecError, platform_spec, retired_at, tenant_spec, tenants_plan
from tests.conftest import AIO, REPO, SAMPLE
from tests.helpers import edit_yaml
from tests.pulumi.conftest import NOW


def test_platform_spec_external_networks_are_the_access_zones() -> None:
    spec = platform_spec(load_site(SAMPLE))
    assert sorted(e.zone for e in spec.externals) == ["dmz", "gov", "internet"]
    gov = next(e for e in spec.externals if e.zone == "gov")
    assert (gov.segmentation_id, str(gov.pool4[0]), str(gov.pool4[1])) == (200, "10.150.0.10", "10.150.3.254")


def test_platform_spec_flat_provider_has_no_segmentation_id() -> None:
    spec = platform_spec(load_site(AIO))
    assert {e.zone: e.segmentation_id for e in spec.externals} == {"dmz": None, "gov": None}


def test_tenants_plan_removes_retired_tenant_after_grace_and_skips_requested() -> None:
    site = load_site(SAMPLE)
    plan = tenants_plan(site, NOW)
    assert [code for code, _ in plan.removed] == ["so-tttt"]
    assert "grace period of 90 days over on 2026-07-24" in plan.removed[0][1]
    assert sorted(code for code, _ in plan.skipped) == ["phuong-duc-xuan", "phuong-phan-dinh-phung"]
    assert len(plan.tenants) == 10


def test_tenants_plan_keeps_retired_tenant_disabled_and_unprotected_within_grace() -> None:
    site = load_site(SAMPLE)
    tenant = site.tenant("so-tttt")
    assert tenant is not None
    since = retired_at(tenant)
    assert since is not None
    plan = tenants_plan(site, since + timedelta(days=89))
    spec = next(t for t in plan.tenants if t.code == "so-tttt")
    assert (spec.state, spec.enabled, spec.protect) == (TenantState.RETIRED, False, False)


def test_tenant_spec_active_tenant_is_enabled_and_protected() -> None:
    site = load_site(SAMPLE)
    tenant = site.tenant("vp-ubnd")
    assert tenant is not None
    spec = tenant_spec(site, tenant)
    assert (spec.enabled, spec.protect) == (True, True)
    assert [r.access for r in spec.routers] == [NetworkAccess.GOV, NetworkAccess.DMZ]
    assert "hatang:app=qlvb" in spec.project_tags and "hatang:level=3" in spec.project_tags


def test_tenant_spec_network_with_two_accesses_gets_a_secondary_uplink() -> None:
    site = load_site(SAMPLE)
    tenant = next(t for t in site.tenants if any(len(n.access) == 2 for n in t.networks))
    spec = tenant_spec(site, tenant)
    net = next(n for n in spec.networks if n.secondary)
    assert net.primary == NetworkAccess.GOV
    assert net.secondary[0].access == NetworkAccess.DMZ
    assert net.secondary[0].port_ip4 == net.ipv4.broadcast_address - 1


def test_tenant_spec_security_groups_only_from_reachable_sources() -> None:
    site = load_site(SAMPLE)
    tenant = site.tenant("thainguyen-id")  # dmz access only
    assert tenant is not None
    spec = tenant_spec(site, tenant)
    assert [g.source for g in spec.security_groups] == ["dmz", "mgmt"]
    rules = {(r.flow, r.ethertype, r.port_min) for g in spec.security_groups for r in g.rules}
    assert ("mgmt-to-tenants", "IPv6", 22) in rules
    assert not any(r.remote_prefix in {"0.0.0.0/0", "::/0"} for g in spec.security_groups for r in g.rules)


def test_tenant_spec_quotas_have_every_key_of_the_model() -> None:
    site = load_site(SAMPLE)
    tenant = site.tenant("vp-ubnd")
    assert tenant is not None
    quotas = tenant_spec(site, tenant).quotas
    for section, model in SECTIONS.items():
        assert set(quotas[section]) == set(model.model_fields)


def test_tenant_spec_missing_quota_key_strict_raises_lenient_renders(site_copy: Path) -> None:
    edit_yaml(site_copy, "profiles.yml", lambda d: d["profiles"]["S"]["network"].pop("subnetpool"))
    site = load_site(site_copy)
    tenant = site.tenant("vp-ubnd")
    assert tenant is not None
    with pytest.raises(SpecError, match="missing key"):
        tenant_spec(site, tenant)
    spec = tenant_spec(site, tenant, lenient=True)
    assert "subnetpool" not in spec.quotas["network"]
    assert spec.notes


def test_specs_import_neither_pulumi_nor_the_stacks() -> None:
    """The specs are pure views of the model: the Pulumi programs and the cloud audit both read them."""
    code = (
        "import sys, infra.specs.cloud, infra.specs.flavors; "
        "print(sorted(m for m in sys.modules if m.startswith(('infra.stacks', 'pulumi'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
