"""hatang's thin wrapper over Pulumi's Automation API: up, preview, refresh, destroy of a site's stacks.

The engine (CLI, Python language host, OpenStack plugin) is the one `scripts/pulumi-tools` builds
into `$HATANG_TOOLS_CACHE/pulumi/current`. Each site's state stays in the province: a file backend
and a passphrase under `.hatang/pulumi/<site>/` (git-ignored), never a SaaS. The projects' code is
the repository's `pulumi/<stack>` folder; the workspace beside the state holds only a Pulumi.yaml
pointing at it (`main:`) and the stack's config, so the repository is never written.

This module runs the operations; the session (tools, workspace, stack selection) is in
`infra._engine_session`, the move of a one-stack state in `infra._engine_migration`, the
skipping of unchanged stacks in `infra._engine_skip`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra._engine_migration import _tenant_stacks
from infra._engine_session import (
    REPO,
    STACKS,
    Declared,
    EngineError,
    Operation,
    Outcome,
    PolicyViolationError,
    ProtectedDeletionError,
    Tools,
    WithoutTracebacks,
    Workspace,
    _counts,
    _Engine,
    _holds_nothing,
    _refuse_protected,
    _would_lose,
    find_tools,
    tool_versions,
)
from infra._engine_skip import _checked, _digest, _fingerprints, _peek, _Record, _Selected, _stamp, _unchanged
from infra.site import Site

if TYPE_CHECKING:
    from infra.stacks.mockrun import RegisteredResource

__all__ = [
    "REPO",
    "STACKS",
    "TENANT_JOBS",
    "EngineError",
    "Operation",
    "Outcome",
    "PolicyViolationError",
    "ProtectedDeletionError",
    "Tools",
    "Workspace",
    "check_offline",
    "find_tools",
    "run",
    "run_stacks",
    "tool_versions",
]


def check_offline(
    site: Site, stack: str, as_of: datetime | None, policy_pack: bool, tenants: Collection[str] | None = None
) -> Declared:
    """Run the repository's programs under the SDK's mocks (infra.stacks.mockrun) on the same
    site and moment as the engine will, and refuse a mandatory policy violation before the
    engine starts. Returns what the stack's program declares (same names and inputs, with
    placeholder ids), to compare with the protected resources of the state. `tenants`: only
    these tenants are declared (the stacks about to run; a 1,000-tenant site's mock run takes 24 s).

    Raises:
        PolicyViolationError: the pack refuses a declared resource.
    """
    return _declared(_mock_check(site, stack, as_of, policy_pack, tenants))


def _declared(resources: Collection[RegisteredResource]) -> Declared:
    return frozenset((r.type, r.name) for r in resources)


def _mock_check(
    site: Site, stack: str, as_of: datetime | None, policy_pack: bool, tenants: Collection[str] | None = None
) -> list[RegisteredResource]:
    """check_offline's mock run and pack; the stack's resources as registered (with inputs and options)."""
    from infra.offline_plan import evaluate_policies  # loads the SDK's mocks: only for `up`
    from infra.stacks.mockrun import run_programs

    programs = ("platform",) if stack == "platform" else ("platform", stack)
    mocked = run_programs(site.root, now=as_of, programs=programs, lenient=False, site=site, tenants=tenants)
    if policy_pack:
        owner = {r.urn: r.program for r in mocked.resources} | {f"stack {p}": p for p in programs}
        violations = [v for v in evaluate_policies(mocked, site) if owner.get(v.urn) == stack]
        if violations:
            raise PolicyViolationError(
                f"pulumi up of {site.name}/{stack} refused by the policy pack before anything changed:\n"
                + "\n".join(f"[mandatory] {v}" for v in violations[:40])
            )
    return [r for r in mocked.resources if r.program == stack]


def _operate(
    engine: _Engine,
    stack: str,
    name: str,
    operation: Operation,
    *,
    policy: list[str] | None,
    refresh: bool,
    declared: Declared | None,
    on_output: Callable[[str], None] | None,
    selected: Any = None,
    pack_config: list[str] | None = None,
    fingerprint: str | None = None,
) -> Outcome:
    """One engine operation on one stack (the state's protected resources checked before up/destroy,
    unless `selected` is the stack's handle, already checked). `fingerprint`: what the stack
    declares, recorded with its state once an `up` succeeded (the next `up` may then skip it)."""
    from pulumi import automation as auto

    on_output = WithoutTracebacks(on_output) if on_output is not None else None
    tenant = name.partition(".")[2]
    label = f"{engine.site.name}/{stack}" + (f"/{tenant}" if tenant else "")
    try:
        handle = selected if selected is not None else engine.select(stack, name)
        if operation == "preview":
            result = handle.preview(on_output=on_output, policy_packs=policy, policy_pack_configs=pack_config,
                                    refresh=True)  # fmt: skip
            return Outcome(operation, label.split("/", 1)[1], _counts(result.change_summary))
        if operation == "refresh":
            refreshed = handle.refresh(on_output=on_output)
            return Outcome(operation, label.split("/", 1)[1], _counts(refreshed.summary.resource_changes))
        if operation == "up" and declared is None:
            # Another program (tests): the engine's own preview checks the change whole.
            handle.preview(policy_packs=policy, refresh=refresh)
        elif selected is None:
            kept = _would_lose(engine.state(stack, name, handle), declared if operation == "up" else None)
            _refuse_protected(label, operation, kept)
        record = _Record(engine.workspace.project_dir(stack), name)
        record.forget()  # whatever happens next, the last update is no longer the one recorded
        if operation == "destroy":
            # A tenant's stack goes with its resources, in the same CLI run (`--remove`).
            changes = engine.update(handle, "destroy", on_output=on_output, remove=name != engine.site.name)
            return Outcome(operation, label.split("/", 1)[1], changes)
        changes = engine.update(handle, "up", on_output=on_output, policy_packs=policy, pack_config=pack_config,
                                refresh=refresh)  # fmt: skip
        deployment = engine.state(stack, name, handle) if name != engine.site.name else {}
        if name != engine.site.name and changes.get("delete") and _holds_nothing(deployment):
            handle.workspace.remove_stack(name, force=True)  # a removed tenant's, emptied: Stack and provider left
        elif fingerprint is not None:
            record.write(fingerprint, _digest(deployment))
        return Outcome(operation, label.split("/", 1)[1], changes)
    except auto.CommandError as exc:
        raise engine.failed(label, operation, exc) from None


def run(
    site: Site,
    stack: str,
    operation: Operation,
    *,
    cloud: str | None = None,
    clouds_yaml: Path | None = None,
    policy_pack: bool = True,
    refresh: bool = False,
    as_of: datetime | None = None,
    program: Path | None = None,
    on_output: Callable[[str], None] | None = None,
) -> Outcome:
    """Run one engine operation on the site's stack `<site>` of a project (one stack, every tenant).

    `hatang cloud` runs the tenants one stack each (`run_stacks`); this is for the platform, and
    for another program in place of the repository's (`program`, tests).

    Args:
        refresh: `up` reads the cloud into the state first (a resource deleted by hand is
            created again); `preview` always does.
        as_of: the moment retirement grace periods are measured against (`hatang:asOf`):
            shows or applies what the site means on that day.
        program: another program folder in place of the repository's pulumi/<stack> (tests).

    Raises:
        EngineError: the engine is missing or the operation failed (its last lines in the message).
    """
    engine = _Engine.open(site, stack, cloud, clouds_yaml, as_of, program, prepare=operation != "preview")
    policy = [str(REPO / "pulumi" / "policy")] if policy_pack else None
    declared = check_offline(site, stack, as_of, policy_pack) if operation == "up" and program is None else None
    if operation != "preview":
        return _operate(engine, stack, site.name, operation, policy=policy, refresh=refresh, declared=declared,
                        on_output=on_output)  # fmt: skip
    with engine.scratch(stack) as trial:  # a preview never writes the state, not even a new stack
        return _operate(trial, stack, site.name, operation, policy=policy, refresh=refresh, declared=declared,
                        on_output=on_output)  # fmt: skip


TENANT_JOBS = 4
"""Tenant stacks run at once: the AIO's Neutron, not the engine, is then the limit (2 cores)."""


def run_stacks(
    site: Site,
    stack: str,
    operation: Operation,
    *,
    cloud: str | None = None,
    clouds_yaml: Path | None = None,
    policy_pack: bool = True,
    refresh: bool = False,
    as_of: datetime | None = None,
    jobs: int = TENANT_JOBS,
    tenants: Collection[str] | None = None,
    on_output: Callable[[str, str], None] | None = None,
    skip: bool = True,
    program: Path | None = None,
) -> list[Outcome]:
    """Run one engine operation on a site's stack: the platform, or every tenant's own stack.

    Each tenant has its stack `<site>.<code>` (state of its own ~40 resources: the file backend
    rewrites a stack's whole state after every step, so one stack of every tenant grew slower with
    each tenant). The stacks are those of the tenants the site declares and those the state holds
    (a tenant removed from the site keeps its stack until an `up` empties it). A state from
    before (one stack `<site>` of every tenant) is moved into the tenants' stacks first. A
    `preview` never writes the state: it runs on a copy (`_Engine.scratch`), where a new
    tenant's stack is created and a one-stack state moved. Before anything runs, the change is
    checked whole: the policy pack offline, and every stack's protected resources; one refusal
    and no stack changes. Then `jobs` stacks run at once; a failure in one stops none of the
    others, and every failure is reported at the end.

    `tenants` limits the run to these tenants' stacks (an agency onboarded alone); the offline
    check still covers the whole site. `on_output(label, line)` gets the engines' lines, `label`
    naming the stack. `up` skips a tenant's stack whose fingerprint (what it declares, with
    options, config, tools, pack, platform state: `_fingerprints`) and state are those its last
    successful `up` recorded, unless `skip` is False or `refresh` (its Outcome says `skipped`);
    told from the stack's files without selecting it, unless in doubt (`_engine_skip._peek`).
    `program`: another program folder in place of pulumi/tenants for the engine (tests); the
    offline check and the fingerprints still run the repository's.

    Raises:
        EngineError: one or more stacks failed (all named); ProtectedDeletionError and
            PolicyViolationError before anything changed.
    """
    import concurrent.futures

    from infra.specs.cloud import tenants_plan

    def output(label: str) -> Callable[[str], None] | None:
        return None if on_output is None else (lambda line: on_output(label, line))

    if stack != "tenants":
        return [run(site, stack, operation, cloud=cloud, clouds_yaml=clouds_yaml, policy_pack=policy_pack,
                    refresh=refresh, as_of=as_of, on_output=output(stack))]  # fmt: skip
    engine = _Engine.open(site, stack, cloud, clouds_yaml, as_of, program, prepare=operation != "preview")
    policy = [str(REPO / "pulumi" / "policy")] if policy_pack else None

    def run_tenants(engine: _Engine, names: list[str]) -> list[Outcome]:
        """The run on `engine`'s state (`names`: the project's stacks there)."""
        held = _tenant_stacks(engine, stack, names)
        codes = held
        if operation in ("preview", "up"):
            plan = tenants_plan(site, as_of if as_of is not None else datetime.now().astimezone())
            codes = sorted({*codes, *(spec.code for spec in plan.tenants)})
        if tenants is not None:
            unknown = sorted(set(tenants) - set(codes))
            if unknown:
                raise EngineError(
                    f"--tenant: {', '.join(unknown)[:200]}: no such tenant stack to {operation} in {site.name} "
                    f"(fix: one of {', '.join(codes)[:400] or 'none'}; a requested tenant is approved first)"
                )
            codes = [code for code in codes if code in tenants]
        resources = _mock_check(site, stack, as_of, policy_pack, tenants=codes) if operation == "up" else None
        declared = _declared(resources) if resources is not None else None
        pack_config = _pack_config(engine) if policy_pack and operation in ("preview", "up") else None
        fingerprints = _fingerprints(engine, resources, policy_pack, pack_config) if resources is not None else {}
        skipping = skip and not refresh
        peeked: dict[str, _Selected] = {}
        if skipping and declared is not None:
            # A stack the state holds told unchanged from its files, without selecting it (a CLI call).
            peeked = {code: found for code in codes if code in fingerprints and code in held
                      and (found := _peek(engine, stack, f"{site.name}.{code}", declared)) is not None}  # fmt: skip
        unchanged = _unchanged(engine, stack, {code: _stamp(fingerprints[code], s) for code, s in peeked.items()},
                               peeked)  # fmt: skip
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            # Every other stack selected (created when new) and, for up and destroy, the protected
            # resources of every stack checked, before any of them changes.
            checks = {code: pool.submit(_checked, engine, stack, f"{site.name}.{code}", declared, operation)
                      for code in codes if code not in unchanged}  # fmt: skip
            selected = {code: peeked[code] for code in unchanged} | {c: f.result() for c, f in checks.items()}
            _refuse_protected(f"{site.name}/{stack}", operation, [urn for s in selected.values() for urn in s.lost])
            stamps = {code: _stamp(fingerprints[code], selected[code]) for code in codes if code in fingerprints}
            if skipping:  # those in doubt, now selected, as the recorded ones too
                unchanged |= _unchanged(engine, stack, {c: stamps[c] for c in checks if c in stamps}, selected)
            futures = {
                code: pool.submit(
                    _operate, engine, stack, f"{site.name}.{code}", operation, policy=policy, refresh=refresh,
                    declared=declared if declared is not None else frozenset(), on_output=output(code),
                    selected=selected[code].handle, pack_config=pack_config, fingerprint=stamps.get(code),
                )
                for code in codes if code not in unchanged
            }
            outcomes = [Outcome("up", f"tenants/{code}", {"same": selected[code].rows}, skipped="unchanged")
                        for code in sorted(unchanged)]  # fmt: skip
            failures: list[tuple[str, EngineError]] = []
            for code, future in futures.items():
                try:
                    outcomes.append(future.result())
                except EngineError as exc:
                    failures.append((code, exc))
        if failures:
            policy_only = all(isinstance(e, PolicyViolationError) for _, e in failures)
            kind = PolicyViolationError if policy_only else EngineError
            done = ", ".join(o.stack for o in outcomes) or "none"
            raise kind("\n".join(str(e) for _, e in failures) + f"\n(stacks done: {done})")
        return sorted(outcomes, key=lambda outcome: outcome.stack)

    if operation != "preview":
        return run_tenants(engine, engine.stack_names(stack))
    # A preview never writes the state: it runs on a copy (`_Engine.scratch`), where the stacks of new
    # tenants are created, and a one-stack state (before one stack per tenant) is moved into the
    # tenants' stacks before they are previewed: what `up`, which moves it first, will do.
    with engine.scratch(stack) as trial:
        names = trial.stack_names(stack)
        if site.name in names and on_output is not None:
            on_output(stack, f"hatang: the tenants of {site.name} are in one stack (before one stack per tenant): "
                             "`hatang cloud up` will move them into their own stacks first; previewed as moved, "
                             "on a copy of the state (the state is not changed)")  # fmt: skip
        return run_tenants(trial, names)


def _pack_config(engine: _Engine) -> list[str] | None:
    """The pack's config for the tenants' stacks: the platform's zone network ids (what its stack
    exports), since the engine does not tell the pack which zone a network id is. None while the
    platform has no state (the pack then judges a router by its gateway address and tags)."""
    import json

    from infra.stacks.policies import EXTERNAL_NETWORK_IDS, LEVEL3_POLICY
    from pulumi import automation as auto

    engine.workspace.prepare("platform")
    saved = None if engine.locked("platform", engine.site.name) else engine.checkpoint("platform", engine.site.name)
    if saved is not None:  # the platform's outputs as its last update saved them: no CLI run
        stack_rows = [r for r in saved.get("resources") or [] if r.get("type") == "pulumi:pulumi:Stack"]
        value = (stack_rows[0].get("outputs") or {}).get(EXTERNAL_NETWORK_IDS) if len(stack_rows) == 1 else None
    else:
        try:
            folder = str(engine.workspace.project_dir("platform"))
            platform = auto.select_stack(stack_name=engine.site.name, work_dir=folder,
                                         opts=engine.options("platform"))  # fmt: skip
            output = platform.outputs().get(EXTERNAL_NETWORK_IDS)
        except auto.CommandError:
            return None
        value = None if output is None else output.value
    if not value or not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None  # none, or not a plain {zone: id} (a secret's envelope in the checkpoint)
    ids = value
    path = engine.workspace.project_dir("tenants") / "policy-config.json"
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({LEVEL3_POLICY: {EXTERNAL_NETWORK_IDS: ids}}, indent=1), encoding="utf-8")
    temporary.replace(path)
    return [str(path)]
