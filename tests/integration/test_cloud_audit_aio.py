"""`hatang audit cloud` on the real all-in-one cloud.

After the platform and the AIO site's tenants are applied to the AIO by the real Pulumi engine
(`hatang cloud up`, fixture `applied` in tests/integration/conftest.py), the audit passes; then
each automated cloud check is shown to FAIL on a cloud that violates it, and every violation is
removed again (each test proves the check passes once it is cleaned up).
Also proven on the cloud itself: a tenant member cannot see another tenant, quotas are enforced
(networks; volumes, which become available on the AIO's fake volume backend),
and retiring a tenant in the site model disables its project.

Requires the AIO (`hatang aio up`; the fixture brings it up when it is not) and the engine built
by scripts/pulumi-tools. Without them these tests FAIL.
The AIO's admin clouds.yaml is the one `hatang aio up` writes (infra.aio.AioPaths), or
$HATANG_AIO_CLOUDS_YAML; the cloud name infra.aio.CLOUD_NAME, or $HATANG_AIO_CLOUD.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openstack.exceptions
import pytest
from typer.testing import CliRunner

from infra import testhosts
from infra.audit import Outcome
from infra.audit.cloud import Prober, run_checks
from infra.audit.cloud._probes import keystone_security_compliance_set, strong_password
from infra.audit.cloud._storage import read_volume_backends
from infra.catalogue import load_catalogue
from infra.cli import app
from infra.quotas import Quotas, resolve_profile
from infra.site import Site, load_site
from infra.stacks.mockrun import MockRun, run_programs
from infra.tenants import retire_tenant
from tests.cluster._ha import until
from tests.conftest import AIO
from tests.integration.conftest import AioCloud, cloud_cli

pytestmark = pytest.mark.aio

PROFILE = "old-level3"
SMALL = "so-yte"  # one network, dmz only
BIG = "so-khcn"  # gov and dmz


# --------------------------------------------------------------------------- the AIO


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(AIO)


@pytest.fixture(scope="module")
def programs() -> MockRun:
    return run_programs(AIO, lenient=False)


@dataclass(frozen=True)
class Applied(AioCloud):
    external_check: Any = None
    """HC-NET-01's check right after `hatang cloud up`, nothing removed or changed."""


@pytest.fixture(scope="module")
def cloud(applied: AioCloud, site: Site) -> Applied:
    """The platform and the AIO tenants, applied by the engine (tests/integration/conftest.py)."""
    after = run_checks(site, applied.conn, ["external_networks_as_allowed"])["external_networks_as_allowed"]
    return Applied(applied.clouds_yaml, applied.cloud, applied.conn, after)


def _reapply(cloud: AioCloud) -> None:
    """Create again, through the engine, what a test deleted by hand."""
    code, out, err = cloud_cli(cloud, "up", "--refresh")
    assert code == 0, out + err


def _project(conn: Any, code: str) -> Any:
    domain = conn.identity.find_domain("agencies", ignore_missing=False)
    return conn.identity.find_project(code, domain_id=domain.id, ignore_missing=False)


AIO_HOST = testhosts.container_name("aio", "aio1")


def _check(site: Site, conn: Any, *check_ids: str) -> dict[str, Any]:
    return run_checks(site, conn, check_ids)


def _assert(results: dict[str, Any], outcome: Outcome, *check_ids: str) -> None:
    for cid in check_ids:
        got = results[cid]
        assert got.outcome is outcome, f"{cid}: {got.outcome.value} ({got.message}) observed={got.observed}"


def _audit_cli(aio: AioCloud, out: Path, *extra: str) -> tuple[int, str, float]:
    """`hatang audit cloud` on the AIO, no control waived."""
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["audit", "cloud", "--cloud", aio.cloud, "--clouds-yaml", str(aio.clouds_yaml), "-i", str(AIO),
         "--profile", PROFILE, "--out", str(out), *extra],
    )  # fmt: skip
    return result.exit_code, result.output, time.monotonic() - started


# --------------------------------------------------------------------------- compliant


