"""Each agency's progress toward the §II.3 target in the portal: the adoption report's figures, its own only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from infra.portal import create_app
from infra.portal.auth import FixedUsers
from infra.reports.adoption import Share
from infra.reports.build import build_report
from infra.reports.i18n import messages
from infra.reports.kinds import Kind
from infra.site import load_site
from tests.portal.conftest import USERS, _hash, signed_in

MORE_USERS = {
    "van": {"email": "van@vpubnd.example", "groups": ["agency-vp-ubnd"]},
    "thong": {"email": "thong@sotttt.example", "groups": ["agency-so-tttt"]},
    "mau": {"email": "mau@phuongmau.example", "groups": ["agency-phuong-mau"]},
    "hai": {"email": "hai@two.example", "groups": ["agency-so-yte", "agency-so-khcn"]},
}
"""Staff of more agencies than the shared test users: VP UBND (3 applications), Sở TT&TT (none), a ward."""


def _app(site: Path, state: Path) -> Starlette:
    users = {name: {**user, "password": _hash()} for name, user in {**USERS, **MORE_USERS}.items()}
    return create_app(site, FixedUsers(users), state_dir=state, secure_cookies=False)


def _as(site: Path, state: Path, user: str) -> TestClient:
    return signed_in(_app(site, state), user)


def _text(page: str, element: str) -> str:
    match = re.search(rf'id="{element}">(.*?)</', page, re.S)
    assert match, f"no #{element} in the page"
    return match.group(1)


def _rows(page: str, table: str) -> list[str]:
    match = re.search(rf'<table id="{table}">(.*?)</table>', page, re.S)
    return re.findall(r'<tr id="app-([a-z0-9-]+)">', match.group(1)) if match else []


def test_aio_agency_sees_its_application_in_its_tenant(site: Path, state: Path) -> None:
    client = _as(site, state, "binh")
    assert 'id="nav-adoption"' in client.get("/tenants").text
    start = client.get("/agencies", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"] == "/agencies/so-yte"
    page = client.get("/agencies/so-yte")
    assert page.status_code == 200
    text = page.text
    assert _text(text, "domestic-pct") == "100,0%" and _text(text, "province-pct") == "100,0%"
    assert (_text(text, "domestic-count"), _text(text, "province-count"), _text(text, "total")) == ("1", "1", "1")
    assert _rows(text, "on-cloud") == ["yte-tu-xa"] and _rows(text, "not-yet") == []
    assert '<a class="tenant" href="/tenants/so-yte">so-yte</a>' in text
    assert "Khám chữa bệnh từ xa" in text and "Telehealth" in text
    assert "thu-cong-vu" not in text and "Official e-mail" not in text and "mot-cua-xa" not in text


def test_aio_ward_has_its_application_not_on_cloud_yet(site: Path, state: Path) -> None:
    text = _as(site, state, "mau").get("/agencies/phuong-mau").text
    assert _text(text, "domestic-pct") == "0,0%" and _text(text, "province-pct") == "0,0%"
    assert (_text(text, "domestic-count"), _text(text, "total")) == ("0", "1")
    assert _rows(text, "on-cloud") == [] and _rows(text, "not-yet") == ["mot-cua-xa"]
    row = re.search(r'<tr id="app-mot-cua-xa">.*?</tr>', text, re.S)
    assert row is not None
    assert "Đang chờ dự án (tenant)" in row.group(0) and "Waiting for a tenant" in row.group(0)
    assert "Waiting for a tenant request" in row.group(0) and "planned" in row.group(0)


def test_thainguyen_office_figures_in_both_languages(site_copy: Path, state: Path) -> None:
    client = _as(site_copy, state, "van")
    text = client.get("/agencies/vp-ubnd").text
    assert _text(text, "domestic-pct") == "66,7%" and _text(text, "province-pct") == "66,7%"
    assert (_text(text, "domestic-count"), _text(text, "province-count"), _text(text, "total")) == ("2", "2", "3")
    assert _rows(text, "on-cloud") == ["qlvb", "cong-ttdt"] and _rows(text, "not-yet") == ["hop-truc-tuyen"]
    assert text.count('<a class="tenant" href="/tenants/vp-ubnd">vp-ubnd</a>') == 2
    blocked = re.search(r'<tr id="app-hop-truc-tuyen">.*?</tr>', text, re.S)
    assert blocked is not None
    assert '<span class="vi">Đang vướng</span> <span class="en">Blocked</span>' in blocked.group(0)
    assert "Hardware MCU" in blocked.group(0) and "2027-Q1" in blocked.group(0)
    assert '<span class="vi">31 tháng 12, 2027</span> <span class="en">December 31, 2027</span>' in text
    client.get("/lang/en")
    english = client.get("/agencies/vp-ubnd").text
    assert _text(english, "domestic-pct") == "66.7%" and "December 31, 2027" in english
    assert "<title>Applications on cloud · vp-ubnd · " in english


def test_thainguyen_provider_counts_for_the_target_not_the_province_cloud(site_copy: Path, state: Path) -> None:
    text = _as(site_copy, state, "khoa").get("/agencies/so-khcn").text
    assert _text(text, "domestic-pct") == "100,0%" and _text(text, "province-pct") == "50,0%"
    assert (_text(text, "domestic-count"), _text(text, "province-count"), _text(text, "total")) == ("2", "1", "2")
    assert _rows(text, "on-cloud") == ["thu-cong-vu", "c-thainguyen"] and 'id="not-yet"' not in text
    assert '<a class="tenant" href="/tenants/so-khcn">so-khcn</a>' in text
    assert "thuê dịch vụ" in text and 'id="none-not-yet"' in text


@pytest.mark.parametrize("sample", ["aio", "thainguyen"])
def test_every_agency_shows_the_adoption_reports_figures(
    sample: str, site: Path, site_copy: Path, state: Path
) -> None:
    """What the portal shows is `hatang report adoption`'s per-agency table, for every agency."""
    root = site if sample == "aio" else site_copy
    report = build_report(root, Kind.ADOPTION, with_history=False).adoption
    reviewer = _as(root, state, "dc")
    listed = reviewer.get("/agencies").text
    for agency in load_site(root).agencies:
        share = report.by_agency.get(agency.code, Share(0, 0, 0))
        text = reviewer.get(f"/agencies/{agency.code}").text
        row = re.search(rf'<tr id="agency-{agency.code}">.*?</tr>', listed, re.S)
        assert row is not None
        if share.total == 0:
            assert 'id="no-applications"' in text and 'id="domestic-pct"' not in text
            continue
        figures = (_text(text, "domestic-count"), _text(text, "province-count"), _text(text, "total"))
        assert figures == (str(share.domestic), str(share.province), str(share.total)), agency.code
        assert _text(text, "domestic-pct") == messages("vi").pct(share.domestic_share)  # as the report prints it
        assert _text(text, "province-pct") == messages("vi").pct(share.province_share)
        assert f"<td>{share.total}</td>" in row.group(0) and f"{share.domestic} (" in row.group(0)
        apps = {a.id for a in report.apps if a.owner == agency.code}
        assert set(_rows(text, "on-cloud")) == {a.id for a in report.apps if a.owner == agency.code and a.domestic}
        assert set(_rows(text, "on-cloud")) | set(_rows(text, "not-yet")) == apps


