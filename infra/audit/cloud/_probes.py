"""Live probes: checks proven by acting on the cloud, not by reading its settings.

- Keystone `[security_compliance]`: a throwaway user fails logins past the threshold and its
  correct password is then refused; a weak password is refused; a new account must change its
  password on first use; passwords expire.
- TLS: every catalog endpoint is https and completes a handshake against the cloud's CA.
- Tenant isolation: as a throwaway member of each tenant project, list and read what it can.

Every throwaway user is named `hatang-audit-…`, carries a description saying so, and is
deleted in a `finally` block (its role assignments go with it).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openstack
import openstack.exceptions
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from infra.audit._model import CheckResult, Outcome
from infra.audit.cloud._checks import check_result
from infra.audit.cloud._expected import Expected
from infra.audit.cloud._snapshot import Snapshot

__all__ = [
    "PROBE_USER_PREFIX",
    "Prober",
    "api_endpoints_tls",
    "keystone_security_compliance_set",
    "tenant_isolation_enforced",
]

PROBE_USER_PREFIX = "hatang-audit-"
TIMEOUT = 30.0
MEMBER_ROLE = "member"
REVOCATION_RESOLUTION = 1.1
"""Seconds: Keystone's revocation events are compared at one-second resolution."""


def strong_password() -> str:
    """A password any sane `password_regex` accepts: long, upper, lower, digits, a symbol."""
    return f"Ha{secrets.token_hex(12)}Z9-q"


