"""`hatang ledger`: the allocation ledger of a site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra._lock import site_lock
from infra.commands._common import DEFAULT_INVENTORY, err, out, user_errors
from infra.ledger import init_ledger
from infra.site import display_path

app = typer.Typer(help="The allocation ledger: every prefix ever handed out.", no_args_is_help=True)


@app.command()
def init(
    inventory: Annotated[Path, typer.Option("--inventory", "-i", help="Site inventory folder.")] = DEFAULT_INVENTORY,
) -> None:
    """Build ledger.yml once, from the tenant files and their git history (deleted files included)."""
    with user_errors(), site_lock(inventory):
        recovered = init_ledger(inventory)
    for conflict in recovered.conflicts:
        err.print(f"warning: {conflict}", markup=False, highlight=False)
    out.print(
        f"{display_path(recovered.path)}: {len(recovered.entries)} allocation(s) recorded; review and commit it",
        markup=False,
    )
