"""The git history as the record: snapshots, series and pace on a repository built by the test."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from infra.reports.build import build_report
from infra.reports.history import read_history, split_items
from infra.reports.kinds import Kind
from infra.reports.series import Source
from tests.reports.conftest import C1, C2, C3, SAMPLE, git


def test_snapshots_one_per_commit_in_order(history_site: Path) -> None:
    history = read_history(history_site)
    assert [s.at for s in history.snapshots] == [C1, C2, C2.replace(day=10), C2.replace(day=11), C3]
    assert [len(s.applications or ()) for s in history.snapshots] == [17, 17, 17, 0, 17]
    assert history.snapshots[3].applications is None  # the broken YAML commit
    assert [len(s.tenants) for s in history.snapshots] == [13, 13, 13, 13, 13]  # bad.yml left out
    assert history.snapshots[0].profiles is not None and "XL" in history.snapshots[0].profiles


def test_invalid_files_in_history_are_data_problems(history_site: Path) -> None:
    problems = read_history(history_site).problems
    assert [(p.file.split(" ")[0], p.field) for p in problems] == [
        ("inventories/tn/tenants/bad.yml", "security_level"),
        ("inventories/tn/applications.yml", ""),
    ]
    assert "(commit " in problems[0].file and ", 2026-04-10)" in problems[0].file
    assert "less than or equal to 5" in problems[0].message
    assert problems[1].message.startswith("YAML syntax error")


def test_adoption_series_and_pace_known_answers(history_site: Path) -> None:
    report = build_report(history_site, Kind.ADOPTION, now=C3)
    series = report.adoption_series
    assert series.source == Source.GIT
    bad = C2.replace(day=10)  # the bad-tenant commit measures 5 again; the broken-YAML one nothing
    assert [(p.at, round(p.value * 17)) for p in series.province] == [(C1, 0), (C2, 5), (bad, 5), (C3, 10)]
    assert [round(p.value * 17) for p in series.domestic] == [1, 6, 6, 11]
    # days x = 0, 91, 99, 182 (mean 93); applications y = 0, 5, 5, 10 (mean 5)
    # slope = sum(dx*dy) / sum(dx^2) = (93*5 + 89*5) / (93^2 + 2^2 + 6^2 + 89^2) = 910 / 16610 per day
    slope = 910 / 16610
    province = report.province_outlook
    assert province.pace_per_year == pytest.approx(slope * 365 / 17)
    assert province.reach == C3 + timedelta(days=7 / slope)  # 7 applications to go
    assert province.on_track is True  # the sample's deadline is 2027-12-31
    assert report.domestic_outlook.reach == C3 + timedelta(days=6 / slope)


def test_current_state_counts_as_a_measurement_today(history_site: Path) -> None:
    later = C3 + timedelta(days=91)
    report = build_report(history_site, Kind.ADOPTION, now=later)
    assert [round(p.value * 17) for p in report.adoption_series.province] == [0, 5, 5, 10, 10]
    assert report.adoption_series.province[-1].at == later


def test_report_lists_history_problems(history_site: Path) -> None:
    report = build_report(history_site, Kind.ADOPTION, now=C3)
    assert sum("history: the snapshot skips this file" in str(p) for p in report.problems) == 2


def test_without_git_the_report_says_so(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "tn"
    shutil.copytree(SAMPLE, site)
    history = read_history(site)
    if history.snapshots:  # tmp_path inside some repository: nothing to prove here
        pytest.fail(f"{tmp_path} is inside a git repository")
    assert history.note == "the inventory is not in a git repository: no history"


def test_repository_without_commits(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "tn"
    shutil.copytree(SAMPLE, site)
    git(tmp_path, "init", "-q", "-b", "main")
    history = read_history(site)
    assert history.snapshots == () and history.note.startswith("git log failed")


def test_tenant_history_fallback_when_git_is_too_short(history_site: Path) -> None:
    # the capacity demand is flat in git; one commit only -> the tenants' own dates are used
    repo = history_site.parent.parent
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one", when=C3)
    report = build_report(history_site, Kind.CAPACITY, now=C3)
    assert report.demand_series.source == Source.TENANT_HISTORY
    vcpu = [p.value for p in report.demand_series.points[report.usages[0].resource]]
    assert vcpu[0] == 0 and vcpu[-1] == 780


@pytest.mark.parametrize("name", ["applications.yml", "agencies.yml"])
def test_split_items_equals_whole_parse(name: str) -> None:
    text = (SAMPLE / name).read_text(encoding="utf-8")
    key = name.removesuffix(".yml")
    items = split_items(text, key)
    assert items is not None
    assert [yaml.safe_load(i)[0] for i in items] == yaml.safe_load(text)[key]


@pytest.mark.parametrize(
    "text",
    [
        "applications: []\n",
        "applications:\n",
        "other: 1\napplications:\n  - {id: a}\n",
        "applications:\n  - {id: a}\nother: 1\n",
        "applications:\n  x: 1\n",
    ],
)
def test_split_items_refuses_other_shapes(text: str) -> None:
    assert split_items(text, "applications") is None


@pytest.mark.parametrize("style", ["indented", "pyyaml"])
def test_invalid_application_in_a_commit_names_the_item(history_site: Path, style: str) -> None:
    # the sample's layout goes through the item-by-item parser, PyYAML's through the whole-file one
    repo = history_site.parent.parent
    path = history_site / "applications.yml"
    good = (SAMPLE if style == "indented" else history_site).joinpath("applications.yml").read_text(encoding="utf-8")
    path.write_text(good.replace("security_level: 3", "security_level: 9", 1), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "level 9", when=C3 + timedelta(days=1))
    path.write_text(good, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "fixed", when=C3 + timedelta(days=2))
    history = read_history(history_site)
    assert history.snapshots[-2].applications is None and len(history.snapshots[-1].applications or ()) == 17
    problem = history.problems[-1]
    assert problem.file.startswith("inventories/tn/applications.yml (commit ")
    assert (problem.field, problem.message) == (
        "applications.0.security_level", "Input should be less than or equal to 5")


def test_history_problems_in_the_report_language(history_site: Path) -> None:
    from infra.reports.rendering import render

    report = build_report(history_site, Kind.ADOPTION, now=C3)  # read in the worker: the texts travel pickled
    vi = render(report, "html", "vi")
    assert "inventories/tn/applications.yml (lần thay đổi " in vi
    assert ": lỗi cú pháp YAML: " in vi
    assert "(cách khắc phục: lịch sử: số liệu của lần thay đổi này bỏ qua tệp này)" in vi
    assert "YAML syntax error" not in vi and "(fix: " not in vi
    en = render(report, "md", "en")
    assert "(commit " in en and ": YAML syntax error: " in en
    assert "(fix: history: the snapshot skips this file)" in en


def test_history_note_in_the_report_language(tmp_path: Path) -> None:
    import shutil

    from infra.reports.rendering import render

    site = tmp_path / "tn"
    shutil.copytree(SAMPLE, site)
    vi = render(build_report(site, Kind.ADOPTION), "html", "vi")
    assert "(bộ dữ liệu trung tâm không nằm trong kho git: không có lịch sử)" in vi
