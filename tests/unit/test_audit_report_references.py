"""How the audit evidence shows a control's references: a cited clause with its level and title,
or why no clause is cited (the gap and its note), in the JSON, the HTML in both languages and the
JUnit properties; for the host and the cloud audit alike."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest

from infra.audit import AuditResult, CheckResult, HostResult, Outcome
from infra.audit._model import control_outcome
from infra.audit.cloud import CloudAuditResult
from infra.audit.report import messages, render_html, render_junit, write_reports
from infra.catalogue import Reference, Scope, load_catalogue
from infra.catalogue._models import Gap

PROFILE = "old-level3"
CONTROL = "HT-SSH-01"
SOURCE = "docs/standards.md#tcvn-11930-2017"
TCVN = "tcvn-11930-2017"
REFERENCES = (
    Reference(TCVN, "5.1.1", "confirmed", SOURCE, level=1, title="level 1: setting a security policy"),
    Reference(TCVN, None, "confirmed", SOURCE, gap="not-read", note="the server requirements' numbers"),
    Reference(TCVN, None, "confirmed", SOURCE, gap="not-covered", note="no level asks for <this>"),
    Reference("decree-85-2016", None, "confirmed", "docs/standards.md#decree-85-2016"),
)
"""A clause with level and title, both gaps (one note needing escaping), and a bare null clause."""


def _result(references: tuple[Reference, ...] = REFERENCES, scope: Scope = Scope.HOST) -> AuditResult:
    """An audit of the profile's `scope` controls, all passing, where CONTROL cites `references`."""
    catalogue = load_catalogue()
    profile = catalogue.profile(PROFILE)
    controls = tuple(replace(c, references=references) if c.id == CONTROL else c for c in profile.controls)
    profile = replace(profile, controls=controls)
    checks = {cid: CheckResult(cid, Outcome.PASS) for c in controls for cid in c.checks}
    results = tuple(control_outcome(c, checks, None) for c in profile.controls_in(scope))
    if scope is Scope.CLOUD:
        cloud = HostResult("cloud", "openstack://aio", results)
        return CloudAuditResult("aio", profile, catalogue.version, (cloud,), "s", "f",
                                instruments=catalogue.instruments)  # fmt: skip
    host = HostResult("aio1", "podman://hatang-aio-aio1", results)
    return AuditResult("aio", profile, catalogue.version, (host,), "s", "f", instruments=catalogue.instruments)


def _section(html: str, control: str = CONTROL) -> str:
    """The control's part of the HTML report, entities decoded."""
    return unescape(html.split(f'<div class="control" id="{control}">')[1].split('<div class="control"')[0])


# --------------------------------------------------------------------------- JSON


def test_evidence_references_carry_level_title_gap_note(tmp_path: Path) -> None:
    evidence = json.loads(write_reports(_result(), tmp_path)["json"].read_text(encoding="utf-8"))
    control = next(c for c in evidence["hosts"][0]["controls"] if c["control_id"] == CONTROL)
    assert control["references"] == [
        {"type": TCVN, "clause": "5.1.1", "status": "confirmed", "source": SOURCE, "level": 1,
         "title": "level 1: setting a security policy", "gap": None, "note": None},
        {"type": TCVN, "clause": None, "status": "confirmed", "source": SOURCE, "level": None, "title": None,
         "gap": "not-read", "note": "the server requirements' numbers"},
        {"type": TCVN, "clause": None, "status": "confirmed", "source": SOURCE, "level": None, "title": None,
         "gap": "not-covered", "note": "no level asks for <this>"},
        {"type": "decree-85-2016", "clause": None, "status": "confirmed", "source": "docs/standards.md#decree-85-2016",
         "level": None, "title": None, "gap": None, "note": None},
    ]  # fmt: skip


def test_evidence_cloud_audit_references_carry_the_mapping(tmp_path: Path) -> None:
    result = _result(scope=Scope.CLOUD)
    evidence = json.loads(write_reports(result, tmp_path)["json"].read_text(encoding="utf-8"))
    assert evidence["tool"] == "hatang audit cloud"
    keys = {"type", "clause", "status", "source", "level", "title", "gap", "note"}
    references = [r for c in evidence["hosts"][0]["controls"] for r in c["references"]]
    assert references and all(set(r) == keys for r in references)
    assert all(set(r) == keys for r in evidence["profile"]["references"])


# --------------------------------------------------------------------------- HTML


def test_messages_every_gap_has_a_text() -> None:
    assert {f"gap_{g.value.replace('-', '_')}" for g in Gap} <= set(messages())


@pytest.mark.parametrize(
    ("lang", "cited", "not_read", "not_covered", "unknown"),
    [
        (
            "en",
            "TCVN 11930:2017 basic security requirements for information systems by level: 5.1.1 (level 1) — "
            'level 1: setting a security policy <span class="confirmed">(confirmed)</span>',
            "TCVN 11930:2017 basic security requirements for information systems by level: <span class=\"gap\">"
            "clause number not read in the standard's text</span> — the server requirements' numbers <span",
            '<span class="gap">no clause of the standard requires it</span> — no level asks for <this> <span',
            "clause not identified",
        ),
        (
            "vi",
            "TCVN 11930:2017 Yêu cầu cơ bản về an toàn hệ thống thông tin theo cấp độ: 5.1.1 (cấp độ 1) — "
            'level 1: setting a security policy <span class="confirmed">(đã xác nhận)</span>',
            "TCVN 11930:2017 Yêu cầu cơ bản về an toàn hệ thống thông tin theo cấp độ: <span class=\"gap\">"
            "chưa đọc được số điều khoản trong văn bản tiêu chuẩn</span> — the server requirements' numbers <span",
            '<span class="gap">tiêu chuẩn không có điều khoản tương ứng</span> — no level asks for <this> <span',
            "chưa xác định điều khoản",
        ),
    ],
)  # fmt: skip
def test_html_report_shows_clause_level_title_and_gaps(
    lang: str, cited: str, not_read: str, not_covered: str, unknown: str
) -> None:
    html = render_html(_result(), lang)
    section = _section(html)
    assert cited in section
    assert not_read in section and not_covered in section
    assert section.count(unknown) == 1  # only the bare null clause: a gap says why instead
    assert "no level asks for &lt;this&gt;" in html  # the note is escaped


def test_html_report_gap_without_note() -> None:
    refs = (Reference(TCVN, None, "confirmed", SOURCE, gap="not-read"),)
    section = _section(render_html(_result(refs), "en"))
    assert '<span class="gap">clause number not read in the standard\'s text</span> <span' in section


def test_html_report_clause_without_level_or_title() -> None:
    refs = (Reference("circular-12-2022", "Art. 10", "confirmed", SOURCE),)
    section = _section(render_html(_result(refs), "vi"))
    assert ': Điều 10 <span class="confirmed">' in section


# --------------------------------------------------------------------------- JUnit


def test_junit_references_clause_level_gap_null() -> None:
    root = ET.fromstring(render_junit(_result()))
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith(f"{CONTROL} "))
    props = [(p.get("name"), p.get("value")) for p in case.iter("property")]
    assert props == [
        ("ref.tcvn-11930-2017", "5.1.1"),
        ("ref.tcvn-11930-2017.level", "1"),
        ("ref.tcvn-11930-2017", "gap:not-read"),
        ("ref.tcvn-11930-2017", "gap:not-covered"),
        ("ref.decree-85-2016", "null"),
    ]
