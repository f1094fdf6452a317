"""`hatang audit`: check hosts (and later the cloud) against a profile of the control catalogue."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from infra import audit, testhosts
from infra.audit.report import write_reports
from infra.catalogue import load_catalogue, load_waivers
from infra.commands._audit_output import STRICT_HELP, print_host, print_verdict
from infra.commands._common import out, user_errors
from infra.errors import HatangError
from infra.validate import load_valid_site

app = typer.Typer(help="Audit a site against the national standards (evidence: JSON, JUnit, HTML).")


@app.command()
def hosts(
    inventory: Annotated[Path, typer.Option("-i", "--inventory", help="Site folder: inventories/<site>.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile: old-level1..5 or new-level1..5.")],
    limit: Annotated[str | None, typer.Option("--limit", "-l", help="Host groups or hosts, comma-separated.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder (default: reports/<site>-<profile>).")
    ] = None,
    waivers: Annotated[
        Path | None, typer.Option("--waivers", help="YAML: {waivers: {CONTROL: {run: false, justification}}}.")
    ] = None,
    connection: Annotated[
        audit.Connection,
        typer.Option(
            "--connection",
            "-c",
            help="podman: the site's test hosts (containers hatang-<site>-<host>); ssh: each host's mgmt address.",
        ),
    ] = audit.Connection.SSH,
    ssh_user: Annotated[str | None, typer.Option("--ssh-user", help="SSH user (ssh only).")] = None,
    ssh_config: Annotated[
        Path | None,
        typer.Option(
            "--ssh-config",
            exists=True,
            dir_okay=False,
            readable=True,
            help="ssh_config file for reaching the hosts' mgmt addresses: jump host, port, key (ssh only).",
        ),
    ] = None,
    sudo: Annotated[bool, typer.Option("--sudo", help="Run the checks' commands through sudo.")] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Audit just these control ids of the profile, comma-separated.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
) -> None:
    """Run the profile's host checks on the site's hosts, in parallel, and write the evidence.

    Verdict: compliant; compliant for what was checked (nothing failed, some controls not
    checked: not checkable, manual or waived); non-compliant; not verified (nothing passed or
    failed); error.

    Exit 0: compliant, also with controls not checked (exit 1 with --strict). Exit 1: a control
    failed. Exit 2: bad input, an unreachable host, a broken check, or nothing verified.

    What a host cannot show (a container has no auditd) is reported as not checkable, never passed.
    """
    with user_errors():
        if ssh_config is not None and connection is audit.Connection.PODMAN:
            raise HatangError("--ssh-config says how SSH reaches the hosts: use it with --connection ssh, not podman")
        site = load_valid_site(inventory)
        catalogue = load_catalogue()
        catalogue.profile(profile)  # an unknown profile fails before any host is touched
        waived = load_waivers(waivers, catalogue) if waivers else {}
        names = audit.select_hosts(site, limit)
        lab = testhosts.containers(site.name, names) if connection is audit.Connection.PODMAN else None
        lab_apt_mirror = testhosts.LAB_APT_MIRROR if lab is not None else None
        result = audit.run_audit(
            site, profile, audit.targets(site, names, connection, ssh_user, lab, lab_apt_mirror, ssh_config),
            waivers=waived, catalogue=catalogue, sudo=sudo,
            only={c.strip() for c in only.split(",") if c.strip()} if only else None,
        )  # fmt: skip
        result = replace(result, strict=strict)
        paths = write_reports(result, out_dir or Path("reports") / f"{site.name}-{profile}")
    for h in result.hosts:
        failed = result.failed_controls(h.name)
        print_host(h, [f"failed: {', '.join(failed)}"] if failed else [])
    out.print(f"evidence: {paths['json']}  report: {paths['html_vi']}", markup=False)
    print_verdict(result)
    raise typer.Exit(result.exit_code)


from infra.commands.audit_cloud import cloud  # noqa: E402  (hatang audit cloud)

app.command("cloud")(cloud)
