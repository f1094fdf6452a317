"""Tenant requests: create, approve (allocate addresses), activate, retire.

Each command edits one request file in place with ruamel's round-trip mode, so people's comments
and layout survive. The edited site is validated as a whole before anything is written, and the
write is atomic: a refused command changes nothing.
"""

from __future__ import annotations

import getpass
import subprocess
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from infra import _yaml
from infra.errors import InventoryError, Problem, RequestError
from infra.ipam import allocate
from infra.schema import TenantRequest, TenantState
from infra.site import Site, load_site
from infra.validate import validate_site

__all__ = [
    "Change",
    "NewTenant",
    "activate_tenant",
    "approve_tenant",
    "create_tenant",
    "current_user",
    "retire_tenant",
]

TRANSITIONS: dict[TenantState, tuple[TenantState, ...]] = {
    TenantState.APPROVED: (TenantState.REQUESTED,),
    TenantState.ACTIVE: (TenantState.APPROVED,),
    TenantState.RETIRED: (TenantState.APPROVED, TenantState.ACTIVE),
}
"""Which states each state may be reached from."""


@dataclass(frozen=True)
class Change:
    """What a tenant command did: the file, whether it changed, and a one-line summary."""

    path: Path
    changed: bool
    summary: str


@dataclass(frozen=True)
class NewTenant:
    """The fields of a new request, as an agency gives them."""

    code: str
    agency: str
    name: str
    security_level: int
    quota_profile: str
    contacts: tuple[dict[str, str], ...]
    networks: tuple[dict[str, Any], ...]
    applications: tuple[str, ...] = ()


def current_user() -> str:
    """Who is acting: git's user.email when set, otherwise the login name."""
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email or getpass.getuser()


def _now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def _history_entry(state: TenantState, at: datetime, by: str, reason: str) -> CommentedMap:
    entry = CommentedMap()
    entry["state"] = state.value
    entry["at"] = at.isoformat()
    entry["by"] = by
    entry["reason"] = reason
    return entry


