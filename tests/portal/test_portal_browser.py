"""The portal in a real browser: Debian's chromium driven by Selenium through chromium-driver.

`hatang portal` runs as a separate process on a free loopback port, over a private copy of a site
in a git clone whose remote is a local bare repository, with the fixed test users (`--users`).
The agency's user signs in, fills the form with a mistake and sees the error at its field (no
branch made), fixes it and files the request (a commit on branch request/<code>, pushed); a
reviewer signs in, approves it (merged into main); the agency sees it approved, with its prefix.
Screenshots of each page are written to reports/portal/ (git-ignored). Without chromium or
chromium-driver the test fails: run scripts/bootstrap, which installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.portal.auth import hash_password
from tests._browser import CHROMIUM, DRIVER, chromium, screenshot
from tests.portal.conftest import PASSWORD, USERS, git


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(repo: tuple[Path, Path]) -> Path:
    """The AIO site in a git clone with a bare remote."""
    return repo[0]


@pytest.fixture
def portal(site: Path, tmp_path: Path) -> Iterator[str]:
    """`hatang portal` serving `site` on loopback with the test users; its base URL."""
    hatang = Path(sys.executable).parent / "hatang"
    assert hatang.exists(), f"{hatang}: no hatang console script (run scripts/bootstrap)"
    users = tmp_path / "users.yml"
    users.write_text(json.dumps({"users": {n: {**u, "password": hash_password(PASSWORD, 1000)}
                                           for n, u in USERS.items()}}), encoding="utf-8")
    port = _free_port()
    log = (tmp_path / "portal.log").open("w")
    server = subprocess.Popen(
        [str(hatang), "portal", "--site", str(site), "--port", str(port), "--users", str(users),
         "--state-dir", str(tmp_path / "state")],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"hatang portal exited: {(tmp_path / 'portal.log').read_text()}"
            try:
                with urllib.request.urlopen(f"{base}/signin", timeout=2) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "hatang portal did not answer within 30 s"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless chromium under chromium-driver (Debian's, same version); never a downloaded one."""
    with chromium(tmp_path / "profile") as driver:
        yield driver


def _shot(driver: Any, name: str) -> None:
    screenshot(driver, "portal", name)


def _sign_in(driver: Any, portal: str, user: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "signin").click()
    assert user in driver.find_element(By.ID, "me").text


def _sign_out(driver: Any, portal: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "signout").click()
    assert driver.find_element(By.ID, "signin-form")
    driver.get(f"{portal}/tenants")  # signed out: back to the sign-in page
    assert driver.find_element(By.ID, "signin-form")


def test_agency_files_a_request_and_a_reviewer_approves_it_in_a_browser(portal: str, browser: Any, site: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    find = driver.find_element
    driver.get(f"{portal}/request")
    _shot(driver, "0-sign-in")
    _sign_in(driver, portal, "binh")  # back to the form after signing in
    find(By.ID, "code").send_keys("so-yte-hsba")
    find(By.ID, "name").send_keys("Hồ sơ bệnh án điện tử <b>tỉnh</b>")
    assert Select(find(By.ID, "agency")).first_selected_option.get_attribute("value") == "so-yte"
    assert len(Select(find(By.ID, "agency")).options) == 1  # only the user's own agency is offered
    Select(find(By.ID, "security_level")).select_by_value("2")
    Select(find(By.ID, "quota_profile")).select_by_value("S")
    find(By.CSS_SELECTOR, 'input[name="applications"][value="yte-tu-xa"]').click()
    find(By.ID, "network_0").send_keys("App Net")  # a mistake: not a slug
    find(By.CSS_SELECTOR, 'input[name="network_0_access"][value="gov"]').click()
    find(By.ID, "reason").send_keys("Bệnh án điện tử cho các bệnh viện")
    _shot(driver, "1-request-form")
    find(By.ID, "submit").click()

    error = find(By.CSS_SELECTOR, 'p.error[data-field="network_0"]')
    assert "String should match pattern" in error.text and "App Net" in error.text
    assert find(By.ID, "network_0").get_attribute("value") == "App Net"
    assert git(site, "branch", "--list", "request/*") == ""
    _shot(driver, "2-request-refused")

    find(By.ID, "network_0").clear()
    find(By.ID, "network_0").send_keys("app")
    find(By.ID, "submit").click()
    filed = f"{portal}/tenants/so-yte-hsba?done=filed"
    WebDriverWait(driver, 20).until(lambda d: d.current_url == filed)
    assert find(By.ID, "state").text == "requested" and find(By.ID, "branch").text == "request/so-yte-hsba"
    assert "Hồ sơ bệnh án điện tử <b>tỉnh</b>" in find(By.TAG_NAME, "h1").text  # shown as text, not markup
    _shot(driver, "3-request-filed")
    assert git(site, "log", "-1", "--format=%an", "request/so-yte-hsba").strip() == "binh"
    assert not (site / "tenants" / "so-yte-hsba.yml").exists()  # on its branch, not in the checkout
    _sign_out(driver, portal)

    _sign_in(driver, portal, "dc")
    find(By.PARTIAL_LINK_TEXT, "Chờ duyệt").click()
    find(By.ID, "pending-so-yte-hsba").find_element(By.LINK_TEXT, "so-yte-hsba").click()
    _shot(driver, "4-review")
    find(By.ID, "approve").click()
    assert find(By.ID, "approved") and find(By.ID, "state").text == "approved"
    _shot(driver, "5-approved")
    assert "state: approved" in (site / "tenants" / "so-yte-hsba.yml").read_text(encoding="utf-8")
    _sign_out(driver, portal)

    _sign_in(driver, portal, "binh")
    row = find(By.ID, "tenant-so-yte-hsba")
    assert "approved" in row.text and "Sở Y tế" in row.text and "10." in row.text
    assert [r.get_attribute("id") for r in driver.find_elements(By.CSS_SELECTOR, 'tr[id^="tenant-"]')] == [
        "tenant-so-yte", "tenant-so-yte-hsba"
    ]
    _shot(driver, "6-tenants")


def test_chromium_tools_are_debian_packages() -> None:
    """The browser and its driver come from apt (scripts/bootstrap), never from a download."""
    for tool in (CHROMIUM, DRIVER):
        owner = subprocess.run(["dpkg", "-S", str(tool)], capture_output=True, text=True, check=False)
        assert owner.returncode == 0, f"{tool} is not from a Debian package: {owner.stderr.strip()}"
    assert shutil.which("chromedriver") == str(DRIVER) or os.access(DRIVER, os.X_OK)
