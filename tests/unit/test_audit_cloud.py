"""The pure parts of `hatang audit cloud`: expectations from the site model, each read-only check
against a compliant snapshot and against one that breaks it, the drift, the exit codes and the
evidence. The compliant snapshot is data written out by hand (the base of the violating variants,
infra/catalogue/violations/cloud/_base.yml), never built from the `Expected` the checks compare
against: a wrong expectation fails these tests instead of passing them by construction."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.audit import CheckResult, HostResult, Outcome
from infra.audit._model import control_outcome
from infra.audit.cloud import CHECKS, DRIFT_CHECK, PURE_CHECKS, CloudAuditResult, Drift, drift, expected_from_site
from infra.audit.cloud._expected import Expected, prefix_label
from infra.audit.cloud._snapshot import (
    QUOTA_KEYS,
    Image,
    Network,
    Project,
    Rbac,
    RoleAssignment,
    Router,
    Rule,
    Snapshot,
)
from infra.audit.report import render_junit, write_reports
from infra.catalogue import Scope, load_catalogue
from infra.site import Site, load_site
from tests.conftest import AIO, REPO
from tests.unit._cloud_fixtures import build_snapshot, load_base

NOW = datetime(2026, 11, 28, tzinfo=UTC)
DOMAIN_ID = "dom-agencies"
ADMIN = "p-admin"


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(AIO)


@pytest.fixture(scope="module")
def expected(site: Site) -> Expected:
    return expected_from_site(site, NOW)


@pytest.fixture
def good() -> Snapshot:
    """A compliant cloud, written out literally (infra/catalogue/violations/cloud/_base.yml)."""
    return build_snapshot(load_base())


def _tenant(snapshot: Snapshot, code: str) -> Project:
    return next(p for p in snapshot.projects if p.name == code)


# --------------------------------------------------------------------------- expectations


def test_every_cloud_check_of_the_catalogue_has_a_function() -> None:
    catalogue = load_catalogue()
    ids = {cid for c in catalogue.controls if c.scope is Scope.CLOUD for cid in c.checks}
    assert ids <= set(CHECKS), f"cloud checks without a function: {sorted(ids - set(CHECKS))}"
    assert DRIFT_CHECK in CHECKS


def test_expected_comes_from_the_site(site: Site, expected: Expected) -> None:
    assert set(expected.tenants) == {t.code for t in site.tenants}
    assert expected.domain == site.info.agencies_domain
    assert expected.allowed_externals("so-khcn") == {"ext-gov", "ext-dmz"}
    assert expected.allowed_externals("so-yte") == {"ext-dmz"}
    assert set(expected.externals) == {"ext-dmz", "ext-gov"}


def test_prefix_labels_pair_the_families(site: Site, expected: Expected) -> None:
    mgmt = site.zone("mgmt")
    assert prefix_label(str(mgmt.ipv4), expected.prefixes) == prefix_label(str(mgmt.ipv6), expected.prefixes)
    assert prefix_label(None, expected.prefixes) == prefix_label("::/0", expected.prefixes) == "world"
    assert prefix_label("203.0.113.0/24", expected.prefixes) == "other:v4"


@pytest.mark.parametrize("check_id", sorted(PURE_CHECKS))
def test_compliant_cloud_passes_every_read_only_check(check_id: str, expected: Expected, good: Snapshot) -> None:
    result = PURE_CHECKS[check_id](expected, good)
    assert result.outcome is Outcome.PASS, result.observed
    assert result.expected is not None
    json.dumps([result.observed, result.expected])  # evidence is JSON


def test_no_drift_on_a_compliant_cloud(expected: Expected, good: Snapshot) -> None:
    assert drift(expected, good) == []


# --------------------------------------------------------------------------- each check fails


def _fails(check_id: str, expected: Expected, snapshot: Snapshot) -> list[Any]:
    result = PURE_CHECKS[check_id](expected, snapshot)
    assert result.outcome is Outcome.FAIL, result.observed
    assert result.message
    findings: list[Any] = result.observed.get("findings", [result.observed])
    return findings


def test_unlimited_or_wrong_quota_fails(expected: Expected, good: Snapshot) -> None:
    pid = _tenant(good, "so-yte").id
    quotas = {k: dict(v) for k, v in good.quotas[pid].items()}
    quotas["network"]["port"] = -1
    quotas["compute"]["instances"] += 1
    findings = _fails("project_quotas_explicit", expected, replace(good, quotas={**good.quotas, pid: quotas}))
    assert {f.get("quota") for f in findings} == {"network.port", "compute.instances"}
    assert {"project": "so-yte", "quota": "network.port", "problem": "unlimited"} in findings


def test_unknown_project_with_default_unlimited_quota_fails(expected: Expected, good: Snapshot) -> None:
    stray = Project("p-x", "stray", DOMAIN_ID, True)
    values = {section: dict.fromkeys(keys, 10) for section, keys in QUOTA_KEYS.items()}
    values["volume"]["per_volume_gigabytes"] = -1
    snap = replace(good, projects=(*good.projects, stray), quotas={**good.quotas, "p-x": values})
    findings = _fails("project_quotas_explicit", expected, snap)
    assert findings == [{"project": "stray", "quota": "volume.per_volume_gigabytes", "problem": "unlimited"}]


def test_admin_projects_outside_the_agencies_domain_are_not_quota_checked(expected: Expected, good: Snapshot) -> None:
    assert ADMIN not in good.quotas
    assert PURE_CHECKS["project_quotas_explicit"](expected, good).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("rule", "ports"),
    [
        (dict(ethertype="IPv4", protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="0.0.0.0/0"), ["22/ssh"]),
        (dict(ethertype="IPv6", protocol="tcp", port_min=3300, port_max=3400, remote_ip_prefix="::/0"),
         ["3306/mysql", "3389/rdp"]),
        (dict(ethertype="IPv4", protocol=None), None),
        (dict(ethertype="IPv4", protocol="udp", remote_ip_prefix="0.0.0.0/0"), None),
    ],
)  # fmt: skip
def test_world_open_admin_port_fails(
    rule: dict[str, Any], ports: list[str] | None, expected: Expected, good: Snapshot
) -> None:
    pid = _tenant(good, "so-yte").id
    bad = Rule("ru-bad", "sg-so-yte-default", "default", pid, "ingress", **rule)
    findings = _fails("no_world_open_admin_ports", expected, replace(good, rules=(*good.rules, bad)))
    assert [f["rule"] for f in findings] == ["ru-bad"]
    assert findings[0]["project"] == "so-yte"
    if ports is not None:
        assert findings[0]["admin_ports"] == ports


@pytest.mark.parametrize(
    "rule",
    [
        dict(direction="egress", protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="0.0.0.0/0"),
        dict(direction="ingress", protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="10.99.1.0/24"),
        dict(direction="ingress", protocol="tcp", port_min=443, port_max=443, remote_ip_prefix="0.0.0.0/0"),
        dict(direction="ingress", protocol="icmp", remote_ip_prefix="0.0.0.0/0"),
        dict(direction="ingress", protocol=None, remote_group_id="sg-so-yte-default"),
    ],
)
def test_rules_that_do_not_open_admin_ports_to_the_world_pass(
    rule: dict[str, Any], expected: Expected, good: Snapshot
) -> None:
    pid = _tenant(good, "so-yte").id
    extra = [Rule(f"ru-x{f}", "sg-x", "x", pid, ethertype=f, **rule) for f in ("IPv4", "IPv6")]
    result = PURE_CHECKS["no_world_open_admin_ports"](expected, replace(good, rules=(*good.rules, *extra)))
    assert result.outcome is Outcome.PASS


def test_ipv4_rule_without_ipv6_twin_fails(expected: Expected, good: Snapshot, site: Site) -> None:
    pid = _tenant(good, "so-khcn").id
    mgmt = site.zone("mgmt")
    v4 = Rule("ru-v4", "sg-x", "x", pid, "ingress", "IPv4", "tcp", 8080, 8080, str(mgmt.ipv4))
    findings = _fails("security_group_rules_dual_stack", expected, replace(good, rules=(*good.rules, v4)))
    assert findings == [
        {"project": "so-khcn", "security_group": "x", "rule": "ru-v4", "summary": v4.summary(), "missing": "IPv6"}
    ]
    # the twin must use the zone's IPv6 prefix, not any IPv6 prefix
    wrong = Rule("ru-v6", "sg-x", "x", pid, "ingress", "IPv6", "tcp", 8080, 8080, str(site.zone("api").ipv6))
    assert _fails("security_group_rules_dual_stack", expected, replace(good, rules=(*good.rules, v4, wrong)))
    twin = Rule("ru-v6", "sg-x", "x", pid, "ingress", "IPv6", "tcp", 8080, 8080, str(mgmt.ipv6))
    result = PURE_CHECKS["security_group_rules_dual_stack"](expected, replace(good, rules=(*good.rules, v4, twin)))
    assert result.outcome is Outcome.PASS


def test_icmp_twins_with_ipv6_icmp(expected: Expected, good: Snapshot) -> None:
    pid = _tenant(good, "so-yte").id
    rules = (
        Rule("a", "g", "g", pid, "ingress", "IPv4", "icmp", remote_ip_prefix="0.0.0.0/0"),
        Rule("b", "g", "g", pid, "ingress", "IPv6", "ipv6-icmp", remote_ip_prefix="::/0"),
    )
    result = PURE_CHECKS["security_group_rules_dual_stack"](expected, replace(good, rules=(*good.rules, *rules)))
    assert result.outcome is Outcome.PASS


def test_external_network_by_rbac_to_a_tenant_that_did_not_ask_fails(expected: Expected, good: Snapshot) -> None:
    pid = _tenant(good, "so-yte").id
    extra = Rbac("rb-bad", "access_as_external", "network", "n-ext-gov", ADMIN, pid)
    findings = _fails("external_networks_as_allowed", expected, replace(good, rbac=(*good.rbac, extra)))
    assert findings == [{"network": "ext-gov", "project": "so-yte", "via": "rbac access_as_external",
                         "problem": "not asked for by the tenant's request"}]  # fmt: skip
    assert any(
        d.item == "external ext-gov" and d.tenant == "so-yte"
        for d in drift(expected, replace(good, rbac=(*good.rbac, extra)))
    )


def test_external_network_open_to_every_project_fails(expected: Expected, good: Snapshot) -> None:
    wildcard = Rbac("rb-star", "access_as_external", "network", "n-ext-dmz", ADMIN, "*")
    findings = _fails("external_networks_as_allowed", expected, replace(good, rbac=(*good.rbac, wildcard)))
    assert findings[0]["project"] == "*"


def test_router_gateway_on_a_network_not_asked_for_fails(expected: Expected, good: Snapshot) -> None:
    pid = _tenant(good, "so-yte").id
    router = Router("r-x", "so-yte-gov", pid, "n-ext-gov")
    findings = _fails("external_networks_as_allowed", expected, replace(good, routers=(*good.routers, router)))
    assert findings[0]["via"] == "router so-yte-gov"


def test_network_without_ipv6_subnet_fails(expected: Expected, good: Snapshot) -> None:
    subnets = tuple(s for s in good.subnets if s.id != "n-so-yte-app-6")
    findings = _fails("tenant_networks_dual_stack", expected, replace(good, subnets=subnets))
    assert findings == [{"project": "so-yte", "network": "app", "missing": ["IPv6"]}]
    assert Drift("so-yte", "subnet app-v6", "missing", "fd99:aa10:8000:2::/64", None) in drift(
        expected, replace(good, subnets=subnets)
    )


def test_provider_network_outside_the_zones_fails(expected: Expected, good: Snapshot) -> None:
    extra = Network("n-public", "public", ADMIN, False, True, "flat", "physnet1")
    findings = _fails("provider_networks_match_zones", expected, replace(good, networks=(*good.networks, extra)))
    assert findings == [{"network": "public", "problem": "provider network of no zone"}]


def test_provider_network_on_the_wrong_physnet_fails(expected: Expected, good: Snapshot) -> None:
    networks = tuple(replace(n, physnet="physnet-x") if n.name == "ext-gov" else n for n in good.networks)
    findings = _fails("provider_networks_match_zones", expected, replace(good, networks=networks))
    assert findings[0]["differences"] == {"physnet": {"expected": "physnet-gov", "observed": "physnet-x"}}


def test_zone_network_is_external_exactly_when_a_tenant_is_granted_it(expected: Expected, good: Snapshot) -> None:
    """Created not external, a zone's network turns external with its first tenant grant."""
    nobody = replace(expected, tenants={})
    findings = _fails("provider_networks_match_zones", nobody, good)
    assert {f["network"]: f["differences"] for f in findings} == {
        name: {"external": {"expected": False, "observed": True}} for name in expected.externals
    }
    not_external = tuple(replace(n, external=False) if n.name in expected.externals else n for n in good.networks)
    result = PURE_CHECKS["provider_networks_match_zones"](nobody, replace(good, networks=not_external))
    assert result.outcome is Outcome.PASS, result.observed


