"""`hatang audit`: check hosts (and later the cloud) against a profile of the control catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra import audit
from infra.audit.report import write_reports
from infra.catalogue import load_catalogue, load_waivers
from infra.commands._common import EXIT_ERROR, err, out, user_errors
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
    sudo: Annotated[bool, typer.Option("--sudo", help="Run the checks' commands through sudo.")] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Audit just these control ids of the profile, comma-separated.")
    ] = None,
) -> None:
    """Run the profile's host checks on the site's hosts, in parallel, and write the evidence.

    Exit 0: compliant. Exit 1: a control failed. Exit 2: bad input, an unreachable host or a broken check.

    What a host cannot show (a container has no auditd) is reported as not checkable, never passed.
    """
    with user_errors():
        site = load_valid_site(inventory)
        catalogue = load_catalogue()
        catalogue.profile(profile)  # an unknown profile fails before any host is touched
        waived = load_waivers(waivers, catalogue) if waivers else {}
        names = audit.select_hosts(site, limit)
        result = audit.run_audit(
            site, profile, audit.targets(site, names, connection, ssh_user),
            waivers=waived, catalogue=catalogue, sudo=sudo,
            only={c.strip() for c in only.split(",") if c.strip()} if only else None,
        )  # fmt: skip
        paths = write_reports(result, out_dir or Path("reports") / f"{site.name}-{profile}")
    for h in result.hosts:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(h.counts().items()))
        line = f"{h.name}: {h.outcome.value}" + (f" ({counts})" if counts else "")
        (err if h.error else out).print(line, markup=False, highlight=False)
        if h.error:
            err.print(f"  {h.error}", markup=False, highlight=False)
        failed = result.failed_controls(h.name)
        if failed:
            out.print(f"  failed: {', '.join(failed)}", markup=False, highlight=False)
    out.print(f"evidence: {paths['json']}  report: {paths['html_vi']}", markup=False)
    if result.exit_code == EXIT_ERROR:
        err.print("audit incomplete: see the errors above", style="bold red")
    raise typer.Exit(result.exit_code)


from infra.commands.audit_cloud import cloud  # noqa: E402  (hatang audit cloud)

app.command("cloud")(cloud)
