"""Clause-level references: the TCVN 11930:2017 clause record shipped with the catalogue, the
mapping every control must carry (a recorded clause with its level, or a gap saying why none),
and the located messages for each mistake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.catalogue import CatalogueError, Reference, Status, load_catalogue
from tests.helpers import copy_catalogue, delete_at, edit_yaml, set_at

TCVN = "tcvn-11930-2017"
CLAUSE_FILE = "clauses/tcvn-11930-2017.yml"
GAPS = {"not-read", "not-covered"}


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    return copy_catalogue(tmp_path)


def _problems(root: Path, sources: Path | None = None, *, default_sources: bool = True) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        if default_sources:
            load_catalogue(root)
        else:
            load_catalogue(root, sources=sources)
    return [str(p) for p in info.value.problems]


# --------------------------------------------------------------------------- the shipped mapping


def test_catalogue_clauses_every_automated_control_has_a_mapping_or_a_reason() -> None:
    catalogue = load_catalogue()
    recorded = {c.id for c in catalogue.clauses(TCVN)}
    automated = [c for c in catalogue.controls if c.status in {Status.AUTOMATED, Status.PARTIAL}]
    assert len(automated) >= 60
    for control in automated:
        refs = [r for r in control.references if r.type == TCVN]
        assert refs, f"{control.id} has no {TCVN} mapping"
        for ref in refs:
            if ref.clause is None:
                assert ref.gap in GAPS, f"{control.id}: null clause without a gap"
            else:
                assert ref.clause in recorded and ref.gap is None, control.id
                assert ref.level is not None and ref.level >= control.level, control.id


def test_catalogue_clauses_mapping_figures_add_up() -> None:
    """Every control is counted once: mapped to a clause, or explicitly without one."""
    controls = load_catalogue().controls
    mapped = {c.id for c in controls if any(r.type == TCVN and r.clause for r in c.references)}
    gapped = {c.id for c in controls if any(r.type == TCVN and r.gap for r in c.references)}
    assert mapped | gapped == {c.id for c in controls}
    # Today nothing is mapped: the technical clauses were not read (docs/standards.md#clause-mapping).
    assert {r.gap for c in controls for r in c.references if r.type == TCVN and r.gap} == {"not-read"}


def test_catalogue_clauses_record_holds_only_clauses_read_in_the_text() -> None:
    clauses = {c.id: c for c in load_catalogue().clauses(TCVN)}
    assert list(clauses) == ["4", "5", "5.1.1", "5.1.2", "5.1.3", "5.1.4"]
    assert clauses["4"].levels == (1, 2, 3, 4, 5)
    assert all(clauses[cid].levels == (1,) for cid in ("5", "5.1.1", "5.1.2", "5.1.3", "5.1.4"))
    assert all(c.title and c.read_in == "123docz-toc" for c in clauses.values())


def test_catalogue_clauses_profile_cites_the_level_section_with_its_title() -> None:
    refs = [r for r in load_catalogue().profile("old-level1").references if r.type == TCVN]
    assert [(r.clause, r.level, r.title) for r in refs] == [
        ("5", 1, "basic requirements for a level-1 information system")
    ]


def test_catalogue_clauses_reference_dict_carries_level_and_gap() -> None:
    ref = Reference(TCVN, None, "confirmed", "docs/standards.md#tcvn-11930-2017", gap="not-read")
    assert set(ref.to_dict()) == {"type", "clause", "status", "source"}
    assert ref.to_dict(mapping=True) == {
        "type": TCVN,
        "clause": None,
        "status": "confirmed",
        "source": "docs/standards.md#tcvn-11930-2017",
        "level": None,
        "title": None,
        "gap": "not-read",
        "note": None,
    }


# --------------------------------------------------------------------------- a valid clause mapping


def test_catalogue_clauses_mapped_clause_resolves_with_level_and_title(catalogue_copy: Path) -> None:
    edit_yaml(catalogue_copy, "controls/host.yml", set_at("controls", 0, "references", TCVN, value=[
        {"clause": "5.1.4", "level": 1}, {"clause": "4"}]))  # fmt: skip
    control = load_catalogue(catalogue_copy).control("HT-SSH-01")
    refs = [(r.clause, r.level, r.title, r.gap) for r in control.references if r.type == TCVN]
    assert refs == [
        ("5.1.4", 1, "level 1: managing system design and build", None),
        ("4", None, "basic security requirements by level: the general section before the per-level ones", None),
    ]


def test_catalogue_clauses_not_covered_gap_with_note_is_accepted(catalogue_copy: Path) -> None:
    edit_yaml(catalogue_copy, "controls/cloud.yml", set_at("controls", 4, "references", TCVN, value=[
        {"clause": None, "gap": "not-covered", "note": "IPv6 is Decision 38's requirement"}]))  # fmt: skip
    control = load_catalogue(catalogue_copy).control("HC-NET-02")
    assert [(r.gap, r.note) for r in control.references if r.type == TCVN] == [
        ("not-covered", "IPv6 is Decision 38's requirement")
    ]


# --------------------------------------------------------------------------- mistakes, located


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "controls/host.yml",
            set_at("controls", 0, "references", TCVN, value=[{"clause": "8.2.2", "level": 4}]),
            "controls/host.yml:27: controls.0.references.tcvn-11930-2017.0: control HT-SSH-01: '8.2.2' is not among "
            "the clauses of tcvn-11930-2017 recorded in clauses/tcvn-11930-2017.yml (fix: read the clause in the "
            "instrument's text and add it to clauses/tcvn-11930-2017.yml first, or write {clause: ~, gap: "
            "not-read})",
        ),
        (
            "controls/host.yml",
            set_at("controls", 2, "references", TCVN, value=[{"clause": "5.1.1", "level": 3}]),
            "controls/host.yml:83: controls.2.references.tcvn-11930-2017.0.level: control HT-SSH-03: "
            "tcvn-11930-2017 5.1.1 belongs to level 1, not level 3 (fix: cite the clause of level 3's section, or "
            "correct the level)",
        ),
        (
            "controls/host.yml",
            set_at("controls", 2, "references", TCVN, value=[{"clause": "5.1.1"}]),
            "controls/host.yml:82: controls.2.references.tcvn-11930-2017.0: control HT-SSH-03: tcvn-11930-2017 "
            "5.1.1 applies to level 1, below the control's level 3 (fix: cite the clause of the section for level 3 "
            "or above, or correct the control's level)",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "references", TCVN, value=[None]),
            "controls/host.yml:27: controls.0.references.tcvn-11930-2017.0: control HT-SSH-01: a null "
            "tcvn-11930-2017 clause must say why no clause is cited (fix: write {clause: ~, gap: not-read} (the "
            "clause number was not read in the text) or {clause: ~, gap: not-covered} (no clause of the "
            "instrument requires it))",
        ),
        (
            "controls/cloud.yml",
            delete_at("controls", 12, "references", TCVN),
            "controls/cloud.yml:292: controls.12.references: control HC-TEN-01: no tcvn-11930-2017 mapping (fix: "
            "add 'tcvn-11930-2017: [{clause: <number>}]' or 'tcvn-11930-2017: [{clause: ~, gap: not-read}]')",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "references", TCVN, value=[{"clause": None}]),
            "controls/host.yml:27: controls.0.references.tcvn-11930-2017.0.mapping: Value error, a null "
            "clause needs 'gap': not-covered or not-read",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "references", TCVN, value=[{"clause": "5", "gap": "not-read"}]),
            "controls/host.yml:27: controls.0.references.tcvn-11930-2017.0.mapping: Value error, a cited "
            "clause takes no 'gap' (gap says why no clause is cited)",
        ),
        (
            CLAUSE_FILE,
            set_at("clauses", 2, "id", value="5"),
            "clauses/tcvn-11930-2017.yml:31: clauses.2.id: duplicate clause 5",
        ),
        (
            CLAUSE_FILE,
            set_at("clauses", 0, "read_in", value="memory"),
            "clauses/tcvn-11930-2017.yml:26: clauses.0.read_in: unknown copy 'memory'; known: 123docz-toc, "
            "lawnet-foreword",
        ),
        (
            CLAUSE_FILE,
            set_at("clauses", 1, "id", value="§5"),
            "clauses/tcvn-11930-2017.yml:27: clauses.1.id: '§5': expected a clause like '5.2'",
        ),
        (
            CLAUSE_FILE,
            set_at("instrument", value="tcvn-14423-2025"),
            "clauses/tcvn-11930-2017.yml:11: instrument: holds the clauses of 'tcvn-14423-2025', not of "
            "'tcvn-11930-2017'",
        ),
        (
            "instruments.yml",
            set_at("instruments", TCVN, "clauses", value="docs/standards.md#tcvn-11930-2017-clauses"),
            "instruments.yml:35: instruments.tcvn-11930-2017: Value error, set 'clauses' (a section of the record) "
            "or 'clause_file', not both",
        ),
    ],
)
def test_catalogue_clauses_mistake_names_file_and_control(
    catalogue_copy: Path, file: str, change: Callable[[Any], None], message: str
) -> None:
    edit_yaml(catalogue_copy, file, change)
    assert message in _problems(catalogue_copy)


def test_catalogue_clauses_wrong_clause_refused_without_a_project(catalogue_copy: Path) -> None:
    """The clause record ships with the package, so an installed wheel still refuses an unread clause."""
    edit_yaml(catalogue_copy, "controls/host.yml", set_at("controls", 0, "references", TCVN, value=["7.2.2"]))
    problems = _problems(catalogue_copy, None, default_sources=False)
    assert len(problems) == 1 and "control HT-SSH-01: '7.2.2' is not among the clauses" in problems[0]


def test_catalogue_clauses_missing_clause_file_is_an_error(catalogue_copy: Path) -> None:
    (catalogue_copy / CLAUSE_FILE).unlink()
    assert "clauses/tcvn-11930-2017.yml: file not found" in _problems(catalogue_copy)


def test_catalogue_clauses_dangling_record_section_is_an_error(catalogue_copy: Path) -> None:
    edit_yaml(catalogue_copy, CLAUSE_FILE, set_at("source", value="docs/standards.md#tcvn-11930-clauses"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(catalogue_copy)
    assert [(p.file, p.line, p.field, p.message) for p in info.value.problems] == [
        (
            CLAUSE_FILE,
            12,
            "source",
            "cites docs/standards.md#tcvn-11930-clauses, but docs/standards.md has no anchor 'tcvn-11930-clauses'",
        )
    ]
