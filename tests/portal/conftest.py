"""Fixtures of the portal's tests: a private copy of a site, the app over it, and a filled form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from infra.portal import create_app

BASE = "http://127.0.0.1:8080"
"""The test client's address: the portal's default loopback one (Origin checks compare with it)."""


@pytest.fixture
def site(aio_copy: Path) -> Path:
    """The all-in-one site: small, with gov and dmz but no internet provider network."""
    return aio_copy


@pytest.fixture
def client(site: Path) -> TestClient:
    return TestClient(create_app(site), base_url=BASE)


def csrf_token(client: TestClient) -> str:
    """Open the form as a browser would: the cookie is set, the token read from the page."""
    page = client.get("/request")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert match, "no CSRF token in the form"
    return match.group(1)


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
