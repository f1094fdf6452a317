"""The history's YAML loader gives what yaml.safe_load gives, on the sample and on the odd cases."""

from __future__ import annotations

import pytest
import yaml

from infra.reports._fastyaml import load
from tests.reports.conftest import SAMPLE


@pytest.mark.parametrize("path", sorted(SAMPLE.rglob("*.yml")), ids=lambda p: p.name)
def test_load_equals_safe_load_on_the_sample(path: object) -> None:
    text = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert load(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a: 1\nb: [2.5, true, null, ~, 2026-01-01, '2026-01-01', 0o17, 1_000]\n",
        "base: &b {k: 1, j: x}\nmerged:\n  <<: *b\n  j: 2\n",
        "1: one\n2: [two]\n",
        "=: value\n",
        "- !!str 12\n- !!int '12'\n",
        "a: 1\na: 2\n",
    ],
)
def test_load_equals_safe_load_on_odd_documents(text: str) -> None:
    assert load(text) == yaml.safe_load(text)


def test_alias_shares_one_object_and_errors_are_yaml_errors() -> None:
    document = load("x: &a [1]\ny: *a\n")
    assert document["x"] is document["y"]
    with pytest.raises(yaml.YAMLError):
        load("a: [unclosed\n")
    with pytest.raises(yaml.YAMLError):
        load("a: !python/object:os.system x\n")
