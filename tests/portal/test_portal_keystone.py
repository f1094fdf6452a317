"""Sign-in against the AIO's Keystone: a user of the agencies domain, whose first sign-in is refused
as expired (the AIO's Keystone wants a change at first use), changes its password in the portal,
signs in and sees only its agency.

Needs the all-in-one cloud (marked `aio` like tests/integration, brought up the same way when it is
not). Users made here carry a random prefix and are deleted afterwards, as is the `agency-so-yte`
group if it was made here.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack.exceptions
import pytest

from infra import aio as aio_module
from infra.portal.auth import KeystoneAuthenticator
from infra.specs.cloud import agency_group
from infra.validate import load_valid_site
from tests.conftest import AIO
from tests.helpers import keystone_password
from tests.portal.conftest import BASE

pytestmark = pytest.mark.aio


@dataclass(frozen=True)
class KeystoneUser:
    name: str
    password: str
    email: str
    auth_url: str
    cacert: str | bool


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    """The AIO's admin connection; the AIO brought up when it is not (as tests/integration does)."""
    from infra.audit.cloud import CloudError, connect

    given = os.environ.get("HATANG_AIO_CLOUDS_YAML")
    path = Path(given) if given else aio_module.AioPaths.for_site(load_valid_site(AIO)).clouds_yaml
    if not path.is_file():
        path = aio_module.up(load_valid_site(AIO)).clouds_yaml
    try:
        connection = connect(os.environ.get("HATANG_AIO_CLOUD", aio_module.CLOUD_NAME), path)
    except CloudError as exc:
        pytest.fail(f"the AIO cloud is not reachable: {exc}")
    yield connection
    connection.close()


@pytest.fixture
def user(conn: Any) -> Iterator[KeystoneUser]:
    """A user of the agencies domain in group agency-so-yte, with a random name and password."""
    domain = conn.identity.find_domain(load_valid_site(AIO).info.agencies_domain, ignore_missing=False)
    try:
        group = conn.identity.find_group(agency_group("so-yte"), domain_id=domain.id, ignore_missing=False)
    except openstack.exceptions.NotFoundException:
        group = None
    made_group = group is None
    if made_group:
        group = conn.identity.create_group(name=agency_group("so-yte"), domain_id=domain.id,
                                           description="Sở Y tế staff (portal test)")
    name, password = f"hatang-portal-test-{secrets.token_hex(4)}", keystone_password()
    created = conn.identity.create_user(name=name, domain_id=domain.id, password=password,
                                        email=f"{name}@soyte.example", enabled=True)
    try:
        conn.identity.add_user_to_group(created, group)
        auth_url, cacert = conn.config.get_auth_args()["auth_url"], conn.config.config.get("cacert") or True
        yield KeystoneUser(name, password, f"{name}@soyte.example", auth_url, cacert)
    finally:
        conn.identity.delete_user(created, ignore_missing=True)
        if made_group:
            conn.identity.delete_group(group, ignore_missing=True)


def test_keystone_user_of_an_agency_signs_in_and_sees_only_its_agency(user: KeystoneUser, aio_copy: Path,
                                                                       tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from infra.portal import create_app

    keystone = KeystoneAuthenticator(user.auth_url, "agencies", verify=user.cacert)
    assert keystone.authenticate(user.name, user.password + "x") is None
    assert keystone.authenticate("admin", "whatever") is None  # the Default domain's admin is not an agency user
    browser = TestClient(create_app(aio_copy, keystone, state_dir=tmp_path / "state", secure_cookies=False),
                         base_url=BASE)

    def submit(url: str, **fields: str) -> Any:
        token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', browser.get(url).text)
        assert token
        return browser.post(url.split("?")[0], data={**fields, "csrf_token": token.group(1)}, follow_redirects=False)

    first = submit("/signin", username=user.name, password=user.password)  # Keystone: change it at first use
    assert first.status_code == 401 and "your password has expired" in first.text
    assert 'id="change-password"' in first.text
    new = keystone_password()
    weak = submit(f"/password?username={user.name}", username=user.name, current=user.password, new="a", again="a")
    assert weak.status_code == 400 and "Keystone refused the new password" in weak.text
    changed = submit(f"/password?username={user.name}", username=user.name, current=user.password, new=new, again=new)
    assert changed.status_code == 303 and changed.headers["location"] == "/signin?changed=1", changed.text

    me = keystone.authenticate(user.name, new)
    assert me is not None
    assert (me.name, me.email, me.agencies, me.reviewer) == (user.name, user.email, {"so-yte"}, False)
    response = submit("/signin", username=user.name, password=new)
    assert response.status_code == 303, response.text
    tenants = browser.get("/tenants").text
    assert re.findall(r'<tr id="tenant-([a-z0-9-]+)">', tenants) == ["so-yte"]
    assert browser.get("/tenants/so-khcn").status_code == 404
    assert f'value="{user.email}"' in browser.get("/request").text

