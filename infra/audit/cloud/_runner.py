"""Run a profile's cloud controls against a cloud named in clouds.yaml; fold the check results
into the same `AuditResult` the host audit produces (one "host": the cloud), plus the drift."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.audit._model import AuditResult, CheckResult, HostResult, Outcome, control_outcome
from infra.audit.cloud._checks import PURE_CHECKS, Drift, drift
from infra.audit.cloud._expected import Expected, expected_from_site
from infra.audit.cloud._ovn import read_northbound
from infra.audit.cloud._probes import (
    Prober,
    api_endpoints_tls,
    keystone_security_compliance_set,
    tenant_isolation_enforced,
)
from infra.audit.cloud._snapshot import Snapshot, take_snapshot
from infra.audit.cloud._storage import volume_backends_healthy
from infra.catalogue import Catalogue, Control, Scope, Waiver, load_catalogue
from infra.errors import HatangError
from infra.site import Site

__all__ = ["CHECKS", "CloudAuditResult", "CloudError", "OvnSource", "connect", "run_checks", "run_cloud_audit"]

LOCKOUT_PARAMETER = "max_failed_logins"
HOST_LOCKOUT_CONTROL = ("HT-AUTH-01", "max_deny")
"""Where the lockout threshold comes from when HC-ID-01 has no `max_failed_logins` parameter:
the host lockout control's threshold (one value for both, written once in the catalogue)."""


class CloudError(HatangError):
    """The cloud cannot be audited: unknown name, unreachable, credentials refused or not admin."""


@dataclass(frozen=True)
class CloudAuditResult(AuditResult):
    """An `AuditResult` whose only "host" is the cloud, plus the drift from the site model."""

    drift: tuple[Drift, ...] = ()

    @property
    def findings(self) -> bool:
        """The drift is a finding: with it the cloud is non-compliant (exit 1) unless it errored."""
        return bool(self.drift)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["tool"] = "hatang audit cloud"
        data["drift"] = [d.to_dict() for d in self.drift]
        return data


@dataclass(frozen=True)
class _Context:
    expected: Expected
    snapshot: Snapshot
    prober: Prober
    params: Mapping[str, Any]


Check = Callable[[_Context], CheckResult]


@dataclass(frozen=True)
class OvnSource:
    """Where OVN's northbound database is read: a controller's name and a runner of commands on it."""

    host: str
    run: Callable[[str], str]


def _with_ovn(snapshot: Snapshot, ovn: OvnSource | None) -> Snapshot:
    """The snapshot with OVN's northbound tables (unchanged without a source).

    Raises:
        CloudError: the database could not be read there.
    """
    if ovn is None:
        return snapshot
    try:
        tables = read_northbound(ovn.run)
    except Exception as exc:
        raise CloudError(f"OVN's northbound database on {ovn.host}: {_one_line(exc)}") from exc
    return replace(snapshot, ovn_read_from=ovn.host, **tables)  # type: ignore[arg-type]


def _pure(fn: Callable[[Expected, Snapshot], CheckResult]) -> Check:
    return lambda ctx: fn(ctx.expected, ctx.snapshot)


