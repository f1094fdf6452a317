"""The real Pulumi engine (scripts/pulumi-tools) runs the programs; no cloud needed here.

`hatang cloud preview` without cloud credentials: the engine starts the language host, the host
runs the real platform program, the OpenStack plugin is loaded and refuses for lack of auth. That
error must reach the user as one located message and exit 2, never a traceback. The previews
against the AIO are in tests/integration/test_engine_aio.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from tests.conftest import AIO


def test_doctor_names_the_engine_it_will_use() -> None:
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "pulumi: v3.276.0" in result.stdout
    assert "pulumi-language-python: v3.276.0" in result.stdout
    assert "pulumi-resource-openstack: 5.5.3" in result.stdout


def test_doctor_without_engine_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tmp_path))
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 2
    assert "fix: run scripts/pulumi-tools" in result.stderr


def test_engine_runs_the_program_and_reports_the_providers_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    for variable in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/openstack/clouds.yaml
    result = CliRunner().invoke(app, ["cloud", "preview", "-i", str(AIO), "--stack", "platform"])
    assert result.exit_code == 2, result.output
    assert "pulumi preview of aio/platform failed" in result.stderr
    assert "One of 'auth_url' or 'cloud' must be specified" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "state").exists(), "a preview writes no state, not even its folder"


def test_unknown_stack_is_bad_input() -> None:
    result = CliRunner().invoke(app, ["cloud", "preview", "-i", str(AIO), "--stack", "both"])
    assert result.exit_code == 2
    assert "--stack: 'both' is not a stack (fix: use platform, tenants or all)" in result.stderr