def test_applied_platform_opens_external_networks_per_tenant_only(cloud: Applied) -> None:
    """The platform creates its provider networks not external (no Neutron '*' entry); the
    tenants' grants make them external, for exactly the tenants whose request asks for them."""
    conn = cloud.conn
    check = cloud.external_check
    assert check.outcome is Outcome.PASS, check.observed
    wanted = {"ext-gov": [BIG], "ext-dmz": sorted([BIG, SMALL])}
    assert {k: v for k, v in check.observed["attachable_by"].items() if k in wanted} == wanted
    for name in wanted:
        network = conn.network.find_network(name, ignore_missing=False)
        assert network.is_router_external, f"{name}: Neutron did not mark it external with the grants"
        grants = list(conn.network.rbac_policies(object_id=network.id, action="access_as_external"))
        assert "*" not in {g.target_project_id for g in grants}, f"{name}: open to every project"


def test_audit_passes_after_engine_up(cloud: Applied, site: Site, tmp_path: Path) -> None:
    code, output, seconds = _audit_cli(cloud, tmp_path / "report")
    assert code == 0, output
    for name in ("evidence.json", "junit.xml", "report.vi.html", "report.en.html"):
        assert (tmp_path / "report" / name).is_file()
    print(f"audit cloud wall time: {seconds:.1f} s")
    # TLS on every endpoint (the TLS front) and an encrypted volume type (roles/cinder) included
    _assert(_check(site, cloud.conn, "api_endpoints_tls", "volume_encryption_available"), Outcome.PASS,
            "api_endpoints_tls", "volume_encryption_available")
    # no throwaway account left behind
    assert not [u.name for u in cloud.conn.identity.users() if u.name.startswith("hatang-audit-")]


# --------------------------------------------------------------------------- each check fails


@contextlib.contextmanager
def _cleanup(*actions: Any) -> Iterator[list[Any]]:
    """Collect undo callables; run them all (last first) however the test ends."""
    undo: list[Any] = list(actions)
    try:
        yield undo
    finally:
        for action in reversed(undo):
            with contextlib.suppress(openstack.exceptions.NotFoundException):
                action()


def test_world_open_ssh_rule_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    project = _project(conn, SMALL)
    group = next(iter(conn.network.security_groups(project_id=project.id, name="from-mgmt")))
    with _cleanup() as undo:
        rule = conn.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", ether_type="IPv4", protocol="tcp",
            port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0",
        )  # fmt: skip
        undo.append(lambda: conn.network.delete_security_group_rule(rule))
        results = _check(site, conn, "no_world_open_admin_ports", "security_group_rules_dual_stack")
        _assert(results, Outcome.FAIL, "no_world_open_admin_ports", "security_group_rules_dual_stack")
        assert results["no_world_open_admin_ports"].observed["findings"][0]["rule"] == rule.id
    _assert(_check(site, conn, "no_world_open_admin_ports", "security_group_rules_dual_stack"), Outcome.PASS,
            "no_world_open_admin_ports", "security_group_rules_dual_stack")  # fmt: skip


def test_unlimited_quota_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    project = _project(conn, SMALL)
    tenant = site.tenant(SMALL)
    assert tenant is not None
    ports = resolve_profile(tenant.quota_profile, site.profiles).network.port
    with _cleanup(lambda: conn.network.update_quota(project.id, ports=ports)):
        conn.network.update_quota(project.id, ports=-1)
        results = _check(site, conn, "project_quotas_explicit", "cloud_matches_site_model")
        _assert(results, Outcome.FAIL, "project_quotas_explicit", "cloud_matches_site_model")
        assert {"project": SMALL, "quota": "network.port", "problem": "unlimited"} in results[
            "project_quotas_explicit"
        ].observed["findings"]
    _assert(_check(site, conn, "project_quotas_explicit"), Outcome.PASS, "project_quotas_explicit")


