"""Citations of the project's record: every `source` the catalogue gives must resolve to a file and
an anchor of the project, and a recorded-clauses table limits the clauses that may be cited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.catalogue import SOURCES_DIR, CatalogueError, load_catalogue
from infra.catalogue._sources import Citation, Record, parse_citation
from tests.conftest import REPO
from tests.helpers import copy_catalogue, edit_yaml, set_at

SECTIONS = (
    "circular-12-2022",
    "cis-debian-12",
    "decision-38-2021",
    "decree-331-2026",
    "decree-333-2026",
    "decree-53-2022",
    "decree-85-2016",
    "iso27001-2022",
    "law-116-2025",
    "regimes",
    "tcvn-11930-2017",
    "tcvn-14423-2025",
)
CLAUSES = {
    "circular-12-2022-clauses": ("Art. 10", "App. I", "App. II", "App. III", "App. IV", "App. V"),
    "decree-331-2026-clauses": ("Art. 30.8",),
    "decree-333-2026-clauses": ("Art. 16.6",),
    "decree-85-2016-clauses": ("Art. 7", "Art. 8", "Art. 9", "Art. 10", "Art. 11"),
    "law-116-2025-clauses": ("Art. 8",),
    "tcvn-11930-2017-clauses": ("4", "5", "5.1.1"),
}
ANCHORS = tuple(sorted((*SECTIONS, *CLAUSES)))


def _table(anchor: str, clauses: tuple[str, ...]) -> str:
    rows = "\n".join(f"| {clause} | subject |" for clause in clauses)
    return f'<a id="{anchor}"></a>\n#### Clauses\n\n| Clause | Subject |\n|---|---|\n{rows}\n\nNot read: the rest.\n'


RECORD = "\n".join(
    [
        "# Record",
        "",
        *(f'<a id="{anchor}"></a>\n## {anchor}\n' for anchor in SECTIONS),
        *(_table(anchor, clauses) for anchor, clauses in CLAUSES.items()),
        "## After",
        "",
        "| 9.9 | a table of another section |",
    ]
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project holding only a small record that every shipped citation resolves in."""
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "standards.md").write_text(RECORD, encoding="utf-8")
    return root


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    return copy_catalogue(tmp_path)


# --------------------------------------------------------------------------- the shipped record


def test_catalogue_sources_resolve_against_this_checkout() -> None:
    assert SOURCES_DIR == REPO
    catalogue = load_catalogue()
    record = Record(REPO)
    for instrument in catalogue.instruments.values():
        assert record.check(instrument.source, anchor_required=True) is None, instrument.type


def test_catalogue_sources_every_instrument_cites_its_own_section() -> None:
    for kind, instrument in load_catalogue().instruments.items():
        assert parse_citation(instrument.source) == Citation("docs/standards.md", kind, parse_citation(
            instrument.source).note)  # fmt: skip


def test_catalogue_sources_tcvn_11930_clauses_recorded_from_the_text() -> None:
    clauses = load_catalogue().clauses("tcvn-11930-2017")
    assert [c.id for c in clauses] == ["4", "5", "5.1.1", "5.1.2", "5.1.3", "5.1.4"]
    assert {c.read_in for c in clauses} == {"123docz-toc"}


def test_catalogue_sources_cited_tcvn_11930_clauses_are_recorded() -> None:
    catalogue = load_catalogue()
    recorded = {c.id for c in catalogue.clauses("tcvn-11930-2017")}
    cited = {
        r.clause
        for refs in [c.references for c in catalogue.controls]
        + [catalogue.profile(p).references for p in catalogue.profile_ids]
        for r in refs
        if r.type == "tcvn-11930-2017" and r.clause is not None
    }
    assert cited == {"5"} and cited <= recorded


def test_catalogue_sources_new_standard_is_the_confirmed_2025_edition() -> None:
    instrument = load_catalogue().instruments["tcvn-14423-2025"]
    assert instrument.title.startswith("TCVN 14423:2025 ")
    assert instrument.status == "second-hand"


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docs/standards.md", Citation("docs/standards.md", None, None)),
        ("docs/standards.md#regimes", Citation("docs/standards.md", "regimes", None)),
        ("docs/standards.md#law-116-2025 (Art. 8)", Citation("docs/standards.md", "law-116-2025", "Art. 8")),
        ("docs/standards.md#a-b  (folded\n  note)", Citation("docs/standards.md", "a-b", "folded note")),
        ("ISO/IEC 27001:2022 Annex A", None),
        ("../outside.md#x", None),
        ("docs/standards.md#Bad_Anchor", None),
    ],
)
def test_catalogue_sources_parse_citation(text: str, expected: Citation | None) -> None:
    assert parse_citation(text) == expected


def test_catalogue_sources_clauses_stop_at_the_end_of_the_table(project: Path) -> None:
    assert Record(project).clauses("docs/standards.md#tcvn-11930-2017-clauses") == {"4", "5", "5.1.1"}


# --------------------------------------------------------------------------- dangling citations fail


def test_catalogue_sources_fixture_project_resolves(catalogue_copy: Path, project: Path) -> None:
    assert load_catalogue(catalogue_copy, sources=project).instruments


