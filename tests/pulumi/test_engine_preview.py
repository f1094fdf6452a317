"""`hatang cloud preview` never writes the state, with the real CLI, no cloud.

A preview runs on a copy of the site's state (`_Engine.scratch`): a tenant's stack it creates
because it is new, the config it writes for this run, the pack's config, all stay in the copy.
The engine runs component-only stand-ins for the programs (as tests/pulumi/test_engine_skip.py)
on a file backend under tmp; each test hashes the state's files (and the CLI's record of
selected stacks in PULUMI_HOME) before and after.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra import engine
from infra._engine_session import _Engine
from infra.site import load_site
from tests.conftest import AIO
from tests.pulumi.test_engine_migration import tools_in
from tests.pulumi.test_engine_skip import PROGRAM

pytestmark = pytest.mark.pulumi_cli

PLATFORM = """\
import os
import pulumi

if os.path.exists({fail!r}):
    raise RuntimeError("the platform program fails")
pulumi.ComponentResource("hatang:test:Domain", "agencies", None)
pulumi.export("externalNetworkIds", {{"dmz": "net-dmz", "gov": "net-gov", "internet": "net-internet"}})
"""
"""A stand-in for pulumi/platform: one component, and the zone network ids the pack's config is made of."""


@pytest.fixture
def site_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the AIO site, its engine's tools and state under tmp, the stand-in programs."""
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tools_in(tmp_path)))
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    for name, text in (("tenants", PROGRAM), ("platform", PLATFORM)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__main__.py").write_text(text.format(fail=str(tmp_path / "fail")), encoding="utf-8")
    root = tmp_path / "aio"
    shutil.copytree(AIO, root)
    return root


def written(tmp_path: Path) -> dict[str, str]:
    """Every file of the state folder, and the CLI's records of selected stacks, with their digests."""
    folders = (tmp_path / "state", tmp_path / "tools" / "pulumi" / "current" / "home" / "workspaces")
    return {str(path.relative_to(tmp_path)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()}  # fmt: skip


def tenants(root: Path, operation: Any, **options: Any) -> dict[str, dict[str, int]]:
    """An operation on the tenants' stacks (the stand-in program): each stack's counts."""
    outcomes = engine.run_stacks(load_site(root), "tenants", operation, program=root.parent / "tenants",
                                 **{"policy_pack": False, **options})  # fmt: skip
    return {o.stack: dict(o.changes) for o in outcomes}


def platform(root: Path, operation: Any) -> dict[str, int]:
    outcome = engine.run(load_site(root), "platform", operation, policy_pack=False, program=root.parent / "platform")
    return dict(outcome.changes)


def stacks(root: Path, project: str) -> list[str]:
    """The project's stacks in the site's state."""
    session = _Engine.open(load_site(root), project, None, None, None, root.parent / project)
    return sorted(session.stack_names(project))


def test_a_preview_of_a_new_tenant_on_a_split_site_creates_no_stack(site_root: Path, tmp_path: Path) -> None:
    tenants(site_root, "up", tenants=["so-khcn"])  # so-yte not yet applied: its stack does not exist
    before = written(tmp_path)
    assert tenants(site_root, "preview") == {"tenants/so-khcn": {"same": 3}, "tenants/so-yte": {"create": 3}}
    assert written(tmp_path) == before, "the preview wrote the state"
    assert stacks(site_root, "tenants") == ["aio.so-khcn"]


def test_a_preview_from_an_empty_state_writes_nothing(site_root: Path, tmp_path: Path) -> None:
    """Not even the state folder, its passphrase or the platform's stack: they are `up`'s to create."""
    assert platform(site_root, "preview") == {"create": 2}  # its Stack and the component
    assert tenants(site_root, "preview") == {"tenants/so-khcn": {"create": 3}, "tenants/so-yte": {"create": 3}}
    assert not (tmp_path / "state").exists()
    assert written(tmp_path) == {}, "the CLI's records of the copies' selected stacks were left"


def test_a_preview_of_existing_stacks_writes_no_state(site_root: Path, tmp_path: Path) -> None:
    """Another `--as-of` (the stacks' config written for this run) and the pack's config (the
    platform's network ids, beside the tenants' workspace): both written in the copy only."""
    assert platform(site_root, "up") == {"create": 2}
    assert tenants(site_root, "up") == {"tenants/so-khcn": {"create": 3}, "tenants/so-yte": {"create": 3}}
    request = site_root / "tenants" / "so-yte.yml"
    request.write_text(request.read_text(encoding="utf-8").replace("quota_profile: S", "quota_profile: M"),
                       encoding="utf-8")  # fmt: skip
    before = written(tmp_path)
    assert platform(site_root, "preview") == {"same": 2}
    previewed = tenants(site_root, "preview", policy_pack=True, as_of=datetime(2026, 11, 28, tzinfo=UTC))
    assert previewed == {"tenants/so-khcn": {"same": 3}, "tenants/so-yte": {"create": 1, "delete": 1, "same": 2}}
    assert written(tmp_path) == before, "the preview wrote the state"
    assert not list((tmp_path / "state" / "aio").glob(".preview-*")), "the copy was left"


def test_a_failed_preview_names_the_state_not_its_copy(site_root: Path, tmp_path: Path) -> None:
    platform(site_root, "up")
    before = written(tmp_path)
    (tmp_path / "fail").touch()
    with pytest.raises(engine.EngineError) as failed:
        platform(site_root, "preview")
    message = str(failed.value)
    assert "the platform program fails" in message
    assert f"(state: {tmp_path / 'state' / 'aio' / 'backend'})" in message
    assert ".preview-" not in message
    assert message.endswith("(previewed on a copy of the state: the state of aio was not changed)")
    assert written(tmp_path) == before