def test_external_network_attached_without_request_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    project = _project(conn, SMALL)  # asked for dmz only
    gov = conn.network.find_network("ext-gov", ignore_missing=False)
    with _cleanup() as undo:
        rbac = conn.network.create_rbac_policy(
            object_type="network", object_id=gov.id, action="access_as_external", target_project_id=project.id
        )
        undo.append(lambda: conn.network.delete_rbac_policy(rbac))
        results = _check(site, conn, "external_networks_as_allowed", "cloud_matches_site_model")
        _assert(results, Outcome.FAIL, "external_networks_as_allowed", "cloud_matches_site_model")
        findings = results["external_networks_as_allowed"].observed["findings"]
        assert {"network": "ext-gov", "project": SMALL} in [{k: f[k] for k in ("network", "project")} for f in findings]
    _assert(_check(site, conn, "external_networks_as_allowed"), Outcome.PASS, "external_networks_as_allowed")


def test_external_network_open_to_every_project_fails(cloud: Applied, site: Site) -> None:
    """The entry Neutron adds to a network created with router:external (target '*'), created
    here deliberately as the violation: ext-gov would be attachable by every project."""
    conn = cloud.conn
    gov = conn.network.find_network("ext-gov", ignore_missing=False)
    with _cleanup() as undo:
        rbac = conn.network.create_rbac_policy(
            object_type="network", object_id=gov.id, action="access_as_external", target_project_id="*"
        )
        undo.append(lambda: conn.network.delete_rbac_policy(rbac))
        results = _check(site, conn, "external_networks_as_allowed")
        _assert(results, Outcome.FAIL, "external_networks_as_allowed")
        assert {"network": "ext-gov", "project": "*", "via": "rbac access_as_external",
                "problem": "every project ('*')"} in results["external_networks_as_allowed"].observed["findings"]
    _assert(_check(site, conn, "external_networks_as_allowed"), Outcome.PASS, "external_networks_as_allowed")


PROBE = "hatang-audit-ext-probe"


def _probe_network(cloud: Applied, programs: MockRun, physnet: str) -> Any:
    """A network created with the platform program's arguments for ext-gov (so: not external),
    renamed and on a physnet of its own (Neutron allows one flat network per physnet)."""
    platform = programs.find("openstack:networking/network:Network", name="ext-gov")
    assert platform is not None and platform.inputs["external"] is False, platform
    segment = platform.inputs["segments"][0]
    return cloud.conn.network.create_network(
        name=PROBE, is_router_external=platform.inputs["external"], is_shared=platform.inputs.get("shared", False),
        provider_network_type=segment["networkType"], provider_physical_network=physnet,
    )  # fmt: skip


def test_neutron_opens_a_network_created_external_to_every_project(cloud: Applied) -> None:
    """Why the platform does not create its networks with router:external=True."""
    conn = cloud.conn
    with _cleanup() as undo:
        network = conn.network.create_network(
            name=PROBE, is_router_external=True, provider_network_type="flat",
            provider_physical_network="physnet-hatang-probe-star",
        )  # fmt: skip
        undo.append(lambda: conn.network.delete_network(network))
        grants = list(conn.network.rbac_policies(object_id=network.id, action="access_as_external"))
        assert [g.target_project_id for g in grants] == ["*"]


