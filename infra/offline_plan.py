"""`hatang plan --resources`: the real Pulumi programs rendered offline, checked by the policy pack.

The platform and tenants programs run under the Pulumi SDK's mocks (no engine, no cloud); the
registered resources are listed per tenant, evaluated with the CrossGuard rules of
`infra.stacks.policies`, and compared with a previous JSON rendering (`--against`). This is an
offline rendering, not a `pulumi preview`: ids are placeholders and nothing is asked of the cloud.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from rich.console import Console
from rich.table import Table

from infra.errors import HatangError, Problem
from infra.site import Site, load_site
from infra.specs.cloud import tenants_plan
from infra.stacks.mockrun import TENANT_COMPONENT, MockRun, RegisteredResource, gc_paused, run_programs
from infra.stacks.policies import EXTERNAL_NETWORK_IDS, make_policies, platform_external_networks
from infra.validate import validate_site

__all__ = [
    "NOTICE",
    "PlanDiff",
    "ResourcePlan",
    "Violation",
    "build_resource_plan",
    "diff_plans",
    "evaluate_policies",
    "load_previous",
    "plan_json",
    "render_diff",
    "render_resource_plan",
]

NOTICE = (
    "Offline rendering: the real platform and tenants programs ran under the Pulumi SDK's mocks "
    "(no engine, no cloud). This is NOT a `pulumi preview`: ids are placeholders and the cloud's "
    "current state is not compared."
)

PLATFORM = "(platform)"


@dataclass(frozen=True, order=True)
class Violation:
    """A mandatory policy the rendered resources break."""

    policy: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.policy}] {self.urn}: {self.message}"


@dataclass
class ResourcePlan:
    site: str
    as_of: datetime
    run: MockRun
    owners: dict[str, str]
    violations: list[Violation]
    problems: list[Problem]
    removed: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]
    duplicates: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Any mandatory finding: a policy violation, a duplicate URN or a site problem."""
        return bool(self.violations or self.duplicates or self.problems)

    def resources_of(self, owner: str) -> list[RegisteredResource]:
        return [r for r in self.run.custom() if self.owners.get(r.urn) == owner]


def _owners(run: MockRun) -> dict[str, str]:
    """URN -> tenant code (the AgencyTenant above it), or '(platform)'."""
    by_urn = {r.urn: r for r in run.resources}
    owners: dict[str, str] = {}
    for resource in run.resources:
        current: RegisteredResource | None = resource
        owner = PLATFORM
        while current is not None:
            if current.type == TENANT_COMPONENT:
                owner = current.name
                break
            current = by_urn.get(current.parent) if current.parent else None
        owners[resource.urn] = owner
    return owners


def _settle(result: Any) -> None:
    if result is not None and inspect.isawaitable(result):
        asyncio.run(_await(result))


async def _await(awaitable: Any) -> None:
    await awaitable