def _check_and_write(site: Site, path: Path, document: Any) -> None:
    """Validate the site as it would be with `document` at `path`; write only if it is valid."""
    rel = path.relative_to(site.root.parent) if path.is_relative_to(site.root.parent) else path
    try:
        request = TenantRequest.model_validate(_yaml.plain(document))
    except ValidationError as exc:
        raise InventoryError([Problem(str(rel), ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]) from exc
    others = tuple(t for t in site.tenants if t.code != request.code)
    candidate = replace(
        site,
        tenants=(*others, request),
        tenant_files={**site.tenant_files, request.code: path},
    )
    problems = validate_site(candidate)
    if problems:
        raise InventoryError(problems)
    _yaml.write_atomic(path, _yaml.dump_text(document))


def _load_valid(root: Path) -> Site:
    site = load_site(root)
    problems = validate_site(site)
    if problems:
        raise InventoryError(problems)
    return site


def _request(site: Site, code: str) -> tuple[TenantRequest, Path, Any]:
    tenant = site.tenant(code)
    if tenant is None:
        known = ", ".join(sorted(t.code for t in site.tenants)) or "none"
        raise RequestError(f"no tenant {code!r} in {site.root / 'tenants'} (known: {known})")
    path = site.tenant_files[code]
    return tenant, path, _yaml.load(path)


def _allocation_map(site: Site, tenant: TenantRequest) -> CommentedMap:
    allocation = allocate(site, tenant)
    out = CommentedMap()
    out["ipv4"] = str(allocation.ipv4)
    networks = CommentedMap()
    for name, net in allocation.networks.items():
        entry = CommentedMap([("ipv4", str(net.ipv4)), ("ipv6", str(net.ipv6))])
        entry.fa.set_flow_style()
        networks[name] = entry
    out["networks"] = networks
    return out


def approve_tenant(root: Path, code: str, by: str, reason: str = "approved", at: datetime | None = None) -> Change:
    """Approve a request: allocate its IPv4 prefix and one IPv4 + IPv6 subnet per network.

    Idempotent: on an approved or active tenant it only allocates networks added since; a
    second run changes nothing.

    Raises:
        RequestError: unknown tenant, a retired one, or an exhausted pool.
        InventoryError: the site (or the edited request) is invalid.
    """
    site = _load_valid(root)
    tenant, path, document = _request(site, code)
    if tenant.state == TenantState.RETIRED:
        raise RequestError(f"tenant {code!r} is retired; file a new request with a new code")
    allocation = _allocation_map(site, tenant)
    current = document.get("allocation")
    new_networks = [n for n in allocation["networks"] if current is None or n not in current["networks"]]
    if tenant.state != TenantState.REQUESTED and not new_networks:
        return Change(path, False, f"{code}: already {tenant.state.value}, nothing to allocate")
    if current is None:
        document["allocation"] = allocation
    else:
        for name in new_networks:
            current["networks"][name] = allocation["networks"][name]
    if tenant.state == TenantState.REQUESTED:
        document["state"] = TenantState.APPROVED.value
        document["history"].append(_history_entry(TenantState.APPROVED, at or _now(), by, reason))
    _check_and_write(site, path, document)
    nets = ", ".join(
        f"{n} {allocation['networks'][n]['ipv4']} {allocation['networks'][n]['ipv6']}" for n in new_networks
    )
    return Change(path, True, f"{code}: approved, {allocation['ipv4']}; {nets}")


def _transition(root: Path, code: str, state: TenantState, by: str, reason: str, at: datetime | None) -> Change:
    site = _load_valid(root)
    tenant, path, document = _request(site, code)
    if tenant.state == state:
        return Change(path, False, f"{code}: already {state.value}")
    allowed = TRANSITIONS[state]
    if tenant.state not in allowed:
        raise RequestError(
            f"tenant {code!r} is {tenant.state.value}; only a "
            f"{' or '.join(s.value for s in allowed)} tenant can become {state.value}"
        )
    document["state"] = state.value
    document["history"].append(_history_entry(state, at or _now(), by, reason))
    _check_and_write(site, path, document)
    return Change(path, True, f"{code}: {tenant.state.value} -> {state.value}")


def activate_tenant(root: Path, code: str, by: str, reason: str = "deployed", at: datetime | None = None) -> Change:
    """Mark an approved tenant active once its project is deployed."""
    return _transition(root, code, TenantState.ACTIVE, by, reason, at)


def retire_tenant(root: Path, code: str, by: str, reason: str, at: datetime | None = None) -> Change:
    """Retire a tenant: its project is disabled, then deleted after the grace period.

    The file and its allocation stay, so the addresses are never handed out again.
    """
    return _transition(root, code, TenantState.RETIRED, by, reason, at)


def create_tenant(root: Path, request: NewTenant, by: str, reason: str, at: datetime | None = None) -> Change:
    """Write a new request file `tenants/<code>.yml` in state requested.

    Raises:
        RequestError: a file for the code exists already.
        InventoryError: the request or the site would be invalid.
    """
    site = _load_valid(root)
    path = site.root / "tenants" / f"{request.code}.yml"
    if path.exists() or site.tenant(request.code) is not None:
        raise RequestError(f"{path} exists: codes are never reused; choose another code")
    document = CommentedMap()
    document.yaml_set_start_comment(
        f"Tenant request of {request.name}.\nReviewed as a change to this folder; approve with "
        f"`hatang tenant approve {request.code}`."
    )
    document["code"] = request.code
    document["agency"] = request.agency
    document["name"] = request.name
    document["security_level"] = request.security_level
    document["quota_profile"] = request.quota_profile
    contacts = CommentedSeq()
    for contact in request.contacts:
        entry = CommentedMap(contact)
        entry.fa.set_flow_style()
        contacts.append(entry)
    document["contacts"] = contacts
    networks = CommentedSeq()
    for network in request.networks:
        entry = CommentedMap(network)
        entry.fa.set_flow_style()
        networks.append(entry)
    document["networks"] = networks
    document["applications"] = CommentedSeq(request.applications)
    document["applications"].fa.set_flow_style()
    document["state"] = TenantState.REQUESTED.value
    document["history"] = CommentedSeq([_history_entry(TenantState.REQUESTED, at or _now(), by, reason)])
    _check_and_write(site, path, document)
    return Change(path, True, f"{request.code}: requested ({path})")
