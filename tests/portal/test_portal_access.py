"""Sign-in, sessions and what each user may see or do: one agency never sees another's tenants."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.errors import HatangError
from infra.portal.auth import (
    AuthUnavailableError,
    FixedUsers,
    Identity,
    KeystoneAuthenticator,
    PasswordChangeError,
    PasswordExpiredError,
    hash_password,
    identity_from_groups,
)
from infra.portal.session import COOKIE, load_key
from tests.helpers import snapshot
from tests.portal.conftest import (
    BASE,
    PASSWORD,
    fixed_users,
    form_token,
    git,
    make_app,
    post,
    sign_in,
    signed_in,
    valid_fields,
)

# --------------------------------------------------------------------------- authenticators


def test_identity_from_groups_maps_agency_tenant_and_reviewer_groups() -> None:
    me = identity_from_groups("u1", "an", "an@x.vn", ["agency-so-yte", "so-khcn-auditors", "dc-reviewers", "other"])
    assert me.agencies == {"so-yte"} and me.tenants == {"so-khcn"} and me.reviewer
    plain = identity_from_groups("u2", "b", "", ["agency-", "-admins", "so-yte"])
    assert not plain.agencies and not plain.tenants and not plain.reviewer and plain.by == "b"


def test_the_platform_programs_groups_give_each_agency_and_the_reviewers_their_rights() -> None:
    from infra.site import load_site
    from infra.specs.cloud import platform_spec
    from tests.conftest import SAMPLE

    site = load_site(SAMPLE)
    rights = {g.name: identity_from_groups("u", "u", "", [g.name]) for g in platform_spec(site).groups}
    assert {name: sorted(me.agencies) for name, me in rights.items() if not me.reviewer} == {
        f"agency-{a.code}": [a.code] for a in site.agencies
    }
    assert [name for name, me in rights.items() if me.reviewer] == ["dc-reviewers"]
    assert not rights["dc-reviewers"].agencies


def test_fixed_users_accept_the_right_password_only() -> None:
    users = fixed_users()
    assert users.authenticate("binh", PASSWORD) is not None
    assert users.authenticate("binh", PASSWORD + "x") is None
    assert users.authenticate("nobody-at-all", PASSWORD) is None
    assert users.authenticate("binh", "") is None


def test_fixed_users_file_read_and_refused_when_malformed(tmp_path: Path) -> None:
    good = tmp_path / "users.yml"
    good.write_text(f"users:\n  an:\n    password: '{hash_password('pw', 1000)}'\n    groups: [agency-so-yte]\n",
                    encoding="utf-8")
    me = FixedUsers.from_file(good).authenticate("an", "pw")
    assert me is not None and me.agencies == {"so-yte"}
    bad = tmp_path / "bad.yml"
    bad.write_text("users:\n  an: {password: plain-text}\n", encoding="utf-8")
    with pytest.raises(HatangError, match=r"make each hash with infra\.portal\.auth\.hash_password"):
        FixedUsers.from_file(bad)


def test_keystone_that_cannot_be_reached_says_so() -> None:
    keystone = KeystoneAuthenticator("http://127.0.0.1:9/v3", "agencies", timeout=3)
    with pytest.raises(AuthUnavailableError, match=r"Keystone at http://127.0.0.1:9/v3 cannot be asked"):
        keystone.authenticate("an", "pw")
    assert keystone.authenticate("", "pw") is None


def test_cli_without_an_authenticator_exits_2(tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OS_AUTH_URL", raising=False)
    result = CliRunner().invoke(cli, ["portal", "--site", str(site), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "the portal needs Keystone to sign users in (fix: pass --keystone-url URL" in result.stderr


# --------------------------------------------------------------------------- sign-in and sessions


def test_pages_send_a_signed_out_user_to_sign_in(app: Starlette) -> None:
    browser = TestClient(app, base_url=BASE)
    for url in ("/tenants", "/tenants/so-yte", "/request", "/review"):
        response = browser.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/signin?next={url}"


def test_post_when_signed_out_refused_and_nothing_written(app: Starlette, site: Path) -> None:
    browser = TestClient(app, base_url=BASE)
    token = form_token(browser, "/signin")
    before = snapshot(site)
    for url in ("/request", "/tenants/so-yte/approve", "/tenants/so-yte/reject"):
        response = browser.post(url, data={**valid_fields(), "csrf_token": token}, follow_redirects=False)
        assert response.status_code == 401, url
    assert snapshot(site) == before


def test_wrong_password_refused_and_audited(app: Starlette, state: Path) -> None:
    browser = TestClient(app, base_url=BASE)
    response = sign_in(browser, "binh", "wrong")
    assert response.status_code == 401 and "wrong user name or password" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert sign_in(browser, "nobody-at-all").status_code == 401  # same answer for an unknown name
    trail = [(e["who"], e["action"], e["target"], e["outcome"]) for e in app.state.audit.lines()]
    assert trail == [("-", "sign-in", "binh", "refused"), ("-", "sign-in", "nobody-at-all", "refused")]


def test_repeated_failures_are_throttled_per_client_and_name(app: Starlette) -> None:
    from infra.portal.signin import MAX_FAILURES

    browser = TestClient(app, base_url=BASE)
    for _ in range(MAX_FAILURES):
        assert sign_in(browser, "binh", "wrong").status_code == 401
    throttled = sign_in(browser, "binh")  # even the right password, for a while
    assert throttled.status_code == 429 and "too many failed attempts" in throttled.text
    assert sign_in(browser, "khoa").status_code == 303  # another name is not locked out
    assert app.state.audit.lines()[-2]["outcome"] == "throttled"


def test_sign_in_needs_the_form_token(app: Starlette) -> None:
    browser = TestClient(app, base_url=BASE)
    response = browser.post("/signin", data={"username": "binh", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403 and COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_sign_in_never_redirects_off_the_portal(app: Starlette, target: str) -> None:
    browser = TestClient(app, base_url=BASE)
    token = form_token(browser, "/signin")
    response = browser.post("/signin", data={"username": "binh", "password": PASSWORD, "csrf_token": token,
                                             "next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/tenants"


def test_sign_in_returns_to_the_page_asked_for(app: Starlette) -> None:
    browser = TestClient(app, base_url=BASE)
    page = browser.get("/signin?next=/tenants/so-yte").text
    assert 'name="next" value="/tenants/so-yte"' in page
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert token
    response = browser.post("/signin", data={"username": "binh", "password": PASSWORD, "csrf_token": token.group(1),
                                             "next": "/tenants/so-yte"}, follow_redirects=False)
    assert response.headers["location"] == "/tenants/so-yte"


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app: Starlette) -> None:
    browser = signed_in(app, "binh")
    copied = browser.cookies.get(COOKIE)
    token = form_token(browser, "/tenants")
    response = browser.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"
    assert browser.get("/tenants", follow_redirects=False).status_code == 303
    thief = TestClient(app, base_url=BASE, cookies={COOKIE: copied or ""})
    assert thief.get("/tenants", follow_redirects=False).status_code == 303


def test_session_expires_after_its_max_age(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.portal.session as session

    browser = signed_in(app, "binh")
    assert browser.get("/tenants", follow_redirects=False).status_code == 200
    now = session.time.time()
    monkeypatch.setattr(session.time, "time", lambda: now + app.state.sessions.max_age + 1)
    assert browser.get("/tenants", follow_redirects=False).status_code == 303


def test_forged_or_foreign_session_cookie_refused(app: Starlette, site: Path, tmp_path: Path) -> None:
    import base64
    import json

    value = signed_in(app, "binh").cookies.get(COOKIE) or ""
    data, _, signature = value.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    payload["user"]["reviewer"] = True
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=") + "." + signature
    for cookie in (forged, value + "x", "garbage", ""):
        browser = TestClient(app, base_url=BASE, cookies={COOKIE: cookie})
        assert browser.get("/review", follow_redirects=False).status_code == 303
    other = make_app(site, tmp_path / "other-state")  # another key
    assert TestClient(other, base_url=BASE, cookies={COOKIE: value}).get("/tenants",
                                                                         follow_redirects=False).status_code == 303


def test_session_key_is_private_created_once_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    key = load_key(folder)
    assert load_key(folder) == key and len(key) == 32
    assert (folder / "session.key").stat().st_mode & 0o777 == 0o600 and folder.stat().st_mode & 0o777 == 0o700
    (folder / "session.key").chmod(0o640)
    with pytest.raises(HatangError, match="mode 0600"):
        load_key(folder)


# --------------------------------------------------------------------------- one agency, not another


def _codes(page: str) -> list[str]:
    return re.findall(r'<tr id="tenant-([a-z0-9-]+)">', page)


def test_agency_lists_only_its_own_tenants(app: Starlette) -> None:
    yte, khcn = signed_in(app, "binh"), signed_in(app, "khoa")
    assert _codes(yte.get("/tenants").text) == ["so-yte"]
    assert _codes(khcn.get("/tenants").text) == ["so-khcn"]
    assert _codes(yte.get("/tenants?agency=so-khcn").text) == []
    assert _codes(signed_in(app, "dc").get("/tenants").text) == ["so-khcn", "so-yte"]
    assert _codes(signed_in(app, "member").get("/tenants").text) == ["so-khcn"]  # a so-khcn-members member
    assert _codes(signed_in(app, "nobody").get("/tenants").text) == []


def test_another_agencys_tenant_is_not_found_like_a_missing_one(app: Starlette) -> None:
    yte = signed_in(app, "binh")
    other, missing = yte.get("/tenants/so-khcn"), yte.get("/tenants/so-xyz")
    assert other.status_code == missing.status_code == 404
    assert other.text.replace("so-khcn", "CODE") == missing.text.replace("so-xyz", "CODE")


def test_forged_post_for_another_agency_refused_and_nothing_written(app: Starlette, site: Path) -> None:
    yte = signed_in(app, "binh")
    before = snapshot(site)
    for agency in ("so-khcn", "nobody", ""):
        response = post(yte, valid_fields(agency=agency, code="so-khcn-x"))
        assert response.status_code == 403 and "you can file requests only for so-yte" in response.text
    assert snapshot(site) == before


def test_request_form_offers_only_the_users_agency(app: Starlette) -> None:
    form = signed_in(app, "binh").get("/request").text
    options = re.findall(r'<option value="([a-z-]+)"( selected)?>[^<]*\((?:so|phuong)', form)
    assert options == [("so-yte", " selected")]
    assert 'id="contact_email" name="contact_email" value="binh.tt@soyte.example"' in form


def test_user_of_no_agency_cannot_file(app: Starlette, site: Path) -> None:
    before = snapshot(site)
    for user in ("member", "nobody"):
        browser = signed_in(app, user)
        assert browser.get("/request").status_code == 403
        token = form_token(browser, "/tenants")
        response = browser.post("/request", data={**valid_fields(agency="so-khcn"), "csrf_token": token},
                                follow_redirects=False)
        assert response.status_code == 403 and "acts for no agency" in response.text
    assert snapshot(site) == before


def test_agency_cannot_review_or_approve(app: Starlette, site: Path) -> None:
    yte = signed_in(app, "binh")
    assert post(yte, valid_fields()).status_code == 303
    before = snapshot(site)
    assert yte.get("/review").status_code == 404
    assert 'id="approve-form"' not in yte.get("/tenants/so-yte-hsba").text
    token = form_token(yte, "/tenants")
    for action in ("approve", "reject"):
        response = yte.post(f"/tenants/so-yte-hsba/{action}", data={"csrf_token": token, "reason": "x"},
                            follow_redirects=False)
        assert response.status_code == 404, action
    assert snapshot(site) == before


def test_reviewer_acts_in_place_when_the_site_is_not_in_git(app: Starlette, site: Path) -> None:
    assert post(signed_in(app, "binh"), valid_fields()).status_code == 303
    assert post(signed_in(app, "binh"), valid_fields(code="so-yte-two", name="Hai")).status_code == 303
    reviewer = signed_in(app, "dc")
    assert 'id="approve-form"' in reviewer.get("/tenants/so-yte-hsba").text
    token = form_token(reviewer, "/tenants/so-yte-hsba")
    assert reviewer.post("/tenants/so-yte-hsba/approve", data={"csrf_token": token},
                         follow_redirects=False).status_code == 303
    assert reviewer.post("/tenants/so-yte-two/reject", data={"csrf_token": token, "reason": "trùng"},
                         follow_redirects=False).status_code == 303
    assert "state: approved" in (site / "tenants" / "so-yte-hsba.yml").read_text(encoding="utf-8")
    rejected = (site / "tenants" / "so-yte-two.yml").read_text(encoding="utf-8")
    assert "state: rejected" in rejected and "reason: trùng" in rejected and "allocation" not in rejected
    assert CliRunner().invoke(cli, ["validate", str(site)]).exit_code == 0
    page = signed_in(app, "binh").get("/tenants").text
    assert '<td class="state state-rejected">rejected</td>' in page


def test_another_agencys_branch_request_is_hidden(repo: tuple[Path, Path], tmp_path: Path) -> None:
    clone = repo[0]
    app = make_app(clone, tmp_path / "state")
    assert post(signed_in(app, "khoa"), valid_fields(agency="so-khcn", code="so-khcn-x",
                                                     applications=[])).status_code == 303
    assert git(clone, "branch", "--list", "request/*").strip() == "request/so-khcn-x"
    yte = signed_in(app, "binh")
    assert _codes(yte.get("/tenants").text) == ["so-yte"]
    assert yte.get("/tenants/so-khcn-x").status_code == 404
    assert _codes(signed_in(app, "khoa").get("/tenants").text) == ["so-khcn", "so-khcn-x"]


# --------------------------------------------------------------------------- expired passwords


class _Expiring:
    """An authenticator whose user `an` has an expired password `old` until it is changed."""

    def __init__(self) -> None:
        self.password, self.expired = "old", True

    def authenticate(self, username: str, password: str) -> Identity | None:
        if username != "an" or password != self.password:
            return None
        if self.expired:
            raise PasswordExpiredError("your password has expired and must be changed before you sign in", "id1")
        return identity_from_groups("id1", "an", "an@x.vn", ["agency-so-yte"])

    def change_password(self, username: str, current: str, new: str) -> None:
        if username != "an" or current != self.password:
            raise PasswordChangeError("wrong user name or current password")
        if len(new) < 8:
            raise PasswordChangeError("Keystone refused the new password: too short")
        self.password, self.expired = new, False


def _submit(browser: TestClient, url: str, **fields: str) -> Any:
    token = form_token(browser, url)
    return browser.post(url.split("?")[0], data={**fields, "csrf_token": token}, follow_redirects=False)


def test_expired_password_is_changed_then_signs_in(site: Path, state: Path) -> None:
    from infra.portal import create_app

    app = create_app(site, _Expiring(), state_dir=state, secure_cookies=False)
    browser = TestClient(app, base_url=BASE)
    expired = _submit(browser, "/signin", username="an", password="old")
    assert expired.status_code == 401 and 'href="/password?username=an"' in expired.text
    assert COOKIE not in expired.headers.get("set-cookie", "")
    for new, again, current, message in (
        ("new-password-1", "new-password-2", "old", "the two new passwords differ"),
        ("old", "old", "old", "the new password must differ from the current one"),
        ("short", "short", "old", "Keystone refused the new password: too short"),
        ("new-password-1", "new-password-1", "wrong", "wrong user name or current password"),
    ):
        refused = _submit(browser, "/password?username=an", username="an", current=current, new=new, again=again)
        assert refused.status_code == 400 and message in refused.text, message
    changed = _submit(browser, "/password?username=an", username="an", current="old", new="new-password-1",
                      again="new-password-1")
    assert changed.status_code == 303 and changed.headers["location"] == "/signin?changed=1"
    assert 'id="changed"' in browser.get("/signin?changed=1").text
    assert _submit(browser, "/signin", username="an", password="new-password-1").status_code == 303
    trail = [(e["action"], e["target"], e["outcome"]) for e in app.state.audit.lines()]
    assert trail[0] == ("sign-in", "an", "expired")
    assert trail[-2:] == [("password", "an", "ok"), ("sign-in", "an", "ok")]
    assert all("old" not in e["detail"] and "new-password" not in e["detail"] for e in app.state.audit.lines())


def test_fixed_users_have_no_password_change(app: Starlette) -> None:
    browser = TestClient(app, base_url=BASE)
    assert browser.get("/password").status_code == 404
    token = form_token(browser, "/signin")
    response = browser.post("/password", data={"username": "binh", "current": PASSWORD, "new": "x" * 10,
                                               "again": "x" * 10, "csrf_token": token})
    assert response.status_code == 404


def test_keystone_token_revoked_in_the_second_it_was_issued_is_asked_for_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keystone revokes the tokens issued in the second of a password change: a sign-in right
    after the change gets a token that is refused at once; it is asked for again, once."""
    from infra.portal import auth

    keystone = KeystoneAuthenticator("https://keystone.invalid:5000", "agencies")
    answers: list[Any] = [auth._RevokedAtIssue(), ("u1", {"name": "an", "email": "an@x"}, [])]
    slept: list[float] = []

    def read_self(username: str, password: str) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(keystone, "_read_self", read_self)
    monkeypatch.setattr(auth.time, "sleep", slept.append)
    me = keystone.authenticate("an", "pw")
    assert me is not None and me.user_id == "u1"
    assert slept == [auth._REVOCATION_GRAIN] and not answers

    answers[:] = [auth._RevokedAtIssue(), auth._RevokedAtIssue()]
    assert keystone.authenticate("an", "pw") is None, "refused twice: a wrong token, not a race"
