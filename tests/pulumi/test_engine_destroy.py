"""`hatang cloud destroy` runs the CLI once per stack besides its `stack select`, with the real CLI.

The SDK's `Stack.destroy` ran `stack history` after the destroy (for a summary the engine had
already written), then hatang ran `stack rm` for a tenant's emptied stack: the destroy now runs
through the session's `PulumiCommand`, its counts read from the event log, a tenant's stack
removed by the same run (`--remove`). The CLI's runs are counted by a wrapper
(`tools_in(..., log)`); the programs are the component-only stand-ins of test_engine_preview.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import engine
from infra.site import load_site
from tests.pulumi.test_engine_migration import cli_runs, tools_in
from tests.pulumi.test_engine_preview import platform, stacks, tenants
from tests.pulumi.test_engine_preview import site_root as site_root

pytestmark = pytest.mark.pulumi_cli


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site_root: Path) -> Path:
    """The file the CLI's runs are written to (the tools of `site_root`, with the counting wrapper)."""
    path = tmp_path / "cli.log"
    tools = tools_in(tmp_path / "counted", path)
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tools))
    return path


def test_a_tenants_destroy_runs_the_cli_once_per_stack_and_removes_it(
    site_root: Path, log: Path, tmp_path: Path
) -> None:
    tenants(site_root, "up")
    log.unlink()
    assert tenants(site_root, "destroy") == {"tenants/so-khcn": {"delete": 3}, "tenants/so-yte": {"delete": 3}}
    assert cli_runs(log) == ["destroy", "destroy", "stack ls", "stack select", "stack select", "version"]
    assert stacks(site_root, "tenants") == []
    assert not list((tmp_path / "state" / "aio" / "tenants").glob("Pulumi.aio.*.yaml")), "a stack's config was left"


def test_the_platforms_destroy_keeps_its_stack(site_root: Path, log: Path) -> None:
    platform(site_root, "up")
    log.unlink()
    assert platform(site_root, "destroy") == {"delete": 2}
    assert cli_runs(log) == ["destroy", "stack select", "version"]  # its state read from its checkpoint file
    assert stacks(site_root, "platform") == ["aio"]


def test_a_destroy_of_protected_resources_is_refused_before_the_engine_runs(
    site_root: Path, log: Path, tmp_path: Path
) -> None:
    program = tmp_path / "platform" / "__main__.py"
    program.write_text(program.read_text(encoding="utf-8").replace(
        '"agencies", None)', '"agencies", None, pulumi.ResourceOptions(protect=True))'), encoding="utf-8")  # fmt: skip
    platform(site_root, "up")
    log.unlink()
    with pytest.raises(engine.ProtectedDeletionError, match=r"destroy of aio/platform would delete 1 protected"):
        engine.run(load_site(site_root), "platform", "destroy", policy_pack=False, program=tmp_path / "platform")
    assert cli_runs(log) == ["stack select", "version"]
