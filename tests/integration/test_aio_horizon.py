"""The dashboard (Horizon) of the AIO in a real browser: what an agency's staff member sees.

A throwaway user of the agencies domain, member of so-yte's `members` group, opens the
dashboard's URL (`hatang aio status`): the sign-in page is Vietnamese with the site's title and
the agencies' domain preselected; Keystone wants a new password at first use, which the dashboard
asks for; signed in, the user sees so-yte's project only (its networks, its quotas), never
so-khcn's. The browser trusts exactly the key of the AIO's TLS front, whose certificate is first
verified against the AIO's CA. Screenshots go to reports/horizon/.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra import aio
from infra.guests import Guest
from infra.guests.glance import KERNEL, RAMDISK, guest_image
from infra.guests.nova import flavor
from infra.services import catalogue
from infra.validate import load_valid_site
from tests._browser import chromium, screenshot
from tests._browser import pinned_key as front_key
from tests.conftest import AIO
from tests.helpers import keystone_password
from tests.integration._wire import project_of
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

AGENCY, OTHER = "so-yte", "so-khcn"


@dataclass(frozen=True)
class Member:
    name: str
    password: str


@pytest.fixture(scope="module")
def dashboard() -> str:
    """The dashboard's URL, as `hatang aio status` prints it."""
    return aio.web_urls(load_valid_site(AIO))[catalogue().services["horizon"].description]


@pytest.fixture(scope="module")
def pinned_key(dashboard: str) -> str:
    """The TLS front's key, as chromium pins it once Python verified it against the AIO's CA."""
    return front_key(dashboard, aio.AioPaths.for_site(load_valid_site(AIO)).cacert)


@pytest.fixture
def member(applied: AioCloud) -> Iterator[Member]:
    """A new user of the agencies domain in so-yte's members group (deleted afterwards)."""
    conn = applied.conn
    domain = conn.identity.find_domain(load_valid_site(AIO).info.agencies_domain, ignore_missing=False)
    group = conn.identity.find_group(f"{AGENCY}-members", domain_id=domain.id, ignore_missing=False)
    name, password = f"hatang-horizon-test-{secrets.token_hex(4)}", keystone_password()
    user = conn.identity.create_user(name=name, domain_id=domain.id, password=password, enabled=True)
    try:
        conn.identity.add_user_to_group(user, group)
        yield Member(name, password)
    finally:
        conn.identity.delete_user(user, ignore_missing=True)


def test_aio_status_prints_the_dashboard_url_and_its_unit(dashboard: str, applied: AioCloud) -> None:
    from typer.testing import CliRunner

    from infra.cli import app

    result = CliRunner().invoke(app, ["aio", "status", "-i", str(AIO)])
    assert result.exit_code == 0, result.output
    assert f"Dashboard (Horizon) where agency staff use their projects: {dashboard}" in result.output
    assert re.search(r"horizon\s.*dashboard\s.*active\s.*127\.0\.0\.1:8443", result.output), result.output


def _page(url: str, language: str, cafile: Path) -> str:
    request = urllib.request.Request(url, headers={"Accept-Language": language})
    context = ssl.create_default_context(cafile=str(cafile))
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return str(response.read().decode())


def test_dashboard_speaks_vietnamese_unless_the_browser_asks_for_english(dashboard: str, applied: AioCloud) -> None:
    cafile = aio.AioPaths.for_site(load_valid_site(AIO)).cacert
    login = f"{dashboard}auth/login/"
    title = load_valid_site(AIO).info.title
    for language in ("vi", "fr"):  # French is not offered: the site's language, Vietnamese
        page = _page(login, language, cafile)
        assert "Đăng nhập" in page and "Tên đăng nhập" in page and title in page, language
    english = _page(login, "en", cafile)
    assert "Sign In" in english and "Đăng nhập" not in english


def test_dashboard_refuses_a_sign_in_posted_without_its_csrf_token(dashboard: str, applied: AioCloud) -> None:
    """A forged form (another site posting to the dashboard) carries no token: Horizon's CSRF failure
    view sends it back to the sign-in page with the reason, and no session is opened."""
    import urllib.error
    import urllib.parse

    class _Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the redirect itself is the answer under test

    cafile = aio.AioPaths.for_site(load_valid_site(AIO)).cacert
    opener = urllib.request.build_opener(
        _Stay(), urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(cafile)))
    )
    form = urllib.parse.urlencode({"username": "admin", "password": "x", "domain": "Default", "region": "default"})
    request = urllib.request.Request(f"{dashboard}auth/login/", data=form.encode(), method="POST",
                                     headers={"Referer": dashboard, "Origin": dashboard.rstrip("/")})
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=30)
    assert refused.value.code == 302
    assert "/auth/login/?csrf_failure=" in refused.value.headers["Location"]
    assert "sessionid" not in (refused.value.headers.get("Set-Cookie") or "")


