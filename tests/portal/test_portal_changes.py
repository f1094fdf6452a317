"""Change requests: another quota profile or a retirement, filed by the tenant's agency on its own
branch, approved by a reviewer through the CLI's functions, or rejected with a reason the agency reads.

The site is in a clone whose `origin` is a local bare repository (the DC's Git server), as in
test_portal_gitflow.py; the AIO site has so-yte (agency so-yte, profile S) and so-khcn (profile M),
both active.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.portal.auth import Identity
from infra.portal.changes import ChangeForm, branch_changes, file_change
from infra.portal.gitflow import SiteRepo
from infra.site import load_site
from tests.helpers import snapshot
from tests.portal.conftest import form_token, git, make_app, portal_as, signed_in

BINH = Identity("u-binh", "binh", "binh.tt@soyte.example", agencies=frozenset({"so-yte"}))


def _ask(client: TestClient, code: str, token: str | None = None, **fields: str) -> Any:
    """Post the change form of tenant `code` (a valid token unless `token` says otherwise)."""
    data = {"csrf_token": form_token(client, "/tenants") if token is None else token, **fields}
    return client.post(f"/tenants/{code}/change", data=data, follow_redirects=False)


def _decide(client: TestClient, code: str, action: str, reason: str = "") -> Any:
    token = form_token(client, f"/tenants/{code}")
    return client.post(f"/tenants/{code}/change/{action}", data={"csrf_token": token, "reason": reason},
                       follow_redirects=False)


def _branches(where: Path) -> list[str]:
    return git(where, "branch", "--list", "--format=%(refname:short)", "change/*").split()


def _status(clone: Path) -> str:
    return git(clone, "status", "--porcelain", "--untracked-files=all")


def test_quota_change_is_a_commit_on_its_branch_by_the_requester(clone: Path, remote: Path, tmp_path: Path) -> None:
    before, main = snapshot(clone), git(clone, "rev-parse", "main").strip()
    agency = portal_as(clone, tmp_path, "binh")
    page = agency.get("/tenants/so-yte/change")
    assert page.status_code == 200 and 'id="profile-form"' in page.text and 'id="retire-form"' in page.text
    assert '<option value="M">M: 8 vCPU, 8.0 GiB RAM, 100 GB' in page.text
    response = _ask(agency, "so-yte", kind="profile", quota_profile="M", reason="Thêm bệnh viện huyện")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/tenants/so-yte?done=change-filed"
    assert snapshot(clone) == before and _status(clone) == "" and git(clone, "rev-parse", "main").strip() == main
    assert _branches(clone) == ["change/so-yte/1"] == _branches(remote)
    log = git(clone, "log", "-1", "--format=%an <%ae>|%cn|%s|%P", "change/so-yte/1").strip()
    assert log == f"binh <binh.tt@soyte.example>|hatang portal|Request quota profile M for tenant so-yte|{main}"
    assert git(clone, "diff", "--name-only", "main", "change/so-yte/1") == ""  # the request is the message
    assert git(clone, "worktree", "list", "--porcelain").count("worktree ") == 1
    shown = agency.get("/tenants/so-yte?done=change-filed").text
    assert 'id="change-filed"' in shown and '<strong id="waiting-profile">M</strong>' in shown
    assert 'id="request-change"' not in shown  # one change at a time
    review = portal_as(clone, tmp_path, "dc").get("/review").text
    assert re.findall(r'<tr id="change-([a-z0-9-]+)">', review) == ["so-yte"] and "Thêm bệnh viện huyện" in review


def test_reviewer_approves_quota_change_merged_with_history(clone: Path, remote: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="hatang.portal")
    agency = portal_as(clone, tmp_path, "binh")
    assert _ask(agency, "so-yte", kind="profile", quota_profile="M", reason="yes").status_code == 303
    ledger = (clone / "ledger.yml").read_bytes()
    reviewer = portal_as(clone, tmp_path, "dc")
    assert 'id="approve-change-form"' in reviewer.get("/tenants/so-yte").text
    response = _decide(reviewer, "so-yte", "approve", "đủ phần cứng")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/tenants/so-yte?done=change-approved"
    logged = [r.getMessage() for r in caplog.records if r.name == "hatang.portal"]
    assert any(line.startswith("approved a change of 'so-yte' by 'reviewer@dc.example'") for line in logged), logged
    tenant = load_site(clone).tenant("so-yte")
    assert tenant is not None and tenant.quota_profile == "M" and tenant.state.value == "active"
    last = tenant.history[-1]
    assert (last.state.value, last.by) == ("active", "reviewer@dc.example")
    assert last.reason == "quota profile S -> M: yes (requested by binh.tt@soyte.example)"  # `yes` stays text
    assert (clone / "ledger.yml").read_bytes() == ledger and _status(clone) == ""
    subjects = git(clone, "log", "--format=%an|%s", "-2", "main").splitlines()
    assert subjects == ["dc|Approve quota profile M for tenant so-yte", "dc|Merge change/so-yte/1"]
    assert git(remote, "rev-parse", "main") == git(clone, "rev-parse", "main")
    assert _branches(clone) == [] == _branches(remote)
    assert CliRunner().invoke(cli, ["validate", str(clone)]).exit_code == 0
    page = agency.get("/tenants/so-yte").text
    assert '<dd id="profile">M</dd>' in page and "8 vCPU, 8.0 GiB RAM, 100 GB" in page
    assert "<tr><td>active</td>" in page and "quota profile S -&gt; M: yes (requested by" in page
    assert 'id="request-change"' in page and 'id="waiting-change"' not in page


def test_retirement_approved_retires_and_nothing_more_can_be_asked(clone: Path, tmp_path: Path) -> None:
    agency = portal_as(clone, tmp_path, "binh")
    assert _ask(agency, "so-yte", kind="retire", reason="Chuyển sang nền tảng dùng chung").status_code == 303
    assert '<strong id="waiting-retire">' in agency.get("/tenants/so-yte").text
    assert _decide(portal_as(clone, tmp_path, "dc"), "so-yte", "approve").status_code == 303
    tenant = load_site(clone).tenant("so-yte")
    assert tenant is not None and tenant.state.value == "retired" and tenant.allocation is not None
    assert tenant.history[-1].reason == "Chuyển sang nền tảng dùng chung (requested by binh.tt@soyte.example)"
    page = agency.get("/tenants/so-yte").text
    assert '<dd id="state">retired</dd>' in page and 'id="request-change"' not in page
    assert agency.get("/tenants/so-yte/change").status_code == 409
    for fields in ({"kind": "retire", "reason": "again"}, {"kind": "profile", "quota_profile": "M", "reason": "x"}):
        again = _ask(agency, "so-yte", **fields)
        assert again.status_code == 409 and "is retired; only an approved or active tenant can change" in again.text
    assert _branches(clone) == []


def test_reviewer_rejects_change_with_a_reason_the_agency_reads(clone: Path, remote: Path, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="hatang.portal")
    agency = portal_as(clone, tmp_path, "binh")
    assert _ask(agency, "so-yte", kind="profile", quota_profile="M", reason="thêm").status_code == 303
    main, tip = git(clone, "rev-parse", "main"), git(clone, "rev-parse", "change/so-yte/1")
    reviewer = portal_as(clone, tmp_path, "dc")
    blank = _decide(reviewer, "so-yte", "reject", "  ")
    assert blank.status_code == 409 and "needs a reason" in blank.text
    assert git(clone, "rev-parse", "change/so-yte/1") == tip
    response = _decide(reviewer, "so-yte", "reject", "chưa dùng hết gói S <b>")
    assert response.status_code == 303, response.text
    logged = [r.getMessage() for r in caplog.records if r.name == "hatang.portal"]
    assert any(line.startswith("rejected a change of 'so-yte' by 'reviewer@dc.example'") for line in logged), logged
    assert git(clone, "rev-parse", "main") == main and _status(clone) == ""
    assert git(clone, "log", "-1", "--format=%an|%s", "change/so-yte/1").strip() == (
        "dc|Reject quota profile M for tenant so-yte"
    )
    assert git(remote, "rev-parse", "change/so-yte/1") == git(clone, "rev-parse", "change/so-yte/1")
    page = agency.get("/tenants/so-yte").text
    assert '<span id="change-rejected-reason">chưa dùng hết gói S &lt;b&gt;</span>' in page
    assert '<dd id="profile">S</dd>' in page and 'id="waiting-change"' not in page
    again = _decide(reviewer, "so-yte", "reject", "twice")
    assert again.status_code == 409 and "no change request for &#39;so-yte&#39; is waiting" in again.text
    assert 'id="change-so-yte"' not in reviewer.get("/review").text
    # the rejection is a record, not a block: a new request gets the next branch
    assert _ask(agency, "so-yte", kind="retire", reason="thôi").status_code == 303
    assert _branches(clone) == ["change/so-yte/1", "change/so-yte/2"]


def test_second_change_request_for_a_tenant_is_refused_while_one_waits(clone: Path, tmp_path: Path) -> None:
    agency = portal_as(clone, tmp_path, "binh")
    assert _ask(agency, "so-yte", kind="profile", quota_profile="M", reason="thêm").status_code == 303
    message = "a change request for &#39;so-yte&#39; is waiting for review already (branch change/so-yte/1)"
    assert agency.get("/tenants/so-yte/change").status_code == 409
    again = _ask(agency, "so-yte", kind="retire", reason="thôi")
    assert again.status_code == 409 and message in again.text
    assert _branches(clone) == ["change/so-yte/1"]


def test_second_change_request_refused_by_the_filing_itself(clone: Path) -> None:
    """Two browsers that both saw no waiting change: the second filing, under the lock, finds the first."""
    repo = SiteRepo.find(clone)
    form = ChangeForm(kind="retire", reason="thôi")
    assert file_change(clone, repo, "so-yte", form, BINH).request is not None
    second = file_change(clone, repo, "so-yte", form, BINH)
    assert second.request is None and "is waiting for review already" in second.errors["_general"][0]
    assert _branches(clone) == ["change/so-yte/1"]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"kind": "profile", "quota_profile": "XXL", "reason": "thêm"},
         {"quota_profile": ["unknown quota profile 'XXL' (fix: use one of: M, S)"]}),
        ({"kind": "profile", "quota_profile": "yes", "reason": ""},
         {"quota_profile": ["unknown quota profile 'yes' (fix: use one of: M, S)"],
          "reason": ["a change request needs a reason the data center will read (fix: say why)"]}),
        ({"kind": "profile", "quota_profile": "S", "reason": "thêm"},
         {"quota_profile": ["nothing to change: so-yte: already on quota profile S"]}),
        ({"kind": "profile", "quota_profile": "M x", "reason": "a\nb"},
         {"quota_profile": ["String should match pattern '^[A-Za-z][A-Za-z0-9-]{0,31}$' (got 'M x') (fix: match the "
                            "pattern ^[A-Za-z][A-Za-z0-9-]{0,31}$)"],
          "reason": ["must be one line of printable text (no control characters or line breaks) (got 'a\\nb') "
                     "(fix: write it on one line, without control characters)"]}),
        ({"kind": "retire", "reason": "x" * 300},
         {"reason": ["String should have at most 255 characters (got '" + "x" * 58 + "…) (fix: see this field in "
                     "docs/site-model.md)"]}),
        ({"kind": "retire", "reason": "x" * 250},
         {"reason": ["too long once the history adds ' (requested by binh.tt@soyte.example)' (fix: shorten it)"]}),
        ({"kind": "grow", "reason": "thêm"},
         {"kind": ["'grow' is not a change the portal files (fix: choose one of: profile, retire)"]}),
    ],
)
def test_invalid_change_refused_at_its_field_nothing_written(
    clone: Path, fields: dict[str, str], errors: dict[str, list[str]]
) -> None:
    before = snapshot(clone)
    filed = file_change(clone, SiteRepo.find(clone), "so-yte", ChangeForm(**fields), BINH)
    assert filed.request is None
    assert {key: list(found) for key, found in filed.errors.items()} == errors
    assert snapshot(clone) == before and _branches(clone) == [] and _status(clone) == ""


def test_invalid_change_shown_at_its_field_in_the_page(clone: Path, tmp_path: Path) -> None:
    agency = portal_as(clone, tmp_path, "binh")
    response = _ask(agency, "so-yte", kind="profile", quota_profile="<b>XXL</b>", reason="<script>x</script>")
    assert response.status_code == 400
    assert '<p class="error" id="error-profile-quota_profile-1" data-field="quota_profile">' in response.text
    assert "<script>x</script>" not in response.text and 'value="&lt;script&gt;x&lt;/script&gt;"' in response.text
    assert "hatang-portal-" not in response.text and _branches(clone) == []


def test_quota_change_that_no_longer_fits_the_hardware_is_refused_at_the_profile(clone: Path) -> None:
    profiles = clone / "profiles.yml"
    profiles.write_text(profiles.read_text(encoding="utf-8") + "  HUGE:\n    description: Too big\n    inherits: M\n"
                        "    compute: {cores: 100000}\n", encoding="utf-8")
    git(clone, "commit", "--quiet", "-am", "a profile too big for the AIO")
    filed = file_change(clone, SiteRepo.find(clone), "so-yte", ChangeForm("profile", "HUGE", "grow"), BINH)
    assert filed.request is None and list(filed.errors) == ["quota_profile"]
    assert filed.errors["quota_profile"][0].startswith("approved quotas need 100008 vCPU but the hardware gives")


def test_another_agencys_tenant_is_not_found_and_a_forged_post_refused(clone: Path, tmp_path: Path) -> None:
    app = make_app(clone, tmp_path / "state")
    yte = signed_in(app, "binh")
    other, missing = yte.get("/tenants/so-khcn/change"), yte.get("/tenants/so-xyz/change")
    assert other.status_code == missing.status_code == 404
    assert other.text.replace("so-khcn", "CODE") == missing.text.replace("so-xyz", "CODE")
    forged, absent = (_ask(yte, code, kind="retire", reason="x") for code in ("so-khcn", "so-xyz"))
    assert forged.status_code == absent.status_code == 403
    assert forged.text.replace("so-khcn", "CODE") == absent.text.replace("so-xyz", "CODE")
    assert "you can request changes only for the tenants of so-yte" in forged.text
    member = signed_in(app, "member")  # sees so-khcn as a member of its project, is not its agency's staff
    assert member.get("/tenants/so-khcn/change").status_code == 403
    assert _ask(member, "so-khcn", kind="retire", reason="x").status_code == 403
    assert _ask(signed_in(app, "dc"), "so-khcn", kind="retire", reason="x").status_code == 403
    assert _branches(clone) == []
    trail = [(e["who"], e["action"], e["target"], e["outcome"]) for e in app.state.audit.lines()
             if e["action"] == "change"]
    assert trail == [("binh", "change", "so-khcn", "denied"), ("binh", "change", "so-xyz", "denied"),
                     ("member", "change", "so-khcn", "denied"), ("dc", "change", "so-khcn", "denied")]
    assert signed_in(app, "khoa").get("/tenants/so-khcn/change").status_code == 200  # its own agency's


def test_change_posts_need_the_form_token(clone: Path, tmp_path: Path) -> None:
    app = make_app(clone, tmp_path / "state")
    yte = signed_in(app, "binh")
    for token in ("", "0" * 64):
        response = _ask(yte, "so-yte", token=token, kind="retire", reason="x")
        assert response.status_code == 403 and "security token" in response.text
    assert _branches(clone) == []
    assert _ask(yte, "so-yte", kind="retire", reason="x").status_code == 303
    reviewer = signed_in(app, "dc")
    tip = git(clone, "rev-parse", "change/so-yte/1")
    for action in ("approve", "reject"):
        refused = reviewer.post(f"/tenants/so-yte/change/{action}", data={"reason": "x"}, follow_redirects=False)
        assert refused.status_code == 403
    assert git(clone, "rev-parse", "change/so-yte/1") == tip
    assert app.state.audit.lines()[-1]["outcome"] == "refused"


def test_only_reviewers_decide_changes(clone: Path, tmp_path: Path) -> None:
    app = make_app(clone, tmp_path / "state")
    yte = signed_in(app, "binh")
    assert _ask(yte, "so-yte", kind="retire", reason="thôi").status_code == 303
    assert 'id="approve-change-form"' not in yte.get("/tenants/so-yte").text
    for action in ("approve", "reject"):
        assert _decide(yte, "so-yte", action, "x").status_code == 404
    tenant = load_site(clone).tenant("so-yte")
    assert tenant is not None and tenant.state.value == "active"


def test_quota_and_history_on_the_tenant_page(clone: Path, tmp_path: Path) -> None:
    page = portal_as(clone, tmp_path, "khoa").get("/tenants/so-khcn").text
    quota = re.search(r'<dd id="quota">(.*?)</dd>', page)
    assert quota and re.sub(r"<[^>]+>", "", quota.group(1)) == (  # M: inherits S, overrides some
        "8 vCPU, 8.0 GiB RAM, 100 GB ổ đĩa volumes, 4 máy ảo instances"
    )
    history = page.split('<table id="history">')[1].split("</table>")[0]
    assert re.findall(r"<tr><td>(\w+)</td>", history) == ["requested", "approved", "active"]
    assert "<title>so-khcn · " in page and page.count('id="approve-form"') == 0


def test_outside_git_no_change_request_is_filed(aio_copy: Path, tmp_path: Path) -> None:
    agency = portal_as(aio_copy, tmp_path, "binh")
    before = snapshot(aio_copy)
    response = _ask(agency, "so-yte", kind="retire", reason="thôi")
    assert response.status_code == 400 and "this portal&#39;s site folder is in no git repository" in response.text
    assert snapshot(aio_copy) == before


def test_branches_that_are_not_change_requests_are_left_out(clone: Path) -> None:
    repo = SiteRepo.find(clone)
    assert repo is not None
    git(clone, "branch", "change/so-yte/7", "main")  # an ordinary commit: no trailers
    forged = repo.record(git(clone, "rev-parse", "main").strip(),
                         "x\n\nHatang-Change: retire\nHatang-Tenant: so-yte\n", BINH)
    git(clone, "update-ref", "refs/heads/change/so-khcn/1", forged)  # names so-yte on so-khcn's branch
    assert branch_changes(repo) == []
    assert file_change(clone, repo, "so-yte", ChangeForm("retire", "", "thôi"), BINH).request is not None
    assert [(c.code, c.branch, c.kind.value, c.requester) for c in branch_changes(repo)] == [
        ("so-yte", "change/so-yte/8", "retire", "binh.tt@soyte.example")
    ]
