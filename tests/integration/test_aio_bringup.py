"""The all-in-one cloud from Debian packages answers like a real one (marker `aio`).

The session fixture brings the AIO up with `infra.aio.up` (a running one is converged, so the
tests see what the current roles deploy), then openstacksdk checks: a token is issued, the catalog has
public and internal endpoints of every service, all of them https through the TLS front with
the services themselves on the loopback, an encrypted volume type exists, a network with an IPv4
and an IPv6 subnet can be created, a server on nova's fake driver goes ACTIVE and is counted
against the quota, and the host passes the host audit (it went through playbooks/hardening.yml).
Every resource a test creates is deleted again.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import openstack
import openstack.config
import openstack.connection
import pytest
from typer.testing import CliRunner

from infra import aio
from infra.cli import app
from infra.validate import load_valid_site
from tests.conftest import AIO, REPO

pytestmark = pytest.mark.aio

SERVICE_TYPES = ("compute", "identity", "image", "key-manager", "network", "placement", "volumev3")


@pytest.fixture(scope="session")
def cloud() -> Iterator[openstack.connection.Connection]:
    """An admin connection to the AIO, brought up (or converged, ~1 min) by the code under test."""
    clouds_yaml = aio.up(load_valid_site(AIO)).clouds_yaml
    config = openstack.config.OpenStackConfig(
        config_files=[str(clouds_yaml)], load_envvars=False
    )
    conn = openstack.connection.Connection(config=config.get_one(cloud=aio.CLOUD_NAME))
    yield conn
    conn.close()


@pytest.fixture
def name() -> str:
    return f"hatang-test-aio-{uuid.uuid4().hex[:8]}"


def test_readme_openstack_command_runs_as_written(cloud: openstack.connection.Connection) -> None:
    """The README's `openstack ... catalog list`, from a shell with no virtualenv activated."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (command,) = [line for line in readme.splitlines() if "openstack --os-cloud" in line]
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ.get("HOME", "/root")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    for service in ("keystone", "nova", "neutron", "glance", "cinderv3", "placement", "barbican"):
        assert service in result.stdout, f"{service} missing from `{command}`:\n{result.stdout}"


def test_aio_token_issued(cloud: openstack.connection.Connection) -> None:
    token = cloud.auth_token
    assert token, "no token from Keystone"
    assert cloud.identity.check_token(token), "Keystone does not accept its own token"
    assert cloud.current_project_id, "the token is not scoped to the admin project"


def test_aio_catalog_has_public_and_internal_endpoints(
    cloud: openstack.connection.Connection,
) -> None:
    services = {s.id: s.type for s in cloud.identity.services()}
    endpoints = {(services.get(e.service_id), e.interface) for e in cloud.identity.endpoints()}
    missing = [
        f"{kind}/{interface}"
        for kind in SERVICE_TYPES
        for interface in ("public", "internal")
        if (kind, interface) not in endpoints
    ]
    assert not missing, f"catalog lacks endpoints: {', '.join(missing)}"


def test_aio_keystone_security_compliance_enforced(
    cloud: openstack.connection.Connection, name: str
) -> None:
    domain = cloud.identity.find_domain("default")
    with pytest.raises(openstack.exceptions.BadRequestException):
        cloud.identity.create_user(name=name, password="short", domain_id=domain.id)


def test_aio_network_with_dual_stack_subnets(
    cloud: openstack.connection.Connection, name: str
) -> None:
    network = cloud.network.create_network(name=name)
    try:
        v4 = cloud.network.create_subnet(
            network_id=network.id, name=f"{name}-v4", ip_version=4, cidr="192.168.77.0/24"
        )
        v6 = cloud.network.create_subnet(
            network_id=network.id, name=f"{name}-v6", ip_version=6, cidr="fd77:77::/64",
            ipv6_address_mode="slaac", ipv6_ra_mode="slaac",
        )
        found = {s.ip_version for s in cloud.network.subnets(network_id=network.id)}
        assert found == {4, 6}, f"subnets of {name}: versions {found}"
        assert v4.cidr == "192.168.77.0/24" and v6.cidr == "fd77:77::/64"
    finally:
        cloud.network.delete_network(network, ignore_missing=True)


