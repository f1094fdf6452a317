"""The audit's verdict (issue 15): nothing failed but some controls not checked is "compliant for
what was checked", never plain "Compliant" — in the model, the exit code, the terminal, the JSON
evidence, the JUnit XML, both HTML reports and the site report that reads the evidence."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import infra.audit
import infra.audit.cloud
from infra.audit import UNCHECKED, AuditResult, CheckResult, HostResult, Outcome, Verdict, judge
from infra.audit._model import control_outcome
from infra.audit.cloud import CloudAuditResult, Drift
from infra.audit.report import messages, render_html, render_junit, verdict_label, write_reports
from infra.catalogue import Scope, Waiver, load_catalogue
from infra.cli import app
from infra.reports import Format, Kind, build_report, render
from infra.reports.compliance import read_evidence
from tests.conftest import SAMPLE

PROFILE = "old-level3"
IN_A_CONTAINER = ["HT-AUDIT-01", "HT-AUDIT-02", "HT-AUDIT-03", "HT-AUDIT-04", "HT-FILE-04", "HT-KMOD-01", "HT-NET-07"]
"""What a test-host container cannot show: 56 passed and 7 not checkable."""

runner = CliRunner()


def _host(name: str, outcomes: dict[str, Outcome], default: Outcome = Outcome.PASS) -> HostResult:
    catalogue = load_catalogue()
    controls = catalogue.profile(PROFILE).controls_in(Scope.HOST)
    checks = {
        cid: CheckResult(cid, outcomes.get(c.id, default), "seen", "wanted", f"why {c.id}")
        for c in controls
        for cid in c.checks
    }
    return HostResult(name, f"podman://hatang-aio-{name}", tuple(control_outcome(c, checks, None) for c in controls))


def _result(*hosts: HostResult, strict: bool = False) -> AuditResult:
    catalogue = load_catalogue()
    return AuditResult("aio", catalogue.profile(PROFILE), catalogue.version, hosts, "2026-11-28T17:00:00+00:00",
                       "2026-11-28T17:00:20+00:00", instruments=catalogue.instruments, strict=strict)  # fmt: skip


def _unchecked_host() -> HostResult:
    return _host("aio1", dict.fromkeys(IN_A_CONTAINER, Outcome.NOT_CHECKABLE))


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        ([Outcome.PASS, Outcome.PASS], Verdict.COMPLIANT),
        ([Outcome.PASS, Outcome.NOT_APPLICABLE], Verdict.COMPLIANT),  # nothing to establish
        ([Outcome.PASS, Outcome.NOT_CHECKABLE], Verdict.COMPLIANT_WITH_UNCHECKED),
        ([Outcome.PASS, Outcome.MANUAL], Verdict.COMPLIANT_WITH_UNCHECKED),
        ([Outcome.PASS, Outcome.WAIVED], Verdict.COMPLIANT_WITH_UNCHECKED),
        ([Outcome.FAIL, Outcome.NOT_CHECKABLE, Outcome.PASS], Verdict.NON_COMPLIANT),
        ([Outcome.NOT_CHECKABLE, Outcome.MANUAL, Outcome.WAIVED], Verdict.NOT_VERIFIED),
        ([Outcome.NOT_APPLICABLE], Verdict.NOT_VERIFIED),
        ([], Verdict.NOT_VERIFIED),
        ([Outcome.FAIL, Outcome.ERROR], Verdict.ERROR),
    ],
)
def test_judge(outcomes: list[Outcome], verdict: Verdict) -> None:
    assert judge(outcomes) is verdict


def test_judge_host_error_and_findings() -> None:
    assert judge([Outcome.PASS], error=True) is Verdict.ERROR
    assert judge([Outcome.PASS, Outcome.NOT_CHECKABLE], findings=True) is Verdict.NON_COMPLIANT
    assert judge([], findings=True) is Verdict.NON_COMPLIANT  # a finding was established


def test_unchecked_outcomes() -> None:
    assert {Outcome.NOT_CHECKABLE, Outcome.MANUAL, Outcome.WAIVED} == UNCHECKED
    assert not {Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.NOT_APPLICABLE} & UNCHECKED


@pytest.mark.parametrize(
    ("verdict", "normal", "strict"),
    [
        (Verdict.COMPLIANT, 0, 0),
        (Verdict.COMPLIANT_WITH_UNCHECKED, 0, 1),
        (Verdict.NON_COMPLIANT, 1, 1),
        (Verdict.NOT_VERIFIED, 2, 2),
        (Verdict.ERROR, 2, 2),
    ],
)
def test_verdict_exit_codes(verdict: Verdict, normal: int, strict: bool) -> None:
    assert (verdict.exit_code(), verdict.exit_code(strict=True)) == (normal, strict)


# --------------------------------------------------------------------------- an audit's verdict


def test_all_pass_is_compliant() -> None:
    result = _result(_host("aio1", {}))
    assert (result.verdict, result.exit_code, result.compliant) == (Verdict.COMPLIANT, 0, True)
    assert result.unchecked_controls() == []
    assert replace(result, strict=True).exit_code == 0


def test_pass_and_unchecked_is_compliant_for_what_was_checked() -> None:
    result = _result(_unchecked_host())
    assert sum(c.outcome is Outcome.PASS for c in result.hosts[0].controls) == 56
    assert result.verdict is Verdict.COMPLIANT_WITH_UNCHECKED
    assert result.compliant is False
    assert result.unchecked_controls() == IN_A_CONTAINER == result.hosts[0].unchecked_controls()
    assert result.exit_code == 0
    assert replace(result, strict=True).exit_code == 1


def test_fail_and_unchecked_is_non_compliant() -> None:
    result = _result(_host("aio1", {"HT-SSH-01": Outcome.FAIL, "HT-AUDIT-01": Outcome.NOT_CHECKABLE}))
    assert (result.verdict, result.exit_code) == (Verdict.NON_COMPLIANT, 1)
    assert result.unchecked_controls() == ["HT-AUDIT-01"] and result.failed_controls() == ["HT-SSH-01"]


def test_all_unchecked_is_never_compliant() -> None:
    result = _result(_host("aio1", {}, default=Outcome.NOT_CHECKABLE))
    assert result.verdict is Verdict.NOT_VERIFIED
    assert (result.exit_code, replace(result, strict=True).exit_code) == (2, 2)
    assert result.compliant is False
    manual = replace(
        result.hosts[0], controls=tuple(replace(c, outcome=Outcome.MANUAL) for c in result.hosts[0].controls)
    )
    assert _result(manual).verdict is Verdict.NOT_VERIFIED


@pytest.mark.parametrize("outcome", [Outcome.MANUAL, Outcome.WAIVED, Outcome.NOT_APPLICABLE])
def test_a_check_reporting_anything_but_pass_does_not_pass_its_control(outcome: Outcome) -> None:
    control = load_catalogue().control("HT-SSH-01")
    checks = {"sshd_root_login_disabled": CheckResult("sshd_root_login_disabled", outcome)}
    assert control_outcome(control, checks, None).outcome is Outcome.NOT_CHECKABLE


def test_all_waived_is_not_verified() -> None:
    catalogue = load_catalogue()
    controls = catalogue.profile(PROFILE).controls_in(Scope.HOST)
    waived = tuple(control_outcome(c, {}, Waiver(c.id, False, "not yet")) for c in controls)
    result = _result(HostResult("aio1", "podman://x", waived))
    assert result.verdict is Verdict.NOT_VERIFIED and len(result.unchecked_controls()) == len(controls)


def test_empty_audit_is_not_verified() -> None:
    assert (_result().verdict, _result().exit_code) == (Verdict.NOT_VERIFIED, 2)
    no_controls = _result(HostResult("aio1", "podman://x", ()))
    assert (no_controls.verdict, no_controls.exit_code) == (Verdict.NOT_VERIFIED, 2)


def test_worst_host_decides() -> None:
    clean, partial = _host("aio1", {}), replace(_unchecked_host(), name="aio2")
    assert _result(clean, partial).verdict is Verdict.COMPLIANT_WITH_UNCHECKED
    assert _result(clean, partial).unchecked_controls("aio1") == []
    nothing = _host("aio3", {}, default=Outcome.NOT_CHECKABLE)
    assert _result(clean, nothing).verdict is Verdict.NOT_VERIFIED
    failing = _host("aio4", {"HT-SSH-01": Outcome.FAIL})
    assert _result(partial, failing).verdict is Verdict.NON_COMPLIANT
    down = HostResult("aio5", "podman://x", (), "unreachable")
    assert (_result(clean, down).verdict, _result(clean, down).exit_code) == (Verdict.ERROR, 2)


# --------------------------------------------------------------------------- the cloud audit


def _cloud(drift: tuple[Drift, ...] = (), waive: bool = False) -> CloudAuditResult:
    catalogue = load_catalogue()
    profile = catalogue.profile(PROFILE)
    controls = profile.controls_in(Scope.CLOUD)
    checks = {cid: CheckResult(cid, Outcome.PASS) for c in controls for cid in c.checks}
    outcomes = tuple(control_outcome(c, checks, Waiver(c.id, False, "later") if waive else None) for c in controls)
    host = HostResult("hatang-aio", "https://10.0.0.1:5000/v3", outcomes)
    return CloudAuditResult("aio", profile, catalogue.version, (host,), "2026-11-28T17:00:00+00:00",
                            "2026-11-28T17:00:09+00:00", instruments=catalogue.instruments, drift=drift)  # fmt: skip


def test_cloud_with_manual_controls_is_compliant_for_what_was_checked() -> None:
    result = _cloud()
    manual = sorted(c.control.id for c in result.hosts[0].controls if c.outcome is Outcome.MANUAL)
    assert manual, "the profile's manual cloud controls are what makes this case"
    assert (result.verdict, result.exit_code) == (Verdict.COMPLIANT_WITH_UNCHECKED, 0)
    assert result.unchecked_controls() == manual
    assert replace(result, strict=True).exit_code == 1
    data = result.to_dict()
    assert (data["tool"], data["result"], data["verdict"]["unchecked_controls"]) == (
        "hatang audit cloud", "compliant_with_unchecked", manual,
    )  # fmt: skip


def test_cloud_drift_is_a_finding_even_when_nothing_was_checked() -> None:
    drift = (Drift("so-yte", "project", "missing"),)
    assert (_cloud(drift).verdict, _cloud(drift).exit_code) == (Verdict.NON_COMPLIANT, 1)
    assert (_cloud(waive=True).verdict, _cloud(waive=True).exit_code) == (Verdict.NOT_VERIFIED, 2)
    assert _cloud(drift, waive=True).verdict is Verdict.NON_COMPLIANT
    assert replace(_cloud(drift), hosts=(HostResult("aio", "x", (), "unreachable"),)).verdict is Verdict.ERROR


# --------------------------------------------------------------------------- JSON


def test_json_evidence_carries_the_verdict(tmp_path: Path) -> None:
    paths = write_reports(_result(_unchecked_host()), tmp_path / "partial")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert (data["result"], data["exit_code"]) == ("compliant_with_unchecked", 0)
    verdict = data["verdict"]
    assert verdict["status"] == "compliant_with_unchecked" and verdict["compliant"] is False
    assert (verdict["unchecked"], verdict["unchecked_controls"]) == (len(IN_A_CONTAINER), IN_A_CONTAINER)
    assert (verdict["passed_results"], verdict["failed_results"], verdict["unchecked_results"]) == (56, 0, 7)
    assert verdict["strict"] is False and verdict["hosts"] == {"aio1": "compliant_with_unchecked"}
    host = data["hosts"][0]
    assert (host["verdict"], host["unchecked_controls"]) == ("compliant_with_unchecked", IN_A_CONTAINER)


def test_json_evidence_strict_and_fully_compliant(tmp_path: Path) -> None:
    strict = json.loads(write_reports(_result(_unchecked_host(), strict=True), tmp_path / "s")["json"].read_text())
    assert (strict["result"], strict["exit_code"], strict["verdict"]["strict"]) == ("compliant_with_unchecked", 1, True)
    clean = json.loads(write_reports(_result(_host("aio1", {})), tmp_path / "c")["json"].read_text())
    assert (clean["result"], clean["exit_code"]) == ("compliant", 0)
    assert clean["verdict"]["compliant"] is True and clean["verdict"]["unchecked_controls"] == []
    nothing = json.loads(write_reports(_result(), tmp_path / "n")["json"].read_text())
    assert (nothing["result"], nothing["exit_code"], nothing["verdict"]["compliant"]) == ("not_verified", 2, False)


# --------------------------------------------------------------------------- JUnit


def _suite(xml: str) -> ET.Element:
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    return suite


def _suite_properties(suite: ET.Element) -> dict[str, str | None]:
    props = suite.find("properties")
    assert props is not None
    return {p.get("name") or "": p.get("value") for p in props.findall("property")}


def test_junit_unchecked_controls_are_skipped_with_a_message() -> None:
    suite = _suite(render_junit(_result(_unchecked_host())))
    assert suite[0].tag == "properties"  # JUnit's schema: the suite's properties come first
    assert _suite_properties(suite) == {
        "verdict": "compliant_with_unchecked",
        "audit.verdict": "compliant_with_unchecked",
        "audit.exit_code": "0",
        "unchecked": str(len(IN_A_CONTAINER)),
        "unchecked.controls": ",".join(IN_A_CONTAINER),
    }
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", str(len(IN_A_CONTAINER)))
    skipped = {}
    for case in suite.iter("testcase"):
        skip = case.find("skipped")
        if skip is not None:
            skipped[(case.get("name") or "").split()[0]] = skip.get("message") or ""
    assert sorted(skipped) == IN_A_CONTAINER
    assert skipped["HT-AUDIT-01"] == "not checked (not_checkable): why HT-AUDIT-01"


def test_junit_fully_compliant_and_nothing_verified() -> None:
    clean = _suite(render_junit(_result(_host("aio1", {}))))
    assert _suite_properties(clean)["verdict"] == "compliant" and clean.get("skipped") == "0"
    nothing = _suite(render_junit(_result(_host("aio1", {}, default=Outcome.NOT_CHECKABLE))))
    props = _suite_properties(nothing)
    assert (props["verdict"], props["audit.exit_code"], props["unchecked"]) == ("not_verified", "2", "63")


def test_junit_strict_exit_code() -> None:
    props = _suite_properties(_suite(render_junit(_result(_unchecked_host(), strict=True))))
    assert (props["audit.verdict"], props["audit.exit_code"]) == ("compliant_with_unchecked", "1")


# --------------------------------------------------------------------------- HTML


def _overall(html: str) -> str:
    match = re.search(r'<td id="verdict"[^>]*>(.*?)</td>', html, re.S)
    assert match, "no overall verdict cell"
    return match.group(0)


@pytest.mark.parametrize(
    ("lang", "label", "not_checked"),
    [("en", "Compliant for what was checked", "7 not checked"), ("vi", "Tuân thủ đối với các nội dung đã kiểm tra",
                                                                  "7 chưa kiểm tra")],
)  # fmt: skip
def test_html_shows_the_verdict_not_the_green_badge(lang: str, label: str, not_checked: str) -> None:
    html = render_html(_result(_unchecked_host()), lang)
    overall = _overall(html)
    assert 'class="badge verdict-compliant_with_unchecked"' in overall and label in overall
    assert 'data-verdict="compliant_with_unchecked"' in overall and f'data-unchecked="{len(IN_A_CONTAINER)}"' in overall
    assert not_checked in overall
    assert all(f'href="#{cid}"' in overall for cid in IN_A_CONTAINER)
    assert 'verdict-compliant"' not in html  # no green compliant badge anywhere
    assert f">{verdict_label(Verdict.COMPLIANT, lang)}<" not in html
    per_host = html.split(messages()["per_host"][lang])[1].split("<h2>")[0]
    assert "badge verdict-compliant_with_unchecked" in per_host and 'class="badge pass"' not in per_host


def test_html_amber_is_not_green() -> None:
    html = render_html(_result(_unchecked_host()), "en")

    def rule(cls: str) -> str:
        match = re.search(rf"\.{cls} \{{([^}}]*)\}}", html)
        assert match, cls
        return match.group(1)

    amber, green = rule("verdict-compliant_with_unchecked"), rule("verdict-compliant")
    assert amber != green and "background" in amber
    assert amber not in rule("pass")


def test_html_compliant_and_not_verified() -> None:
    clean = _overall(render_html(_result(_host("aio1", {})), "en"))
    assert 'class="badge verdict-compliant"' in clean and ">Compliant<" in clean and "not checked" not in clean
    nothing = _overall(render_html(_result(_host("aio1", {}, default=Outcome.NOT_CHECKABLE)), "en"))
    assert 'class="badge verdict-not_verified"' in nothing and "Not verified: nothing could be checked" in nothing
    assert "63 not checked" in nothing


def test_html_strict_note() -> None:
    assert "--strict" in render_html(_result(_unchecked_host(), strict=True), "en")
    assert "--strict" not in render_html(_result(_unchecked_host()), "en")


def test_every_verdict_has_its_own_label_in_both_languages() -> None:
    for lang in ("en", "vi"):
        labels = [verdict_label(v, lang) for v in Verdict]
        assert len(set(labels)) == len(Verdict), labels
    assert {f"verdict_{v.value}" for v in Verdict} | {"unchecked_count", "strict_note"} <= set(messages())


# --------------------------------------------------------------------------- the site report


def test_site_report_reads_the_unchecked_controls(tmp_path: Path) -> None:
    paths = write_reports(_result(_unchecked_host()), tmp_path)
    compliance, problems = read_evidence(paths["json"])
    assert problems == [] and compliance.result == "compliant_with_unchecked"
    assert compliance.unchecked == tuple(IN_A_CONTAINER)
    report = build_report(SAMPLE, Kind.SITE, evidence=paths["json"], with_history=False)
    md = render(report, Format.MD, "en")
    assert f"Not checked ({len(IN_A_CONTAINER)}): {', '.join(IN_A_CONTAINER)}." in md
    assert f"Chưa kiểm tra ({len(IN_A_CONTAINER)}): HT-AUDIT-01" in render(report, Format.MD, "vi")
    html = render(report, Format.HTML, "en")
    assert '<p class="verdict warn">' in html and '<p class="verdict good">' not in html
    assert ".verdict.warn {" in html


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def fake_audit(monkeypatch: pytest.MonkeyPatch) -> dict[str, AuditResult]:
    """`hatang audit hosts` with a recorded result instead of hosts: {"result": ...} is returned."""
    canned: dict[str, AuditResult] = {}
    monkeypatch.setattr(infra.audit, "run_audit", lambda *a, **k: canned["result"])
    return canned


def _hosts(aio: Path, out: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    result = runner.invoke(
        app, ["audit", "hosts", "-i", str(aio), "-p", PROFILE, "-c", "podman", "--out", str(out), *extra]
    )
    evidence = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    return result.exit_code, " ".join(result.output.split()), evidence


def test_cli_compliant_with_unchecked_exit_0_or_1_strict(
    aio_copy: Path, tmp_path: Path, fake_audit: dict[str, AuditResult]
) -> None:
    fake_audit["result"] = _result(_unchecked_host())
    code, output, evidence = _hosts(aio_copy, tmp_path / "a")
    assert code == 0 and evidence["exit_code"] == 0
    assert "aio1: compliant_with_unchecked (not_checkable 7, pass 56)" in output
    assert f"not checked: {', '.join(IN_A_CONTAINER)}" in output
    assert (
        f"verdict: Compliant for what was checked; 7 not checked: {', '.join(IN_A_CONTAINER)} "
        "(exit 0; with --strict: exit 1)"
    ) in output
    code, output, evidence = _hosts(aio_copy, tmp_path / "b", "--strict")
    assert code == 1 and evidence["exit_code"] == 1 and evidence["verdict"]["strict"] is True
    assert "7 not checked" in output and "(exit 1)" in output


@pytest.mark.parametrize(
    ("host", "code", "words"),
    [
        (lambda: _host("aio1", {}), 0, "verdict: Compliant (exit 0)"),
        (lambda: _host("aio1", {"HT-SSH-01": Outcome.FAIL, "HT-AUDIT-01": Outcome.NOT_CHECKABLE}), 1,
         "verdict: Non-compliant (exit 1)"),
        (lambda: _host("aio1", {}, default=Outcome.NOT_CHECKABLE), 2,
         "verdict: Not verified: nothing could be checked (exit 2)"),
    ],
    ids=["compliant", "non_compliant", "not_verified"],
)  # fmt: skip
def test_cli_exit_codes(
    aio_copy: Path, tmp_path: Path, fake_audit: dict[str, AuditResult], host: Any, code: int, words: str
) -> None:
    fake_audit["result"] = _result(host())
    got, output, evidence = _hosts(aio_copy, tmp_path / "o", "--strict")
    assert (got, evidence["exit_code"]) == (code, code)
    assert words in output


def test_cli_cloud_compliant_with_unchecked(aio_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Conn:
        def close(self) -> None:
            pass

    monkeypatch.setattr(infra.audit.cloud, "connect", lambda *a, **k: Conn())
    monkeypatch.setattr(infra.audit.cloud, "run_cloud_audit", lambda *a, **k: _cloud())
    argv = ["audit", "cloud", "--cloud", "x", "-i", str(aio_copy), "-p", PROFILE, "--out", str(tmp_path)]
    relaxed = runner.invoke(app, argv)
    assert relaxed.exit_code == 0, relaxed.output
    assert "hatang-aio: compliant_with_unchecked" in relaxed.output
    assert "verdict: Compliant for what was checked; 2 not checked" in " ".join(relaxed.output.split())
    strict = runner.invoke(app, [*argv, "--strict"])
    assert strict.exit_code == 1
    assert json.loads((tmp_path / "evidence.json").read_text())["verdict"]["strict"] is True


@pytest.mark.parametrize("command", ["hosts", "cloud"])
def test_help_documents_strict_and_the_exit_codes(command: str) -> None:
    text = " ".join(runner.invoke(app, ["audit", command, "--help"], terminal_width=200).output.split())
    assert "--strict" in text
    assert "compliant for what was checked" in text
    assert "(exit 1 with --strict)" in text and "nothing verified" in text