def test_neutron_grant_makes_a_network_external_for_that_project_only(cloud: Applied, programs: MockRun) -> None:
    """Created as the platform creates ext-gov, a network is not external and grants nothing;
    an access_as_external entry for one project makes Neutron mark it external, that project
    can use it as its router gateway and a project without an entry cannot; deleting the last
    entry makes it internal again."""
    conn = cloud.conn
    prober = Prober.from_connection(conn)
    password = strong_password()
    domain = conn.identity.get_user(conn.current_user_id).domain_id
    with _cleanup() as undo, prober.throwaway_user("ext", password=password) as user:
        network = _probe_network(cloud, programs, "physnet-hatang-probe")
        undo.append(lambda: conn.network.delete_network(network))
        assert network.is_router_external is False
        assert not list(conn.network.rbac_policies(object_id=network.id))
        conn.network.create_subnet(
            network_id=network.id, name=f"{PROBE}-v4", ip_version=4, cidr="192.0.2.0/24", gateway_ip="192.0.2.1",
            is_dhcp_enabled=False,
        )  # fmt: skip
        projects = {}
        for role in ("granted", "other"):
            project = conn.identity.create_project(name=f"{PROBE}-{role}-{user.id[:8]}", domain_id=domain)
            undo.append(lambda p=project: conn.identity.delete_project(p))
            undo.append(lambda p=project: [conn.network.delete_security_group(g)
                                           for g in conn.network.security_groups(project_id=p.id)])  # fmt: skip
            prober.grant(user, project.id)
            projects[role] = project
        rbac = conn.network.create_rbac_policy(
            object_type="network", object_id=network.id, action="access_as_external",
            target_project_id=projects["granted"].id,
        )  # fmt: skip
        undo.append(lambda: conn.network.delete_rbac_policy(rbac))
        assert conn.network.get_network(network.id).is_router_external is True
        grants = list(conn.network.rbac_policies(object_id=network.id, action="access_as_external"))
        assert [g.target_project_id for g in grants] == [projects["granted"].id]

        other = prober.connect_as(user, password, projects["other"].id)
        granted = prober.connect_as(user, password, projects["granted"].id)
        undo.extend([other.close, granted.close])
        assert other.network.find_network(network.id) is None
        gateway = {"network_id": network.id}
        with pytest.raises(openstack.exceptions.NotFoundException, match=network.id):
            other.network.create_router(name=f"{PROBE}-other", external_gateway_info=gateway)
        router = granted.network.create_router(name=f"{PROBE}-granted", external_gateway_info=gateway)
        undo.append(lambda: conn.network.delete_router(router))
        assert router.external_gateway_info["network_id"] == network.id
        conn.network.delete_router(router)
        conn.network.delete_rbac_policy(rbac)
        assert conn.network.get_network(network.id).is_router_external is False


def test_removed_ipv6_subnet_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    project = _project(conn, SMALL)
    network = conn.network.find_network("app", project_id=project.id, ignore_missing=False)
    v6 = next(s for s in conn.network.subnets(network_id=network.id) if s.ip_version == 6)
    router = next(iter(conn.network.routers(project_id=project.id, name=f"{SMALL}-dmz")))
    try:
        conn.network.remove_interface_from_router(router, v6.id)
        conn.network.delete_subnet(v6)
        results = _check(site, conn, "tenant_networks_dual_stack", "cloud_matches_site_model")
        _assert(results, Outcome.FAIL, "tenant_networks_dual_stack", "cloud_matches_site_model")
        drift = results["cloud_matches_site_model"].observed["findings"]
        assert {"tenant": SMALL, "item": "subnet app-v6", "problem": "missing"} in [
            {k: d[k] for k in ("tenant", "item", "problem")} for d in drift
        ]
    finally:
        _reapply(cloud)  # the engine creates the subnet and its router interface again
    _assert(_check(site, conn, "tenant_networks_dual_stack", "cloud_matches_site_model"), Outcome.PASS,
            "tenant_networks_dual_stack", "cloud_matches_site_model")  # fmt: skip


def test_unexpected_network_is_drift(cloud: Applied, site: Site, tmp_path: Path) -> None:
    conn = cloud.conn
    project = _project(conn, BIG)
    with _cleanup() as undo:
        network = conn.network.create_network(name="rogue", project_id=project.id)
        undo.append(lambda: conn.network.delete_network(network))
        code, output, _ = _audit_cli(cloud, tmp_path / "report")
        assert code == 1, output
        assert f"drift: {BIG}: network rogue: not in the site model" in output
    _assert(_check(site, conn, "cloud_matches_site_model"), Outcome.PASS, "cloud_matches_site_model")


def test_provider_network_outside_the_zones_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    with _cleanup() as undo:
        network = conn.network.create_network(name="hatang-audit-rogue-ext", is_router_external=True)
        undo.append(lambda: conn.network.delete_network(network))
        results = _check(site, conn, "provider_networks_match_zones")
        _assert(results, Outcome.FAIL, "provider_networks_match_zones")
    _assert(_check(site, conn, "provider_networks_match_zones"), Outcome.PASS, "provider_networks_match_zones")