def _options(resource: RegisteredResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _policy_resources(resources: list[RegisteredResource]) -> list[PolicyResource]:
    """The stack as CrossGuard sees it: parents and dependencies linked (registration order)."""
    built: dict[str, PolicyResource] = {}
    out = []
    for r in resources:
        resource = PolicyResource(
            resource_type=r.type,
            props=r.inputs,
            urn=r.urn,
            name=r.name,
            opts=_options(r),
            provider=None,
            parent=built.get(r.parent) if r.parent else None,
            dependencies=[built[u] for u in r.dependencies if u in built],
            property_dependencies={k: [built[u] for u in v if u in built] for k, v in r.property_dependencies.items()},
        )
        built[r.urn] = resource
        out.append(resource)
    return out


def evaluate_policies(run: MockRun, site: Site, policies: list[Policy] | None = None) -> list[Violation]:
    """Every violation of the pack's policies by the resources of a mock run, per stack.

    The stack policies get the platform's zone network ids of the run as their config (what the
    platform stack exports as `externalNetworkIds`): the tenants' router gateways, found by the
    tenants program's lookups, are checked against the networks the platform declared.
    """
    policies = policies if policies is not None else make_policies(site)
    zone_networks = platform_external_networks([(r.urn, r.type, r.inputs, r.id) for r in run.resources])
    config = {EXTERNAL_NETWORK_IDS: zone_networks}
    found: list[Violation] = []
    for program in dict.fromkeys(r.program for r in run.resources):
        resources = [r for r in run.resources if r.program == program]
        # Built once per resource, not per policy: a plan may hold 30,000 resources.
        checked = [
            (r, ResourceValidationArgs(r.type, r.inputs, r.urn, r.name, _options(r), None))
            for r in resources
            if r.custom and not r.type.startswith("pulumi:")
        ]
        stack: StackValidationArgs | None = None
        for policy in policies:
            if isinstance(policy, ResourceValidationPolicy):
                for r, args in checked:

                    def report(
                        message: str, urn: str | None = None, _r: RegisteredResource = r, _p: Policy = policy
                    ) -> None:
                        found.append(Violation(_p.name, urn or _r.urn, message))

                    _settle(policy.validate(args, report))
            elif isinstance(policy, StackValidationPolicy):

                def stack_report(
                    message: str, urn: str | None = None, _p: Policy = policy, _program: str = program
                ) -> None:
                    found.append(Violation(_p.name, urn or f"stack {_program}", message))

                stack = stack if stack is not None else StackValidationArgs(_policy_resources(resources), config)
                _settle(policy.validate(stack, stack_report))
    return sorted(set(found))


def _evaluate_quickly(run: MockRun, site: Site) -> list[Violation]:
    with gc_paused():
        return evaluate_policies(run, site)


def build_resource_plan(inventory: Path | str, *, now: datetime | None = None) -> ResourcePlan:
    """Render both programs offline, check the site and the policies.

    Raises:
        HatangError: the site cannot be loaded (schema errors, missing files).
    """
    moment = now if now is not None else datetime.now(UTC)
    site = load_site(inventory)
    problems = validate_site(site)
    plan = tenants_plan(site, moment, lenient=True)
    run = run_programs(inventory, now=moment, lenient=True, site=site)
    return ResourcePlan(
        site=site.name,
        as_of=moment,
        run=run,
        owners=_owners(run),
        violations=_evaluate_quickly(run, site),
        problems=problems,
        removed=plan.removed,
        skipped=plan.skipped,
        duplicates=run.duplicates(),
    )


# --------------------------------------------------------------------------- JSON and diff


def plan_json(plan: ResourcePlan) -> dict[str, Any]:
    """The resource list as data (stable order: by owner, then URN)."""
    resources = sorted(plan.run.custom(), key=lambda r: (plan.owners[r.urn], r.urn))
    return {
        "notice": NOTICE,
        "site": plan.site,
        "asOf": plan.as_of.isoformat(),
        "resources": [
            {
                "owner": plan.owners[r.urn],
                "program": r.program,
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "protect": r.protect,
                "inputs": r.inputs,
                "parent": r.parent,
                "dependencies": list(r.dependencies),
            }
            for r in resources
        ],
        "violations": [{"policy": v.policy, "urn": v.urn, "message": v.message} for v in plan.violations],
        "duplicates": plan.duplicates,
        "siteProblems": [str(p) for p in plan.problems],
        "removed": [{"tenant": c, "reason": why} for c, why in plan.removed],
        "skipped": [{"tenant": c, "reason": why} for c, why in plan.skipped],
    }


@dataclass(frozen=True)
class PlanDiff:
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[tuple[dict[str, Any], dict[str, tuple[Any, Any]]]]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def load_previous(path: Path) -> dict[str, Any]:
    """A JSON written by `hatang plan --resources --format json`.

    Raises:
        HatangError: unreadable or not such a JSON.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HatangError(f"{path}: cannot read a previous plan: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise HatangError(f"{path}: not a `hatang plan --resources --format json` output (no 'resources' list)")
    return data


def diff_plans(old: Mapping[str, Any], new: Mapping[str, Any]) -> PlanDiff:
    """What the new rendering adds, changes (inputs or protection) and removes, by URN."""
    before = {r["urn"]: r for r in old["resources"]}
    after = {r["urn"]: r for r in new["resources"]}
    added = [after[u] for u in sorted(after.keys() - before.keys())]
    removed = [before[u] for u in sorted(before.keys() - after.keys())]
    changed = []
    for urn in sorted(before.keys() & after.keys()):
        a, b = before[urn], after[urn]
        keys = sorted(set(a["inputs"]) | set(b["inputs"]))
        delta = {k: (a["inputs"].get(k), b["inputs"].get(k)) for k in keys if a["inputs"].get(k) != b["inputs"].get(k)}
        if a.get("protect") != b.get("protect"):
            delta["(protect)"] = (a.get("protect"), b.get("protect"))
        if delta:
            changed.append((b, delta))
    return PlanDiff(added, removed, changed)


# --------------------------------------------------------------------------- rendering

_DETAIL_KEYS = (
    "name",
    "cidr",
    "ipVersion",
    "enabled",
    "remoteIpPrefix",
    "portRangeMin",
    "portRangeMax",
    "action",
    "externalNetworkId",
)


def _short(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def _details(inputs: Mapping[str, Any]) -> str:
    parts = [f"{k}={inputs[k]}" for k in _DETAIL_KEYS if k in inputs and inputs[k] is not None]
    return ", ".join(parts)


def render_resource_plan(plan: ResourcePlan, console: Console) -> None:
    """Resources per owner, then site problems, duplicates and policy violations."""
    console.print(NOTICE, style="bold yellow")
    custom = plan.run.custom()
    grouped: dict[str, list[RegisteredResource]] = {}
    for r in custom:
        grouped.setdefault(plan.owners[r.urn], []).append(r)
    owners = list(grouped)
    console.print(
        f"site {plan.site}: {len(custom)} resources ({len(owners) - (PLATFORM in owners)} tenants)", markup=False
    )
    for owner in owners:
        resources = grouped[owner]
        counts = ", ".join(f"{n} {t}" for t, n in sorted(Counter(_short(r.type) for r in resources).items()))
        table = Table(title=f"{owner}: {len(resources)} resources ({counts})", title_justify="left")
        table.add_column("Type")
        table.add_column("Name")
        table.add_column("Protected")
        table.add_column("Details")
        for r in resources:
            table.add_row(_short(r.type), r.name, "yes" if r.protect else "", _details(r.inputs))
        console.print(table)
    for code, why in plan.removed:
        console.print(f"not declared (removed by the engine): {code}: {why}", markup=False)
    for code, why in plan.skipped:
        console.print(f"not declared: {code}: {why}", markup=False)
    for problem in plan.problems:
        console.print(f"site problem: {problem}", markup=False, style="red")
    for urn in plan.duplicates:
        console.print(f"duplicate URN (the engine would refuse it): {urn}", markup=False, style="red")
    for violation in plan.violations:
        console.print(f"MANDATORY policy violated: {violation}", markup=False, style="bold red")
    if plan.failed:
        console.print(
            f"FAILED: {len(plan.violations)} policy violation(s), {len(plan.duplicates)} duplicate(s), "
            f"{len(plan.problems)} site problem(s)",
            style="bold red",
        )
    else:
        console.print("policy pack: all mandatory policies pass", style="green")


def render_diff(diff: PlanDiff, console: Console, against: Path) -> None:
    """What a change does, compared with a previous JSON rendering."""
    console.print(f"compared with {against} (offline renderings, not a `pulumi preview`):", markup=False)
    for r in diff.added:
        console.print(f"+ add     {r['owner']}: {_short(r['type'])} {r['name']}  {_details(r['inputs'])}", markup=False)
    for r, delta in diff.changed:
        changes = "; ".join(
            f"{k}: {json.dumps(a, ensure_ascii=False)} -> {json.dumps(b, ensure_ascii=False)}"
            for k, (a, b) in delta.items()
        )
        console.print(f"~ change  {r['owner']}: {_short(r['type'])} {r['name']}  {changes}", markup=False)
    for r in diff.removed:
        console.print(f"- remove  {r['owner']}: {_short(r['type'])} {r['name']}", markup=False)
    console.print(
        f"{len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} to remove", markup=False
    )