def test_shared_network_or_rbac_share_fails(expected: Expected, good: Snapshot) -> None:
    networks = tuple(replace(n, shared=True) if n.id == "n-so-yte-app" else n for n in good.networks)
    assert _fails("network_sharing_approved", expected, replace(good, networks=networks))
    share = Rbac("rb-s", "access_as_shared", "network", "n-so-yte-app", "p-so-yte", "p-so-khcn")
    findings = _fails("network_sharing_approved", expected, replace(good, rbac=(*good.rbac, share)))
    assert findings[0]["shared_with"] == "so-khcn"


def test_agency_public_image_fails(expected: Expected, good: Snapshot) -> None:
    image = Image("img-2", "my-app", "p-so-yte", "public")
    findings = _fails("image_sharing_approved", expected, replace(good, images=(*good.images, image)))
    assert findings[0]["owner"] == "so-yte"


def test_project_unknown_or_untagged_fails(expected: Expected, good: Snapshot) -> None:
    projects = tuple(replace(p, tags=()) if p.name == "so-yte" else p for p in good.projects)
    findings = _fails("one_project_per_agency", expected, replace(good, projects=projects))
    assert findings[0]["problem"] == "tags missing"
    stray = Project("p-x", "stray", DOMAIN_ID, True)
    findings = _fails("one_project_per_agency", expected, replace(good, projects=(*good.projects, stray)))
    assert findings == [{"project": "stray", "problem": "not a tenant of the site model"}]


