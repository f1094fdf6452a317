"""Rendering: the same figures in HTML, Markdown and JSON; one catalogue for both languages."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract
from typer.testing import CliRunner

from infra.cli import app
from infra.reports import Format, Kind, build_report, render, to_data
from infra.reports.i18n import LOCALE_DIR, messages
from tests.helpers import edit_yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventories" / "thainguyen"
REPORTS = REPO / "infra" / "reports"
NOW = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
runner = CliRunner()


def _extracted() -> set[str]:
    ids: set[str] = set()
    for path in sorted(REPORTS.glob("*.py")):
        for _line, message, _comments, _context in extract_from_file(
            "python", path, keywords={"gettext": None, "N_": None}
        ):
            ids.add(message if isinstance(message, str) else message[0])
    for path in sorted((REPORTS / "templates").glob("*.j2")):
        for _line, message, _comments, _context in extract_from_file(
            babel_extract, path, options={"extensions": "jinja2.ext.i18n", "trim_blocks": "true"}
        ):
            ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_catalogue_translates_every_text() -> None:
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "hatang.po").open("rb") as stream:
        catalog = read_po(stream)
    translated = {m.id for m in catalog if m.id and m.string}
    used = _extracted()
    assert len(used) > 100
    assert sorted(used - translated) == []
    assert sorted({m.id for m in catalog if m.id} - used) == []  # no stale entries


def test_numbers_and_dates_per_language() -> None:
    vi, en = messages("vi"), messages("en")
    assert (vi.pct(11 / 17), en.pct(11 / 17)) == ("64,7%", "64.7%")
    assert (vi.num(96000), en.num(96000)) == ("96.000", "96,000")
    assert (vi.date(NOW), en.date(NOW)) == ("28 tháng 11, 2026", "November 28, 2026")
    assert (vi.month(NOW), en.month(NOW)) == ("tháng 11 năm 2026", "November 2026")


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'; use one of: vi, en"):
        messages("fr")


@pytest.fixture(scope="module")
def site_report() -> object:
    return build_report(SAMPLE, Kind.SITE, now=NOW, with_history=False)


def test_json_carries_the_figures(site_report: object) -> None:
    data = json.loads(render(site_report, Format.JSON))  # type: ignore[arg-type]
    assert data["adoption"]["overall"] == {
        "total": 17, "province": 11, "domestic": 12,
        "province_share": pytest.approx(11 / 17), "domestic_share": pytest.approx(12 / 17),
    }
    vcpu = data["capacity"]["resources"][0]
    assert (vcpu["resource"], vcpu["capacity"], vcpu["used"], vcpu["reserved"], vcpu["free"], vcpu["pending"]) == (
        "vcpu", 1984, 730, 50, 1204, 40)
    assert len(data["site"]["zones"]) == 8 and len(data["site"]["flows"]) == 17
    assert data["problems"] == []
    assert data == to_data(site_report)  # type: ignore[arg-type]


def test_markdown_in_both_languages_from_one_template(site_report: object) -> None:
    vi = render(site_report, Format.MD, "vi")  # type: ignore[arg-type]
    en = render(site_report, Format.MD, "en")  # type: ignore[arg-type]
    assert "**70,6%** trên đám mây trong nước (chỉ tiêu mục II.3): 12 trên 17 ứng dụng" in vi
    assert "**70.6%** on any domestic cloud (the §II.3 figure): 12 of 17 applications" in en
    assert "| vCPU | 1.984 | 730 | 50 | 1.204 | 40 |" in vi
    assert "| vCPU | 1,984 | 730 | 50 | 1,204 | 40 |" in en


def test_html_is_self_contained_with_charts(site_report: object) -> None:
    html = render(site_report, Format.HTML, "vi")  # type: ignore[arg-type]
    charts = re.findall(r'<svg data-chart="([a-z]+)"', html)
    assert charts == ["progress", "hosting", "capacity", "demand", "zones", "flows"]
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert 'id="share-domestic"><div class="value">70,6%' in html


def test_adoption_report_has_no_capacity_section() -> None:
    report = build_report(SAMPLE, Kind.ADOPTION, now=NOW, with_history=False)
    data = to_data(report)
    assert "adoption" in data and "capacity" not in data
    html = render(report, Format.HTML, "en")
    assert re.findall(r'<svg data-chart="([a-z]+)"', html) == ["progress", "hosting"]


def test_unknown_owner_is_a_data_problem_in_report_and_stderr(
    site_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(site_copy.parent)

    def change(document: object) -> None:
        document["applications"][0]["owner"] = "nobody"  # type: ignore[index]

    edit_yaml(site_copy, "applications.yml", change)
    out = tmp_path / "a.json"
    result = runner.invoke(app, ["report", "adoption", str(site_copy), "-f", "json", "-o", str(out), "--no-history"])
    assert result.exit_code == 0, result.output
    message = "thainguyen/applications.yml:7: applications.0.owner: unknown owner agency 'nobody'"
    assert f"data problem: {message}" in result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert any(p.startswith(message) for p in data["problems"])
    assert data["adoption"]["by_kind"]["unknown"]["total"] == 1
    strict = runner.invoke(app, ["report", "adoption", str(site_copy), "-o", str(out), "--no-history", "--strict"])
    assert strict.exit_code == 1


def test_cli_writes_default_path_and_prints_it(
    site_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", "capacity", str(site_copy), "-f", "md", "--lang", "en", "--no-history"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "reports/thainguyen-capacity-en.md"
    assert "| Volumes (GB) | 96,000 | 60,000 | 4,000 | 32,000 | 2,000 |" in (
        tmp_path / "reports" / "thainguyen-capacity-en.md").read_text(encoding="utf-8")


def test_cli_bad_inventory_and_language_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["report", "site", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such inventory folder" in missing.stderr
    lang = runner.invoke(app, ["report", "site", str(SAMPLE), "--lang", "fr"])
    assert lang.exit_code == 2 and "unknown language 'fr'; use one of: vi, en" in lang.stderr


def test_evidence_unknown_format_degrades(tmp_path: Path) -> None:
    evidence = tmp_path / "e.json"
    evidence.write_text('{"something": "else"}', encoding="utf-8")
    report = build_report(SAMPLE, Kind.SITE, evidence=evidence, now=NOW, with_history=False)
    assert report.compliance is not None and not report.compliance.recognised
    assert [p.message for p in report.problems] == ["audit evidence format not recognised; compliance not shown"]
    assert "Không đọc được tệp bằng chứng kiểm tra" in render(report, Format.HTML, "vi")


def test_evidence_of_hatang_audit_is_summarised(tmp_path: Path) -> None:
    evidence = tmp_path / "e.json"
    evidence.write_text(json.dumps({
        "tool": "hatang audit hosts", "result": "non_compliant",
        "hosts": [
            {"name": "ctl01", "result": "fail", "controls": [
                {"control_id": "HOST-SSH-01", "title": {"en": "SSH hardened", "vi": "SSH an toàn"}, "result": "fail"},
                {"control_id": "HOST-NTP-01", "title": {"en": "Time", "vi": "Thời gian"}, "result": "pass"}]},
            {"name": "cmp01", "result": "pass", "controls": [
                {"control_id": "HOST-NTP-01", "title": {"en": "Time", "vi": "Thời gian"}, "result": "pass"}]},
        ],
    }), encoding="utf-8")
    report = build_report(SAMPLE, Kind.SITE, evidence=evidence, now=NOW, with_history=False)
    assert report.compliance is not None
    assert dict(report.compliance.counts) == {"fail": 1, "pass": 2}
    assert [(f.control_id, f.hosts) for f in report.compliance.failed] == [("HOST-SSH-01", ("ctl01",))]
    html = render(report, Format.HTML, "vi")
    assert "HOST-SSH-01" in html and "SSH an toàn" in html


def test_report_problems_in_vietnamese_model_messages_stay_english(site_copy: Path) -> None:
    def change(document: object) -> None:
        document["quota_profile"] = "XXL"  # type: ignore[index]

    edit_yaml(site_copy, "tenants/so-yte.yml", change)
    report = build_report(site_copy, Kind.CAPACITY, now=NOW, with_history=False)
    vi = render(report, Format.HTML, "vi")
    assert ("profiles.yml: profiles.XXL: không xác định được gói hạn mức; các dự án dùng gói này không được "
            "tính vào số liệu năng lực") in vi
    assert "profile does not resolve" not in vi
    # infra.validate's own words stay English; the wording around them is the report's
    assert ("thainguyen/tenants/so-yte.yml:7: quota_profile: unknown quota profile &#39;XXL&#39; "
            "(cách khắc phục: use one of: L, M, S, XL)") in vi
    assert "Lỗi dữ liệu" in vi and "(không đọc lịch sử)" in vi
    en = render(report, Format.MD, "en")
    assert "profiles.yml: profiles.XXL: profile does not resolve; its tenants are left out" in en


def test_evidence_problem_in_vietnamese(tmp_path: Path) -> None:
    evidence = tmp_path / "e.json"
    evidence.write_text("{not json", encoding="utf-8")
    report = build_report(SAMPLE, Kind.SITE, evidence=evidence, now=NOW, with_history=False)
    assert report.problems[0].message.startswith("cannot read the audit evidence: ")  # English for stderr and JSON
    vi = render(report, Format.HTML, "vi")
    assert f"{evidence}: không đọc được tệp bằng chứng kiểm tra: " in vi
    assert "(cách khắc phục: hãy dùng tệp JSON do `hatang audit ... --format json` tạo ra)" in vi
    assert "cannot read" not in vi


def test_only_the_site_report_takes_evidence(tmp_path: Path) -> None:
    for kind in ("adoption", "capacity"):
        result = runner.invoke(app, ["report", kind, str(SAMPLE), "--evidence", str(tmp_path / "e.json")])
        assert result.exit_code == 2 and "No such option: --evidence" in result.output
    assert "--evidence" in runner.invoke(app, ["report", "site", "--help"]).output
