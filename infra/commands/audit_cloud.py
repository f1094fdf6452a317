"""`hatang audit cloud`: the cloud controls of a profile, checked through the OpenStack APIs.

Registered on the `hatang audit` group by infra/commands/audit.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra import audit, testhosts
from infra.audit import HostResult
from infra.audit.report import write_reports
from infra.catalogue import load_catalogue, load_waivers
from infra.commands._audit_output import STRICT_HELP, print_host, print_verdict
from infra.commands._common import out, user_errors
from infra.errors import HatangError
from infra.site import Site
from infra.validate import load_valid_site

if TYPE_CHECKING:
    from infra.audit.cloud import OvnSource

__all__ = ["cloud"]


def cloud(
    cloud_name: Annotated[str, typer.Option("--cloud", help="Cloud name in clouds.yaml (admin credentials).")],
    inventory: Annotated[Path, typer.Option("-i", "--inventory", help="Site folder: inventories/<site>.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile: old-level1..5 or new-level1..5.")],
    clouds_yaml: Annotated[
        Path | None,
        typer.Option(
            "--clouds-yaml", help="clouds.yaml to read (default: ./clouds.yaml, ~/.config/openstack, /etc/openstack)."
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder (default: reports/<site>-cloud-<profile>).")
    ] = None,
    waivers: Annotated[
        Path | None, typer.Option("--waivers", help="YAML: {waivers: {CONTROL: {run: false, justification}}}.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
    ovn_from: Annotated[
        str | None,
        typer.Option(
            "--ovn-from",
            help="A controller of the site: read OVN's northbound database there and compare it with Neutron "
            "(HC-NET-05; without it that control is not checkable).",
        ),
    ] = None,
    connection: Annotated[
        audit.Connection,
        typer.Option(
            "--connection", "-c", help="How --ovn-from is reached: ssh (its mgmt address) or podman (a test host)."
        ),
    ] = audit.Connection.SSH,
    ssh_user: Annotated[str | None, typer.Option("--ssh-user", help="SSH user for --ovn-from (ssh only).")] = None,
    sudo: Annotated[bool, typer.Option("--sudo", help="Read OVN's database through sudo.")] = False,
) -> None:
    """Check the cloud against the profile's cloud controls and the site model; write the evidence.

    Verdict: compliant; compliant for what was checked (nothing failed, no drift, some controls
    not checked: manual, waived or not checkable); non-compliant; not verified; error.

    Exit 0: compliant and no drift, also with controls not checked (exit 1 with --strict).
    Exit 1: a control failed or the cloud differs from the site model (drift). Exit 2: bad
    input, an unknown or unreachable cloud, a broken check, or nothing verified.

    Keystone lockout and tenant isolation are proven with throwaway users (hatang-audit-*),
    deleted before the command ends.
    """
    from infra.audit import cloud as cloud_audit  # openstacksdk: imported only when asked for

    with user_errors():
        site = load_valid_site(inventory)
        catalogue = load_catalogue()
        catalogue.profile(profile)  # an unknown profile fails before the cloud is touched
        waived = load_waivers(waivers, catalogue) if waivers else {}
        ovn = _ovn_source(site, ovn_from, connection, ssh_user, sudo) if ovn_from is not None else None
        conn = cloud_audit.connect(cloud_name, clouds_yaml)
        try:
            result = cloud_audit.run_cloud_audit(
                site, profile, conn, cloud_name=cloud_name, waivers=waived, catalogue=catalogue, ovn=ovn
            )
        finally:
            conn.close()
        result = replace(result, strict=strict)
        paths = write_reports(result, out_dir or Path("reports") / f"{site.name}-cloud-{profile}")
    for h in result.hosts:
        print_host(h, _failures(h))
    for d in result.drift:
        out.print(
            f"  drift: {d.tenant}: {d.item}: {d.problem} (model {d.expected!r}, cloud {d.observed!r})",
            markup=False,
            highlight=False,
        )
    out.print(f"evidence: {paths['json']}  report: {paths['html_vi']}", markup=False)
    print_verdict(result)
    raise typer.Exit(result.exit_code)


def _ovn_source(
    site: Site, host: str, connection: audit.Connection, ssh_user: str | None, sudo: bool
) -> OvnSource:
    """The controller named by --ovn-from, reached as `hatang audit hosts` reaches hosts.

    Raises:
        HatangError: the name is not one of the site's controllers.
    """
    from infra.audit.cloud import OvnSource

    controllers = sorted(h.name for h in site.hosts_in("controllers")) if "controllers" in site.groups else []
    if host not in controllers:
        raise HatangError(f"--ovn-from: {host!r} is not a controller of site {site.name}; "
                          f"controllers: {', '.join(controllers) or '(none)'}")  # fmt: skip
    lab = testhosts.containers(site.name, [host]) if connection is audit.Connection.PODMAN else None
    (target,) = audit.targets(site, [host], connection, ssh_user, lab)
    return OvnSource(host, audit.remote_command(target, sudo))


def _failures(h: HostResult) -> list[str]:
    return [
        f"{c.outcome.value}: {c.control.id} " + "; ".join(k.message for k in c.checks if k.message)
        for c in h.controls
        if c.outcome.value in {"fail", "error"}
    ]
