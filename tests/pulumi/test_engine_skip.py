"""`hatang cloud up` skips a tenant stack whose inputs did not change, with the real CLI, no cloud.

The engine runs a component-only stand-in for pulumi/tenants (no provider: nothing to reach) on
a file backend under tmp; the offline check and the fingerprints run the repository's programs
on the site, as in production. Each test names what must make `up` run the engine again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from infra import _engine_skip, engine
from infra._engine_session import _Engine
from infra.site import load_site
from tests.conftest import AIO
from tests.pulumi.test_engine_migration import tools_in

PROGRAM = """\
import os
import pulumi
from infra.stacks._program import load_program_site, stack_tenant

site = load_program_site()
code = stack_tenant(pulumi.get_stack())
if os.path.exists({fail!r}):
    raise RuntimeError("the update fails")
tenant = site.tenant(code)
if tenant is not None:
    component = pulumi.ComponentResource("hatang:tenants:AgencyTenant", code, None)
    pulumi.ComponentResource("hatang:test:Quota", f"{{code}}-quota-{{tenant.quota_profile}}", None,
                             pulumi.ResourceOptions(parent=component))
"""


@pytest.fixture
def site_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the AIO site, its engine's tools and state under tmp, the stand-in program."""
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tools_in(tmp_path)))
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "program").mkdir()
    (tmp_path / "program" / "__main__.py").write_text(PROGRAM.format(fail=str(tmp_path / "fail")), encoding="utf-8")
    root = tmp_path / "aio"
    shutil.copytree(AIO, root)
    return root


def up(root: Path, **options: Any) -> dict[str, str]:
    """`up` of the tenants' stacks: each tenant's `skipped` reason, or its counts."""
    outcomes = engine.run_stacks(load_site(root), "tenants", "up", policy_pack=False,
                                 program=root.parent / "program", **options)  # fmt: skip
    return {o.stack: o.skipped or ",".join(f"{k} {n}" for k, n in sorted(o.changes.items())) for o in outcomes}


RAN = {"tenants/so-khcn": "create 3", "tenants/so-yte": "create 3"}
SKIPPED = {"tenants/so-khcn": "unchanged", "tenants/so-yte": "unchanged"}


def test_an_unchanged_tenant_is_skipped_and_a_changed_one_runs(site_root: Path) -> None:
    assert up(site_root) == RAN
    assert up(site_root) == SKIPPED
    path = site_root / "tenants" / "so-yte.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("quota_profile: S", "quota_profile: M"),
                    encoding="utf-8")  # fmt: skip
    assert up(site_root) == {"tenants/so-khcn": "unchanged", "tenants/so-yte": "create 1,delete 1,same 2"}
    assert up(site_root) == SKIPPED


