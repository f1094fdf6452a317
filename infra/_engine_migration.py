"""The move of a state from before one stack per tenant into the tenants' own stacks.

Before, the stack `<site>` of `hatang-tenants` held every tenant; `up` (and `refresh`,
`destroy`) move it first. A `preview` runs on a copy of the state (`_Engine.scratch`), so the
move it makes there shows what `up` will do, move included, and the state is not written.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from infra._engine_session import TENANT_COMPONENT, EngineError, _Engine, _holds_nothing
from infra.site import display_path


def _tenant_stacks(engine: _Engine, stack: str, names: list[str] | None = None) -> list[str]:
    """The codes of the tenants whose stacks the state holds, once a one-stack state is split.
    `names`: the project's stacks, when the caller just listed them."""
    names = engine.stack_names(stack) if names is None else names
    if engine.site.name in names:
        _split_one_stack_of_all(engine, stack)
        names = engine.stack_names(stack)
    return [name.partition(".")[2] for name in names if name.startswith(f"{engine.site.name}.")]


def _split_one_stack_of_all(engine: _Engine, stack: str) -> None:
    """A state from before one stack per tenant (stack `<site>` holding every tenant) is moved
    into the tenants' stacks (`pulumi state move`, each tenant's component with its children).

    Safe to run again after an interruption: a tenant already moved is skipped, and one that
    `state move` wrote to its stack but not yet removed from `<site>` (it saves the destination
    first) is dropped from `<site>` once its stack is seen to hold the same resources and ids.
    A tenant's stack holding other resources of that tenant is refused, nothing changed.
    """
    from pulumi import automation as auto

    name = engine.site.name
    try:
        handle = engine.select(stack, name)
        moves, copied = _plan_split(engine, stack, (handle.export_stack().deployment or {}).get("resources", []))
        for code, urn in moves:
            subprocess.run(
                [str(engine.tools.pulumi), "state", "move", "--source", name, "--dest", f"{name}.{code}",
                 "--yes", "--non-interactive", urn],
                cwd=engine.workspace.project_dir(stack), env={**os.environ, **engine.env}, check=True,
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        deployment = handle.export_stack().deployment or {}
        if copied:
            kept = [r for r in deployment.get("resources", []) if r["urn"] not in copied]
            handle.import_stack(auto.Deployment(version=3, deployment={**deployment, "resources": kept}))
            deployment = handle.export_stack().deployment or {}
        if _holds_nothing(deployment):
            handle.workspace.remove_stack(name, force=True)  # only its Stack and provider rows are left
    except (auto.CommandError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise EngineError(
            f"the tenants of {name} are in one stack (before one stack per tenant) and moving them "
            f"failed:\n{str(detail).strip()[-2000:]}\n(state: {display_path(engine.workspace.backend)})"
        ) from None


def _plan_split(engine: _Engine, stack: str, resources: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], set[str]]:
    """Every tenant of the one stack checked before any is moved: (code, component URN) to move,
    and the URNs to drop from the one stack because the tenant's stack already holds them."""
    moves, copied = [], set()
    for urn in [r["urn"] for r in resources if r.get("type") == TENANT_COMPONENT]:
        code = urn.rsplit("::", 1)[-1]
        target = engine.select(stack, f"{engine.site.name}.{code}")  # created when new
        held = _tenant_rows((target.export_stack().deployment or {}).get("resources", []))
        if held:
            copied |= _already_moved(engine.site.name, code, _tree(resources, urn), held)
        else:
            moves.append((code, urn))
    return moves, copied



def _tree(resources: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    """The rows of `root` and of its descendants (children are listed after their parents)."""
    inside = {root}
    for row in resources:
        if row.get("parent") in inside:
            inside.add(row["urn"])
    return [row for row in resources if row["urn"] in inside]


def _tenant_rows(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tenant stack's rows but its Stack and providers."""
    return [r for r in resources if not str(r.get("type", "")).startswith(("pulumi:pulumi:Stack", "pulumi:providers:"))]


def _already_moved(site: str, code: str, rows: list[dict[str, Any]], held: list[dict[str, Any]]) -> set[str]:
    """The URNs in `<site>` of a tenant its stack already holds (a move interrupted after the
    destination was saved), to drop from `<site>`.

    Raises:
        EngineError: the tenant's stack holds something else (other ids or resources): which copy
            is the cloud's cannot be told here, so nothing is changed.
    """
    moved = {(r["urn"].replace(f"urn:pulumi:{site}::", f"urn:pulumi:{site}.{code}::", 1), r.get("id")) for r in rows}
    if moved != {(r["urn"], r.get("id")) for r in held}:
        raise EngineError(
            f"tenant {code} is both in the one stack {site} (before one stack per tenant: {len(rows)} "
            f"resources) and in its own stack {site}.{code} ({len(held)} resources), with other resources "
            f"or ids: no tenant was moved (fix: keep the copy that matches the cloud: `pulumi state delete` "
            f"the other one, or remove the stack {site}.{code} if it is the stale one)"
        )
    return {r["urn"] for r in rows}