CHECKS: dict[str, Check] = {
    **{cid: _pure(fn) for cid, fn in PURE_CHECKS.items()},
    "keystone_security_compliance_set": lambda ctx: keystone_security_compliance_set(ctx.prober, ctx.params),
    "api_endpoints_tls": lambda ctx: api_endpoints_tls(ctx.prober, ctx.snapshot),
    "tenant_isolation_enforced": lambda ctx: tenant_isolation_enforced(ctx.prober, ctx.expected, ctx.snapshot),
    "volume_backends_healthy": lambda ctx: volume_backends_healthy(ctx.snapshot, ctx.params),
}
"""Every cloud check id of the catalogue -> its function."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    return line if len(line) <= 200 else line[:197] + "..."


def connect(cloud: str, clouds_yaml: Path | None = None, timeout: float = 30.0) -> Any:
    """An admin connection to `cloud` of clouds.yaml (`clouds_yaml`, else the standard places).

    Environment variables (OS_*) are not merged in: the audit checks the cloud it was told to.

    Raises:
        CloudError: no such file or cloud, unreachable, credentials refused, or not an admin.
    """
    import openstack.config
    import openstack.connection
    import openstack.exceptions

    logging.getLogger("openstack").setLevel(logging.CRITICAL)
    logging.getLogger("keystoneauth").setLevel(logging.CRITICAL)
    if clouds_yaml is not None and not clouds_yaml.is_file():
        raise CloudError(f"{clouds_yaml}: no such clouds.yaml")
    try:
        config = openstack.config.OpenStackConfig(
            config_files=[str(clouds_yaml)] if clouds_yaml else None, load_envvars=False
        )
        region = config.get_one(cloud=cloud, api_timeout=timeout)
    except openstack.exceptions.ConfigException as exc:
        known = ", ".join(sorted(config.get_cloud_names())) if "config" in locals() else ""
        where = str(clouds_yaml) if clouds_yaml else "clouds.yaml"
        raise CloudError(f"cloud {cloud!r} not found in {where}" + (f" (known: {known})" if known else "")) from exc
    except Exception as exc:
        raise CloudError(f"cloud {cloud!r}: {_one_line(exc)}") from exc
    conn: Any = openstack.connection.Connection(config=region)
    auth_url = region.config.get("auth", {}).get("auth_url", "?")
    try:
        conn.authorize()
    except Exception as exc:
        raise CloudError(f"cloud {cloud!r} ({auth_url}): unreachable or credentials refused: {_one_line(exc)}") from exc
    try:
        next(iter(conn.identity.domains()), None)
    except Exception as exc:
        raise CloudError(f"cloud {cloud!r}: the credentials cannot list domains (an admin is needed): "
                         f"{_one_line(exc)}") from exc  # fmt: skip
    return conn


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _params(control: Control, catalogue: Catalogue) -> dict[str, Any]:
    params = dict(control.parameters)
    if "keystone_security_compliance_set" in control.checks and LOCKOUT_PARAMETER not in params:
        host_id, key = HOST_LOCKOUT_CONTROL
        params[LOCKOUT_PARAMETER] = catalogue.control(host_id).parameters[key]
    return params


def _run_check(check_id: str, ctx: _Context) -> CheckResult:
    started, clock = _now(), time.monotonic()
    fn = CHECKS.get(check_id)
    try:
        if fn is None:
            result = CheckResult(check_id, Outcome.ERROR, message=f"no cloud check implements {check_id}")
        else:
            result = fn(ctx)
    except Exception as exc:
        result = CheckResult(check_id, Outcome.ERROR, message=_one_line(exc))
    return replace(result, timestamp=started, duration=time.monotonic() - clock)


def run_checks(
    site: Site,
    conn: Any,
    check_ids: Collection[str],
    *,
    catalogue: Catalogue | None = None,
    now: datetime | None = None,
    ovn: OvnSource | None = None,
) -> dict[str, CheckResult]:
    """Run some cloud checks by id (with their controls' parameters), outside any profile."""
    catalogue = catalogue or load_catalogue()
    expected = expected_from_site(site, now or datetime.now(UTC))
    snapshot = _with_ovn(take_snapshot(conn, quota_domain=expected.domain), ovn)
    prober = Prober.from_connection(conn)
    out = {}
    for check_id in check_ids:
        control = catalogue.control_of_check(check_id)
        params = _params(control, catalogue) if control else {}
        out[check_id] = _run_check(check_id, _Context(expected, snapshot, prober, params))
    return out


def run_cloud_audit(
    site: Site,
    profile: str,
    conn: Any,
    *,
    cloud_name: str,
    waivers: Mapping[str, Waiver] | None = None,
    catalogue: Catalogue | None = None,
    now: datetime | None = None,
    ovn: OvnSource | None = None,
) -> CloudAuditResult:
    """Audit the cloud behind `conn` (admin) against the cloud controls of `profile`.

    The drift from the site model is always computed: it is a finding (exit 1) even when the
    profile has no control for it. Waived controls (`run: false`) are not run. Without `ovn`,
    the controls that compare OVN's northbound database with Neutron are not checkable.

    Raises:
        UnknownProfileError: the profile does not exist.
    """
    catalogue = catalogue or load_catalogue()
    resolved = catalogue.profile(profile)
    waivers = dict(waivers or {})
    controls = resolved.controls_in(Scope.CLOUD)
    started = _now()
    clock = time.monotonic()
    moment = now or datetime.now(UTC)
    auth_url = str(conn.config.get_auth_args().get("auth_url", ""))
    expected = expected_from_site(site, moment)
    meta: dict[str, Any] = {"cloud": cloud_name, "auth_url": auth_url, "waived": sorted(waivers)}
    try:
        snapshot = _with_ovn(take_snapshot(conn, quota_domain=expected.domain), ovn)
        prober = Prober.from_connection(conn)
    except Exception as exc:
        host = HostResult(cloud_name, auth_url, (), f"reading the cloud failed: {_one_line(exc)}",
                          time.monotonic() - clock)  # fmt: skip
        return CloudAuditResult(site.name, resolved, catalogue.version, (host,), started, _now(), meta,
                                catalogue.instruments)  # fmt: skip
    results: dict[str, CheckResult] = {}
    for control in controls:
        waiver = waivers.get(control.id)
        if waiver is not None and not waiver.run:
            continue
        ctx = _Context(expected, snapshot, prober, _params(control, catalogue))
        for check_id in control.checks:
            if check_id not in results:
                results[check_id] = _run_check(check_id, ctx)
    found = tuple(drift(expected, snapshot))
    meta["checks_run"] = len(results)
    outcomes = tuple(control_outcome(c, results, waivers.get(c.id)) for c in controls)
    host = HostResult(cloud_name, auth_url, outcomes, None, time.monotonic() - clock)
    return CloudAuditResult(
        site=site.name,
        profile=resolved,
        catalogue_version=catalogue.version,
        hosts=(host,),
        started=started,
        finished=_now(),
        meta=meta,
        instruments=catalogue.instruments,
        drift=found,
    )
