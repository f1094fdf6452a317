"""`hatang testhosts`: a site's hosts as systemd containers on one podman network per zone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra import testhosts
from infra.commands._common import DEFAULT_INVENTORY, user_errors
from infra.site import Site
from infra.validate import load_valid_site

app = typer.Typer(
    help="Start, inspect and remove a site's test hosts (systemd in rootful podman).",
    no_args_is_help=True,
)

InventoryOption = Annotated[
    Path,
    typer.Option(
        "-i", "--inventory", help="Site folder: inventories/<site> (default: $HATANG_INVENTORY)."
    ),
]
Limit = Annotated[
    str | None, typer.Option("--limit", "-l", help="Host groups or hosts, comma-separated.")
]

STATE_DIR = Path(".hatang/testhosts")
"""Where `up` writes the inventory that puts the site's hosts in their containers."""

# zone addresses like fd99:ab:: must not turn into emoji
out = Console(emoji=False, highlight=False, soft_wrap=True)


def inventory_file(site: Site, state_dir: Path = STATE_DIR) -> Path:
    """Write the inventory that points Ansible at the site's containers (read after the site's)."""
    return testhosts.write_ansible_inventory(site, state_dir / f"{site.name}.yml")


@app.command()
def up(inventory: InventoryOption = DEFAULT_INVENTORY, limit: Limit = None) -> None:
    """Build the image if needed, start the site's hosts (or those in --limit), wait for boot."""
    with user_errors():
        site = load_valid_site(inventory)
        planned = testhosts.up(site, limit)
    path = inventory_file(site)
    out.print(f"{len(planned.hosts)} test host(s) up on {len(planned.networks)} zone network(s).")
    out.print(
        f"Ansible: ansible-playbook -i {inventory} -i {path} PLAYBOOK"
        + (f" --limit {limit}" if limit else "")
    )


@app.command()
def down(inventory: InventoryOption = DEFAULT_INVENTORY) -> None:
    """Remove every test-host container and network of the site."""
    with user_errors():
        site = load_valid_site(inventory)
        removed = testhosts.down(site.name)
    out.print(f"removed {len(removed)} podman object(s)" + (": " if removed else ""), end="")
    out.print(", ".join(removed))


@app.command()
def status(inventory: InventoryOption = DEFAULT_INVENTORY) -> None:
    """Show which test hosts run, with their addresses on each zone network."""
    with user_errors():
        site = load_valid_site(inventory)
        hosts = testhosts.status(site.name)
    if not hosts:
        out.print(f"no test hosts of {site.name} (start them: hatang testhosts up -i {inventory})")
        return
    table = Table(title=f"test hosts of {site.name}")
    for column in ("container", "host", "state", "zone", "addresses"):
        table.add_column(column)
    strip = testhosts.prefix(site.name)
    for host in hosts:
        rows = list(host.addresses.items()) or [("", [])]
        for i, (network, addresses) in enumerate(rows):
            first = i == 0
            table.add_row(
                host.container if first else "",
                host.host if first else "",
                host.state if first else "",
                network.removeprefix(strip),
                " ".join(addresses),
            )
    out.print(table)


@app.command()
def image() -> None:
    """Build the test-host image unless podman has it (the tag is the recipe's hash)."""
    with user_errors():
        name = testhosts.ensure_image()
    out.print(name)
