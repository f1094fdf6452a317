"""The portal reads quota and usage from the AIO's real Nova, Neutron and Cinder as a member of the
platform's `portal-usage-readers` group, and that identity can read, never change.

The group and its inherited `reader` grant are made by the platform program (`applied` runs the
real engine). Users made here carry a random name and are deleted afterwards.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from infra.portal.usage import SHOWN, CloudUsage
from infra.quotas import resolve_profile
from infra.site import load_site
from infra.specs.cloud import USAGE_READERS_GROUP
from tests.conftest import AIO
from tests.helpers import keystone_password
from tests.integration.conftest import AioCloud
from tests.portal.conftest import make_app, signed_in

pytestmark = pytest.mark.aio


@dataclass(frozen=True)
class Reader:
    clouds_yaml: Path
    cloud: str
    conn: Any
    """The user's own connection (openstacksdk, scoped to so-yte), to try what it must not do."""


def _user(applied: AioCloud, tmp_path: Path, group: str | None) -> Iterator[Reader]:
    """A user of the agencies domain (in `group` when given) whose first-use password is changed,
    with a clouds.yaml of its own."""
    conn = applied.conn
    domain = conn.identity.find_domain(load_site(AIO).info.agencies_domain, ignore_missing=False)
    name, first = f"hatang-usage-test-{secrets.token_hex(4)}", keystone_password()
    user = conn.identity.create_user(name=name, domain_id=domain.id, password=first, enabled=True)
    try:
        if group is not None:
            conn.identity.add_user_to_group(user, conn.identity.find_group(group, domain_id=domain.id,
                                                                           ignore_missing=False))
        auth_url, cacert = conn.config.get_auth_args()["auth_url"], conn.config.config.get("cacert")
        password = keystone_password()
        changed = requests.post(f"{auth_url.rstrip('/')}/users/{user.id}/password", timeout=30, verify=cacert,
                                json={"user": {"original_password": first, "password": password}})
        assert changed.status_code == 204, changed.text
        time.sleep(1.1)  # Keystone revokes tokens issued in the second of a password change
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"clouds": {"reader": {
            "auth": {"auth_url": auth_url, "username": name, "password": password,
                     "user_domain_name": domain.name, "project_name": "so-yte", "project_domain_name": domain.name},
            "cacert": cacert, "identity_api_version": 3,
        }}}))
        import openstack.config
        import openstack.connection

        config = openstack.config.OpenStackConfig(config_files=[str(path)], load_envvars=False)
        own = openstack.connection.Connection(config=config.get_one(cloud="reader"))
        try:
            yield Reader(path, "reader", own)
        finally:
            own.close()
    finally:
        conn.identity.delete_user(user, ignore_missing=True)


@pytest.fixture
def reader(applied: AioCloud, tmp_path: Path) -> Iterator[Reader]:
    yield from _user(applied, tmp_path, USAGE_READERS_GROUP)


@pytest.fixture
def stranger(applied: AioCloud, tmp_path: Path) -> Iterator[Reader]:
    yield from _user(applied, tmp_path, None)


def _approved(code: str) -> dict[str, dict[str, int]]:
    site = load_site(AIO)
    tenant = site.tenant(code)
    assert tenant is not None
    return resolve_profile(tenant.quota_profile, site.profiles).as_dict()


def test_reader_sees_each_tenants_limits_and_what_is_really_in_use(applied: AioCloud, reader: Reader) -> None:
    usage = CloudUsage(reader.cloud, "agencies", reader.clouds_yaml)
    admin = applied.conn
    for code in ("so-yte", "so-khcn"):
        reading = usage.usage(code, _approved(code))
        assert reading.error == "", reading.error
        by_key = {(u.section, u.key): u for u in reading.uses}
        assert list(by_key) == list(SHOWN)
        assert reading.drift == (), [u for u in reading.drift]  # `cloud up` set the approved profile
        project = admin.identity.find_project(code, domain_id=admin.identity.find_domain("agencies").id)
        counted = {
            ("network", "network"): len(list(admin.network.networks(project_id=project.id))),
            ("network", "port"): len(list(admin.network.ports(project_id=project.id))),
            ("network", "router"): len(list(admin.network.routers(project_id=project.id))),
            ("network", "security_group"): len(list(admin.network.security_groups(project_id=project.id))),
            ("compute", "instances"): len(list(admin.compute.servers(all_projects=True, project_id=project.id))),
            ("volume", "volumes"): len(list(admin.block_storage.volumes(all_projects=True, project_id=project.id))),
        }
        assert counted[("network", "network")] >= 1 and counted[("network", "router")] >= 1
        assert {k: by_key[k].used for k in counted} == counted, code


def test_a_quota_changed_outside_the_site_model_shows_as_drift(applied: AioCloud, reader: Reader) -> None:
    admin = applied.conn
    project = admin.identity.find_project("so-yte", domain_id=admin.identity.find_domain("agencies").id)
    approved = _approved("so-yte")
    admin.network.update_quota(project.id, floating_ips=approved["network"]["floatingip"] + 5)
    try:
        reading = CloudUsage(reader.cloud, "agencies", reader.clouds_yaml).usage("so-yte", approved)
        assert [(u.key, u.limit, u.approved) for u in reading.drift] == [
            ("floatingip", approved["network"]["floatingip"] + 5, approved["network"]["floatingip"])
        ]
    finally:
        admin.network.update_quota(project.id, floating_ips=approved["network"]["floatingip"])


def test_the_reader_can_read_but_not_change(reader: Reader) -> None:
    import openstack.exceptions

    project_id = reader.conn.current_project_id
    with pytest.raises(openstack.exceptions.ForbiddenException):
        reader.conn.network.create_network(name="reader-must-not", project_id=project_id)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        reader.conn.network.update_quota(project_id, networks=100)
    assert list(reader.conn.network.networks(project_id=project_id))  # but it reads


def test_a_user_outside_the_group_reads_nothing(stranger: Reader) -> None:
    reading = CloudUsage(stranger.cloud, "agencies", stranger.clouds_yaml).usage("so-yte", {})
    assert reading.uses == ()
    assert "cannot open project so-yte of domain agencies" in reading.error, reading.error


def test_agency_sees_its_tenants_usage_in_the_portal(reader: Reader, aio_copy: Path, tmp_path: Path) -> None:
    usage = CloudUsage(reader.cloud, "agencies", reader.clouds_yaml)
    client = signed_in(make_app(aio_copy, tmp_path / "state", usage=usage), "binh")
    page = client.get("/tenants/so-yte").text
    assert 'id="usage"' in page and 'id="usage-error"' not in page and 'id="usage-drift"' not in page
    networks = usage.usage("so-yte", {}).uses[SHOWN.index(("network", "network"))]
    assert f'<td class="used">{networks.used}</td>' in page
    assert client.get("/tenants/so-khcn").status_code == 404