def test_admin_held_by_an_agency_account_fails(expected: Expected, good: Snapshot) -> None:
    agency_user = RoleAssignment("admin", user="u-1", holder_domain_id=DOMAIN_ID, project_id=ADMIN)
    assert _fails("admin_role_restricted", expected, replace(good, admin_assignments=(agency_user,)))
    on_tenant = RoleAssignment("admin", user="u-2", holder_domain_id="default", project_id="p-so-yte")
    findings = _fails("admin_role_restricted", expected, replace(good, admin_assignments=(on_tenant,)))
    assert findings[0]["problem"] == "admin granted on an agency project"


def test_no_encrypted_volume_type_fails(expected: Expected, good: Snapshot) -> None:
    assert _fails("volume_encryption_available", expected, replace(good, volume_types=good.volume_types[:1]))


# --------------------------------------------------------------------------- drift


def test_drift_unexpected_network_and_subnet_cidr(expected: Expected, good: Snapshot) -> None:
    extra = Network("n-x", "rogue", "p-so-yte")
    subnets = tuple(replace(s, cidr="10.128.9.0/24") if s.id == "n-so-yte-app-4" else s for s in good.subnets)
    found = drift(expected, replace(good, networks=(*good.networks, extra), subnets=subnets))
    assert found == [
        Drift("so-yte", "network rogue", "not in the site model", None, "n-x"),
        Drift("so-yte", "subnet app-v4", "CIDR differs from the allocation", "10.128.4.0/24", "10.128.9.0/24"),
    ]


