"""`hatang tenant`: the lifecycle of agencies' tenant requests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infra._strictyaml import shorten
from infra.commands._common import DEFAULT_INVENTORY, EXIT_ERROR, err, out, user_errors
from infra.errors import RequestError
from infra.schema import TenantState
from infra.site import gc_paused, load_site
from infra.tenants import (
    Change,
    NewTenant,
    activate_tenant,
    approve_tenant,
    create_tenant,
    current_user,
    reject_tenant,
    retire_tenant,
    set_profile,
)

app = typer.Typer(
    help="Tenant requests: new, approve or reject, activate, set-profile, retire, list, show.", no_args_is_help=True
)

InventoryOption = Annotated[Path, typer.Option("--inventory", "-i", help="Site inventory folder.")]
By = Annotated[str | None, typer.Option(help="Who acts (default: git user.email or login name).")]


def _report(change: Change) -> None:
    out.print(change.summary if change.changed else f"{change.summary} (no change)", markup=False)


@app.command()
def approve(
    code: str,
    inventory: InventoryOption = DEFAULT_INVENTORY,
    by: By = None,
    reason: Annotated[str, typer.Option(help="Why it is approved.")] = "approved",
) -> None:
    """Approve a request and allocate its addresses (a second run changes nothing)."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        _report(approve_tenant(inventory, code, by or current_user(), reason))


@app.command()
def reject(
    code: str,
    reason: Annotated[str, typer.Option(help="Why it is rejected, for the agency to read (required).")],
    inventory: InventoryOption = DEFAULT_INVENTORY,
    by: By = None,
) -> None:
    """Reject a request: final for it, no addresses; the file stays, so the code stays taken."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        _report(reject_tenant(inventory, code, by or current_user(), reason))


@app.command()
def activate(
    code: str,
    inventory: InventoryOption = DEFAULT_INVENTORY,
    by: By = None,
    reason: Annotated[str, typer.Option(help="What was deployed.")] = "deployed",
) -> None:
    """Mark an approved tenant active once `pulumi up` has created it."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        _report(activate_tenant(inventory, code, by or current_user(), reason))


@app.command()
def retire(
    code: str,
    reason: Annotated[str, typer.Option(help="Why the tenant is retired (required).")],
    inventory: InventoryOption = DEFAULT_INVENTORY,
    by: By = None,
) -> None:
    """Retire a tenant: its project is disabled, then removed after the grace period."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        _report(retire_tenant(inventory, code, by or current_user(), reason))


@app.command("set-profile")
def set_profile_(
    code: str,
    profile: Annotated[str, typer.Argument(help="Quota profile from profiles.yml.")],
    reason: Annotated[str, typer.Option(help="Why the quotas change (required).")],
    inventory: InventoryOption = DEFAULT_INVENTORY,
    by: By = None,
) -> None:
    """Move an approved or active tenant to another quota profile; its addresses stay."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        _report(set_profile(inventory, code, profile, by or current_user(), reason))


def _ask(value: str | None, prompt: str, interactive: bool, missing: list[str], flag: str) -> str:
    if value:
        return value
    if interactive:
        return str(typer.prompt(prompt))
    missing.append(flag)
    return ""


@app.command()
def new(
    code: Annotated[str | None, typer.Option(help="Project code: ASCII slug, stable, never reused.")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency code from agencies.yml.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name (Vietnamese).")] = None,
    level: Annotated[str | None, typer.Option(help="Security level 1-5 of the systems it hosts.")] = None,
    profile: Annotated[str | None, typer.Option(help="Quota profile from profiles.yml.")] = None,
    contact: Annotated[list[str] | None, typer.Option(help="'Name <email>' (repeatable).")] = None,
    network: Annotated[list[str] | None, typer.Option(help="NAME or NAME:gov,dmz,internet (repeatable).")] = None,
    application: Annotated[list[str] | None, typer.Option(help="Application id (repeatable).")] = None,
    reason: Annotated[str, typer.Option(help="Why the agency asks.")] = "new tenant request",
    inventory: InventoryOption = DEFAULT_INVENTORY,
    by: By = None,
) -> None:
    """File a new tenant request (flags, or prompts when run in a terminal)."""
    interactive = sys.stdin.isatty()
    missing: list[str] = []
    code = _ask(code, "Project code (e.g. so-yte)", interactive, missing, "--code")
    agency = _ask(agency, "Agency code", interactive, missing, "--agency")
    name = _ask(name, "Display name", interactive, missing, "--name")
    level_text = _ask(level, "Security level (1-5)", interactive, missing, "--level")
    profile = _ask(profile, "Quota profile", interactive, missing, "--profile")
    contacts = contact or ([_ask(None, "Contact 'Name <email>'", interactive, missing, "--contact")])
    networks = network or ([_ask(None, "Network NAME[:gov,dmz,internet]", interactive, missing, "--network")])
    if missing:
        err.print(
            f"error: {', '.join(missing)}: missing, and there is no terminal to ask (fix: give them as options)",
            markup=False,
        )
        raise typer.Exit(EXIT_ERROR)
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        request = NewTenant(
            code=code,
            agency=agency,
            name=name,
            security_level=_level(level_text),
            quota_profile=profile,
            contacts=tuple(_contact(c) for c in contacts if c),
            networks=tuple(_network(n) for n in networks if n),
            applications=tuple(application or ()),
        )
        _report(create_tenant(inventory, request, by or current_user(), reason))


def _level(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 5):
        raise RequestError(f"--level: {shorten(text)} is not a security level (fix: give a number 1-5)")
    return int(text)


def _contact(text: str) -> dict[str, str]:
    if "<" not in text or not text.rstrip().endswith(">"):
        raise RequestError(
            f"--contact: {shorten(text)} is not a contact (fix: write 'Name <email>', e.g. 'An <an@example.org>')"
        )
    person, email = text.rstrip()[:-1].split("<", 1)
    return {"name": person.strip(), "email": email.strip(), "role": "requester"}


def _network(text: str) -> dict[str, object]:
    name, _, access = text.partition(":")
    return {"name": name.strip(), "access": [a.strip() for a in access.split(",") if a.strip()]}


@app.command("list")
def list_(
    inventory: InventoryOption = DEFAULT_INVENTORY,
    state: Annotated[
        list[TenantState] | None, typer.Option(help="Only tenants in this state (repeatable).")
    ] = None,
) -> None:
    """List the tenants with their state, level and addresses."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        site = load_site(inventory)
    table = Table(title=f"Tenants of {site.name}", title_justify="left")
    for column in ("code", "agency", "state", "level", "profile", "IPv4", "networks"):
        table.add_column(column)
    shown = [t for t in site.tenants if not state or t.state in state]
    for t in sorted(shown, key=lambda t: t.code):
        table.add_row(
            t.code,
            t.agency,
            t.state.value,
            str(t.security_level),
            t.quota_profile,
            str(t.allocation.ipv4) if t.allocation else "-",
            ", ".join(n.name for n in t.networks),
        )
    out.print(table)


@app.command()
def show(code: str, inventory: InventoryOption = DEFAULT_INVENTORY) -> None:
    """Show one tenant request as the model reads it."""
    with user_errors(), gc_paused():  # a short command: what it builds lives to its end
        site = load_site(inventory)
        tenant = site.tenant(code)
        if tenant is None:
            known = ", ".join(sorted(t.code for t in site.tenants)[:20]) or "none"
            raise RequestError(f"{shorten(code)}: no such tenant (known: {known}; fix: check `hatang tenant list`)")
    out.print_json(tenant.model_dump_json(by_alias=True))
