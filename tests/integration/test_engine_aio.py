"""The real Pulumi engine against the AIO (marker `aio`): previews of both stacks, policy pack inside.

`hatang cloud preview` runs the engine built by scripts/pulumi-tools with the repository's
programs, the OpenStack plugin talking to the AIO's Keystone/Neutron/Nova/Cinder through its TLS
front, and the CrossGuard pack in the engine. Each test has its own empty state (HATANG_STATE_DIR),
so every resource shows as to be created; nothing is applied (`up` on the AIO is not run here: the
replay harness of test_cloud_audit_aio.py owns the AIO's platform resources, see issue 12).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra import aio
from infra.cli import app
from infra.validate import load_valid_site
from tests.conftest import AIO

pytestmark = pytest.mark.aio


@pytest.fixture(scope="module")
def clouds_yaml() -> Path:
    """The AIO's admin clouds.yaml, the AIO brought up (or converged) by the code under test."""
    return aio.up(load_valid_site(AIO)).clouds_yaml


def _preview(clouds_yaml: Path, state: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, str, str]:
    monkeypatch.setenv("HATANG_STATE_DIR", str(state))
    result = CliRunner().invoke(
        app,
        ["cloud", "preview", "-i", str(AIO), "--clouds-yaml", str(clouds_yaml), "--cloud", aio.CLOUD_NAME, *extra],
    )
    return result.exit_code, result.stdout, result.stderr


def test_engine_previews_both_stacks_on_the_aio_with_the_policy_pack(
    clouds_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _preview(clouds_yaml, tmp_path, monkeypatch)
    assert code == 1, out + err  # an empty state: everything is to be created, which is a change
    counts = dict(re.findall(r"aio/(platform|tenants): preview: create (\d+)", out))
    assert set(counts) == {"platform", "tenants"}, out
    assert int(counts["platform"]) >= 30 and int(counts["tenants"]) >= 60, out
    assert "hatang@v0.0.1" in err, "the policy pack did not run inside the engine"
    assert "[mandatory]" not in err
    assert "so-khcn" in err and "so-yte" in err  # the tenants program's output names the AIO's tenants


def test_engine_refresh_of_an_empty_state_changes_nothing(
    clouds_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app,
        ["cloud", "refresh", "-i", str(AIO), "--stack", "platform", "--clouds-yaml", str(clouds_yaml),
         "--cloud", aio.CLOUD_NAME],
    )
    assert result.exit_code == 0, result.output
    assert "aio/platform: refresh:" in result.stdout
