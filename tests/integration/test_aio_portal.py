"""The agencies' portal as the AIO serves it: roles/portal behind the TLS front, in a real browser.

`hatang aio up` deploys the portal on the controller (Debian's Python libraries and the hatang
wheel of this checkout), its working copy cloned from the AIO's stand-in for the DC's Git server
(a bare repository in the container, seeded from this checkout's branch). Throwaway Keystone users
of the agencies domain walk through it in chromium, which trusts exactly the key of the TLS front:
an agency's user changes the first password (Keystone's first-use rule), files a request with a
mistake, sees it at its field (nothing pushed), fixes it and files it (a commit authored by that
user on branch request/<code> of the stand-in); a DC reviewer approves it (merged into the
stand-in's copy of the checked-out branch); the agency sees it approved. Screenshots go to reports/portal-aio/.
"""

from __future__ import annotations

import re
import secrets
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra import aio, testhosts
from infra.services import catalogue
from infra.specs.cloud import REVIEWERS_GROUP, agency_group
from infra.validate import load_valid_site
from tests._browser import chromium, pinned_key, screenshot
from tests.conftest import AIO
from tests.helpers import keystone_password
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

AGENCY = "so-yte"
CONTAINER = testhosts.container_name("aio", "aio1")
SITE = load_valid_site(AIO)
STAND_IN = SITE.info.services.site_repo
CAFILE = aio.AioPaths.for_site(SITE).cacert
SITE_BRANCH = subprocess.run(["git", "-C", str(AIO), "symbolic-ref", "--quiet", "--short", "HEAD"],
                             capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
"""The branch the stand-in was seeded from and the portal merges approved requests into: the checkout's
(`main` in CI, another on a developer's branch)."""


@dataclass(frozen=True)
class Person:
    name: str
    password: str


@pytest.fixture(scope="module")
def portal() -> str:
    """The portal's URL, as `hatang aio status` prints it."""
    return aio.web_urls(SITE)[catalogue().services["portal"].description]


def _stand_in_git(*args: str) -> str:
    """git in the AIO's stand-in for the DC's Git server."""
    assert STAND_IN
    done = subprocess.run(["podman", "exec", CONTAINER, "git", "-c", "safe.directory=*", "-C", STAND_IN, *args],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def people(applied: AioCloud) -> Iterator[dict[str, Person]]:
    """A new user in the agency's portal group and one in the DC reviewers' group (deleted afterwards)."""
    conn = applied.conn
    domain = conn.identity.find_domain(SITE.info.agencies_domain, ignore_missing=False)
    made = []
    try:
        out = {}
        for role, group_name in (("agency", agency_group(AGENCY)), ("reviewer", REVIEWERS_GROUP)):
            group = conn.identity.find_group(group_name, domain_id=domain.id, ignore_missing=False)
            name, password = f"hatang-portal-{role}-{secrets.token_hex(4)}", keystone_password()
            user = conn.identity.create_user(name=name, domain_id=domain.id, password=password, enabled=True,
                                             email=f"{name}@example.org")
            made.append(user)
            conn.identity.add_user_to_group(user, group)
            out[role] = Person(name, password)
        yield out
    finally:
        for user in made:
            conn.identity.delete_user(user, ignore_missing=True)


def test_aio_status_prints_the_portal_url_and_its_unit(portal: str, applied: AioCloud) -> None:
    from typer.testing import CliRunner

    from infra.cli import app

    result = CliRunner().invoke(app, ["aio", "status", "-i", str(AIO)])
    assert result.exit_code == 0, result.output
    assert f"Agencies' portal (hatang portal) where agency staff request and follow their tenants: {portal}" in (
        " ".join(result.output.split())
    )
    port = catalogue().services["portal"].web
    assert port is not None
    assert re.search(rf"hatang-portal\s.*portal\s.*active\s.*127\.0\.0\.1:{port.port}", result.output), result.output


def test_portal_answers_over_tls_only_and_refuses_a_post_without_its_csrf_token(portal: str,
                                                                                  applied: AioCloud) -> None:
    context = ssl.create_default_context(cafile=str(CAFILE))
    with urllib.request.urlopen(f"{portal}signin", context=context, timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
    assert 'id="signin-form"' in page
    assert cookies and all("Secure" in c and "HttpOnly" in c and "SameSite" in c for c in cookies), cookies
    plain = portal.replace("https://", "http://")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):  # the front speaks TLS only
        urllib.request.urlopen(f"{plain}signin", timeout=10)
    forged = urllib.request.Request(f"{portal}signin", data=b"username=a&password=b", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, context=context, timeout=30)
    assert refused.value.code == 403


def _first_sign_in(driver: Any, portal: str, person: Person) -> str:
    """Sign in for the first time: Keystone wants a new password, changed in the portal; returns it."""
    from selenium.webdriver.common.by import By

    find = driver.find_element
    driver.get(f"{portal}signin")
    find(By.ID, "username").send_keys(person.name)
    find(By.ID, "password").send_keys(person.password)
    find(By.ID, "signin").click()
    find(By.ID, "change-password").click()
    new = keystone_password()
    find(By.ID, "current").send_keys(person.password)
    find(By.ID, "new").send_keys(new)
    find(By.ID, "again").send_keys(new)
    find(By.ID, "change").click()
    assert find(By.ID, "changed")
    find(By.ID, "username").clear()
    find(By.ID, "username").send_keys(person.name)
    find(By.ID, "password").send_keys(new)
    find(By.ID, "signin").click()
    assert person.name in find(By.ID, "me").text
    return new


def _shot(driver: Any, name: str) -> None:
    screenshot(driver, "portal-aio", name)


def test_agency_requests_a_tenant_and_a_reviewer_approves_it_on_the_served_portal(
    portal: str, people: dict[str, Person], applied: AioCloud, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    code = f"{AGENCY}-p{secrets.token_hex(3)}"
    branch = f"request/{code}"
    key = pinned_key(portal, CAFILE)
    with chromium(tmp_path / "agency", f"--ignore-certificate-errors-spki-list={key}", "--lang=vi") as driver:
        find = driver.find_element
        _first_sign_in(driver, portal, people["agency"])
        cookies = {c["name"]: c for c in driver.get_cookies()}
        assert cookies and all(c["secure"] and c["httpOnly"] and c.get("sameSite") in {"Lax", "Strict"}
                               for c in cookies.values()), cookies
        # the served portal reads usage as its own service user, put in portal-usage-readers by the platform
        driver.get(f"{portal}tenants/{AGENCY}")
        assert find(By.ID, "usage") and 'id="usage-error"' not in driver.page_source
        project = applied.conn.identity.find_project(AGENCY, domain_id=applied.conn.identity.find_domain(
            SITE.info.agencies_domain, ignore_missing=False).id, ignore_missing=False)
        networks = len(list(applied.conn.network.networks(project_id=project.id)))
        used = find(By.ID, "usage-network-network").find_element(By.CLASS_NAME, "used").text
        assert used == str(networks), (used, networks)
        _shot(driver, "0-usage")
        driver.get(f"{portal}request")
        find(By.ID, "code").send_keys(code)
        find(By.ID, "name").send_keys(f"Cổng dịch vụ y tế {code}")  # display names are unique in a site
        assert [o.get_attribute("value") for o in Select(find(By.ID, "agency")).options] == [AGENCY]
        Select(find(By.ID, "security_level")).select_by_value("2")
        Select(find(By.ID, "quota_profile")).select_by_value("S")
        find(By.CSS_SELECTOR, 'input[name="applications"][value="yte-tu-xa"]').click()
        find(By.ID, "network_0").send_keys("App Net")  # a mistake: not a slug
        find(By.CSS_SELECTOR, 'input[name="network_0_access"][value="gov"]').click()
        find(By.ID, "reason").send_keys("Cổng dịch vụ cho các bệnh viện")
        _shot(driver, "1-request-form")
        find(By.ID, "submit").click()
        assert "App Net" in find(By.CSS_SELECTOR, 'p.error[data-field="network_0"]').text
        assert _stand_in_git("branch", "--list", branch) == ""  # refused: nothing pushed
        _shot(driver, "2-request-refused")
        find(By.ID, "network_0").clear()
        find(By.ID, "network_0").send_keys("app")
        find(By.ID, "submit").click()
        WebDriverWait(driver, 30).until(lambda d: d.current_url == f"{portal}tenants/{code}?done=filed")
        assert find(By.ID, "state").text == "requested" and find(By.ID, "branch").text == branch
        _shot(driver, "3-request-filed")
    assert _stand_in_git("log", "-1", "--format=%an", branch).strip() == people["agency"].name

    with chromium(tmp_path / "reviewer", f"--ignore-certificate-errors-spki-list={key}", "--lang=vi") as driver:
        find = driver.find_element
        _first_sign_in(driver, portal, people["reviewer"])
        driver.get(f"{portal}review")
        find(By.ID, f"pending-{code}").find_element(By.LINK_TEXT, code).click()
        _shot(driver, "4-review")
        find(By.ID, "approve").click()
        assert find(By.ID, "approved") and find(By.ID, "state").text == "approved"
        _shot(driver, "5-approved")
    assert SITE_BRANCH
    tenant = _stand_in_git("show", f"{SITE_BRANCH}:inventories/{SITE.name}/tenants/{code}.yml")
    assert "state: approved" in tenant
    assert _stand_in_git("log", "-1", "--format=%an", SITE_BRANCH).strip() == people["reviewer"].name
