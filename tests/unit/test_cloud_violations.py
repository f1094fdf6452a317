"""Adversarial proofs of the cloud controls, driven by the catalogue (issue 15).

Every automated cloud control has a file infra/catalogue/violations/cloud/<control-id>.yml of at
least three variants: small patches of the compliant base (`_base.yml`) that each violate the
control, evasions included. The base passes every control; each variant fails its control.
Adding an automated cloud control without its violations fails `test_..._has_three_variants`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from infra.audit import Outcome
from infra.audit._model import control_outcome
from infra.audit.cloud import _probes, expected_from_site
from infra.audit.cloud._runner import CHECKS, _Context, _params
from infra.catalogue import Control, Scope, load_catalogue
from infra.site import Site, load_site
from tests.conftest import AIO
from tests.unit._cloud_fixtures import (
    BASE,
    PATCH_OPS,
    VIOLATIONS,
    FakeProber,
    apply_patch,
    build_snapshot,
    fake_handshake,
    load_base,
    now_of,
)

MIN_VARIANTS = 3
CATALOGUE = load_catalogue()
AUTOMATED = sorted(
    (c for c in CATALOGUE.controls if c.scope is Scope.CLOUD and c.status.value in {"automated", "partial"}),
    key=lambda c: c.id,
)


def _variant_files() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(VIOLATIONS.glob("*.yml")):
        if path != BASE:
            out[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


FILES = _variant_files()
VARIANTS = [
    pytest.param(control_id, variant, id=f"{control_id}:{variant['name']}")
    for control_id, data in sorted(FILES.items())
    for variant in data.get("variants", [])
]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(AIO)


def run_control(control: Control, doc: Mapping[str, Any], site: Site, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The control's outcome on the cloud the document describes (probes answered by a fake cloud)."""
    snapshot = build_snapshot(doc)
    expected = expected_from_site(site, now_of(doc))
    monkeypatch.setattr(_probes, "_handshake", fake_handshake(doc))
    ctx = _Context(expected, snapshot, FakeProber(doc, snapshot), _params(control, CATALOGUE))  # type: ignore[arg-type]
    results = {check_id: CHECKS[check_id](ctx) for check_id in control.checks}
    return control_outcome(control, results, None)


@pytest.mark.parametrize("control", AUTOMATED, ids=lambda c: c.id)
def test_every_automated_cloud_control_has_three_variants(control: Control) -> None:
    variants = FILES.get(control.id, {}).get("variants", [])
    assert len(variants) >= MIN_VARIANTS, (
        f"{control.id}: {len(variants)} violating variant(s) in {VIOLATIONS / (control.id + '.yml')}; "
        f"at least {MIN_VARIANTS} are needed"
    )


def test_variant_files_name_automated_cloud_controls_and_are_well_formed() -> None:
    automated = {c.id for c in AUTOMATED}
    for control_id, data in FILES.items():
        assert control_id in automated, f"{control_id}.yml: not an automated cloud control of the catalogue"
        assert data.get("control") == control_id, f"{control_id}.yml: control: {data.get('control')!r}"
        names = [v["name"] for v in data["variants"]]
        assert len(names) == len(set(names)), f"{control_id}.yml: variant names repeat"
        for variant in data["variants"]:
            assert set(variant) <= {"name", "why", "evasion", "patch"}, f"{control_id}:{variant['name']}"
            assert variant.get("why"), f"{control_id}:{variant['name']}: say why it violates the control"
            assert variant["patch"] and set(variant["patch"]) <= set(PATCH_OPS), f"{control_id}:{variant['name']}"


@pytest.mark.parametrize("control", AUTOMATED, ids=lambda c: c.id)
def test_the_base_cloud_passes(control: Control, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = run_control(control, load_base(), site, monkeypatch)
    assert outcome.outcome is Outcome.PASS, [c.observed for c in outcome.checks]


@pytest.mark.parametrize(("control_id", "variant"), VARIANTS)
def test_each_violating_variant_fails_its_control(
    control_id: str, variant: dict[str, Any], site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = CATALOGUE.control(control_id)
    doc = apply_patch(load_base(), variant["patch"])
    outcome = run_control(control, doc, site, monkeypatch)
    assert outcome.outcome is Outcome.FAIL, (
        f"{control_id} passes (or errs: {outcome.outcome}) on variant {variant['name']!r}: {variant['why']}\n"
        f"{[c.observed for c in outcome.checks]}"
    )


def test_a_patch_that_matches_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rules record matches"):
        apply_patch(load_base(), {"remove": {"rules": [{"id": "nope"}]}})
    with pytest.raises(ValueError, match="unknown patch operation"):
        apply_patch(load_base(), {"replace": {}})
