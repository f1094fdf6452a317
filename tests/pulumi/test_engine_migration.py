"""The move of a one-stack tenants state into the tenants' own stacks, with the real CLI, no cloud.

Before one stack per tenant, the stack `<site>` of `hatang-tenants` held every tenant. The old
program was today's run on the stack `<site>` (same components, names and parents), so its state
is crafted from the mock run of the AIO site: every resource with a made-up id, its provider
reference, `protect` and dependencies, imported with `pulumi stack import` into a file backend
under tmp. `hatang cloud` then moves it (`infra.engine._tenant_stacks`), including after the
interruptions an engineer's Ctrl-C or a full disk can leave.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from infra import engine
from infra.site import load_site
from infra.stacks.mockrun import MockRun
from tests.conftest import AIO

ROOT = "urn:pulumi:aio::hatang-tenants::pulumi:pulumi:Stack::hatang-tenants-aio"
CODES = ("so-khcn", "so-yte")


def tools_in(tmp_path: Path) -> Path:
    """A tools cache whose PULUMI_HOME is under tmp: the built engine and plugin, linked."""
    real = engine.find_tools()
    root = tmp_path / "tools" / "pulumi" / "current"
    (root / "home").mkdir(parents=True)
    (root / "bin").symlink_to(real.root / "bin")
    (root / "home" / "plugins").symlink_to(real.home / "plugins")
    return tmp_path / "tools"


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The engine session of the AIO site on an empty file backend under tmp."""
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tools_in(tmp_path)))
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    return engine._Engine.open(load_site(AIO), "tenants", None, None, None, None)


def old_deployment(run: MockRun) -> dict[str, Any]:
    """The state the one-stack program left: every tenant under the stack `aio`."""
    declared = [r for r in run.resources if r.program == "tenants"]
    (provider,) = [r for r in declared if r.type == "pulumi:providers:openstack"]
    ids = {r.urn: str(uuid.UUID(int=n + 1)) for n, r in enumerate(declared) if r.custom}
    rows: list[dict[str, Any]] = [{"urn": ROOT, "custom": False, "type": "pulumi:pulumi:Stack"}]
    for r in declared:
        row: dict[str, Any] = {"urn": r.urn, "custom": r.custom, "type": r.type, "parent": r.parent or ROOT,
                               "protect": r.protect, "dependencies": list(r.dependencies)}  # fmt: skip
        if r.custom:
            row |= {"id": ids[r.urn], "inputs": dict(r.inputs), "outputs": {**r.inputs, "id": ids[r.urn]}}
        if r.custom and r is not provider:
            row["provider"] = f"{provider.urn}::{ids[provider.urn]}"
        rows.append(row)
    version = "v3.276.0"
    manifest = {"time": "2026-11-28T00:00:00Z", "magic": hashlib.sha256(version.encode()).hexdigest(),
                "version": version}  # fmt: skip
    return {"manifest": manifest, "resources": rows}


def put(session: Any, name: str, deployment: dict[str, Any]) -> None:
    """`pulumi stack import` of a deployment into the stack `name` (created when new)."""
    from pulumi import automation as auto

    session.select("tenants", name).import_stack(auto.Deployment(version=3, deployment=deployment))


def states(session: Any) -> dict[str, list[dict[str, Any]]]:
    """Every stack of the tenants project with its resources."""
    return {
        name: (session.select("tenants", name).export_stack().deployment or {}).get("resources", [])
        for name in session.stack_names("tenants")
    }


