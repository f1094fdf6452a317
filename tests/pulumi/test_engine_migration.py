"""The move of a one-stack tenants state into the tenants' own stacks, with the real CLI, no cloud.

Before one stack per tenant, the stack `<site>` of `hatang-tenants` held every tenant. The old
program was today's run on the stack `<site>` (same components, names and parents), so its state
is crafted from the mock run of the AIO site: every resource with a made-up id, its provider
reference, `protect` and dependencies, imported with `pulumi stack import` into a file backend
under tmp. `hatang cloud` then moves it (`infra._engine_migration._tenant_stacks`), including after the
interruptions an engineer's Ctrl-C or a full disk can leave.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from infra import engine
from infra._engine_migration import _tenant_stacks
from infra._engine_session import _Engine
from infra.site import load_site
from infra.stacks.mockrun import MockRun
from tests.conftest import AIO

ROOT = "urn:pulumi:aio::hatang-tenants::pulumi:pulumi:Stack::hatang-tenants-aio"
CODES = ("so-khcn", "so-yte")


def tools_in(tmp_path: Path, log: Path | None = None) -> Path:
    """A tools cache whose PULUMI_HOME is under tmp: the built engine and plugin, linked. With `log`,
    `pulumi` is a wrapper that appends each run's arguments to that file (the CLI's runs, counted)."""
    real = engine.find_tools()
    root = tmp_path / "tools" / "pulumi" / "current"
    (root / "home").mkdir(parents=True)
    (root / "home" / "plugins").symlink_to(real.home / "plugins")
    if log is None:
        (root / "bin").symlink_to(real.root / "bin")
        return tmp_path / "tools"
    (root / "bin").mkdir()
    for binary in (real.root / "bin").iterdir():
        if binary.name != "pulumi":
            (root / "bin" / binary.name).symlink_to(binary)
    wrapper = root / "bin" / "pulumi"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(log))}\n'
                       f'exec {shlex.quote(str(real.pulumi))} "$@"\n', encoding="utf-8")  # fmt: skip
    wrapper.chmod(0o755)
    return tmp_path / "tools"


def cli_runs(log: Path) -> list[str]:
    """The CLI's runs in a `tools_in` log, by subcommand (`stack select`, `destroy`), sorted."""
    if not log.is_file():
        return []
    runs = []
    for line in log.read_text(encoding="utf-8").splitlines():
        words = [word for word in line.split() if not word.startswith("-")]  # the SDK's flags come first
        runs.append(" ".join(words[:2] if words[0] in ("stack", "config", "state") else words[:1]))
    return sorted(runs)


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The engine session of the AIO site on an empty file backend under tmp."""
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tools_in(tmp_path)))
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    return _Engine.open(load_site(AIO), "tenants", None, None, None, None)


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
    assert sorted(_tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)
    before = states(session)
    assert sorted(_tenant_stacks(session, "tenants")) == list(CODES)  # a second run: nothing to move
    assert states(session) == before


def test_a_run_interrupted_after_one_tenant_is_completed(session: Any, aio_run: MockRun) -> None:
    old = old_deployment(aio_run)
    put(session, "aio", old)
    move(session, "so-yte")
    assert sorted(states(session)) == ["aio", "aio.so-yte"]
    assert sorted(_tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)


def test_a_move_interrupted_after_its_destination_was_saved_is_completed(session: Any, aio_run: MockRun) -> None:
    """`state move` saves the destination first: killed before the source was saved, the tenant
    is in both stacks, and a plain move of it again is refused by the CLI ('already exists')."""
    old = old_deployment(aio_run)
    put(session, "aio", old)
    move(session, "so-khcn")
    put(session, "aio", old)  # the source as it was: its save never happened
    assert sorted(_tenant_stacks(session, "tenants")) == list(CODES)
    assert_split(session, old)


def test_a_tenant_stack_that_already_exists_empty_receives_its_tenant(session: Any, aio_run: MockRun) -> None:
    old = old_deployment(aio_run)
    put(session, "aio", old)
    session.select("tenants", "aio.so-khcn")  # created (e.g. by a run stopped before the move)
    assert sorted(_tenant_stacks(session, "tenants")) == list(CODES)
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
        _tenant_stacks(session, "tenants")
    assert states(session) == before
    with pytest.raises(engine.EngineError, match=r"(?s)no tenant was moved.*\(previewed on a copy of the state"):
        engine.run_stacks(load_site(AIO), "tenants", "preview", policy_pack=False)  # says what `up` will say
    assert states(session) == before


# -- a preview of a one-stack state: nothing moved


ONE_STACK_PROGRAM = """\
import pulumi
from infra.stacks._program import load_program_site, stack_tenant

site = load_program_site()
only = stack_tenant(pulumi.get_stack())
for tenant in site.tenants:
    if only in (None, tenant.code):
        component = pulumi.ComponentResource("hatang:tenants:AgencyTenant", tenant.code, None)
        pulumi.ComponentResource("hatang:test:Quota", f"{tenant.code}-quota-{tenant.quota_profile}", None,
                                 pulumi.ResourceOptions(parent=component))
"""
"""A component-only stand-in for pulumi/tenants (no provider: no cloud), rendering every tenant on
the stack `<site>` as the program before one stack per tenant did, and one on `<site>.<code>`."""


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_preview_of_a_one_stack_state_moves_nothing_and_shows_what_up_will_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` moves the tenants first, then runs their stacks; a preview must not write the state,
    so it moves a copy and previews the tenants' stacks there (a site edit shows in its tenant's)."""
    monkeypatch.setenv("HATANG_TOOLS_CACHE", str(tools_in(tmp_path)))
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    program = tmp_path / "program"
    program.mkdir()
    (program / "__main__.py").write_text(ONE_STACK_PROGRAM, encoding="utf-8")
    root = tmp_path / "aio"
    shutil.copytree(AIO, root)
    engine.run(load_site(root), "tenants", "up", policy_pack=False, program=program)  # the one-stack state
    request = root / "tenants" / "so-yte.yml"
    request.write_text(request.read_text(encoding="utf-8").replace("quota_profile: S", "quota_profile: M"),
                       encoding="utf-8")  # fmt: skip
    state = tmp_path / "state" / "aio"
    before = files(state)
    lines: list[str] = []

    def run(operation: Any) -> dict[str, dict[str, int]]:
        outcomes = engine.run_stacks(load_site(root), "tenants", operation, policy_pack=False, program=program,
                                     on_output=lambda label, line: lines.append(f"{label} | {line}"))  # fmt: skip
        return {o.stack: dict(o.changes) for o in outcomes}

    previewed = run("preview")
    assert previewed == {"tenants/so-khcn": {"same": 3}, "tenants/so-yte": {"create": 1, "delete": 1, "same": 2}}
    assert files(state) == before, "the preview wrote the state (or left its copy)"
    assert any("`hatang cloud up` will move them into their own stacks first" in line for line in lines), lines
    ran = run("up")  # moves, then runs: what the preview showed
    assert ran == previewed
    session = _Engine.open(load_site(root), "tenants", None, None, None, program)
    assert sorted(session.stack_names("tenants")) == ["aio.so-khcn", "aio.so-yte"]