def _sign_in(driver: Any, name: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    domain = Select(driver.find_element(By.ID, "id_domain"))
    assert domain.first_selected_option.get_attribute("value") == load_valid_site(AIO).info.agencies_domain
    for field, value in (("id_username", name), ("id_password", password)):
        driver.find_element(By.ID, field).clear()
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "loginBtn").click()


def _sign_in_after_a_password_change(driver: Any, name: str, password: str, attempts: int = 3) -> None:
    """Sign in and land on the project's pages. Keystone revokes the tokens issued in the second
    of a password change; on a busy machine the sign-in after the test's pause can still fall in
    it, and the dashboard shows its sign-in page again, where a person signs in once more."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    for _ in range(attempts):
        button = driver.find_element(By.ID, "loginBtn")
        _sign_in(driver, name, password)
        WebDriverWait(driver, 60).until(expected_conditions.staleness_of(button))
        WebDriverWait(driver, 60).until(
            lambda d: urlsplit(d.current_url).path.startswith(("/project/", "/auth/login/"))
            and d.execute_script("return document.readyState") == "complete"
        )
        if urlsplit(driver.current_url).path.startswith("/project/"):
            return
        time.sleep(1.1)
    raise AssertionError(f"still not signed in after {attempts} attempts: {driver.current_url}")


def test_agency_member_changes_the_first_password_and_sees_only_its_project(
    dashboard: str, pinned_key: str, member: Member, applied: AioCloud, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    conn = applied.conn
    own, other = project_of(conn, AGENCY), project_of(conn, OTHER)
    own_networks = sorted(n.name for n in conn.network.networks(project_id=own.id))
    other_networks = sorted(n.name for n in conn.network.networks(project_id=other.id))
    assert own_networks and other_networks
    instances = conn.compute.get_quota_set(own.id).instances

    with chromium(tmp_path / "profile", f"--ignore-certificate-errors-spki-list={pinned_key}", "--lang=vi",
                  prefs={"intl.accept_languages": "vi"}) as driver:
        driver.get(dashboard)
        assert "/auth/login/" in driver.current_url
        assert load_valid_site(AIO).info.title in driver.title
        screenshot(driver, "horizon", "0-sign-in")
        _sign_in(driver, member.name, member.password)

        # Keystone's change_password_upon_first_use: the dashboard asks for a new password
        WebDriverWait(driver, 30).until(lambda d: "/auth/password/" in d.current_url)
        assert "Mật khẩu mới" in driver.page_source
        screenshot(driver, "horizon", "1-first-use-password")
        new = keystone_password()
        driver.find_element(By.ID, "id_original_password").send_keys(member.password)
        driver.find_element(By.ID, "id_password").send_keys(new)
        driver.find_element(By.ID, "id_confirm_password").send_keys(new)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 30).until(lambda d: "/auth/login/" in d.current_url)
        time.sleep(1.1)  # Keystone revokes tokens issued in the second of a password change; people type slower
        _sign_in_after_a_password_change(driver, member.name, new)

        cookies = {c["name"]: c for c in driver.get_cookies()}
        session = cookies["sessionid"]
        assert (session["secure"], session["httpOnly"], session.get("sameSite")) == (True, True, "Lax")
        assert cookies["csrftoken"]["secure"] is True

        overview = driver.page_source
        assert own.name in overview and other.name not in overview  # the project switcher: its own only
        assert f"of {instances}" in driver.find_element(By.TAG_NAME, "body").text  # its quota, used 0 of N
        screenshot(driver, "horizon", "2-overview")

        driver.get(f"{dashboard}project/networks/")
        table = driver.find_element(By.ID, "networks").text
        assert all(name in table for name in own_networks), table
        assert not any(name in table for name in other_networks if name not in own_networks), table
        screenshot(driver, "horizon", "3-networks")

        # a forged switch to the other agency's project: Keystone scopes no token to it
        driver.get(f"{dashboard}auth/switch/{other.id}/?next=/project/networks/")
        table = driver.find_element(By.ID, "networks").text
        assert other.name not in driver.page_source and all(name in table for name in own_networks), table


def _signed_in_member(member: Member, applied: AioCloud) -> str:
    """The member's password after the first-use change Keystone wants (its own API, as the
    dashboard's page above does); the next sign-in waits out the revocation second."""
    conn = applied.conn
    user = conn.identity.find_user(member.name, ignore_missing=False)
    new = keystone_password()
    keystone = conn.config.get_auth_args()["auth_url"].rstrip("/").removesuffix("/v3")
    cafile = aio.AioPaths.for_site(load_valid_site(AIO)).cacert
    body = json.dumps({"user": {"password": new, "original_password": member.password}}).encode()
    request = urllib.request.Request(f"{keystone}/v3/users/{user.id}/password", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(cafile)), timeout=30):
        pass
    time.sleep(1.1)  # Keystone revokes tokens issued in the second of a password change
    return new