def test_drift_project_disabled_missing_or_unknown(expected: Expected, good: Snapshot) -> None:
    projects = tuple(replace(p, enabled=False) if p.name == "so-yte" else p for p in good.projects)
    assert drift(expected, replace(good, projects=projects)) == [
        Drift("so-yte", "project", "enabled differs", True, False)
    ]
    without = tuple(p for p in good.projects if p.name != "so-khcn")
    assert Drift("so-khcn", "project", "missing", "present", None) in drift(expected, replace(good, projects=without))
    stray = Project("p-x", "stray", DOMAIN_ID, True)
    assert drift(expected, replace(good, projects=(*good.projects, stray))) == [
        Drift("stray", "project", "not in the site model", None, "p-x")
    ]


def test_drift_quota_and_router(expected: Expected, good: Snapshot) -> None:
    pid = "p-so-yte"
    quotas = {k: dict(v) for k, v in good.quotas[pid].items()}
    quotas["volume"]["gigabytes"] = 999
    routers = tuple(r for r in good.routers if r.project_id != pid)
    found = drift(expected, replace(good, quotas={**good.quotas, pid: quotas}, routers=routers))
    want = expected.tenants["so-yte"].quotas["volume"]["gigabytes"]
    assert Drift("so-yte", "quota volume.gigabytes", "differs from the profile", want, 999) in found
    assert Drift("so-yte", "router so-yte-dmz", "missing", "ext-dmz", None) in found


