"""The control catalogue: the shipped data, profile inheritance, reference validators, and the
located messages a catalogue author sees for each mistake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from infra.catalogue import (
    CATALOGUE_DIR,
    CatalogueError,
    Scope,
    Status,
    UnknownProfileError,
    WaiverError,
    load_catalogue,
    load_waivers,
)
from infra.catalogue._references import VALIDATORS, check_clause
from tests.helpers import copy_catalogue, edit_yaml, set_at

_REPO = Path(__file__).resolve().parents[2]
_KNOWN = ", ".join(sorted(
    [f"roles/{p.name}" for p in (_REPO / "roles").iterdir() if (p / "tasks").is_dir()]
    + [f"pulumi/{p.parent.name}" for p in (_REPO / "pulumi").glob("*/Pulumi.yaml")]
))
"""Every role and Pulumi project of the repository, as the error lists them."""


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    return copy_catalogue(tmp_path)


# --------------------------------------------------------------------------- shipped data


def test_catalogue_loads_shipped_data() -> None:
    catalogue = load_catalogue()
    assert catalogue.version
    assert len(catalogue.profile_ids) == 10


def test_catalogue_host_controls_have_one_check_each() -> None:
    host = {c.id: c.checks for c in load_catalogue().controls if c.scope is Scope.HOST}
    assert len(host) >= 50
    assert {cid: checks for cid, checks in host.items() if len(checks) != 1} == {}


@pytest.mark.parametrize("profile", ["old-level3", "new-level3"])
def test_catalogue_level3_has_at_least_40_automated_host_controls(profile: str) -> None:
    controls = load_catalogue().profile(profile).controls_in(Scope.HOST)
    assert len([c for c in controls if c.status is Status.AUTOMATED]) >= 40


def test_catalogue_cloud_controls_automated_have_checks() -> None:
    cloud = [c for c in load_catalogue().controls if c.scope is Scope.CLOUD]
    automated = [c for c in cloud if c.status is Status.AUTOMATED]
    assert len(automated) >= 7
    assert all(c.checks for c in automated)
    assert {"HC-QUOTA-01", "HC-SG-01", "HC-NET-01", "HC-NET-02", "HC-ID-01", "HC-TLS-01", "HC-TEN-01"} <= {
        c.id for c in automated
    }


def test_catalogue_every_control_cites_both_regimes() -> None:
    old = {"decree-85-2016", "circular-12-2022", "tcvn-11930-2017"}
    new = {"law-116-2025", "decree-331-2026", "tcvn-14423-2025"}
    for control in load_catalogue().controls:
        types = {r.type for r in control.references}
        assert old <= types and new <= types, control.id


def test_catalogue_references_carry_status_and_source() -> None:
    catalogue = load_catalogue()
    statuses = {r.type: r.status for c in catalogue.controls for r in c.references}
    assert statuses["decree-331-2026"] == "second-hand"
    assert statuses["tcvn-14423-2025"] == "second-hand"
    assert statuses["circular-12-2022"] == "confirmed"
    assert all(r.source for c in catalogue.controls for r in c.references)


def test_catalogue_unknown_clauses_are_null_not_invented() -> None:
    refs = [r for c in load_catalogue().controls for r in c.references if r.type == "tcvn-14423-2025"]
    assert refs and all(r.clause is None for r in refs)


def test_catalogue_tenant_isolation_cites_decree_331_art_30_8() -> None:
    control = load_catalogue().control("HC-TEN-01")
    assert ("decree-331-2026", "Art. 30.8", "second-hand") in {(r.type, r.clause, r.status) for r in control.references}


# --------------------------------------------------------------------------- profiles


@pytest.mark.parametrize("regime", ["old", "new"])
def test_profile_inherits_every_control_of_the_level_below(regime: str) -> None:
    catalogue = load_catalogue()
    for level in range(2, 6):
        lower = {c.id for c in catalogue.profile(f"{regime}-level{level - 1}").controls}
        higher = catalogue.profile(f"{regime}-level{level}")
        assert higher.inherits_from == f"{regime}-level{level - 1}"
        assert lower <= {c.id for c in higher.controls}


def test_profile_level1_holds_only_level1_controls() -> None:
    profile = load_catalogue().profile("old-level1")
    assert profile.controls and {c.level for c in profile.controls} == {1}


def test_profile_level_references_decree_85_article() -> None:
    profile = load_catalogue().profile("old-level3")
    assert ("decree-85-2016", "Art. 9") in {(r.type, r.clause) for r in profile.references}


def test_profile_unknown_is_a_clear_error() -> None:
    with pytest.raises(UnknownProfileError) as info:
        load_catalogue().profile("level3")
    assert str(info.value).startswith("unknown profile 'level3'; known profiles: new-level1, new-level2")


# --------------------------------------------------------------------------- reference validators


@pytest.mark.parametrize(
    ("kind", "clause"),
    [
        ("iso27001-2022", "A.8.34"),
        ("iso27001-2022", "A.5.1"),
        ("cis-debian-12", "5.4.1.5"),
        ("circular-12-2022", "App. III"),
        ("circular-12-2022", "Art. 10"),
        ("decree-331-2026", "Art. 30.8"),
        ("tcvn-14423-2025", "5"),
        ("tcvn-14423-2025", "Annex A"),
        ("law-116-2025", None),
    ],
)
def test_reference_validator_accepts(kind: str, clause: str | None) -> None:
    assert check_clause(kind, clause) is None


@pytest.mark.parametrize(
    ("kind", "clause", "message"),
    [
        ("iso27001-2022", "A.8.35", "Annex A theme 8 has controls 1-34"),
        ("iso27001-2022", "A.12.4.1", "expected an Annex A control like 'A.8.5'"),
        ("cis-debian-12", "Ensure x", "expected a clause like '5.1.20'"),
        ("circular-12-2022", "Appendix 3", "expected a clause like 'Art. 10' or 'App. III'"),
        ("decree-331-2026", "30.8", "expected a clause like 'Art. 16.6'"),
        ("tcvn-14423-2025", "§5", "expected a clause like '5.2'"),
        ("nist-800-53", "AC-2", "unknown reference type 'nist-800-53'; known: " + ", ".join(sorted(VALIDATORS))),
    ],
)
def test_reference_validator_refuses(kind: str, clause: str, message: str) -> None:
    assert check_clause(kind, clause) == message


# --------------------------------------------------------------------------- author mistakes


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "controls/host.yml",
            set_at("controls", 0, "references", "iso27001-2022", value=["A.9.1"]),
            "controls/host.yml:31: controls.0.references.iso27001-2022.0: control HT-SSH-01: 'A.9.1': "
            "expected an Annex A control like 'A.8.5'",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "references", "nist", value=["AC-2"]),
            "controls/host.yml:32: controls.0.references.nist: control HT-SSH-01: unknown reference type 'nist'; "
            "known: circular-12-2022, cis-debian-12, decision-38-2021, decree-331-2026, decree-333-2026, "
            "decree-53-2022, decree-85-2016, iso27001-2022, law-116-2025, tcvn-11930-2017, tcvn-14423-2025",
        ),
        (
            "controls/host.yml",
            set_at("controls", 1, "id", value="HT-SSH-01"),
            "controls/host.yml:32: controls.1.id: duplicate control id HT-SSH-01 (also in controls/host.yml)",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "status", value="manual"),
            "controls/host.yml:7: controls.0: Value error, status manual must not list checks",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "implemented_by", value=["roles/baseline", "roles/openstack"]),
            "controls/host.yml:22: controls.0.implemented_by: Value error, roles/openstack: no such role or "
            f"Pulumi project; known: {_KNOWN}",
        ),
        (
            "controls/host.yml",
            set_at("controls", 0, "status", value="done"),
            "controls/host.yml:20: controls.0.status: Input should be 'automated', 'partial', 'manual' or "
            "'not_applicable'",
        ),
        (
            "policy.yml",
            set_at("profiles", 2, "inherits_from", value="old-level1"),
            "policy.yml:46: profiles.2.inherits_from: must be the level below in the same regime: old-level2",
        ),
        (
            "policy.yml",
            set_at("profiles", 7, "inherits_from", value="new-level9"),
            "policy.yml:100: profiles.7.inherits_from: String should match pattern '^[a-z]+-level[1-5]$'",
        ),
    ],
)
def test_catalogue_error_names_file_line_and_field(
    catalogue_copy: Path, file: str, change: Callable[[Any], None], message: str
) -> None:
    edit_yaml(catalogue_copy, file, change)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(catalogue_copy)
    assert message in [str(p) for p in info.value.problems]


def test_catalogue_missing_validator_for_instrument(catalogue_copy: Path) -> None:
    edit_yaml(
        catalogue_copy,
        "instruments.yml",
        set_at("instruments", "nist-800-53", value={
            "title": "NIST", "title_vi": "NIST", "regime": "international", "status": "confirmed",
            "source": "docs/standards.md#certainty (x)",
        }),
    )  # fmt: skip
    with pytest.raises(CatalogueError) as info:
        load_catalogue(catalogue_copy)
    assert (
        "instruments.yml:120: instruments.nist-800-53: reference type 'nist-800-53' has no validator in "
        "_references.py" in [str(p) for p in info.value.problems]
    )


# --------------------------------------------------------------------------- waivers


def test_waivers_example_loads() -> None:
    waivers = load_waivers(CATALOGUE_DIR / "waivers.example.yml", load_catalogue())
    assert waivers["HT-PKG-01"].run is False
    assert "mirror" in waivers["HT-PKG-01"].justification
    assert waivers["HT-PKG-01"].approved_by and waivers["HT-PKG-01"].until == date(2099, 12, 31)


def test_waivers_approver_and_end_date(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yml"
    path.write_text(
        "waivers:\n  HT-SSH-01: {run: false, justification: x, approved_by: DC head, until: 2026-12-03}\n",
        encoding="utf-8",
    )
    waiver = load_waivers(path, load_catalogue(), today=date(2026, 12, 3))["HT-SSH-01"]
    assert (waiver.approved_by, waiver.until) == ("DC head", date(2026, 12, 3))  # the last day still holds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "waivers:\n  HT-NOPE-01: {run: false, justification: x}\n",
            "waivers.yml:2: waivers.HT-NOPE-01: unknown control HT-NOPE-01",
        ),
        ("waivers:\n  HT-SSH-01: {run: false}\n", "waivers.yml:2: waivers.HT-SSH-01.justification: Field required"),
        (
            "waivers:\n  HT-SSH-01:\n    run: false\n    justification: x\n    until: 2026-12-02\n",
            "waivers.yml:5: waivers.HT-SSH-01.until: waiver expired on 2026-12-02 (audit date 2026-12-03) (fix: "
            "renew it (a new approval and date) or remove it so the control runs)",
        ),
        (
            "waivers:\n  HT-SSH-01: {run: false, justification: x, until: soon}\n",
            "waivers.yml:2: waivers.HT-SSH-01.until: Input should be a valid date or datetime, input is too short",
        ),
    ],
)
def test_waivers_invalid(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "waivers.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WaiverError) as info:
        load_waivers(path, load_catalogue(), today=date(2026, 12, 3))
    assert message in [str(p) for p in info.value.problems]
