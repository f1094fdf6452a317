"""`hatang portal`: the agencies' web portal (request a tenant, follow it); logic in infra.portal."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path
from typing import Annotated

import typer

from infra.commands._common import DEFAULT_INVENTORY, EXIT_ERROR, err, out, user_errors
from infra.errors import HatangError
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
    keystone_url: Annotated[
        str | None, typer.Option(envvar="OS_AUTH_URL", help="Keystone to sign users in with (agencies domain).")
    ] = None,
    cacert: Annotated[Path | None, typer.Option(help="CA bundle of Keystone's TLS certificate.")] = None,
    users: Annotated[
        Path | None, typer.Option(help="TEST ONLY: fixed users file instead of Keystone (docs/portal.md).")
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Session key and audit log (default under $XDG_STATE_HOME/hatang/portal).")
    ] = None,
    main_branch: Annotated[
        str | None, typer.Option(help="Branch requests start from and approvals merge into (default: HEAD's).")
    ] = None,
    remote: Annotated[
        str | None, typer.Option(help="Git remote request branches are pushed to (default: main's upstream).")
    ] = None,
    usage_cloud: Annotated[
        str | None,
        typer.Option(help="clouds.yaml entry that reads quotas and usage (a member of portal-usage-readers)."),
    ] = None,
    clouds_yaml: Annotated[
        Path | None, typer.Option(envvar="OS_CLIENT_CONFIG_FILE", help="clouds.yaml holding --usage-cloud.")
    ] = None,
    secure_cookies: Annotated[
        bool | None,
        typer.Option("--secure-cookies/--no-secure-cookies", help="Secure cookies (default: unless on loopback)."),
    ] = None,
) -> None:
    """Serve the agencies' portal: sign in, request a tenant (same checks as `tenant new`), follow, review."""
    import uvicorn  # the server only when serving

    from infra.portal import create_app
    from infra.portal.auth import Authenticator, FixedUsers, KeystoneAuthenticator
    from infra.portal.usage import CloudUsage

    authenticator: Authenticator
    with user_errors():
        loaded = load_site(site)  # a site that cannot be read is bad input (exit 2), before listening
        if users is not None:
            authenticator = FixedUsers.from_file(users)
        elif keystone_url:
            verify: bool | str = str(cacert) if cacert is not None else True
            authenticator = KeystoneAuthenticator(keystone_url, loaded.info.agencies_domain, verify)
        else:
            raise HatangError(
                "the portal needs Keystone to sign users in (fix: pass --keystone-url URL or set OS_AUTH_URL)"
            )
        usage = CloudUsage(usage_cloud, loaded.info.agencies_domain, clouds_yaml) if usage_cloud else None
        app = create_app(
            site, authenticator, state_dir=state_dir, main_branch=main_branch, remote=remote, usage=usage,
            secure_cookies=not _loopback(host) if secure_cookies is None else secure_cookies,
        )
    if users is not None:
        err.print(
            f"warning: signing users in from {users}, a fixed users file: for tests and demonstrations only",
            markup=False,
            highlight=False,
        )
    listener = _listen(host, port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")  # the action log, on stderr
    shown = f"[{host}]" if ":" in host else host
    out.print(f"hatang portal: {site} on http://{shown}:{port}/ (Ctrl-C stops)", markup=False, highlight=False)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
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
