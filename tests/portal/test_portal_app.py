"""The portal's pages through Starlette's test client: file, follow, refuse, escape, protect."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.tenants import approve_tenant
from tests.helpers import snapshot
from tests.portal.conftest import PASSWORD, csrf_token, make_app, post, signed_in, valid_fields


def test_home_redirects_to_the_tenant_list(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/tenants"


def test_tenants_page_lists_every_tenant_to_a_reviewer_with_its_state_and_dates(app: Starlette) -> None:
    page = signed_in(app, "dc").get("/tenants")
    assert page.status_code == 200
    assert 'id="tenant-so-yte"' in page.text and 'id="tenant-so-khcn"' in page.text
    assert re.search(r'<td class="state state-(active|approved)">', page.text)
    assert re.search(r"<td class=\"date\">20\d\d-\d\d-\d\d</td>", page.text)


def test_valid_request_is_written_shown_and_valid(client: TestClient, site: Path) -> None:
    response = post(client, valid_fields())
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/tenants/so-yte-hsba?done=filed"
    path = site / "tenants" / "so-yte-hsba.yml"
    assert "state: requested" in path.read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(site)])
    assert result.exit_code == 0, result.output
    assert "3 tenants" in result.stdout
    page = client.get(response.headers["location"])
    assert 'id="filed"' in page.text and '<dd id="state">requested</dd>' in page.text
    assert 'id="tenant-so-yte-hsba"' in client.get("/tenants").text


def test_approved_tenant_page_shows_its_addresses(client: TestClient, site: Path) -> None:
    assert post(client, valid_fields()).status_code == 303
    approve_tenant(site, "so-yte-hsba", "dc@example.org")
    page = client.get("/tenants/so-yte-hsba").text
    assert '<dd id="state">approved</dd>' in page
    assert re.search(r'<dd id="ipv4">10\.\d+\.\d+\.\d+/\d+</dd>', page)
    assert re.search(r"<td>app</td><td>gov</td><td>10\.[\d.]+/24</td><td>[0-9a-f:]+/64</td>", page)


INVALID = [
    ({"code": "Sở Y tế"}, "code", "String should match pattern"),
    ({"code": "admin"}, "code", "'admin' is reserved by Keystone deployments"),
    ({"code": "so-yte"}, "code", "exists; codes are never reused"),
    ({"name": ""}, "name", "String should have at least 1 character"),
    ({"name": "a\u2028b"}, "name", "must be one line of printable text"),
    ({"security_level": ""}, "security_level", "Input should be a valid integer"),
    ({"security_level": "1"}, "security_level", "level 1 is below its application 'yte-tu-xa' (level 2)"),
    ({"quota_profile": "XXL"}, "quota_profile", "unknown quota profile 'XXL'"),
    ({"applications": ["nope"]}, "applications", "unknown application 'nope'"),
    ({"security_level": "4", "applications": ["yte-tu-xa", "thu-cong-vu"]}, "applications",
     "a level-4 tenant hosts 2 systems"),
    ({"network_0": ""}, "network_0", "String should match pattern"),
    ({"network_0": "", "network_0_access": []}, "networks", "Tuple should have at least 1 item"),
    ({"network_0_access": ["internet"]}, "network_0", "the site has no external internet provider network"),
    ({"network_0_access": ["bogus"]}, "network_0", "Input should be 'gov', 'dmz' or 'internet'"),
    ({"network_1": "app", "network_1_access": ["dmz"]}, "network_1", "duplicate network name 'app'"),
    ({"contact_name": ""}, "contact_name", "String should have at least 1 character"),
    ({"contact_email": "binh"}, "contact_email", "String should match pattern"),
    ({"reason": ""}, "reason", "String should have at least 1 character"),
]


@pytest.mark.parametrize(
    ("changes", "field", "message"), INVALID, ids=[f"{i}-{f}" for i, (_, f, _) in enumerate(INVALID)]
)
def test_invalid_request_refused_at_its_field_and_nothing_written(
    client: TestClient, site: Path, changes: dict[str, str | list[str]], field: str, message: str
) -> None:
    before = snapshot(site)
    response = post(client, valid_fields(**changes))
    assert response.status_code == 400
    assert "Nothing was written" in response.text
    errors = re.findall(r'<p class="error" id="error-([a-z_0-9]+)-\d+" data-field="[a-z_0-9]+">([^<]*)</p>',
                        response.text)
    assert any(key == field and message.replace("'", "&#39;") in text for key, text in errors), errors
    assert snapshot(site) == before


def test_refused_form_keeps_the_values_typed(client: TestClient) -> None:
    response = post(client, valid_fields(code="Bad Code", contact_email="binh"))
    assert 'id="code" name="code" value="Bad Code"' in response.text
    assert 'value="so-yte" selected' in response.text
    assert 'value="binh.tt' not in response.text and 'value="binh"' in response.text


def test_xss_in_submitted_values_is_rendered_as_text(client: TestClient, site: Path) -> None:
    script = "<script>alert(1)</script>"
    refused = post(client, valid_fields(code=script, name=f'"><img src=x onerror=alert(2)>{script}'))
    assert refused.status_code == 400
    assert "<script>" not in refused.text and "<img" not in refused.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in refused.text
    filed = post(client, valid_fields(name=f"Bệnh án {script}", reason=script))
    assert filed.status_code == 303
    for url in ("/tenants", "/tenants/so-yte-hsba"):
        page = client.get(url).text
        assert "<script>" not in page and "Bệnh án &lt;script&gt;alert(1)&lt;/script&gt;" in page
    missing = client.get("/tenants/%3Cscript%3E")
    assert missing.status_code == 404 and "<script>" not in missing.text


def test_pages_forbid_scripts_and_framing(client: TestClient) -> None:
    response = client.get("/request")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie


def test_cookies_are_secure_over_tls(site: Path, state: Path) -> None:
    browser = TestClient(make_app(site, state, secure_cookies=True), base_url="https://portal.example")
    assert "Secure" in browser.get("/signin").headers["set-cookie"]
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', browser.get("/signin").text)
    assert token
    signin = browser.post("/signin", data={"username": "binh", "password": PASSWORD, "csrf_token": token.group(1)},
                          follow_redirects=False)
    cookie = signin.headers["set-cookie"]
    assert cookie.startswith("hatang_session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Max-Age=28800" in cookie


@pytest.mark.parametrize("token", ["", "0" * 64], ids=["missing", "forged"])
def test_post_without_a_valid_csrf_token_refused(client: TestClient, site: Path, token: str) -> None:
    before = snapshot(site)
    response = post(client, valid_fields(), token=token)
    assert response.status_code == 403 and "security token" in response.text
    assert snapshot(site) == before


def test_post_without_the_cookie_refused(site: Path, state: Path) -> None:
    token = csrf_token(signed_in(make_app(site, state, csrf_secret=b"k" * 32), "binh"))
    stranger = signed_in(make_app(site, state, csrf_secret=b"k" * 32), "binh")
    response = post(stranger, valid_fields(), token=token)
    assert response.status_code == 403
    assert not (site / "tenants" / "so-yte-hsba.yml").exists()


def test_post_from_another_origin_refused(client: TestClient, site: Path) -> None:
    response = post(client, valid_fields(), headers={"origin": "http://evil.example"})
    assert response.status_code == 403 and "another site" in response.text
    assert not (site / "tenants" / "so-yte-hsba.yml").exists()


def test_oversized_post_refused(client: TestClient, site: Path) -> None:
    response = post(client, valid_fields(reason="x" * 70_000))
    assert response.status_code == 413
    assert not (site / "tenants" / "so-yte-hsba.yml").exists()


def test_unreadable_site_says_why(client: TestClient, site: Path) -> None:
    (site / "agencies.yml").write_text("agencies: [\n", encoding="utf-8")
    page = client.get("/tenants")
    assert page.status_code == 503 and "agencies.yml" in page.text


def test_two_submissions_at_once_one_wins_the_code(site: Path, state: Path) -> None:
    """Both go through the site lock: the second reads the site after the first wrote it."""
    clients = [signed_in(make_app(site, state), "binh") for _ in range(2)]
    tokens = [csrf_token(c) for c in clients]
    results: list[int] = []
    start = threading.Barrier(2)

    def submit(i: int) -> None:
        start.wait()
        results.append(post(clients[i], valid_fields(name=f"Hồ sơ {i}"), token=tokens[i]).status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [303, 400]
    assert len(list((site / "tenants").glob("so-yte-hsba*.yml"))) == 1
    assert CliRunner().invoke(cli, ["validate", str(site)]).exit_code == 0


def test_submission_waits_for_another_writer_then_says_who(
    client: TestClient, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.test_lock import _hold_lock

    monkeypatch.setenv("HATANG_LOCK_TIMEOUT", "0.3")
    holder = _hold_lock(site, 10)
    try:
        before = snapshot(site)
        response = post(client, valid_fields())
        assert response.status_code == 400
        assert "another command is writing this site" in response.text and "pid 4242" in response.text
        assert snapshot(site) == before
    finally:
        holder.kill()
        holder.wait()
    assert post(client, valid_fields()).status_code == 303


def test_cli_refuses_an_unreadable_site_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["portal", "--site", str(tmp_path / "nowhere"), "--keystone-url", "http://k"])
    assert result.exit_code == 2
    assert "nowhere" in result.stderr


def test_cli_refuses_a_taken_port_with_exit_2(site: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["portal", "--site", str(site), "--port", str(port), "--keystone-url", "http://127.0.0.1:9",
                  "--state-dir", str(site.parent / "state")]
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_sample_province_pages_render(site_copy: Path, state: Path) -> None:
    client = signed_in(make_app(site_copy, state), "dc")
    page = client.get("/tenants")
    assert page.status_code == 200 and page.text.count('<tr id="tenant-') == len(list(site_copy.glob("tenants/*.yml")))
    detail = client.get("/tenants/ban-do-so").text
    assert "Nền tảng bản đồ số" in detail
    assert "<dd>Hoàng Văn Nam (requester)</dd>" in detail  # contacts by name and role, no address
    form = signed_in(make_app(site_copy, state), "binh").get("/request").text
    assert 'value="so-yte"' in form and "vCPU" in form


def test_tenants_filtered_by_state_and_agency(client: TestClient) -> None:
    assert post(client, valid_fields()).status_code == 303
    pending = client.get("/tenants?state=requested").text
    assert re.findall(r'<tr id="tenant-([a-z0-9-]+)">', pending) == ["so-yte-hsba"]
    mine = client.get("/tenants?agency=so-yte").text
    assert re.findall(r'<tr id="tenant-([a-z0-9-]+)">', mine) == ["so-yte", "so-yte-hsba"]
    odd = client.get("/tenants?agency=%3Cscript%3E").text
    assert "<script>" not in odd and "&lt;script&gt;" in odd and 'id="tenant-' not in odd


def test_every_submission_is_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="hatang.portal")
    post(client, valid_fields(code="Bad\nCode"))
    post(client, valid_fields())
    post(client, valid_fields(), token="")
    lines = [r.getMessage() for r in caplog.records if r.name == "hatang.portal"]
    assert lines[0].startswith("refused 'Bad\\nCode' by 'binh.tt@soyte.example' from testclient: ")
    assert lines[1].startswith("filed 'so-yte-hsba' by 'binh.tt@soyte.example' from testclient (")
    assert lines[2].startswith("refused a post from testclient: the form's security token is missing")


def test_language_switch_shows_one_language_or_both(client: TestClient) -> None:
    both = client.get("/tenants/so-yte").text
    assert '<html lang="vi" class="lang-both">' in both and "<title>so-yte · " in both
    assert "<th>Trạng thái (state)</th>" in both and 'class="chosen">Song ngữ' in both
    chosen = client.get("/lang/en?next=/tenants/so-yte", follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/tenants/so-yte"
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith("hatang_lang=en;") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    english = client.get("/tenants").text
    assert '<html lang="en" class="lang-en">' in english and "<title>Tenants · " in english
    assert 'href="/lang/vi?next=/tenants"' in english
    assert "<title>Dự án · " in client.get("/lang/vi?next=/tenants").text  # followed back to the list
    client.get("/lang/both")
    assert "<title>Dự án (Tenants) · " in client.get("/tenants").text
    client.cookies.set("hatang_lang", "<b>")  # anything else is both
    assert '<html lang="vi" class="lang-both">' in client.get("/tenants").text
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        away = client.get("/lang/en", params={"next": target}, follow_redirects=False)
        assert away.headers["location"] == "/tenants"


TEMPLATES = Path(__file__).parents[2] / "infra" / "portal" / "templates"


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.j2")))
def test_every_vietnamese_text_can_be_switched_to_english(template: str) -> None:
    """English alone hides the `vi` spans: Vietnamese anywhere else would stay; every `en` span follows its `vi` one."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    assert re.findall(r'(?<!</span> )<span class="en">', text) == []
    rest = re.sub(r'<span class="vi">.*?</span>|\{\{.*?\}\}|\{%.*?%\}|<[^>]*>', "", text, flags=re.S)
    assert re.findall(r"[^\x00-\x7f—→·…]+", rest) == []
