"""The `hatang` command line: thin commands over the library (exit 0 ok, 1 findings, 2 error)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from infra import __version__
from infra.commands import LazyGroup
from infra.commands._common import DEFAULT_INVENTORY, EXIT_ERROR, EXIT_FINDINGS, Inventory, err, out, user_errors
from infra.commands.portal import portal
from infra.errors import InventoryError, Problem
from infra.ledger_history import check_append_only
from infra.plan import build_plan, render_plan
from infra.services import catalogue
from infra.services.coverage import problems as coverage_problems
from infra.site import Site, gc_paused
from infra.validate import load_valid_site

app = typer.Typer(
    help="hatang (hạ tầng): build and audit a province's OpenStack private cloud from one site model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,  # the command groups (infra.commands.GROUPS), imported when used
)
app.command("portal")(portal)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def _version(value: bool) -> None:
    if value:
        out.print(f"hatang {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """hatang: one site model rendered as hosts, cloud resources and compliance checks."""


@app.command()
def validate(
    inventory: Inventory = DEFAULT_INVENTORY,
    ledger_base: Annotated[
        str | None,
        typer.Option(
            "--ledger-base",
            metavar="REV",
            help="Check that ledger.yml only appended to the ledger committed at REV (default: HEAD); "
            "in CI on a merge request give the target branch or the merge base, e.g. origin/main.",
        ),
    ] = None,
) -> None:
    """Check a site inventory: every problem at once, with file, field and fix; exit 2 on any.

    A valid site's flows are then compared with the services its hosts run (the service catalogue):
    a deployed port no flow opens, a flow opening ports nothing deploys there, or a flow naming a
    service none of its hosts runs is a finding, reported the same way; exit 1 on any.
    """
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        site: Site | None = None
        problems: list[Problem] = []
        try:
            site = load_valid_site(inventory)
        except InventoryError as exc:
            problems = exc.problems
        history = check_append_only(inventory, ledger_base)
        if history.skipped is not None:
            err.print(f"note: ledger.yml append-only check not done: {history.skipped}", markup=False, highlight=False)
        if problems or history.problems or site is None:
            raise InventoryError([*problems, *history.problems])
        findings = coverage_problems(site, catalogue())
    if findings:
        for finding in findings:
            err.print(str(finding), markup=False, highlight=False)
        err.print(
            f"{len(findings)} finding(s): the flows and the services the hosts run disagree (docs/services.md).",
            style="bold red",
        )
        raise typer.Exit(EXIT_FINDINGS)
    out.print(
        f"{inventory}: valid ({len(site.zones)} zones, {len(site.flows)} flows, {len(site.host_specs)} hosts, "
        f"{len(site.tenants)} tenants, {len(site.applications)} applications)",
        markup=False,
    )


@app.command()
def plan(
    inventory: Inventory = DEFAULT_INVENTORY,
    format: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    resources: Annotated[
        bool,
        typer.Option(
            "--resources",
            help="Render the Pulumi programs offline (mocks), list every resource, "
            "check the policy pack; exit 1 on a mandatory violation.",
        ),
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option("--against", help="With --resources: show what changes compared with a previous JSON plan."),
    ] = None,
) -> None:
    """Offline summary of what the site will contain: zones, tenants, capacity, applications."""
    if resources or against is not None:
        raise typer.Exit(_plan_resources(inventory, format, against))
    with user_errors():
        site = load_valid_site(inventory)
        data = build_plan(site)
    if format == Format.JSON:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        render_plan(data, out)


@app.command()
def doctor() -> None:
    """Say which Pulumi engine, language host and OpenStack plugin hatang will use (exit 2 if none)."""
    from infra import engine

    with user_errors():
        tools = engine.find_tools()
    out.print(f"engine folder: {tools.root} -> {tools.root.resolve()}", markup=False, highlight=False)
    for what, version in engine.tool_versions(tools).items():
        out.print(f"{what}: {version}", markup=False, highlight=False)


def _plan_resources(inventory: Path, format: Format, against: Path | None) -> int:
    """`plan --resources`: offline rendering of the Pulumi programs (logic in infra.offline_plan)."""
    from infra import offline_plan  # imports the Pulumi SDK: only when asked for

    with user_errors():
        previous = offline_plan.load_previous(against) if against is not None else None
        load_valid_site(inventory)  # a site with problems is bad input (exit 2), not a finding
        result = offline_plan.build_resource_plan(inventory)
    data = offline_plan.plan_json(result)
    if format == Format.JSON:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        offline_plan.render_resource_plan(result, out)
    if previous is not None and against is not None:
        console = err if format == Format.JSON else out
        offline_plan.render_diff(offline_plan.diff_plans(previous, data), console, against)
    return EXIT_FINDINGS if result.failed else 0


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except InventoryError as exc:  # pragma: no cover - commands catch their own
        err.print(str(exc))
        raise SystemExit(EXIT_ERROR) from exc
