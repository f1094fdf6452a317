"""`hatang cloud`: the site's Pulumi stacks with the real engine (logic in infra.engine)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from infra import engine
from infra.commands._common import DEFAULT_INVENTORY, EXIT_FINDINGS, err, out, user_errors
from infra.validate import load_valid_site

app = typer.Typer(help="Pulumi up, preview, refresh, destroy of a site's stacks (self-hosted state).",
                  no_args_is_help=True)

InventoryOption = Annotated[Path, typer.Option("--inventory", "-i", help="Site inventory folder.")]
StackOption = Annotated[
    str, typer.Option("--stack", "-s", help="platform, tenants, or all (platform then tenants).")
]
CloudOption = Annotated[str | None, typer.Option(help="Entry of clouds.yaml to use (default: $OS_CLOUD).")]
CloudsYaml = Annotated[Path | None, typer.Option(help="clouds.yaml file (default: the usual places).")]
NoPolicy = Annotated[bool, typer.Option("--no-policy-pack", help="Do not run the policy pack in the engine.")]
AsOf = Annotated[
    str | None,
    typer.Option(help="Measure retirement grace periods at this ISO date-time instead of now "
                      "(see what the site means that day)."),
]
Jobs = Annotated[
    int, typer.Option(min=1, max=32, help="Tenant stacks run at once (each tenant has its own stack).")
]
Tenants = Annotated[
    list[str] | None,
    typer.Option("--tenant", "-t", help="Only this tenant's stack (repeatable; tenants stack only)."),
]
Refresh = Annotated[bool, typer.Option(help="Read the cloud into the state first (recreates what was deleted by hand).",
                                       show_default=False)]
NoSkip = Annotated[bool, typer.Option("--no-skip", help="Run the engine on every tenant stack, also those whose "
                                      "declared resources, config, tools and pack are unchanged since their last up.")]


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise engine.EngineError(
            f"--as-of: {value[:60]!r} is not an ISO date-time (fix: e.g. 2027-01-31 or 2027-01-31T09:00:00+07:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _stacks(stack: str) -> tuple[str, ...]:
    if stack == "all":
        return engine.STACKS
    if stack not in engine.STACKS:
        raise engine.EngineError(f"--stack: {stack!r} is not a stack (fix: use platform, tenants or all)")
    return (stack,)


def _operate(operation: engine.Operation, inventory: Path, stack: str, cloud: str | None,
             clouds_yaml: Path | None, policy: bool, as_of: str | None = None, refresh: bool = False,
             jobs: int = engine.TENANT_JOBS, tenants: list[str] | None = None, skip: bool = True) -> int:  # fmt: skip
    changed = False
    with user_errors():
        moment = _as_of(as_of)
        stacks = _stacks(stack)
        if tenants and stacks != ("tenants",):
            raise engine.EngineError("--tenant: applies to the tenants stack (fix: add --stack tenants)")
        site = load_valid_site(inventory)
        for name in stacks if operation != "destroy" else tuple(reversed(stacks)):
            err.print(f"pulumi {operation} {site.name}/{name} ...", markup=False, highlight=False)
            try:
                outcomes = engine.run_stacks(
                    site, name, operation, cloud=cloud, clouds_yaml=clouds_yaml, policy_pack=policy, as_of=moment,
                    refresh=refresh, jobs=jobs, tenants=tenants or None, skip=skip,
                    on_output=lambda label, line: err.out(f"{label} | {line.rstrip()}", highlight=False),
                )  # fmt: skip
            except engine.PolicyViolationError as exc:
                err.print(f"finding: {exc}", markup=False, highlight=False)
                return EXIT_FINDINGS
            total: dict[str, int] = {}
            for outcome in outcomes:
                if outcome.stack != name:  # a tenant's own stack
                    said = f"{outcome.skipped} (skipped)" if outcome.skipped else _counts(outcome.changes)
                    out.print(f"{site.name}/{outcome.stack}: {operation}: {said}", markup=False, highlight=False)
                for kind, count in outcome.changes.items():
                    total[kind] = total.get(kind, 0) + count
            out.print(f"{site.name}/{name}: {operation}: {_counts(total)}", markup=False, highlight=False)
            changed = changed or any(outcome.changed for outcome in outcomes)
    if operation in ("preview", "refresh") and changed:
        err.print("changes found: site edits not yet applied, or drift in the cloud (exit 1)", markup=False)
        return EXIT_FINDINGS
    return 0


def _counts(changes: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(changes.items())) or "nothing"


@app.command()
def preview(inventory: InventoryOption = DEFAULT_INVENTORY, stack: StackOption = "all", cloud: CloudOption = None,
            clouds_yaml: CloudsYaml = None, no_policy_pack: NoPolicy = False, as_of: AsOf = None,
            jobs: Jobs = engine.TENANT_JOBS, tenant: Tenants = None) -> None:
    """Compare the cloud (refreshed) with the site: exit 0 when nothing would change, 1 when something would."""
    raise typer.Exit(_operate("preview", inventory, stack, cloud, clouds_yaml, not no_policy_pack, as_of, jobs=jobs,
                              tenants=tenant))  # fmt: skip


@app.command()
def up(inventory: InventoryOption = DEFAULT_INVENTORY, stack: StackOption = "all", cloud: CloudOption = None,
       clouds_yaml: CloudsYaml = None, no_policy_pack: NoPolicy = False, as_of: AsOf = None,
       refresh: Refresh = False, jobs: Jobs = engine.TENANT_JOBS, tenant: Tenants = None,
       no_skip: NoSkip = False) -> None:
    """Apply the site to the cloud (the policy pack runs in the engine; a violation stops it: exit 1).

    A tenant stack unchanged since its last successful up is skipped (--refresh or --no-skip run it)."""
    raise typer.Exit(_operate("up", inventory, stack, cloud, clouds_yaml, not no_policy_pack, as_of, refresh, jobs,
                              tenant, not no_skip))  # fmt: skip


@app.command()
def refresh(inventory: InventoryOption = DEFAULT_INVENTORY, stack: StackOption = "all", cloud: CloudOption = None,
            clouds_yaml: CloudsYaml = None) -> None:
    """Read the cloud into the state; exit 1 when it differed (drift)."""
    raise typer.Exit(_operate("refresh", inventory, stack, cloud, clouds_yaml, False))


@app.command()
def destroy(inventory: InventoryOption = DEFAULT_INVENTORY, stack: StackOption = "all", cloud: CloudOption = None,
            clouds_yaml: CloudsYaml = None) -> None:
    """Delete the stacks' resources (tenants first); protected resources refuse."""
    raise typer.Exit(_operate("destroy", inventory, stack, cloud, clouds_yaml, False))