def _allocate(driver: Any, name: str) -> None:
    """Move the row naming `name` of the wizard's visible step to its allocated items (its ↑ button)."""
    from selenium.webdriver.common.by import By

    rows = [r for r in driver.find_elements(By.CSS_SELECTOR, "tr") if r.is_displayed() and name in r.text]
    buttons = [b for r in rows for b in r.find_elements(By.CSS_SELECTOR, "button.fa-arrow-up") if b.is_displayed()]
    assert buttons, f"no {name} to allocate in the wizard's step"
    buttons[0].click()


def test_agency_member_launches_a_guest_from_the_dashboard(
    dashboard: str, pinned_key: str, member: Member, applied: AioCloud, tmp_path: Path
) -> None:
    """The launch wizard (Horizon's Angular one): image, flavor, the project's network; the
    guest becomes ACTIVE in so-yte's project on the AIO's compute host and shows in the list."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    conn = applied.conn
    own = project_of(conn, AGENCY)
    (network,) = conn.network.networks(project_id=own.id, name="app")
    kernel, ramdisk = (next(iter(conn.image.images(name=name))).id for name in (KERNEL, RAMDISK))
    image = guest_image(conn, Guest("horizon-launch"), kernel, ramdisk)
    size = flavor(conn)
    name = f"hatang-horizon-{secrets.token_hex(3)}"
    password = _signed_in_member(member, applied)
    try:
        with chromium(tmp_path / "profile", f"--ignore-certificate-errors-spki-list={pinned_key}", "--lang=vi",
                      prefs={"intl.accept_languages": "vi"}) as driver:
            driver.get(dashboard)
            _sign_in_after_a_password_change(driver, member.name, password)
            driver.get(f"{dashboard}project/instances/")
            driver.find_element(By.CSS_SELECTOR, '[id$="launch-ng"]').click()
            driver.find_element(By.ID, "name").send_keys(name)
            steps = driver.find_element(By.CSS_SELECTOR, "button.next")
            steps.click()  # Source: boot from an image, no new volume (the default)
            WebDriverWait(driver, 30).until(lambda d: any(image.name in r.text for r in d.find_elements(
                By.CSS_SELECTOR, "tr") if r.is_displayed()))
            _allocate(driver, image.name)
            steps.click()  # Flavor
            _allocate(driver, size.name)
            steps.click()  # Networks: the project's only network is allocated already, else choose it
            allocated = [r for r in driver.find_elements(By.CSS_SELECTOR, "tr") if r.is_displayed()
                         and network.name in r.text and r.find_elements(By.CSS_SELECTOR, "button.fa-arrow-down")]
            if not allocated:
                _allocate(driver, network.name)
            screenshot(driver, "horizon", "4-launch-networks")
            driver.find_element(By.CSS_SELECTOR, "button.finish").click()

            def active() -> bool:
                found = list(conn.compute.servers(all_projects=True, name=name))
                return bool(found) and found[0].status == "ACTIVE"

            WebDriverWait(driver, 240, poll_frequency=3).until(lambda _: active())
            (server,) = conn.compute.servers(all_projects=True, name=name)
            assert server.project_id == own.id and server.compute_host == "aio1"
            assert server.image.id == image.id and server.flavor.original_name == size.name
            assert set(server.addresses) == {network.name}
            driver.get(f"{dashboard}project/instances/")
            assert name in driver.find_element(By.ID, "instances").text
            screenshot(driver, "horizon", "5-instance-launched")
    finally:
        for server in conn.compute.servers(all_projects=True, name=name):
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, wait=120)
        conn.image.delete_image(image, ignore_missing=True)