def test_aio_server_without_a_network_goes_active_and_uses_quota(
    cloud: openstack.connection.Connection, name: str
) -> None:
    flavor = cloud.compute.create_flavor(name=name, ram=64, vcpus=1, disk=1)
    image = cloud.image.create_image(
        name=name, data=b"\0" * 1024, disk_format="raw", container_format="bare",
        allow_duplicates=True,
    )
    server = None
    try:
        before = cloud.compute.get_limits().absolute.instances_used
        server = cloud.compute.create_server(
            name=name, flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        server = cloud.compute.wait_for_server(server, status="ACTIVE", wait=180)
        assert server.status == "ACTIVE"
        after = cloud.compute.get_limits().absolute.instances_used
        assert after == before + 1, f"instances used {before} -> {after}"
    finally:
        if server is not None:
            cloud.compute.delete_server(server, ignore_missing=True)
            cloud.compute.wait_for_delete(server, wait=120)
        cloud.image.delete_image(image, ignore_missing=True)
        cloud.compute.delete_flavor(flavor, ignore_missing=True)


def test_aio_status_names_every_unit(cloud: openstack.connection.Connection) -> None:
    found = aio.status(load_valid_site(AIO))
    assert found is not None and found.state == "running"
    states = {s.unit: s.state for s in found.services}
    inactive = sorted(unit for unit, state in states.items() if state != "active")
    assert not inactive, f"units not active: {inactive}"
    assert {"ceph-mon@aio1", "ceph-mgr@aio1", "ceph-osd@0", "cinder-volume"} <= set(states), (
        "every instance of a template unit (the storage cluster's daemons) is listed"
    )
    keystone = next(s for s in found.services if s.unit == "keystone")
    assert keystone.listens == ("127.0.0.1:5000",), keystone
    front = next(s for s in found.services if s.unit == "haproxy")
    assert f"{aio.api_address(load_valid_site(AIO))}:5000" in front.listens, front


def _endpoints(cloud: openstack.connection.Connection) -> list[str]:
    return sorted({e.url for e in cloud.identity.endpoints()})


def test_aio_every_endpoint_is_https_with_the_internal_ca(cloud: openstack.connection.Connection) -> None:
    """Every endpoint in the catalog is https; the handshake verifies against the CA the TLS
    front's role issued (clouds.yaml `cacert`) and fails against the system's public CAs."""
    cacert = cloud.config.config["cacert"]
    assert Path(cacert).is_file(), f"clouds.yaml cacert {cacert} missing"
    plain = [url for url in _endpoints(cloud) if urlsplit(url).scheme != "https"]
    assert not plain, f"endpoints without TLS: {plain}"
    internal_ca = ssl.create_default_context(cafile=cacert)
    public_cas = ssl.create_default_context()
    for url in _endpoints(cloud):
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            internal_ca.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3"), f"{url}: {tls.version()}"
        with socket.create_connection((host, port), timeout=10) as raw, pytest.raises(ssl.SSLCertVerificationError):
            public_cas.wrap_socket(raw, server_hostname=host)


def test_aio_api_ports_refuse_plain_http(cloud: openstack.connection.Connection) -> None:
    """Plain http to an API port gets no API answer: only the TLS front listens there."""
    for url in _endpoints(cloud):
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
        try:
            conn.request("GET", "/")
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            continue  # closed or reset: refused
        finally:
            conn.close()
        assert status == 400, f"{url} answered plain http with {status}"


def test_aio_offers_an_encrypted_volume_type(cloud: openstack.connection.Connection) -> None:
    types = {t.name: t for t in cloud.block_storage.types()}
    assert "encrypted" in types, f"volume types: {sorted(types)}"
    encryption = cloud.block_storage.get_type_encryption(types["encrypted"].id)
    assert (encryption.provider, encryption.cipher, encryption.key_size, encryption.control_location) == (
        "luks", "aes-xts-plain64", 256, "front-end"
    )


def test_aio_host_passes_the_host_audit(cloud: openstack.connection.Connection, tmp_path: Path) -> None:
    """`hatang aio up` ran playbooks/hardening.yml: the level-3 host audit of the AIO container
    passes (what a container cannot show, auditd, is reported as not checkable, never passed)."""
    result = CliRunner().invoke(
        app, ["audit", "hosts", "-i", str(AIO), "-p", "new-level3", "-c", "podman", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
