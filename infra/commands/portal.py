"""`hatang portal`: the agencies' web portal (request a tenant, follow it); logic in infra.portal."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path
from typing import Annotated

import typer

from infra.commands._common import DEFAULT_INVENTORY, EXIT_ERROR, err, out, user_errors
from infra.site import load_site

__all__ = ["portal"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def portal(
    site: Annotated[
        Path, typer.Option("--site", "-i", "--inventory", help="Site inventory folder.")
    ] = DEFAULT_INVENTORY,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback unless put behind the TLS front).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
) -> None:
    """Serve the agencies' portal: request a tenant (same checks as `tenant new`), follow the tenants."""
    import uvicorn  # the server only when serving

    from infra.portal import create_app

    with user_errors():
        load_site(site)  # a site that cannot be read is bad input (exit 2), before listening
    if not _loopback(host):
        err.print(
            f"warning: listening on {host}: the portal has no sign-in yet; expose it only behind the TLS front "
            "with access control (docs/portal.md)",
            markup=False,
            highlight=False,
        )
    listener = _listen(host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")  # the action log, on stderr
    shown = f"[{host}]" if ":" in host else host
    out.print(f"hatang portal: {site} on http://{shown}:{port}/ (Ctrl-C stops)", markup=False, highlight=False)
    config = uvicorn.Config(create_app(site), log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, so that a taken port or a bad address is a clear error (exit 2)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        err.print(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc} (fix: choose another --port or --host)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(EXIT_ERROR) from None
    return listener
