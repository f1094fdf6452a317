"""docs/host-controls.md is generated from the catalogue and the checks, and kept in step with both."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.audit.controls_doc import MissingCheckError, render
from infra.audit.hosts import check_functions
from infra.catalogue import CATALOGUE_DIR, Scope, load_catalogue
from tests.conftest import REPO
from tests.helpers import edit_yaml


def test_controls_doc_is_current() -> None:
    current = (REPO / "docs" / "host-controls.md").read_text(encoding="utf-8")
    assert current == render(), "run: .venv/bin/python -m infra.audit.controls_doc > docs/host-controls.md"


def test_controls_doc_every_check_has_one_function_and_back() -> None:
    host = [control for control in load_catalogue().controls if control.scope is Scope.HOST]
    assert sorted(set(check_functions()) ^ {check for control in host for check in control.checks}) == []


def test_controls_doc_every_check_says_what_it_judges() -> None:
    assert sorted(name for name, function in check_functions().items() if not function.__doc__) == []


def test_controls_doc_rows_come_from_the_catalogue(tmp_path: Path) -> None:
    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    def change(doc: Any) -> None:
        doc["controls"][6]["parameters"]["max"] = 6

    edit_yaml(root, "controls/host.yml", change)
    row = next(line for line in render(load_catalogue(root, sources=None)).splitlines() if "HT-SSH-07" in line)
    assert row == (
        "| HT-SSH-07 | `sshd_max_auth_tries_limited` | 2 | SSH limits authentication attempts per connection | "
        "MaxAuthTries in 1..`max`, for every connection. | `max`: 6 | roles/baseline |"
    )


def test_controls_doc_refuses_a_check_without_function(tmp_path: Path) -> None:
    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    def change(doc: Any) -> None:
        doc["controls"][0]["checks"] = ["sshd_root_login_refused"]

    edit_yaml(root, "controls/host.yml", change)
    with pytest.raises(MissingCheckError) as info:
        render(load_catalogue(root, sources=None))
    assert str(info.value) == (
        "HT-SSH-01: check sshd_root_login_refused has no function test_sshd_root_login_refused in infra.audit.hosts"
    )