def test_another_agencys_figures_are_not_found_even_by_direct_url(site_copy: Path, state: Path) -> None:
    client = _as(site_copy, state, "khoa")
    mine = client.get("/agencies/so-khcn")
    assert mine.status_code == 200
    for code in ("vp-ubnd", "so-yte", "nen-tang-tinh"):
        other = client.get(f"/agencies/{code}")
        missing = client.get("/agencies/no-such-agency")
        assert other.status_code == missing.status_code == 404
        assert other.text.replace(code, "X") == missing.text.replace("no-such-agency", "X")  # no existence leak
    for page in (client.get("/agencies/vp-ubnd").text, client.get("/tenants").text):
        assert "Hệ thống quản lý văn bản" not in page and "qlvb" not in page and "66,7%" not in page
    listed = client.get("/agencies", follow_redirects=False)
    assert listed.headers["location"] == "/agencies/so-khcn"  # one agency: its page, never a list of others


def test_staff_of_two_agencies_see_both_and_no_third(site_copy: Path, state: Path) -> None:
    client = _as(site_copy, state, "hai")
    listed = client.get("/agencies").text
    assert re.findall(r'<tr id="agency-([a-z0-9-]+)">', listed) == ["so-khcn", "so-yte"]
    assert client.get("/agencies/so-yte").status_code == 200 and client.get("/agencies/so-khcn").status_code == 200
    assert client.get("/agencies/vp-ubnd").status_code == 404


def test_users_of_no_agency_see_no_figures(site: Path, state: Path) -> None:
    for user in ("member", "nobody"):
        client = _as(site, state, user)
        assert 'id="nav-adoption"' not in client.get("/tenants").text
        assert client.get("/agencies/so-khcn").status_code == 404
        listed = client.get("/agencies")
        assert listed.status_code == 200 and 'id="none"' in listed.text and 'id="agency-' not in listed.text


def test_signed_out_is_sent_to_sign_in(site: Path, state: Path) -> None:
    away = TestClient(_app(site, state)).get("/agencies/so-yte", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/signin?next=/agencies/so-yte"


def test_agency_without_applications_says_so(site_copy: Path, state: Path) -> None:
    page = _as(site_copy, state, "thong").get("/agencies/so-tttt")
    assert page.status_code == 200
    assert 'id="no-applications"' in page.text and "no shared applications" in page.text
    assert "%" not in _text(page.text, "no-applications") and 'id="domestic-pct"' not in page.text
    assert 'id="on-cloud"' not in page.text and 'id="not-yet"' not in page.text


def test_site_without_any_application(site: Path, state: Path) -> None:
    """A site whose catalogue is empty: every agency has none, no division by zero anywhere."""
    (site / "applications.yml").write_text("applications: []\n", encoding="utf-8")
    for name in ("so-yte", "so-khcn"):
        tenant = site / "tenants" / f"{name}.yml"
        tenant.write_text(re.sub(r"(?m)^applications:.*\n(  - .*\n)*", "applications: []\n",
                                 tenant.read_text(encoding="utf-8")), encoding="utf-8")
    page = _as(site, state, "binh").get("/agencies/so-yte")
    assert page.status_code == 200 and 'id="no-applications"' in page.text
    listed = _as(site, state, "dc").get("/agencies")
    assert listed.status_code == 200 and listed.text.count("<td>0</td>") == 3 and "%" not in listed.text