def test_retired_tenant_expects_a_disabled_project(site: Site, good: Snapshot) -> None:
    tenant = site.tenant("so-yte")
    assert tenant is not None
    retired = tenant.model_copy(
        update={
            "state": "retired",
            "history": (*tenant.history, tenant.history[-1].model_copy(update={"state": "retired"})),
        }
    )
    moved = replace(site, tenants=tuple(retired if t.code == "so-yte" else t for t in site.tenants))
    expected = expected_from_site(moved, NOW)
    assert expected.tenants["so-yte"].enabled is False
    assert drift(expected, good) == [Drift("so-yte", "project", "enabled differs", False, True)]
    projects = tuple(replace(p, enabled=False) if p.name == "so-yte" else p for p in good.projects)
    # disabled in the cloud: no drift left (its tags differ only in the state tag, not checked)
    assert drift(expected, replace(good, projects=projects)) == []
    # past the grace period the project must be gone
    later = expected_from_site(moved, datetime(2030, 1, 1, tzinfo=UTC))
    assert "so-yte" in later.removed
    assert Drift("so-yte", "project", "retired past its grace period but still present", None, "p-so-yte") in drift(
        later, replace(good, projects=projects)
    )


# --------------------------------------------------------------------------- result and evidence


def _audit(expected: Expected, snapshot: Snapshot, drifts: tuple[Drift, ...] = ()) -> CloudAuditResult:
    catalogue = load_catalogue()
    profile = catalogue.profile("old-level3")
    results = {cid: fn(expected, snapshot) for cid, fn in PURE_CHECKS.items()}
    for cid in set(CHECKS) - set(PURE_CHECKS):
        results[cid] = CheckResult(cid, Outcome.PASS, "seen", "wanted")
    controls = tuple(control_outcome(c, results, None) for c in profile.controls_in(Scope.CLOUD))
    host = HostResult("aio", "http://10.0.0.1:5000/v3", controls, None, 1.0)
    return CloudAuditResult("aio", profile, catalogue.version, (host,), "2026-11-28T17:00:00+00:00",
                            "2026-11-28T17:00:09+00:00", instruments=catalogue.instruments, drift=drifts)  # fmt: skip


def test_exit_codes(expected: Expected, good: Snapshot) -> None:
    assert _audit(expected, good).exit_code == 0
    assert _audit(expected, good, (Drift("so-yte", "project", "missing"),)).exit_code == 1
    bad = replace(good, volume_types=())
    assert _audit(expected, bad).exit_code == 1
    errored = replace(_audit(expected, good), hosts=(HostResult("aio", "x", (), "unreachable"),))
    assert errored.exit_code == 2


def test_evidence_names_the_tool_and_the_drift(expected: Expected, good: Snapshot, tmp_path: Path) -> None:
    result = _audit(expected, good, (Drift("so-yte", "network rogue", "not in the site model", None, "n-x"),))
    paths = write_reports(result, tmp_path)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["tool"] == "hatang audit cloud"
    assert data["result"] == "non_compliant" and data["exit_code"] == 1
    assert data["drift"][0]["item"] == "network rogue"
    assert "HC-SG-01" in render_junit(result)
    assert "HC-SG-01" in paths["html_en"].read_text(encoding="utf-8")