KNOWN = ", ".join(ANCHORS)


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "instruments.yml",
            set_at("instruments", "decree-85-2016", "source", value="docs/standards.md#decree-85-2015 (Art. 7-11)"),
            "instruments.yml:23: instruments.decree-85-2016.source: cites docs/standards.md#decree-85-2015, but "
            "docs/standards.md has no anchor 'decree-85-2015' (fix: add <a id=\"decree-85-2015\"></a> to "
            f"docs/standards.md or cite one of its anchors: {KNOWN})",
        ),
        (
            "instruments.yml",
            set_at("instruments", "law-116-2025", "source", value="docs/standard.md#law-116-2025 (Art. 8)"),
            "instruments.yml:53: instruments.law-116-2025.source: cites docs/standard.md, which is not in the "
            "project (fix: create docs/standard.md or cite an existing file (paths are relative to the project "
            "root))",
        ),
        (
            "instruments.yml",
            set_at("instruments", "iso27001-2022", "source", value="ISO/IEC 27001:2022 Annex A control list"),
            "instruments.yml:109: instruments.iso27001-2022.source: source 'ISO/IEC 27001:2022 Annex A control list' "
            "does not cite a section of a project file (fix: write it as '<project file>#<anchor> (<note>)', e.g. "
            "'docs/standards.md#decree-85-2016 (Art. 7-11)')",
        ),
        (
            "instruments.yml",
            set_at("instruments", "decree-53-2022", "source", value="docs/standards.md (logs >= 12 months)"),
            "instruments.yml:93: instruments.decree-53-2022.source: source 'docs/standards.md (logs >= 12 months)' "
            "does not cite a section of a project file (fix: write it as '<project file>#<anchor> (<note>)', e.g. "
            "'docs/standards.md#decree-85-2016 (Art. 7-11)')",
        ),
        (
            "instruments.yml",
            set_at("instruments", "decree-85-2016", "clauses", value="docs/standards.md#decree-85-clauses"),
            "instruments.yml:25: instruments.decree-85-2016.clauses: cites docs/standards.md#decree-85-clauses, "
            "but docs/standards.md has no anchor 'decree-85-clauses' (fix: add <a id=\"decree-85-clauses\"></a> "
            f"to docs/standards.md or cite one of its anchors: {KNOWN})",
        ),
        (
            "instruments.yml",
            set_at("instruments", "decree-85-2016", "clauses", value="docs/standards.md#regimes"),
            "instruments.yml:25: instruments.decree-85-2016.clauses: docs/standards.md#regimes lists no clauses "
            "(fix: put a table right after the anchor, one clause number per row in its first column)",
        ),
        (
            "policy.yml",
            set_at("source", value="docs/research.md"),
            "policy.yml:10: source: cites docs/research.md, which is not in the project (fix: create "
            "docs/research.md or cite an existing file (paths are relative to the project root))",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "references", "tcvn-11930-2017", value=["8.2.1"]),
            "controls/host.yml:27: controls.0.references.tcvn-11930-2017.0: control HT-SSH-01: '8.2.1' is not among "
            "the clauses of tcvn-11930-2017 recorded in clauses/tcvn-11930-2017.yml (fix: read the clause in the "
            "instrument's text and add it to clauses/tcvn-11930-2017.yml first, or write {clause: ~, gap: "
            "not-read})",
        ),
        (
            "policy.yml",
            set_at("profiles", 1, "references", "tcvn-11930-2017", value=["6"]),
            "policy.yml:40: profiles.1.references.tcvn-11930-2017.0: '6' is not among the clauses of "
            "tcvn-11930-2017 recorded in clauses/tcvn-11930-2017.yml (fix: read the clause in the instrument's "
            "text and add it to clauses/tcvn-11930-2017.yml first, or write {clause: ~, gap: not-read})",
        ),
        (
            "controls/cloud.yml",
            set_at("controls", 12, "references", "decree-331-2026", value=["Art. 30.9"]),
            "controls/cloud.yml:298: controls.12.references.decree-331-2026.0: control HC-TEN-01: 'Art. 30.9' is not "
            "among the clauses of decree-331-2026 recorded in docs/standards.md#decree-331-2026-clauses (fix: read "
            "the clause in the instrument's text and add it to that table first, or cite ~)",
        ),
        (
            "policy.yml",
            set_at("profiles", 7, "references", "tcvn-14423-2025", value=["5"]),
            "policy.yml:105: profiles.7.references.tcvn-14423-2025.0: '5': tcvn-14423-2025 has no record of the "
            "clauses it may cite (fix: add 'clauses: docs/standards.md#tcvn-14423-2025-clauses' to instruments.yml "
            "with a table of the clauses read in its text, or cite ~)",
        ),
    ],
)
def test_catalogue_sources_dangling_citation_is_an_error(
    catalogue_copy: Path, project: Path, file: str, change: Callable[[Any], None], message: str
) -> None:
    edit_yaml(catalogue_copy, file, change)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(catalogue_copy, sources=project)
    assert [str(p) for p in info.value.problems] == [message]


def test_catalogue_sources_dangling_citation_fails_against_this_checkout(catalogue_copy: Path) -> None:
    edit_yaml(catalogue_copy, "instruments.yml", set_at("instruments", "decree-333-2026", "source", value=(
        "docs/standards.md#decree-333-2025 (Art. 16.6)")))  # fmt: skip
    with pytest.raises(CatalogueError) as info:
        load_catalogue(catalogue_copy)
    assert [(p.file, p.field, p.message) for p in info.value.problems] == [
        (
            "instruments.yml",
            "instruments.decree-333-2026.source",
            "cites docs/standards.md#decree-333-2025, but docs/standards.md has no anchor 'decree-333-2025'",
        )
    ]


def test_catalogue_sources_not_checked_without_a_project(catalogue_copy: Path) -> None:
    """An installed wheel has no docs/: the citations cannot be resolved there, so they are not checked."""
    edit_yaml(catalogue_copy, "policy.yml", set_at("source", value="docs/research.md"))
    assert load_catalogue(catalogue_copy, sources=None).version