def test_an_unchanged_tenant_is_told_from_its_files_without_selecting_its_stack(
    site_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stack select` (0.35 CPU-s) is most of what a skipped stack still cost: its checkpoint file
    and config tell it unchanged; a stack whose update holds its lock is selected (and then
    skipped all the same, its state being the recorded one)."""
    up(site_root)
    selected: list[str] = []
    real = _Engine.select

    def select(self: _Engine, stack: str, name: str) -> Any:
        selected.append(name)
        return real(self, stack, name)

    monkeypatch.setattr(_Engine, "select", select)
    assert up(site_root) == SKIPPED
    assert selected == []
    backend = engine.Workspace.of(load_site(site_root)).backend
    lock = backend / ".pulumi" / "locks" / "organization" / "hatang-tenants" / "aio.so-yte" / "held.json"
    lock.parent.mkdir(parents=True, exist_ok=True)  # the CLI leaves it, empty, after an update
    lock.write_text("{}", encoding="utf-8")
    assert up(site_root) == SKIPPED
    assert selected == ["aio.so-yte"]


@pytest.mark.parametrize("found", [[".json", ".json.gz"], [".json.zst"], []])
def test_a_checkpoint_in_doubt_is_not_read_from_its_file(site_root: Path, found: list[str]) -> None:
    """Two compressions (the CLI reads the newer), zstd (no reader here), none: the CLI is asked."""
    session = _Engine.open(load_site(site_root), "tenants", None, None, None, site_root.parent / "program")
    folder = session.workspace.backend / ".pulumi" / "stacks" / "hatang-tenants"
    folder.mkdir(parents=True)
    for ext in found:
        (folder / f"aio.so-yte{ext}").write_text('{"checkpoint": {"latest": {"resources": []}}}', encoding="utf-8")
    assert session.checkpoint("tenants", "aio.so-yte") is None
    (folder / "aio.so-khcn.json").write_text('{"checkpoint": {"latest": {"resources": []}}}', encoding="utf-8")
    assert session.checkpoint("tenants", "aio.so-khcn") == {"resources": []}


@pytest.mark.parametrize("force", [{"skip": False}, {"refresh": True}])
def test_no_skip_and_refresh_run_every_stack(site_root: Path, force: dict[str, bool]) -> None:
    up(site_root)
    assert up(site_root, **force) == {"tenants/so-khcn": "same 3", "tenants/so-yte": "same 3"}


def test_a_hand_edited_state_is_not_skipped(site_root: Path) -> None:
    """A resource dropped from the state by hand (`pulumi state delete`, an import): up creates it again."""
    from pulumi import automation as auto

    up(site_root)
    session = _Engine.open(load_site(site_root), "tenants", None, None, None, site_root.parent / "program")
    handle = session.select("tenants", "aio.so-yte")
    deployment = handle.export_stack().deployment
    rows = [r for r in deployment["resources"] if r["type"] != "hatang:test:Quota"]
    handle.import_stack(auto.Deployment(version=3, deployment={**deployment, "resources": rows}))
    assert up(site_root) == {"tenants/so-khcn": "unchanged", "tenants/so-yte": "create 1,same 2"}


def test_a_failed_last_update_is_not_skipped(site_root: Path) -> None:
    up(site_root)
    (site_root.parent / "fail").touch()
    with pytest.raises(engine.EngineError, match="the update fails"):
        up(site_root, skip=False, tenants=["so-yte"])
    (site_root.parent / "fail").unlink()
    assert up(site_root) == {"tenants/so-khcn": "unchanged", "tenants/so-yte": "same 3"}


# -- what the fingerprint covers, without the engine


@pytest.fixture
def fingerprints(site_root: Path) -> Any:
    """The tenants' fingerprints as `up` computes them (the pack on), after each change a test makes."""
    site = load_site(site_root)
    session = _Engine.open(site, "tenants", None, None, None, None)

    def compute() -> dict[str, str]:
        resources = engine._mock_check(site, "tenants", None, False)
        return _engine_skip._fingerprints(session, resources, True, None)

    return compute


def test_a_policy_change_changes_every_fingerprint(fingerprints: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    rules = tmp_path / "policies.py"
    rules.write_text("RULES = 1\n", encoding="utf-8")
    monkeypatch.setattr(_engine_skip, "PACK_CODE", (rules,))
    before = fingerprints()
    rules.write_text("RULES = 2\n", encoding="utf-8")
    after = fingerprints()
    assert sorted(before) == ["so-khcn", "so-yte"] and all(before[c] != after[c] for c in before)


def test_another_provider_plugin_changes_every_fingerprint(fingerprints: Any, tmp_path: Path) -> None:
    tools = engine.find_tools()
    before = fingerprints()
    plugins = tools.home / "plugins"
    plugins.unlink()  # the tmp cache's link to the built plugins: a rebuilt plugin in its place
    (tools.plugin.parent).mkdir(parents=True)
    tools.plugin.write_text("#!/bin/sh\n", encoding="utf-8")
    tools.plugin.chmod(0o755)
    after = fingerprints()
    assert all(before[c] != after[c] for c in before)


def test_a_resource_option_changes_the_fingerprint(fingerprints: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ignore_changes` (as any option the engine acts on) is part of what a stack declares."""
    from infra.stacks import mockrun

    before = fingerprints()
    real = mockrun._options

    def ignoring(request: Any) -> dict[str, Any]:
        options = real(request)
        if request.name == "so-yte-project":
            options["ignoreChanges"] = ["description"]
        return options

    monkeypatch.setattr(mockrun, "_options", ignoring)
    after = fingerprints()
    assert before["so-khcn"] == after["so-khcn"] and before["so-yte"] != after["so-yte"]


def test_a_hand_edited_stack_config_changes_its_stamp(site_root: Path) -> None:
    """`pulumi config set` on a tenant's stack (e.g. openstack:insecure): the engine would use it."""
    up(site_root)
    folder = engine.Workspace.of(load_site(site_root)).project_dir("tenants")
    path = folder / "Pulumi.aio.so-yte.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  openstack:insecure: \"true\"\n", encoding="utf-8")
    assert up(site_root) == {"tenants/so-khcn": "unchanged", "tenants/so-yte": "same 3"}


def test_a_platform_resource_replaced_changes_every_fingerprint(fingerprints: Any, site_root: Path) -> None:
    """The tenants look the platform's domain, roles, networks and pools up: new ids, new inputs."""
    from pulumi import automation as auto

    session = _Engine.open(load_site(site_root), "platform", None, None, None, None)
    handle = session.select("platform", "aio")
    root = "urn:pulumi:aio::hatang-platform::pulumi:pulumi:Stack::hatang-platform-aio"
    kind = "openstack:networking/network:Network"
    network = {"urn": f"urn:pulumi:aio::hatang-platform::{kind}::ext-dmz-network", "custom": True, "type": kind,
               "id": "net-1", "parent": root}  # fmt: skip
    rows = [{"urn": root, "custom": False, "type": "pulumi:pulumi:Stack"}, network]
    handle.import_stack(auto.Deployment(version=3, deployment={"resources": rows}))
    before = fingerprints()
    network["id"] = "net-2"
    handle.import_stack(auto.Deployment(version=3, deployment={"resources": rows}))
    after = fingerprints()
    assert all(before[c] != after[c] for c in before)


def test_the_cli_names_each_skipped_tenant_and_no_skip_runs_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from infra.cli import app

    asked: list[bool] = []

    def run_stacks(site: Any, stack: str, operation: str, **options: Any) -> list[engine.Outcome]:
        asked.append(options["skip"])
        return [engine.Outcome("up", "tenants/so-khcn", {"same": 41}, skipped="unchanged"),
                engine.Outcome("up", "tenants/so-yte", {"same": 30, "update": 1})]  # fmt: skip

    monkeypatch.setattr(engine, "run_stacks", run_stacks)
    for flags, skip in (([], True), (["--no-skip"], False)):
        result = CliRunner().invoke(app, ["cloud", "up", "-i", str(AIO), "--stack", "tenants", *flags])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            "aio/tenants/so-khcn: up: unchanged (skipped)",
            "aio/tenants/so-yte: up: same 30, update 1",
            "aio/tenants: up: same 71, update 1",
        ]
        assert asked[-1] is skip