def test_network_shared_between_tenants_fails_sharing_and_isolation(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    owner, other = _project(conn, BIG), _project(conn, SMALL)
    network = conn.network.find_network("app", project_id=owner.id, ignore_missing=False)
    checks = ("network_sharing_approved", "tenant_isolation_enforced")
    with _cleanup() as undo:
        rbac = conn.network.create_rbac_policy(
            object_type="network", object_id=network.id, action="access_as_shared", target_project_id=other.id
        )
        undo.append(lambda: conn.network.delete_rbac_policy(rbac))
        results = _check(site, conn, *checks)
        _assert(results, Outcome.FAIL, *checks)
        assert {"tenant": SMALL, "problem": f"sees network app of {BIG}"} in results[
            "tenant_isolation_enforced"
        ].observed["findings"]
    _assert(_check(site, conn, *checks), Outcome.PASS, *checks)


def test_agency_public_image_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    project = _project(conn, SMALL)
    with _cleanup() as undo:
        response = conn.image.post(
            "/images",
            json={"name": "hatang-audit-public", "visibility": "public", "owner": project.id,
                  "disk_format": "raw", "container_format": "bare"},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        image_id = response.json()["id"]
        undo.append(lambda: conn.image.delete_image(image_id))
        _assert(_check(site, conn, "image_sharing_approved"), Outcome.FAIL, "image_sharing_approved")
    _assert(_check(site, conn, "image_sharing_approved"), Outcome.PASS, "image_sharing_approved")


def test_unknown_agency_project_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    domain = conn.identity.find_domain("agencies", ignore_missing=False)
    checks = ("one_project_per_agency", "cloud_matches_site_model")
    with _cleanup() as undo:
        project = conn.identity.create_project(name="hatang-audit-stray", domain_id=domain.id)
        undo.append(lambda: conn.identity.delete_project(project))
        _assert(_check(site, conn, *checks), Outcome.FAIL, *checks)
    _assert(_check(site, conn, *checks), Outcome.PASS, *checks)


def test_admin_role_to_an_agency_group_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    project = _project(conn, SMALL)
    domain = conn.identity.find_domain("agencies", ignore_missing=False)
    group = conn.identity.find_group(f"{SMALL}-admins", domain_id=domain.id, ignore_missing=False)
    admin = conn.identity.find_role("admin", ignore_missing=False)
    with _cleanup(lambda: conn.identity.unassign_project_role_from_group(project, group, admin)):
        conn.identity.assign_project_role_to_group(project, group, admin)
        _assert(_check(site, conn, "admin_role_restricted"), Outcome.FAIL, "admin_role_restricted")
    _assert(_check(site, conn, "admin_role_restricted"), Outcome.PASS, "admin_role_restricted")


def test_plain_http_endpoint_fails(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    with _cleanup() as undo:
        service = conn.identity.create_service(name="hatang-audit-probe", type="hatang-audit-probe")
        undo.append(lambda: conn.identity.delete_service(service))
        endpoint = conn.identity.create_endpoint(
            service_id=service.id, interface="public", url="http://127.0.0.1:1/", region_id=site.info.region
        )
        undo.append(lambda: conn.identity.delete_endpoint(endpoint))
        results = _check(site, conn, "api_endpoints_tls")
        _assert(results, Outcome.FAIL, "api_endpoints_tls")
        assert {"endpoint": "hatang-audit-probe public http://127.0.0.1:1/", "problem": "not https"} in results[
            "api_endpoints_tls"
        ].observed["findings"]
    _assert(_check(site, conn, "api_endpoints_tls"), Outcome.PASS, "api_endpoints_tls")


def test_no_encrypted_volume_type_fails(cloud: Applied, site: Site) -> None:
    """Take the encryption off roles/cinder's `encrypted` type: HC-VOL-01 fails; put it back."""
    conn = cloud.conn
    vtype = conn.block_storage.find_type("encrypted", ignore_missing=False)
    encryption = conn.block_storage.get_type_encryption(vtype)
    spec = {k: getattr(encryption, k) for k in ("provider", "cipher", "key_size", "control_location")}
    conn.block_storage.delete_type_encryption(encryption, vtype)
    try:
        _assert(_check(site, conn, "volume_encryption_available"), Outcome.FAIL, "volume_encryption_available")
    finally:
        conn.block_storage.create_type_encryption(vtype, **spec)
    _assert(_check(site, conn, "volume_encryption_available"), Outcome.PASS, "volume_encryption_available")


class _ExemptProber(Prober):
    """A cloud where the probe's accounts are exempt from lockout: what the check must catch."""

    @contextlib.contextmanager
    def throwaway_user(self, purpose: str, *, first_use: bool = False, password: str | None = None) -> Iterator[Any]:
        with super().throwaway_user(purpose, first_use=first_use, password=password) as user:
            self.conn.identity.update_user(
                user, options={**(user.options or {}), "ignore_lockout_failure_attempts": True}
            )
            yield user


def test_keystone_lockout_not_in_force_fails(cloud: Applied) -> None:
    conn = cloud.conn
    params = {"max_failed_logins": load_catalogue().control("HT-AUTH-01").parameters["max_deny"]}
    proven = keystone_security_compliance_set(Prober.from_connection(conn), params)
    assert proven.outcome is Outcome.PASS, proven.observed
    base = Prober.from_connection(conn)
    exempt = _ExemptProber(**vars(base))
    result = keystone_security_compliance_set(exempt, params)
    assert result.outcome is Outcome.FAIL, result.observed
    assert result.observed["correct_password_after_failures"]["result"] == "accepted"
    assert not [u.name for u in conn.identity.users() if u.name.startswith("hatang-audit-")]


# --------------------------------------------------------------------------- the cloud enforces the model


def test_tenant_member_cannot_see_another_tenant(cloud: Applied, site: Site) -> None:
    conn = cloud.conn
    results = _check(site, conn, "tenant_isolation_enforced")
    _assert(results, Outcome.PASS, "tenant_isolation_enforced")
    seen = results["tenant_isolation_enforced"].observed["tenants"]
    for tenant, other in ((SMALL, BIG), (BIG, SMALL)):  # the probe reads one network of each other tenant
        reads = {k: v for k, v in seen[tenant]["foreign_reads"].items() if k.startswith("network ")}
        assert [v for k, v in reads.items() if k.endswith(f" of {other}")] == ["not found"], reads
    assert not any(f"({BIG})" in n for n in seen[SMALL]["visible_networks"])


@contextlib.contextmanager
def _member_of(cloud: Applied, site: Site, code: str, purpose: str) -> Iterator[tuple[Any, Quotas, Any]]:
    """A throwaway member of tenant `code`: (its project, the tenant's quotas, a connection as it)."""
    conn = cloud.conn
    project = _project(conn, code)
    tenant = site.tenant(code)
    assert tenant is not None
    quotas = resolve_profile(tenant.quota_profile, site.profiles)
    prober = Prober.from_connection(conn)
    password = strong_password()
    with prober.throwaway_user(purpose, password=password) as user:
        prober.grant(user, project.id)
        tenant_conn = prober.connect_as(user, password, project.id)
        try:
            yield project, quotas, tenant_conn
        finally:
            tenant_conn.close()


def test_network_quota_is_enforced(cloud: Applied, site: Site) -> None:
    created: list[Any] = []
    with _member_of(cloud, site, SMALL, "quota") as (project, quotas, tenant_conn):
        try:
            have = len(list(tenant_conn.network.networks(project_id=project.id)))
            for i in range(quotas.network.network - have):
                created.append(tenant_conn.network.create_network(name=f"hatang-audit-quota-{i}"))
            with pytest.raises(openstack.exceptions.ConflictException, match=r"(?i)quota"):
                created.append(tenant_conn.network.create_network(name="hatang-audit-quota-over"))
        finally:
            for network in created:
                cloud.conn.network.delete_network(network, ignore_missing=True)


def test_volume_quota_is_enforced(cloud: Applied, site: Site) -> None:
    """The tenant's volumes become available on the AIO's backend (Cinder's fake driver), count
    against its quota, and one volume past the quota is refused by Cinder."""
    conn = cloud.conn
    created: list[Any] = []
    with _member_of(cloud, site, SMALL, "volume-quota") as (project, quotas, tenant_conn):
        limit = quotas.volume.volumes
        try:
            have = len(list(tenant_conn.block_storage.volumes()))
            for i in range(limit - have):
                volume = tenant_conn.block_storage.create_volume(name=f"hatang-audit-quota-{i}", size=1)
                created.append(volume)
                tenant_conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=120)
            usage = conn.block_storage.get_quota_set(project.id, usage=True).usage
            assert usage["volumes"] == limit, f"volumes in use: {usage}"
            with pytest.raises(openstack.exceptions.HttpException, match=r"(?i)quota|exceeded"):
                created.append(tenant_conn.block_storage.create_volume(name="hatang-audit-quota-over", size=1))
        finally:
            for volume in created:
                conn.block_storage.delete_volume(volume, ignore_missing=True, force=True)
            for volume in created:
                conn.block_storage.wait_for_delete(volume, wait=120)


def test_encrypted_volume_keeps_its_key_in_barbican(cloud: Applied, site: Site) -> None:
    """Volume encryption is usable, not only offered: a tenant member's volume of the `encrypted`
    type becomes available, and its key is a secret of the tenant's project in Barbican."""
    conn = cloud.conn
    with _member_of(cloud, site, SMALL, "encrypted-volume") as (_, _quotas, tenant_conn):
        before = {s.id for s in tenant_conn.key_manager.secrets()}
        volume = tenant_conn.block_storage.create_volume(name="hatang-audit-encrypted", size=1, volume_type="encrypted")
        try:
            volume = tenant_conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=120)
            assert volume.is_encrypted, volume
            secrets = {s.id: s for s in tenant_conn.key_manager.secrets()}
            new = sorted(set(secrets) - before)
            assert len(new) == 1, f"secrets added to the project: {new}"
            assert secrets[new[0]].secret_type == "symmetric", secrets[new[0]]
        finally:
            conn.block_storage.delete_volume(volume, ignore_missing=True, force=True)
            conn.block_storage.wait_for_delete(volume, wait=120)


def test_retiring_a_tenant_disables_its_project(cloud: Applied, tmp_path: Path) -> None:
    conn = cloud.conn
    root = tmp_path / "aio"
    shutil.copytree(AIO, root)
    retire_tenant(root, SMALL, by="test@aio.example", reason="retirement test", at=datetime.now(UTC))
    retired = load_site(root)
    try:
        code, out, err = cloud_cli(cloud, "up", "--stack", "tenants", inventory=root)
        assert code == 0, out + err
        assert _project(conn, SMALL).is_enabled is False
        _assert(_check(retired, conn, "cloud_matches_site_model"), Outcome.PASS, "cloud_matches_site_model")
        # the unchanged model now sees the disabled project as drift
        results = _check(load_site(AIO), conn, "cloud_matches_site_model")
        _assert(results, Outcome.FAIL, "cloud_matches_site_model")
    finally:
        _reapply(cloud)
    assert _project(conn, SMALL).is_enabled is True


def test_volume_service_stopped_fails_the_backend_check(cloud: Applied, site: Site) -> None:
    """Stop cinder-volume (the one process that reaches Ceph): once its heartbeat is older than
    Cinder's service_down_time (60 s), HC-VOL-02 fails though the pool's last report looks
    healthy; started again, the check passes."""
    conn = cloud.conn
    _assert(_check(site, conn, "volume_backends_healthy"), Outcome.PASS, "volume_backends_healthy")

    def volume_service_up() -> bool:
        services, _ = read_volume_backends(conn)
        return any(s.binary == "cinder-volume" and s.up for s in services)

    assert testhosts.exec_in(AIO_HOST, "systemctl stop cinder-volume", check=False).returncode == 0
    try:
        down = until(lambda: not volume_service_up(), 150, step=5)
        assert down is not None, "Cinder still reports cinder-volume up 150 s after it stopped"
        results = _check(site, conn, "volume_backends_healthy")
        _assert(results, Outcome.FAIL, "volume_backends_healthy")
        assert {"problem": "no cinder-volume service is up: no volume can be made"} in results[
            "volume_backends_healthy"
        ].observed["findings"]
    finally:
        testhosts.exec_in(AIO_HOST, "systemctl start cinder-volume", check=False)
    assert until(volume_service_up, 120, step=5) is not None, "cinder-volume did not come back"
    _assert(_check(site, conn, "volume_backends_healthy"), Outcome.PASS, "volume_backends_healthy")