def move(session: Any, code: str) -> None:
    """One tenant moved by hand, as the first step of an interrupted run did."""
    component = f"urn:pulumi:aio::hatang-tenants::hatang:tenants:AgencyTenant::{code}"
    session.select("tenants", f"aio.{code}")
    subprocess.run(
        [str(session.tools.pulumi), "state", "move", "--source", "aio", "--dest", f"aio.{code}", "--yes",
         "--non-interactive", component],
        cwd=session.workspace.project_dir("tenants"), env={**os.environ, **session.env}, check=True,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _owner(urn: str) -> str:
    """The tenant a resource of the AIO's tenants program belongs to (its names start with the code)."""
    name = urn.rsplit("::", 1)[-1]
    return next(code for code in CODES if name == code or name.startswith(f"{code}-"))


def assert_split(session: Any, old: dict[str, Any]) -> None:
    """Each tenant's resources in its own stack, same ids, URNs (but the stack), parents and
    `protect`; the stack `aio` removed; nothing lost, nothing added."""
    after = states(session)
    assert sorted(after) == [f"aio.{code}" for code in CODES], sorted(after)
    rows = [r for r in old["resources"] if r["type"] not in ("pulumi:pulumi:Stack", "pulumi:providers:openstack")]
    moved = 0
    for code in CODES:
        stack = f"aio.{code}"
        kept = {r["urn"]: r for r in after[stack]}
        provider = next(r for r in after[stack] if r["type"] == "pulumi:providers:openstack")
        mine = [r for r in rows if _owner(r["urn"]) == code]
        for row in mine:
            urn = row["urn"].replace("urn:pulumi:aio::", f"urn:pulumi:{stack}::")
            assert urn in kept, f"{urn} lost"
            new = kept[urn]
            assert new.get("id") == row.get("id"), urn
            assert bool(new.get("protect")) == row["protect"], urn
            parent = row["parent"].replace("urn:pulumi:aio::", f"urn:pulumi:{stack}::")
            assert new["parent"] == (parent if row["parent"] != ROOT else f"{parent}.{code}"), urn
            assert new.get("inputs", {}) == row.get("inputs", {}), urn
            if row["custom"]:
                assert new["provider"] == f"{provider['urn']}::{provider['id']}", urn
        assert len(after[stack]) == len(mine) + 2, f"{stack}: its Stack, its provider and its {len(mine)} resources"
        moved += len(mine)
    assert moved == len(rows) and any(r["protect"] for r in rows)


def test_a_one_stack_state_is_split_into_the_tenants_stacks(session: Any, aio_run: MockRun) -> None:
    old = old_deployment(aio_run)
    put(session, "aio", old)
    assert sorted(engine._tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)
    before = states(session)
    assert sorted(engine._tenant_stacks(session, "tenants")) == list(CODES)  # a second run: nothing to move
    assert states(session) == before


def test_a_run_interrupted_after_one_tenant_is_completed(session: Any, aio_run: MockRun) -> None:
    old = old_deployment(aio_run)
    put(session, "aio", old)
    move(session, "so-yte")
    assert sorted(states(session)) == ["aio", "aio.so-yte"]
    assert sorted(engine._tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)


def test_a_move_interrupted_after_its_destination_was_saved_is_completed(session: Any, aio_run: MockRun) -> None:
    """`state move` saves the destination first: killed before the source was saved, the tenant
    is in both stacks, and a plain move of it again is refused by the CLI ('already exists')."""
    old = old_deployment(aio_run)
    put(session, "aio", old)
    move(session, "so-khcn")
    put(session, "aio", old)  # the source as it was: its save never happened
    assert sorted(engine._tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)


def test_a_tenant_stack_that_already_exists_empty_receives_its_tenant(session: Any, aio_run: MockRun) -> None:
    old = old_deployment(aio_run)
    put(session, "aio", old)
    session.select("tenants", "aio.so-khcn")  # created (e.g. by a run stopped before the move)
    assert sorted(engine._tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)


def test_a_tenant_in_both_stacks_with_other_ids_is_refused_and_nothing_moves(
    session: Any, aio_run: MockRun
) -> None:
    """Which copy describes the cloud cannot be told from the state: an engineer decides."""
    old = old_deployment(aio_run)
    put(session, "aio", old)
    move(session, "so-khcn")
    other = old_deployment(aio_run)
    for row in other["resources"]:
        if row.get("id") and "so-khcn" in row["urn"]:
            row["id"] = row["outputs"]["id"] = str(uuid.uuid4())  # created again, elsewhere
    put(session, "aio", other)
    before = states(session)
    with pytest.raises(engine.EngineError, match=r"tenant so-khcn is both in the one stack aio .* no tenant was moved"):
        engine._tenant_stacks(session, "tenants")
    assert states(session) == before