def _v3(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v3") else f"{url}/v3"


@dataclass
class Prober:
    """What the probes need from the auditor's admin connection."""

    conn: Any
    auth_url: str
    verify: bool | str
    region: str | None
    interface: str | None
    user_domain_id: str
    identity_url: str
    """Keystone's versioned endpoint (…/v3), for the calls keystoneauth does not wrap."""

    @classmethod
    def from_connection(cls, conn: Any) -> Prober:
        auth = conn.config.get_auth_args()
        verify = conn.session.verify
        me = conn.identity.get_user(conn.current_user_id)
        return cls(
            conn=conn,
            auth_url=str(auth["auth_url"]),
            verify=verify if isinstance(verify, bool | str) else True,
            region=conn.config.get_region_name() or None,
            interface=conn.config.get_interface() or None,
            user_domain_id=me.domain_id,
            identity_url=_v3(str(conn.identity.get_endpoint_data().url)),
        )

    # -- throwaway users

    @contextlib.contextmanager
    def throwaway_user(self, purpose: str, *, first_use: bool = False, password: str | None = None) -> Iterator[Any]:
        """A user in the admin's domain, deleted on exit. Unless `first_use`, it is exempt from
        changing its password on first use (so that it can log in at all).

        Keystone (2025.1) applies a new user's options only after it has expired its password,
        and fails on a user created without one; so an exempt user is created with a temporary
        password, then exempted, then given its password (which then gets a normal expiry).
        """
        identity = self.conn.identity
        attrs = {
            "name": f"{PROBE_USER_PREFIX}{purpose}-{secrets.token_hex(4)}",
            "domain_id": self.user_domain_id,
            "description": "temporary account of `hatang audit cloud`; delete it if you find it",
        }
        password = password or strong_password()
        user = identity.create_user(**attrs, password=password if first_use else strong_password())
        try:
            if not first_use:
                identity.update_user(user, options={"ignore_change_password_upon_first_use": True})
                user = identity.update_user(user, password=password)
            yield user
        finally:
            identity.delete_user(user, ignore_missing=True)

    def login(self, user: Any, password: str, project_id: str | None = None) -> bool:
        """True when Keystone issues a token; False when it refuses the credentials (401)."""
        auth = v3.Password(
            auth_url=self.auth_url,
            username=user.name,
            password=password,
            user_domain_id=self.user_domain_id,
            project_id=project_id,
        )
        sess = ks_session.Session(auth=auth, verify=self.verify, timeout=TIMEOUT)
        try:
            sess.get_token()
        except ks_exc.Unauthorized:
            return False
        return True

    def change_password(self, user: Any, old: str, new: str) -> bool:
        """The user changes its own password (allowed even when it has expired); False if refused."""
        sess = ks_session.Session(verify=self.verify, timeout=TIMEOUT)
        response = sess.post(
            f"{self.identity_url}/users/{user.id}/password",
            json={"user": {"original_password": old, "password": new}},
            authenticated=False,
            raise_exc=False,
        )
        if response.status_code in {400, 401, 403}:
            return False
        if response.status_code >= 300:
            raise RuntimeError(f"password change: HTTP {response.status_code} {response.text[:200]}")
        return True

    def grant(self, user: Any, project_id: str, role_name: str = MEMBER_ROLE) -> None:
        """Give `user` a role on the project, then wait out Keystone's revocation-event clock:
        a token issued in the same second as the assignment's revocation event is refused."""
        role = self.conn.identity.find_role(role_name, ignore_missing=False)
        self.conn.identity.assign_project_role_to_user(project_id, user, role)
        time.sleep(REVOCATION_RESOLUTION)

    def connect_as(self, user: Any, password: str, project_id: str) -> Any:
        """A connection scoped to the project as `user` (never merged with any clouds.yaml)."""
        return openstack.connect(
            auth_url=self.auth_url,
            username=user.name,
            password=password,
            user_domain_id=self.user_domain_id,
            project_id=project_id,
            verify=self.verify,
            region_name=self.region,
            interface=self.interface,
            api_timeout=TIMEOUT,
            load_yaml_config=False,
            load_envvars=False,
        )


# --------------------------------------------------------------------------- keystone


def keystone_security_compliance_set(prober: Prober, params: Mapping[str, Any]) -> CheckResult:
    """HC-ID-01, proven: lockout after at most `max_failed_logins` failures (the correct password
    is then refused), weak passwords refused, change on first use enforced, passwords expire."""
    limit = int(params["max_failed_logins"])
    findings: list[dict[str, Any]] = []
    observed: dict[str, Any] = {}
    identity = prober.conn.identity
    password = strong_password()
    with prober.throwaway_user("lockout", password=password) as user:
        if not prober.login(user, password):
            return CheckResult(
                "keystone_security_compliance_set",
                Outcome.ERROR,
                message="the probe user cannot log in with its correct password before any failure",
            )
        expires = identity.get_user(user.id).password_expires_at
        observed["password_expires_at"] = expires
        if not expires:
            findings.append({"setting": "password_expires_days", "problem": "passwords never expire"})
        wrong = [prober.login(user, f"wrong-{strong_password()}") for _ in range(limit)]
        if any(wrong):
            return CheckResult(
                "keystone_security_compliance_set", Outcome.ERROR, message="Keystone accepted a wrong password"
            )
        accepted = prober.login(user, password)
        observed["correct_password_after_failures"] = {
            "failures": limit,
            "result": "accepted" if accepted else "refused",
        }
        if accepted:
            findings.append(
                {"setting": "lockout_failure_attempts", "problem": f"not locked after {limit} failed logins"}
            )
    with prober.throwaway_user("firstuse", first_use=True, password=password) as user:
        first = prober.login(user, password)
        observed["first_login_with_admin_set_password"] = "accepted" if first else "refused"
        if first:
            findings.append({"setting": "change_password_upon_first_use", "problem": "first login accepted"})
        # the user sets its own password, then tries to take the old one back
        new = strong_password()
        if not prober.change_password(user, password, new):
            return CheckResult(
                "keystone_security_compliance_set", Outcome.ERROR, message="the probe user cannot change its password"
            )
        reused = prober.change_password(user, new, password)
        observed["reuse_of_previous_password"] = "accepted" if reused else "refused"
        if reused:
            findings.append({"setting": "unique_last_password_count", "problem": "a previous password was reused"})
    try:
        with prober.throwaway_user("weak", first_use=True, password="weak"):
            observed["weak_password"] = "accepted"
            findings.append({"setting": "password_regex", "problem": "the password 'weak' was accepted"})
    except openstack.exceptions.BadRequestException:
        observed["weak_password"] = "refused"
    return check_result(
        "keystone_security_compliance_set",
        findings,
        {**observed, "findings": findings},
        {
            "correct_password_after_failures": {"failures": limit, "result": "refused"},
            "first_login_with_admin_set_password": "refused",
            "weak_password": "refused",
            "reuse_of_previous_password": "refused",
            "password_expires_at": "set",
        },
        "Keystone [security_compliance] not in force",
    )


# --------------------------------------------------------------------------- TLS


def _handshake(host: str, port: int, cafile: str | None) -> str:
    context = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection((host, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=host) as tls,
    ):
        return str(tls.version())


def api_endpoints_tls(prober: Prober, snapshot: Snapshot) -> CheckResult:
    """HC-TLS-01: every catalog endpoint is https, and a TLS handshake verified against the
    cloud's CA (clouds.yaml `cacert`, else the system CAs) succeeds."""
    cafile = prober.verify if isinstance(prober.verify, str) else None
    findings: list[dict[str, Any]] = []
    observed: dict[str, str] = {}
    handshakes: dict[tuple[str, int], str] = {}
    for ep in sorted(snapshot.endpoints, key=lambda e: (e.service, e.interface, e.url)):
        label = f"{ep.service} {ep.interface} {ep.url}"
        parts = urlsplit(ep.url)
        if parts.scheme != "https":
            observed[label] = parts.scheme or "no scheme"
            findings.append({"endpoint": label, "problem": "not https"})
            continue
        host, port = parts.hostname or "", parts.port or 443
        if (host, port) not in handshakes:
            try:
                handshakes[(host, port)] = _handshake(host, port, cafile)
            except (OSError, ssl.SSLError) as exc:
                handshakes[(host, port)] = f"handshake failed: {exc}"
        observed[label] = handshakes[(host, port)]
        if observed[label].startswith("handshake failed"):
            findings.append({"endpoint": label, "problem": observed[label]})
    if not snapshot.endpoints:
        findings.append({"problem": "the catalog lists no endpoint"})
    return check_result(
        "api_endpoints_tls",
        findings,
        {"endpoints": observed, "ca": cafile or "system CAs", "findings": findings},
        {"endpoints": "https with a verified TLS handshake"},
        "endpoints without TLS or whose TLS cannot be verified",
    )


# --------------------------------------------------------------------------- isolation


def _visible_expected(expected: Expected, snapshot: Snapshot, project_id: str) -> set[str]:
    """Networks a member of the project may see: its own; the platform's shared ones; external
    ones it may attach to (RBAC access_as_external to it or to '*' — whether it should is
    HC-NET-01's question). Never a network of another agency project, however it got shared."""
    agency = {p.id for p in snapshot.projects_in(expected.domain)}
    external = {
        r.object_id
        for r in snapshot.rbac
        if r.object_type == "network" and r.action == "access_as_external" and r.target in {project_id, "*"}
    }
    return {
        n.id
        for n in snapshot.networks
        if n.project_id == project_id
        or (n.project_id not in agency and (n.shared or (n.external and n.id in external)))
    }


def _probe_tenant(
    prober: Prober, expected: Expected, snapshot: Snapshot, project_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    findings: list[dict[str, Any]] = []
    name = snapshot.project_name(project_id)
    allowed = _visible_expected(expected, snapshot, project_id)
    foreign_networks = {}
    for n in snapshot.networks:
        if n.id not in allowed and n.project_id not in foreign_networks and n.project_id != project_id:
            foreign_networks[n.project_id] = n
    others = [p for p in snapshot.projects if p.id != project_id]
    password = strong_password()
    with prober.throwaway_user("member", password=password) as user:
        prober.grant(user, project_id)
        tenant = prober.connect_as(user, password, project_id)
        try:
            visible = {n.id: n for n in tenant.network.networks()}
            groups = list(tenant.network.security_groups())
            reads: dict[str, str] = {}
            for owner, network in sorted(foreign_networks.items(), key=lambda kv: kv[1].name):
                label = f"network {network.name} of {snapshot.project_name(owner)}"
                try:
                    tenant.network.get_network(network.id)
                    reads[label] = "read"
                    findings.append({"tenant": name, "problem": f"read {label}"})
                except openstack.exceptions.NotFoundException:
                    reads[label] = "not found"
            for other in others[:3]:
                label = f"project {other.name}"
                try:
                    tenant.identity.get_project(other.id)
                    reads[label] = "read"
                    findings.append({"tenant": name, "problem": f"read {label}"})
                except (openstack.exceptions.ForbiddenException, openstack.exceptions.NotFoundException) as exc:
                    reads[label] = (
                        "forbidden" if isinstance(exc, openstack.exceptions.ForbiddenException) else "not found"
                    )
        finally:
            tenant.close()
    for net_id, net in visible.items():
        if net_id not in allowed:
            owner = snapshot.project_name(net.project_id or "")
            findings.append({"tenant": name, "problem": f"sees network {net.name} of {owner}"})
    for net_id in sorted(allowed - set(visible)):
        findings.append({"tenant": name, "problem": f"does not see its network {snapshot.network_name(net_id)}"})
    for group in groups:
        if group.project_id != project_id:
            findings.append(
                {
                    "tenant": name,
                    "problem": f"sees security group {group.name} of {snapshot.project_name(group.project_id)}",
                }
            )
    observed = {
        "visible_networks": sorted(f"{n.name} ({snapshot.project_name(n.project_id or '')})" for n in visible.values()),
        "foreign_reads": reads,
        "security_groups_visible": len(groups),
    }
    return observed, findings


def tenant_isolation_enforced(prober: Prober, expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-TEN-01, proven: a throwaway member of each (enabled) tenant project sees its own, shared
    and attachable external networks only, and cannot read another project's network or project."""
    projects = {p.name: p for p in snapshot.projects_in(expected.domain)}
    observed: dict[str, Any] = {}
    findings: list[dict[str, Any]] = []
    probed = 0
    for code in sorted(expected.tenants):
        project = projects.get(code)
        if project is None or not project.enabled:
            observed[code] = "not probed: project missing or disabled"
            continue
        observed[code], found = _probe_tenant(prober, expected, snapshot, project.id)
        findings.extend(found)
        probed += 1
    if probed == 0:
        return CheckResult(
            "tenant_isolation_enforced",
            Outcome.NOT_CHECKABLE,
            observed,
            "a member of each tenant sees its own, shared and attachable external networks only",
            "no enabled tenant project to probe",
        )
    return check_result(
        "tenant_isolation_enforced",
        findings,
        {"tenants": observed, "findings": findings},
        {"visible_networks": "own, shared and attachable external only", "foreign_reads": "not found or forbidden"},
        "a tenant member sees or reads another project's resources",
    )
