"""Requests as branches of the site repository, approvals merged into main, rejections on the branch.

The site is in a clone whose `origin` is a local bare repository (the DC's Git server); the portal
runs on the clone with the fixed test users.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from starlette.testclient import TestClient
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.portal.gitflow import SiteRepo
from tests.helpers import snapshot
from tests.portal.conftest import csrf_token, form_token, git, portal_as, post, valid_fields


def _status(clone: Path) -> str:
    return git(clone, "status", "--porcelain", "--untracked-files=all")


def _act(client: TestClient, code: str, action: str, reason: str = "") -> object:
    token = form_token(client, f"/tenants/{code}")
    return client.post(f"/tenants/{code}/{action}", data={"csrf_token": token, "reason": reason},
                       follow_redirects=False)


def test_site_repo_found_with_main_branch_and_upstream_remote(clone: Path, remote: Path) -> None:
    found = SiteRepo.find(clone)
    assert found is not None
    assert (found.site, found.main, found.remote) == ("aio", "main", "origin")
    assert SiteRepo.find(remote.parent / "nowhere-in-git") is None


def test_request_is_a_commit_on_a_new_branch_by_the_requester_pushed(
    clone: Path, remote: Path, tmp_path: Path
) -> None:
    before, main = snapshot(clone), git(clone, "rev-parse", "main")
    client = portal_as(clone, tmp_path, "binh")
    response = post(client, valid_fields())
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/tenants/so-yte-hsba?done=filed"
    assert snapshot(clone) == before and _status(clone) == ""  # the engineers' checkout untouched
    assert git(clone, "rev-parse", "main") == main
    log = git(clone, "log", "-1", "--format=%an <%ae>|%cn|%s|%P", "request/so-yte-hsba").strip()
    subject = "Request tenant so-yte-hsba: Hồ sơ bệnh án điện tử"
    assert log == f"binh <binh.tt@soyte.example>|hatang portal|{subject}|{main.strip()}"
    assert git(clone, "diff", "--name-only", "main", "request/so-yte-hsba").split() == ["aio/tenants/so-yte-hsba.yml"]
    text = git(clone, "show", "request/so-yte-hsba:aio/tenants/so-yte-hsba.yml")
    assert "state: requested" in text and "by: binh.tt@soyte.example" in text
    assert git(remote, "rev-parse", "request/so-yte-hsba") == git(clone, "rev-parse", "request/so-yte-hsba")
    assert git(clone, "worktree", "list", "--porcelain").count("worktree ") == 1  # the temporary one removed
    page = client.get("/tenants/so-yte-hsba").text
    assert '<dd id="state">requested</dd>' in page and '<dd id="branch">request/so-yte-hsba</dd>' in page
    assert re.findall(r'<tr id="tenant-([a-z0-9-]+)">', client.get("/tenants").text) == ["so-yte", "so-yte-hsba"]


def test_branches_without_a_readable_request_are_left_out(clone: Path, tmp_path: Path) -> None:
    client = portal_as(clone, tmp_path, "dc")
    git(clone, "branch", "request/so-none", "main")  # no tenants/so-none.yml on it
    git(clone, "branch", "request/so-yte", "main")  # the file is the site's own, already listed
    assert _codes(client.get("/tenants").text) == ["so-khcn", "so-yte"]
    assert post(portal_as(clone, tmp_path, "binh"), valid_fields()).status_code == 303
    assert _codes(client.get("/tenants").text) == ["so-khcn", "so-yte", "so-yte-hsba"]
    assert client.get("/tenants/so-none").status_code == 404


def _codes(page: str) -> list[str]:
    return re.findall(r'<tr id="tenant-([a-z0-9-]+)">', page)


def test_refused_request_makes_no_branch(clone: Path, tmp_path: Path) -> None:
    client = portal_as(clone, tmp_path, "binh")
    response = post(client, valid_fields(security_level="1"))
    assert response.status_code == 400
    assert "level 1 is below its application" in response.text and "hatang-portal-" not in response.text
    assert git(clone, "branch", "--list", "request/*") == "" and _status(clone) == ""


def test_request_for_a_branch_that_exists_says_so(clone: Path, tmp_path: Path) -> None:
    git(clone, "branch", "request/so-yte-hsba", "main")
    response = post(portal_as(clone, tmp_path, "binh"), valid_fields())
    assert response.status_code == 400
    assert "a request &#39;so-yte-hsba&#39; exists already, on branch request/so-yte-hsba" in response.text


def test_request_whose_branch_exists_on_the_remote_is_not_filed(clone: Path, remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote), str(other))
    git(other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "--quiet", "--allow-empty", "-m", "x")
    git(other, "push", "--quiet", "origin", "HEAD:refs/heads/request/so-yte-hsba")
    response = post(portal_as(clone, tmp_path, "binh"), valid_fields())
    assert response.status_code == 400
    assert "could not be pushed to &#39;origin&#39;, so it was not filed" in response.text
    assert git(clone, "branch", "--list", "request/*") == ""


def test_two_requests_at_once_both_become_branches(clone: Path, tmp_path: Path) -> None:
    clients = [portal_as(clone, tmp_path, "binh") for _ in range(2)]
    tokens = [csrf_token(c) for c in clients]
    results: list[int] = []
    start = threading.Barrier(2)

    def submit(i: int) -> None:
        start.wait()
        fields = valid_fields(code=f"so-yte-app{i}", name=f"Ứng dụng {i}")
        results.append(post(clients[i], fields, token=tokens[i]).status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [303, 303]
    assert git(clone, "branch", "--list", "--format=%(refname:short)", "request/*").split() == [
        "request/so-yte-app0", "request/so-yte-app1"
    ]


def test_reviewer_approves_merged_into_main_with_allocation_and_pushed(
    clone: Path, remote: Path, tmp_path: Path
) -> None:
    agency = portal_as(clone, tmp_path, "binh")
    assert post(agency, valid_fields()).status_code == 303
    reviewer = portal_as(clone, tmp_path, "dc")
    pending = reviewer.get("/review").text
    assert re.findall(r'<tr id="pending-([a-z0-9-]+)">', pending) == ["so-yte-hsba"]
    response = _act(reviewer, "so-yte-hsba", "approve", "đủ điều kiện")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/tenants/so-yte-hsba?done=approved"
    text = (clone / "tenants" / "so-yte-hsba.yml").read_text(encoding="utf-8")
    assert "state: approved" in text and "by: reviewer@dc.example" in text and "allocation:" in text
    assert "so-yte-hsba" in (clone / "ledger.yml").read_text(encoding="utf-8")
    assert _status(clone) == ""
    subjects = git(clone, "log", "--format=%an|%s", "-2", "main").splitlines()
    assert subjects == ["dc|Approve tenant so-yte-hsba", "dc|Merge request/so-yte-hsba"]
    assert git(remote, "rev-parse", "main") == git(clone, "rev-parse", "main")
    assert git(clone, "branch", "--list", "request/*") == "" and git(remote, "branch", "--list", "request/*") == ""
    assert CliRunner().invoke(cli, ["validate", str(clone)]).exit_code == 0
    page = agency.get("/tenants/so-yte-hsba").text
    assert '<dd id="state">approved</dd>' in page and re.search(r'<dd id="ipv4">10\.[\d.]+/\d+</dd>', page)
    assert 'id="branch"' not in page and 'id="approve-form"' not in reviewer.get("/tenants/so-yte-hsba").text


def test_reviewer_rejects_with_a_reason_the_agency_reads(clone: Path, remote: Path, tmp_path: Path) -> None:
    agency = portal_as(clone, tmp_path, "binh")
    assert post(agency, valid_fields()).status_code == 303
    reviewer = portal_as(clone, tmp_path, "dc")
    before = git(clone, "rev-parse", "main")
    response = _act(reviewer, "so-yte-hsba", "reject", "cần cấp độ 3 <b>")
    assert response.status_code == 303, response.text
    assert git(clone, "rev-parse", "main") == before and _status(clone) == ""
    assert git(clone, "log", "-1", "--format=%an|%s", "request/so-yte-hsba").strip() == "dc|Reject tenant so-yte-hsba"
    assert git(remote, "rev-parse", "request/so-yte-hsba") == git(clone, "rev-parse", "request/so-yte-hsba")
    page = agency.get("/tenants/so-yte-hsba").text
    assert '<span id="rejected-reason">cần cấp độ 3 &lt;b&gt;</span>' in page
    assert "<tr><td>rejected</td>" in page and "cần cấp độ 3 &lt;b&gt;</td></tr>" in page  # in the history too
    assert '<dd id="state">rejected</dd>' in page
    lifecycle = page.split('<ol class="lifecycle" id="lifecycle">')[1].split("</ol>")[0]
    assert re.findall(r"current\">(\w+)<br>", lifecycle) == ["rejected"] and "approved" not in lifecycle
    on_branch = git(clone, "show", "request/so-yte-hsba:aio/tenants/so-yte-hsba.yml")
    assert "state: rejected" in on_branch and "reason: cần cấp độ 3 <b>" in on_branch
    assert 'id="pending-' not in reviewer.get("/review").text
    for action in ("approve", "reject"):
        again = _act(reviewer, "so-yte-hsba", action, "again")
        assert again.status_code == 409 and "is not waiting for review" in again.text  # type: ignore[attr-defined]
    again = post(agency, valid_fields())  # the code stays taken: the branch is the record
    assert again.status_code == 400 and "a request &#39;so-yte-hsba&#39; exists already, on branch" in again.text


def test_reject_needs_a_reason(clone: Path, tmp_path: Path) -> None:
    assert post(portal_as(clone, tmp_path, "binh"), valid_fields()).status_code == 303
    tip = git(clone, "rev-parse", "request/so-yte-hsba")
    response = _act(portal_as(clone, tmp_path, "dc"), "so-yte-hsba", "reject", "  ")
    assert response.status_code == 409 and "needs a reason" in response.text  # type: ignore[attr-defined]
    assert git(clone, "rev-parse", "request/so-yte-hsba") == tip


def test_approval_refused_when_the_remote_main_moved_on(clone: Path, remote: Path, tmp_path: Path) -> None:
    assert post(portal_as(clone, tmp_path, "binh"), valid_fields()).status_code == 303
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote), str(other))
    git(other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "--quiet", "--allow-empty", "-m", "elsewhere")
    git(other, "push", "--quiet", "origin", "main")
    main = git(clone, "rev-parse", "main")
    response = _act(portal_as(clone, tmp_path, "dc"), "so-yte-hsba", "approve")
    assert response.status_code == 409 and "git push failed" in response.text  # type: ignore[attr-defined]
    assert git(clone, "rev-parse", "main") == main and _status(clone) == ""
    assert git(clone, "branch", "--list", "request/*").strip() == "request/so-yte-hsba"


def test_approval_refused_when_the_checkout_changed_the_ledger(clone: Path, remote: Path, tmp_path: Path) -> None:
    assert post(portal_as(clone, tmp_path, "binh"), valid_fields()).status_code == 303
    with (clone / "ledger.yml").open("a", encoding="utf-8") as ledger:
        ledger.write("# an engineer's edit in progress\n")
    main = git(clone, "rev-parse", "main")
    response = _act(portal_as(clone, tmp_path, "dc"), "so-yte-hsba", "approve")
    assert response.status_code == 409 and "uncommitted changes to aio/tenants/so-yte-hsba.yml, aio/ledger.yml" in (
        response.text  # type: ignore[attr-defined]
    )
    assert git(clone, "rev-parse", "main") == main == git(remote, "rev-parse", "main")


def test_every_action_is_in_the_audit_log(clone: Path, tmp_path: Path) -> None:
    from infra.portal.session import AuditLog

    agency = portal_as(clone, tmp_path, "binh")
    post(agency, valid_fields(code="Bad Code"))
    post(agency, valid_fields())
    post(agency, valid_fields(agency="so-khcn", code="so-khcn-x"))
    _act(portal_as(clone, tmp_path, "dc"), "so-yte-hsba", "approve")
    trail = AuditLog(tmp_path / "state" / "audit.jsonl")
    lines = [(e["who"], e["action"], e["target"], e["outcome"]) for e in trail.lines()]
    assert lines == [
        ("binh", "sign-in", "binh", "ok"),
        ("binh", "request", "Bad Code", "refused"),
        ("binh", "request", "so-yte-hsba", "ok"),
        ("binh", "request", "so-khcn-x", "denied"),
        ("dc", "sign-in", "dc", "ok"),
        ("dc", "approve", "so-yte-hsba", "ok"),
    ]
    assert all(e["from"] == "testclient" and e["at"].endswith("+00:00") for e in trail.lines())
    assert (tmp_path / "state" / "audit.jsonl").stat().st_mode & 0o777 == 0o600
