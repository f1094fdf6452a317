"""`hatang aio`: a real all-in-one OpenStack cloud in one local systemd container."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.commands._common import user_errors
from infra.site import display_path
from infra.validate import load_valid_site

app = typer.Typer(
    help="Bring the all-in-one cloud (inventories/aio) up or down, or show what runs where.",
    no_args_is_help=True,
)

InventoryOption = Annotated[
    Path, typer.Option("-i", "--inventory", help="The AIO site folder.")
]
DEFAULT_AIO = Path("inventories/aio")

# zone addresses like fd99:ab:: must not turn into emoji
out = Console(emoji=False, highlight=False, soft_wrap=True)


@app.command()
def up(inventory: InventoryOption = DEFAULT_AIO) -> None:
    """Start the AIO container, deploy the control plane, write .hatang/<site>/clouds.yaml.

    Idempotent: a second run keeps the container and only converges (about a minute).
    """
    from infra import aio  # Ansible, Jinja and the engine: loaded for aio commands only

    started = time.monotonic()
    with user_errors():
        site = load_valid_site(inventory)
        with out.status("starting", spinner="dots") as spinner:

            def progress(step: str) -> None:
                elapsed = time.monotonic() - started
                spinner.update(f"[{elapsed:5.0f} s] {step}")

            report = aio.up(site, progress)
    out.print(
        f"AIO up: {report.container} ({report.tasks} tasks, {report.changed} changed) in "
        f"{report.total_seconds:.0f} s (image {report.image_seconds:.0f} s, host "
        f"{report.host_seconds:.0f} s, deploy {report.deploy_seconds:.0f} s)"
    )
    out.print(f"APIs on {report.api_address}; admin credentials in {report.clouds_yaml}")
    for what, url in aio.web_urls(site).items():
        out.print(f"{what}: {url}")
    client = display_path(Path(sys.executable).with_name("openstack"))
    out.print(f"try: OS_CLIENT_CONFIG_FILE={report.clouds_yaml} {client} --os-cloud {aio.CLOUD_NAME} catalog list")


@app.command()
def down(
    inventory: InventoryOption = DEFAULT_AIO,
    forget: Annotated[
        bool, typer.Option("--forget", help="Also delete the local secrets and SSH key.")
    ] = False,
) -> None:
    """Remove the AIO container and its networks (the image stays for the next `up`)."""
    from infra import aio  # Ansible, Jinja and the engine: loaded for aio commands only

    with user_errors():
        site = load_valid_site(inventory)
        removed = aio.down(site, forget=forget)
    out.print(f"removed {len(removed)} object(s)" + (": " + ", ".join(removed) if removed else ""))


@app.command()
def status(inventory: InventoryOption = DEFAULT_AIO) -> None:
    """Show the AIO container, its addresses, and each service's state and sockets."""
    from infra import aio  # Ansible, Jinja and the engine: loaded for aio commands only

    with user_errors():
        site = load_valid_site(inventory)
        found = aio.status(site)
    if found is None:
        out.print(f"no AIO container for {site.name} (start it: hatang aio up -i {inventory})")
        return
    out.print(f"{found.container}: {found.state}")
    for network, addresses in sorted(found.addresses.items()):
        out.print(f"  {network}: {', '.join(addresses)}")
    if found.services:
        table = Table("unit", "what", "state", "listens on")
        for svc in found.services:
            style = "green" if svc.state == "active" else "red"
            table.add_row(
                svc.unit, svc.what, f"[{style}]{svc.state}[/]", ", ".join(svc.listens) or "-"
            )
        out.print(table)
    elif found.state == "running":
        out.print("[red]no unit answers: the container's processes are gone[/] "
                  f"(bring it back: hatang aio down -i {inventory}, then hatang aio up -i {inventory})")
    if found.clouds_yaml:
        out.print(f"clouds.yaml: {found.clouds_yaml} (cloud {aio.CLOUD_NAME})")
    if found.services:
        for what, url in aio.web_urls(site).items():
            out.print(f"{what}: {url}")


@app.command()
def guest(
    inventory: InventoryOption = DEFAULT_AIO,
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose member boots the guest.")] = "so-yte",
    network: Annotated[str, typer.Option("--network", help="The tenant's network to boot it on.")] = "app",
) -> None:
    """Boot the test guest through Nova in a tenant's network and show that it answers.

    A throwaway member of the tenant boots it (libvirt, QEMU's emulation); the guest takes its
    addresses from OVN, pings its router in IPv4 and IPv6, reads its metadata from its config
    drive, and says so on its console. The guest is deleted afterwards. Exit 0 when it answered
    and its metadata is its own, 1 when not, 2 on an error.
    """
    import openstack

    from infra import aio, testhosts  # Ansible, Jinja and the engine: loaded for aio commands only
    from infra.audit.cloud import CloudError, connect
    from infra.guests.glance import ensure_boot_files
    from infra.guests.nova import prove

    with user_errors():
        site = load_valid_site(inventory)
        clouds = aio.AioPaths.for_site(site).clouds_yaml
        try:
            conn = connect(aio.CLOUD_NAME, clouds)
        except CloudError as exc:
            raise aio.AioError(f"the AIO cloud is not reachable (fix: hatang aio up): {exc}") from exc
        try:
            with out.status(f"booting the test guest in {tenant}/{network}", spinner="dots"):
                ensure_boot_files(conn, testhosts.container_name(site.name, site.hosts[0].name))
                proof = prove(conn, site.info.agencies_domain, tenant, network)
        except LookupError as exc:
            raise aio.AioError(str(exc)) from exc
        except openstack.exceptions.SDKException as exc:
            raise aio.AioError(f"the cloud refused the guest: {exc}") from exc
        finally:
            conn.close()
    out.print(f"guest in {proof.tenant}/{proof.network}: ACTIVE after {proof.active_after:.0f} s; "
              f"addresses from OVN: {', '.join(proof.addresses) or 'none'} (Neutron: {', '.join(proof.expected)})")
    for probe, ok in proof.answered.items():
        out.print(f"  {probe}: {'[green]answered[/]' if ok else '[red]no answer[/]'}")
    read = proof.metadata or {}
    for key, wanted in (proof.expected_metadata or {}).items():
        got = read.get(key)
        verdict = "[green]as Nova/Neutron say[/]" if got == wanted else f"[red]expected {wanted}[/]"
        out.print(f"  metadata {key}: {got or 'not read'} {verdict}")
    if not proof.ok:
        out.print("[red]the guest did not answer or read its metadata[/] (its console: openstack console log show)")
        raise typer.Exit(1)
    out.print(f"the guest answered {proof.answered_after or 0:.0f} s after it was requested; deleted again")