# --------------------------------------------------------------------------- isolation expectations


def test_a_member_may_see_own_platform_shared_and_attachable_external_networks(
    expected: Expected, good: Snapshot
) -> None:
    from infra.audit.cloud._probes import _visible_expected

    pid = _tenant(good, "so-yte").id
    assert _visible_expected(expected, good, pid) == {"n-so-yte-app", "n-ext-dmz"}
    # a wildcard makes ext-gov visible (HC-NET-01 says whether it should be)
    star = Rbac("rb-star", "access_as_external", "network", "n-ext-gov", ADMIN, "*")
    assert "n-ext-gov" in _visible_expected(expected, replace(good, rbac=(*good.rbac, star)), pid)
    # another agency's network is never expected, even when shared with it
    shared = tuple(replace(n, shared=True) if n.id == "n-so-khcn-app" else n for n in good.networks)
    assert "n-so-khcn-app" not in _visible_expected(expected, replace(good, networks=shared), pid)


# --------------------------------------------------------------------------- the command's bad input


@pytest.fixture
def clouds_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "clouds.yaml"
    path.write_text(
        "clouds:\n  closed:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      username: admin\n"
        "      password: x\n      project_name: admin\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n    region_name: RegionOne\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("cloud", "file", "message"),
    [
        ("nope", "clouds.yaml", "error: cloud 'nope' not found in "),
        ("closed", "clouds.yaml", "error: cloud 'closed' (http://127.0.0.1:1/v3): unreachable"),
        ("closed", "missing.yaml", "missing.yaml: no such clouds.yaml"),
    ],
)
def test_bad_cloud_is_one_line_and_exit_2(cloud: str, file: str, message: str, clouds_yaml: Path) -> None:
    from typer.testing import CliRunner

    from infra.cli import app

    path = clouds_yaml.parent / file
    result = CliRunner().invoke(
        app, ["audit", "cloud", "--cloud", cloud, "--clouds-yaml", str(path), "-i", str(AIO), "-p", "old-level3"]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_drift_control_reports_the_drift(expected: Expected, good: Snapshot) -> None:
    catalogue = load_catalogue()
    profile = catalogue.profile("old-level1")
    rogue = replace(good, networks=(*good.networks, Network("n-x", "rogue", "p-so-yte")))
    results = {cid: fn(expected, rogue) for cid, fn in PURE_CHECKS.items()}
    control = next(c for c in profile.controls_in(Scope.CLOUD) if DRIFT_CHECK in c.checks)
    outcome = control_outcome(control, results, None)
    assert outcome.outcome is Outcome.FAIL
    assert outcome.checks[0].observed["findings"][0]["item"] == "network rogue"


# --------------------------------------------------------------------------- issue 15: evasions closed


def _rule(
    rid: str, ethertype: str, protocol: Any, low: Any, high: Any, prefix: str | None, group: str = "sg-x"
) -> Rule:
    return Rule(rid, group, group, "p-so-yte", "ingress", ethertype, protocol, low, high, prefix)


@pytest.mark.parametrize(
    ("v4", "v6"),
    [
        (("6", 8080, 8080), ("tcp", 8080, 8080)),
        (("TCP", 8080, 8080), (6, 8080, 8080)),
        (("tcp", None, None), ("6", 1, 65535)),
        (("udp", 9000, 8000), ("17", 8000, 9000)),
        ((None, None, None), ("any", None, None)),
        (("132", 3868, 3868), ("SCTP", 3868, 3868)),
        (("icmp", 8, 0), ("ipv6-icmp", 8, 0)),
    ],
)
def test_twins_written_differently_are_twins(
    v4: tuple[Any, ...], v6: tuple[Any, ...], expected: Expected, good: Snapshot
) -> None:
    """HC-SG-02 reads protocols and ports as Neutron does, as HC-SG-01 does (not raw strings)."""
    rules = (_rule("a", "IPv4", *v4, "10.99.1.0/24"), _rule("b", "IPv6", *v6, "fd99:aa10:0:11::/64"))
    result = PURE_CHECKS["security_group_rules_dual_stack"](expected, replace(good, rules=(*good.rules, *rules)))
    assert result.outcome is Outcome.PASS, result.observed


def test_world_split_over_rules_is_one_finding_naming_them_all(expected: Expected, good: Snapshot) -> None:
    halves = (
        _rule("h1", "IPv4", "tcp", 22, 22, "0.0.0.0/1", "sg-a"),
        _rule("h2", "IPv4", "6", 20, 25, "128.0.0.0/1", "sg-b"),
    )
    findings = _fails("no_world_open_admin_ports", expected, replace(good, rules=(*good.rules, *halves)))
    assert findings == [
        {
            "project": "so-yte",
            "security_groups": ["sg-a", "sg-b"],
            "rules": ["h1", "h2"],
            "summary": [halves[0].summary(), halves[1].summary()],
            "admin_ports": ["22/ssh"],
            "world": "IPv4",
            "problem": "together these rules admit every address",
        }
    ]


@pytest.mark.parametrize(
    "prefixes",
    [
        ("0.0.0.0/1", "128.0.0.0/2"),  # a quarter left out
        ("0.0.0.0/1", "::/1"),  # half of each family
        ("0.0.0.0/1", "0.0.0.0/1"),
    ],
)
def test_prefixes_that_leave_addresses_out_are_not_the_world(
    prefixes: tuple[str, ...], expected: Expected, good: Snapshot
) -> None:
    rules = tuple(_rule(f"r{i}", "IPv6" if ":" in p else "IPv4", "tcp", 22, 22, p) for i, p in enumerate(prefixes))
    result = PURE_CHECKS["no_world_open_admin_ports"](expected, replace(good, rules=(*good.rules, *rules)))
    assert result.outcome is Outcome.PASS, result.observed


def test_a_world_rule_is_reported_alone_first_and_not_again_as_a_union(expected: Expected, good: Snapshot) -> None:
    rules = (_rule("w", "IPv4", "tcp", 22, 22, "0.0.0.0/0"), _rule("n", "IPv4", "tcp", 22, 22, "10.0.0.0/8"))
    findings = _fails("no_world_open_admin_ports", expected, replace(good, rules=(*good.rules, *rules)))
    assert [f["rule"] for f in findings] == ["w"]


def test_the_router_and_dhcp_ports_without_port_security_are_not_findings(expected: Expected, good: Snapshot) -> None:
    assert any(not p.port_security for p in good.ports)
    assert PURE_CHECKS["no_world_open_admin_ports"](expected, good).outcome is Outcome.PASS


def test_two_networks_with_a_zone_name_fail(expected: Expected, good: Snapshot) -> None:
    twin = Network("n-ext-dmz-2", "ext-dmz", ADMIN, False, True, "flat", "physnet-dmz")
    findings = _fails("provider_networks_match_zones", expected, replace(good, networks=(*good.networks, twin)))
    assert {"network": "ext-dmz", "problem": "2 networks carry this name"} in findings


def test_a_wrong_expectation_fails_on_the_literal_compliant_cloud(expected: Expected, good: Snapshot) -> None:
    """What pass-by-construction hid: the fixture no longer follows the expectation."""
    spec = expected.tenants["so-yte"]
    quotas = {**spec.quotas, "volume": {**spec.quotas["volume"], "gigabytes": 41}}
    wrong = replace(expected, tenants={**expected.tenants, "so-yte": replace(spec, quotas=quotas)})
    findings = _fails("project_quotas_explicit", wrong, good)
    assert findings == [{"project": "so-yte", "quota": "volume.gigabytes", "expected": 41, "observed": 40}]


def test_cloud_audit_does_not_import_the_pulumi_programs() -> None:
    """The audit reads its expectations from the model's views (infra.specs), never from the stacks."""
    code = (
        "import sys, infra.audit, infra.audit.cloud, infra.commands.audit_cloud; "
        "print(sorted(m for m in sys.modules if m.startswith(('infra.stacks', 'pulumi'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
