"""Audit results without hosts: how checks add up to controls and exit codes, the expected facts
derived from the site, the JSON / JUnit / HTML evidence, and what the audit covers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from infra.audit import AuditResult, CheckResult, HostResult, Outcome, host_facts
from infra.audit._model import control_outcome
from infra.audit.report import COVERAGE_CATEGORIES, coverage, messages, render_html, render_junit, write_reports
from infra.catalogue import Scope, Waiver, load_catalogue
from infra.site import load_site
from tests.conftest import AIO

PROFILE = "old-level3"


def _result(
    outcomes: dict[str, Outcome], waivers: dict[str, Waiver] | None = None, error: str | None = None
) -> AuditResult:
    catalogue = load_catalogue()
    profile = catalogue.profile(PROFILE)
    waivers = waivers or {}
    checks = {
        cid: CheckResult(cid, outcomes.get(c.id, Outcome.PASS), observed="seen", expected="wanted", message="why")
        for c in profile.controls_in(Scope.HOST)
        for cid in c.checks
    }
    controls = (
        () if error else tuple(control_outcome(c, checks, waivers.get(c.id)) for c in profile.controls_in(Scope.HOST))
    )
    host = HostResult("aio1", "podman://hatang-aio-aio1", controls, error, 1.5)
    return AuditResult("aio", profile, catalogue.version, (host,), "2026-11-28T17:00:00+00:00",
                       "2026-11-28T17:00:20+00:00", instruments=catalogue.instruments)  # fmt: skip


# --------------------------------------------------------------------------- outcomes


def test_control_outcome_fail_wins_over_not_checkable() -> None:
    control = load_catalogue().control("HT-SSH-01")
    checks = {"sshd_root_login_disabled": CheckResult("sshd_root_login_disabled", Outcome.FAIL)}
    assert control_outcome(control, checks, None).outcome is Outcome.FAIL


def test_control_outcome_missing_check_is_error() -> None:
    control = load_catalogue().control("HT-SSH-01")
    result = control_outcome(control, {}, None)
    assert result.outcome is Outcome.ERROR
    assert result.checks[0].message == "check sshd_root_login_disabled was not found or did not run"


def test_control_outcome_waiver_not_run() -> None:
    control = load_catalogue().control("HT-PKG-01")
    result = control_outcome(control, {}, Waiver("HT-PKG-01", False, "mirror not ready"))
    assert result.outcome is Outcome.WAIVED and result.waiver is not None


def test_control_outcome_manual_control() -> None:
    control = load_catalogue().control("HC-BAK-01")
    assert control_outcome(control, {}, None).outcome is Outcome.MANUAL


@pytest.mark.parametrize(
    ("outcomes", "error", "code"),
    [
        ({}, None, 0),
        ({"HT-AUDIT-01": Outcome.NOT_CHECKABLE}, None, 0),
        ({"HT-SSH-01": Outcome.FAIL}, None, 1),
        ({"HT-SSH-01": Outcome.FAIL, "HT-SSH-02": Outcome.ERROR}, None, 2),
        ({}, "unreachable (podman://x): no such container", 2),
    ],
)
def test_audit_exit_code(outcomes: dict[str, Outcome], error: str | None, code: int) -> None:
    assert _result(outcomes, error=error).exit_code == code


def test_audit_failed_controls_and_levels() -> None:
    result = _result({"HT-SSH-01": Outcome.FAIL, "HT-NET-07": Outcome.NOT_CHECKABLE})
    assert result.failed_controls() == ["HT-SSH-01"]
    levels = result.by_level()
    assert levels[1]["fail"] == 1 and levels[3]["not_checkable"] == 1


# --------------------------------------------------------------------------- facts


def test_host_facts_from_site_model() -> None:
    site = load_site(AIO)
    facts = host_facts(site, "aio1")
    mgmt = next(z for z in site.zones if z.kind.value == "mgmt")
    assert facts.mgmt_networks == (str(mgmt.ipv4), str(mgmt.ipv6))
    assert facts.mgmt_addresses[0] == str(site.hosts[0].ipv4["mgmt"])
    assert facts.ntp == tuple(str(a) for a in site.info.services.ntp)
    assert facts.routes is True  # aio1 is in the network group, which routes
    assert facts.port_allowed("tcp", 22) and not facts.port_allowed("tcp", 23)
    assert facts.ssh_sources() == facts.mgmt_networks


def test_host_facts_roundtrip_json() -> None:
    facts = host_facts(load_site(AIO), "aio1")
    assert type(facts).from_dict(json.loads(json.dumps(facts.to_dict()))) == facts


def test_host_facts_unknown_host() -> None:
    with pytest.raises(Exception, match=r"^unknown host 'nope'; hosts of the site: aio1$"):
        host_facts(load_site(AIO), "nope")


# --------------------------------------------------------------------------- reports


def test_messages_every_key_in_both_languages() -> None:
    for key, texts in messages().items():
        assert set(texts) == {"en", "vi"}, key


def test_messages_cover_every_key_the_template_uses() -> None:
    template = (Path(__file__).parents[2] / "infra" / "audit" / "templates" / "report.html.j2").read_text()
    used = set(re.findall(r't\("([\w-]+)"\)', template)) | {o.value for o in Outcome}
    used |= {"report_title_host", "report_title_cloud", "automated", "partial", "manual", "not_applicable"}
    assert used <= set(messages())


@pytest.mark.parametrize(("lang", "word"), [("vi", "Không tuân thủ"), ("en", "Non-compliant")])
def test_html_report_in_language(lang: str, word: str) -> None:
    html = render_html(_result({"HT-SSH-01": Outcome.FAIL}), lang)
    assert word in html
    assert 'id="HT-SSH-01"' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained


def test_html_report_lists_what_was_not_checked() -> None:
    waiver = Waiver("HT-PKG-01", False, "mirror not in service (ticket DC-1)")
    html = render_html(_result({"HT-AUDIT-01": Outcome.NOT_CHECKABLE}, {"HT-PKG-01": waiver}), "en")
    unchecked = html.split("What could not be checked")[1].split("<h2>")[0]
    assert "HT-AUDIT-01" in unchecked and "HT-PKG-01" in unchecked and "ticket DC-1" in unchecked


def test_html_report_marks_second_hand_and_unknown_clauses() -> None:
    html = render_html(_result({}), "en")
    assert "Decree 331/2026/NĐ-CP" in html
    assert "clause not identified" in html
    assert "second-hand: verify against the official text" in html
    assert "Art. 30.8" not in html  # a cloud control's clause: host audit shows host controls only


def test_html_report_vietnamese_clause_words() -> None:
    html = render_html(_result({}), "vi")
    assert "Thông tư 12/2022/TT-BTTTT hướng dẫn Nghị định 85/2016: Điều 10" in html
    assert "Phụ lục III" in html  # the old-level3 profile's appendix


def test_html_report_host_error() -> None:
    html = render_html(_result({}, error="unreachable (podman://x): no such container"), "vi")
    assert "Đánh giá chưa hoàn tất" in html and "no such container" in html


def test_junit_counts_and_references() -> None:
    root = ET.fromstring(render_junit(_result({"HT-SSH-01": Outcome.FAIL, "HT-AUDIT-01": Outcome.NOT_CHECKABLE})))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("1", "1", "0")
    case = next(c for c in suite.iter("testcase") if c.get("name") == "HT-SSH-01 sshd_root_login_disabled")
    assert case.find("failure") is not None
    assert case.get("classname") == "aio1.level1"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["ref.cis-debian-12"] == "5.1.20" and props["ref.tcvn-14423-2025"] == "null"


def test_write_reports_files(tmp_path: Path) -> None:
    paths = write_reports(_result({"HT-SSH-01": Outcome.FAIL}), tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == ["evidence.json", "junit.xml", "report.en.html", "report.vi.html"]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in paths.values())
    evidence = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert evidence["result"] == "non_compliant" and evidence["exit_code"] == 1
    control = next(c for c in evidence["hosts"][0]["controls"] if c["control_id"] == "HT-SSH-01")
    check = control["checks"][0]
    assert (check["check_id"], check["result"], check["observed"], check["expected"]) == (
        "sshd_root_login_disabled", "fail", "seen", "wanted",
    )  # fmt: skip
    assert {"type": "cis-debian-12", "clause": "5.1.20"}.items() <= control["references"][-1].items()
    mapping = {"type", "clause", "status", "source", "level", "title", "gap", "note"}
    assert all(set(r) == mapping for r in control["references"])
    assert all(set(r) == mapping for r in evidence["profile"]["references"])


# --------------------------------------------------------------------------- coverage (what the audit covers)

WAIVER = Waiver("HT-PKG-01", False, "mirror not in service (ticket DC-1)", "head of the DC", date(2027, 1, 31))
CLOUD_AT_LEVEL1 = ["HC-QUOTA-01", "HC-SG-01", "HC-NET-02", "HC-ID-02", "HC-ID-03", "HC-TLS-01", "HC-DRIFT-01"]


def _ids(entries: list[dict[str, object]]) -> list[object]:
    return [e["control"] for e in entries]


def test_coverage_lists_every_control_of_the_profile() -> None:
    result = _result({"HT-AUDIT-01": Outcome.NOT_CHECKABLE}, {"HT-PKG-01": WAIVER})
    covered = coverage(result)
    assert (covered["regime"], covered["level"], covered["scope"]) == ("old", 3, "host")
    assert covered["totals"] == {
        "checked": 61, "not_checkable": 1, "waived": 1, "not_automated": 0, "not_applicable": 0, "error": 0,
        "other_audit": 19,
    }  # fmt: skip
    assert [lv["level"] for lv in covered["levels"]] == [1, 2, 3]
    level3 = covered["levels"][2]
    assert level3["not_checkable"] == [
        {"control": "HT-AUDIT-01", "hosts": ["aio1"], "why": "why", "approved_by": None, "until": None}
    ]
    assert level3["waived"] == [
        {
            "control": "HT-PKG-01", "hosts": ["aio1"], "why": "mirror not in service (ticket DC-1)",
            "approved_by": "head of the DC", "until": "2027-01-31",
        }
    ]  # fmt: skip
    assert _ids(covered["levels"][0]["other_audit"]) == CLOUD_AT_LEVEL1
    assert {e["why"] for lv in covered["levels"] for e in lv["other_audit"]} == {"hatang audit cloud"}
    listed = [e["control"] for lv in covered["levels"] for cat in COVERAGE_CATEGORIES for e in lv[cat]]
    assert sorted(listed) == sorted(c.id for c in result.profile.controls)  # each control once, none left out


def test_coverage_control_with_different_fates_on_two_hosts() -> None:
    one = _result({})
    other = _result({"HT-AUDIT-01": Outcome.NOT_CHECKABLE})
    hosts = (one.hosts[0], HostResult("aio2", "podman://hatang-aio-aio2", other.hosts[0].controls))
    covered = coverage(AuditResult("aio", one.profile, one.catalogue_version, hosts, one.started, one.finished))
    level3 = covered["levels"][2]
    assert next(e for e in level3["checked"] if e["control"] == "HT-AUDIT-01")["hosts"] == ["aio1"]
    assert level3["not_checkable"] == [
        {"control": "HT-AUDIT-01", "hosts": ["aio2"], "why": "why", "approved_by": None, "until": None}
    ]
    assert next(e for e in level3["checked"] if e["control"] == "HT-SSH-03")["hosts"] == ["aio1", "aio2"]


def test_coverage_unreachable_host_runs_nothing() -> None:
    covered = coverage(_result({}, error="unreachable (podman://x): no such container"))
    assert covered["totals"]["checked"] == 0 and covered["totals"]["error"] == 63
    assert covered["levels"][0]["error"][0] == {
        "control": "HT-SSH-01", "hosts": [], "why": "not run: aio1: unreachable (podman://x): no such container",
        "approved_by": None, "until": None,
    }  # fmt: skip


def test_coverage_cloud_audit_lists_what_the_catalogue_does_not_automate() -> None:
    catalogue = load_catalogue()
    profile = catalogue.profile(PROFILE)
    controls = tuple(control_outcome(c, {}, None) for c in profile.controls_in(Scope.CLOUD))
    cloud = HostResult("cloud", "openstack://aio", controls)
    covered = coverage(AuditResult("aio", profile, catalogue.version, (cloud,), "s", "f"))
    assert covered["scope"] == "cloud"
    backup = catalogue.control("HC-BAK-01")
    assert covered["levels"][1]["not_automated"] == [
        {"control": "HC-BAK-01", "hosts": ["cloud"], "why": backup.notes, "approved_by": None, "until": None}
    ]
    assert {e["why"] for lv in covered["levels"] for e in lv["other_audit"]} == {"hatang audit hosts"}


@pytest.mark.parametrize(
    ("lang", "waived"),
    [
        ("en", '<a href="#HT-PKG-01">HT-PKG-01</a>: mirror not in service (ticket DC-1) — approved by: head of the '
               "DC; until: 2027-01-31"),
        ("vi", '<a href="#HT-PKG-01">HT-PKG-01</a>: mirror not in service (ticket DC-1) — người phê duyệt: head of '
               "the DC; đến ngày: 2027-01-31"),
    ],
)  # fmt: skip
def test_html_report_header_says_what_the_audit_covers(lang: str, waived: str) -> None:
    html = render_html(_result({"HT-AUDIT-01": Outcome.NOT_CHECKABLE}, {"HT-PKG-01": WAIVER}), lang)
    header = html.split('<h2 id="coverage">')[1].split("<h2>")[0]
    assert waived in header
    assert '<a href="#HT-AUDIT-01">HT-AUDIT-01</a>: why' in header
    assert ", ".join(CLOUD_AT_LEVEL1) + " (hatang audit cloud)" in header
    assert html.index('id="coverage"') < html.index('id="HT-SSH-01"')  # in the header, before the details


def test_html_report_waiver_without_approver_says_so() -> None:
    waiver = Waiver("HT-PKG-01", False, "mirror not in service (ticket DC-1)")
    html = render_html(_result({}, {"HT-PKG-01": waiver}), "en")
    assert "(ticket DC-1) — approved by: not recorded; until: not recorded" in html


def test_junit_coverage_suite() -> None:
    root = ET.fromstring(render_junit(_result({"HT-AUDIT-01": Outcome.NOT_CHECKABLE}, {"HT-PKG-01": WAIVER})))
    suite = root.findall("testsuite")[-1]
    assert (suite.get("name"), suite.get("tests")) == ("coverage", "0")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["regime"], props["level"]) == ("old", "3")
    assert (props["coverage.not_checkable"], props["coverage.waived"], props["coverage.not_automated"]) == (
        "HT-AUDIT-01", "HT-PKG-01", "",
    )  # fmt: skip
    assert props["coverage.other_audit"].split(",")[:3] == ["HC-BAK-01", "HC-DRIFT-01", "HC-ID-01"]
    assert len(props["coverage.checked"].split(",")) == 61


def test_write_reports_evidence_carries_the_coverage(tmp_path: Path) -> None:
    result = _result({"HT-AUDIT-01": Outcome.NOT_CHECKABLE}, {"HT-PKG-01": WAIVER})
    evidence = json.loads(write_reports(result, tmp_path)["json"].read_text(encoding="utf-8"))
    assert evidence["coverage"] == coverage(result)
