"""Fixtures of the portal's tests: a private copy of a site, the app over it with fixed test users,
a signed-in client, a filled form, and a site inside a git repository with a bare remote."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from infra.portal import create_app
from infra.portal.auth import FixedUsers, hash_password

BASE = "http://127.0.0.1:8080"
"""The test client's address: the portal's default loopback one (Origin checks compare with it)."""

PASSWORD = "mật khẩu thử 1"
USERS: dict[str, dict[str, Any]] = {
    "binh": {"email": "binh.tt@soyte.example", "groups": ["agency-so-yte"]},
    "khoa": {"email": "khoa.nv@sokhcn.example", "groups": ["agency-so-khcn"]},
    "dc": {"email": "reviewer@dc.example", "groups": ["dc-reviewers"]},
    "member": {"email": "m@sokhcn.example", "groups": ["so-khcn-members"]},
    "nobody": {"email": "", "groups": ["unrelated"]},
}
"""Test users (all with PASSWORD): two agencies' staff, a reviewer, a tenant member, and nobody."""


@cache
def _hash() -> str:
    return hash_password(PASSWORD, iterations=1000)  # fast: these are test users


def fixed_users() -> FixedUsers:
    return FixedUsers({name: {**user, "password": _hash()} for name, user in USERS.items()})


def make_app(site: Path, state: Path, **options: Any) -> Starlette:
    """The portal over `site` with the test users (plain http on loopback: cookies not Secure)."""
    options.setdefault("secure_cookies", False)
    return create_app(site, fixed_users(), state_dir=state, **options)


def form_token(client: TestClient, url: str = "/request") -> str:
    """Open a page with a form as a browser would: the cookie is set, the token read from the page."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert match, f"no CSRF token in {url}"
    return match.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> Any:
    """Sign `user` in through the form; the response (303 when accepted)."""
    token = form_token(client, "/signin")
    return client.post(
        "/signin", data={"username": user, "password": password, "csrf_token": token, "next": "/tenants"},
        follow_redirects=False,
    )


def signed_in(app: Starlette, user: str) -> TestClient:
    client = TestClient(app, base_url=BASE)
    assert sign_in(client, user).status_code == 303
    return client


@pytest.fixture
def site(aio_copy: Path) -> Path:
    """The all-in-one site: small, with gov and dmz but no internet provider network."""
    return aio_copy


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def app(site: Path, state: Path) -> Starlette:
    return make_app(site, state)


@pytest.fixture
def client(app: Starlette) -> TestClient:
    """Signed in as binh, of the Sở Y tế (so-yte)."""
    return signed_in(app, "binh")


def csrf_token(client: TestClient) -> str:
    return form_token(client, "/request")


def valid_fields(**changes: str | list[str]) -> dict[str, str | list[str]]:
    """A request the AIO site accepts; `changes` replace fields."""
    fields: dict[str, str | list[str]] = {
        "code": "so-yte-hsba",
        "agency": "so-yte",
        "name": "Hồ sơ bệnh án điện tử",
        "security_level": "2",
        "quota_profile": "S",
        "applications": ["yte-tu-xa"],
        "network_0": "app",
        "network_0_access": ["gov"],
        "network_1": "",
        "network_2": "",
        "contact_name": "Trần Thị Bình",
        "contact_email": "binh.tt@soyte.example",
        "reason": "Bệnh án điện tử cho các bệnh viện tỉnh",
    }
    fields.update(changes)
    return fields


def post(client: TestClient, fields: dict[str, str | list[str]], token: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    """Post the form with a valid token (unless `token` says otherwise), not following redirects."""
    data = {**fields, "csrf_token": csrf_token(client) if token is None else token}
    return client.post("/request", data=data, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path, aio_copy: Path) -> tuple[Path, Path]:
    """(the site in a clone, the bare remote standing in for the DC's Git server), on branch main."""
    remote, clone = tmp_path / "dc.git", tmp_path / "clone"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(clone))
    (clone / ".gitignore").write_text(".hatang.lock\n.hatang-cache/\n", encoding="utf-8")
    aio_copy.rename(clone / "aio")
    for key, value in (("user.name", "DC engineer"), ("user.email", "eng@dc.example")):
        git(clone, "config", key, value)
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", "site")
    git(clone, "remote", "add", "origin", str(remote))
    git(clone, "push", "--quiet", "-u", "origin", "main")
    return clone / "aio", remote


@pytest.fixture
def clone(repo: tuple[Path, Path]) -> Path:
    """The site folder in the clone of `repo`."""
    return repo[0]


@pytest.fixture
def remote(repo: tuple[Path, Path]) -> Path:
    """The bare remote of `repo`."""
    return repo[1]


def portal_as(site: Path, tmp_path: Path, user: str) -> TestClient:
    """The portal over `site` (its state under `tmp_path`), signed in as `user`."""
    return signed_in(make_app(site, tmp_path / "state"), user)
