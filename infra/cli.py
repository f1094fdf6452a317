"""The `hatang` command line: thin commands over the library (exit 0 ok, 1 findings, 2 error)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from infra import __version__
from infra.commands import tenant
from infra.commands._common import DEFAULT_INVENTORY, EXIT_ERROR, Inventory, err, out, user_errors
from infra.errors import InventoryError
from infra.plan import build_plan, render_plan
from infra.validate import load_valid_site

app = typer.Typer(
    help="hatang (hạ tầng): build and audit a province's OpenStack private cloud from one site model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tenant.app, name="tenant")


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
def validate(inventory: Inventory = DEFAULT_INVENTORY) -> None:
    """Check a site inventory: every problem at once, with file, field and fix; exit 2 on any."""
    with user_errors():
        site = load_valid_site(inventory)
    out.print(
        f"{inventory}: valid ({len(site.zones)} zones, {len(site.flows)} flows, {len(site.host_specs)} hosts, "
        f"{len(site.tenants)} tenants, {len(site.applications)} applications)",
        markup=False,
    )


@app.command()
def plan(
    inventory: Inventory = DEFAULT_INVENTORY,
    format: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
) -> None:
    """Offline summary of what the site will contain: zones, tenants, capacity, applications."""
    with user_errors():
        site = load_valid_site(inventory)
        data = build_plan(site)
    if format == Format.JSON:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        render_plan(data, out)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except InventoryError as exc:  # pragma: no cover - commands catch their own
        err.print(str(exc))
        raise SystemExit(EXIT_ERROR) from exc
