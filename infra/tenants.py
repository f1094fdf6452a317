"""Tenant requests: create, approve (allocate addresses) or reject, activate, move to another
quota profile, retire.

Each command edits one request file in place with ruamel's round-trip mode, so people's comments
and layout survive. The edited site is validated as a whole before anything is written, and the
write is atomic: a refused command changes nothing.
"""

from __future__ import annotations

import getpass
import os
import subprocess
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from infra import _yaml
from infra._lock import site_lock
from infra._strictyaml import SiteFileError, ambiguous, loads_strict, shorten
from infra.errors import HatangError, InventoryError, Problem, RequestError
from infra.ipam import allocate
from infra.ledger import append_text, flatten, owners
from infra.schema import LedgerEntry, Slug, TenantAllocation, TenantRequest, TenantState, Text
from infra.site import LEDGER_FILE, Site, describe, display_path, load_site, parse_strict
from infra.validate import validate_site

__all__ = [
    "PROFILE_STATES",
    "Change",
    "NewTenant",
    "activate_tenant",
    "approve_tenant",
    "create_tenant",
    "current_user",
    "profile_reason",
    "reject_tenant",
    "retire_tenant",
    "set_profile",
]

TRANSITIONS: dict[TenantState, tuple[TenantState, ...]] = {
    TenantState.APPROVED: (TenantState.REQUESTED,),
    TenantState.ACTIVE: (TenantState.APPROVED,),
    TenantState.RETIRED: (TenantState.APPROVED, TenantState.ACTIVE),
    TenantState.REJECTED: (TenantState.REQUESTED,),
}
"""Which states each state may be reached from (rejected and retired lead nowhere)."""


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


def _check_arguments(**texts: str) -> None:
    """Refuse, naming the option, text a record cannot hold: not UTF-8, empty, multi-line, too long.

    Raises:
        RequestError: with every bad option at once.
    """
    problems = []
    for option, value in texts.items():
        flag = f"--{option.replace('_', '-')}"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{flag}: is not UTF-8 text (fix: use a UTF-8 locale, e.g. LANG=C.UTF-8)")
            continue
        model = Slug if option == "code" else Text
        try:
            parse_strict(model, value)
        except ValidationError as exc:
            message, hint = describe(exc.errors()[0])
            problems.append(f"{flag}: {message} (fix: {hint})")
    if problems:
        raise RequestError("\n".join(problems))


_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@`")
"""YAML indicators: text starting with one is plain for YAML 1.2 in places (`?0` in a flow mapping,
which ruamel writes as such) where libyaml, a YAML 1.1 reader, stops with a syntax error."""


def _text(value: str) -> str:
    """A string as it must be written so that every YAML reader reads it back as this string."""
    if ambiguous(value) or not value.isprintable() or value != value.strip() or value.startswith(_INDICATORS):
        return cast(str, DoubleQuotedScalarString(value))
    return value


def _history_entry(state: TenantState, at: datetime, by: str, reason: str) -> CommentedMap:
    entry = CommentedMap()
    entry["state"] = state.value
    entry["at"] = at.isoformat()
    entry["by"] = _text(by)
    entry["reason"] = _text(reason)
    return entry


def _read_back(path: Path, text: str) -> TenantRequest:
    """The request exactly as the site loader will read `text`: the round trip is proven first."""
    where = display_path(path)
    try:
        return parse_strict(TenantRequest, loads_strict(text))  # type: ignore[no-any-return]
    except SiteFileError as exc:
        raise InventoryError([Problem(where, "", str(exc), exc.hint, exc.line)]) from None
    except ValidationError as exc:
        problems = [Problem(where, ".".join(map(str, e["loc"])), *describe(e)) for e in exc.errors()]
        raise InventoryError(problems) from None


def _check_and_write(site: Site, path: Path, document: Any, recorded: tuple[LedgerEntry, ...] = ()) -> None:
    """Validate the site as it would be with `document` at `path` (and `recorded` appended to the
    ledger); write only if it is valid. The ledger is written first: an approval killed between
    the two writes is completed by running it again."""
    text = _yaml.dump_text(document)
    request = _read_back(path, text)
    others = tuple(t for t in site.tenants if t.code != request.code)
    candidate = replace(
        site,
        tenants=(*others, request),
        tenant_files={**site.tenant_files, request.code: path},
        ledger=(*site.ledger, *recorded) if site.ledger is not None else None,
    )
    problems = validate_site(candidate)
    if problems:
        raise InventoryError(problems)
    ledger_text = append_text(site, recorded) if recorded else None
    try:
        if ledger_text is not None:
            _yaml.write_atomic(site.root / LEDGER_FILE, ledger_text)
        _yaml.write_atomic(path, text)
    except OSError as exc:
        raise HatangError(
            f"{display_path(path)}: cannot write: {exc.strerror} (fix: run from a writable checkout)"
        ) from None


def _new_entries(site: Site, code: str, allocation: TenantAllocation, at: datetime, by: str) -> tuple[LedgerEntry, ...]:
    """Ledger entries for the prefixes of `allocation` the ledger does not hold yet."""
    recorded = owners(site)
    return tuple(
        LedgerEntry(prefix=prefix, tenant=code, network=network, at=at, by=by)
        for prefix, network in flatten(allocation)
        if prefix not in recorded
    )


def _request(site: Site, code: str) -> tuple[TenantRequest, Path, Any]:
    tenant = site.tenant(code)
    if tenant is None:
        known = ", ".join(sorted(t.code for t in site.tenants)[:20]) or "none"
        raise RequestError(
            f"{display_path(site.root / 'tenants')}: no tenant {shorten(code)} (known: {known}; "
            "fix: check the code with `hatang tenant list`)"
        )
    path = site.tenant_files[code]
    try:
        return tenant, path, _yaml.load_for_edit(path)
    except (SiteFileError, _yaml.YamlSyntaxError) as exc:
        raise InventoryError(
            [Problem(display_path(path), "", f"cannot be edited: {exc}", "fix the YAML at that line", exc.line)]
        ) from None


def _allocation_map(allocation: TenantAllocation) -> CommentedMap:
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
        RequestError: unknown tenant, a retired or rejected one, or an exhausted pool.
        InventoryError: the site (or the edited request) is invalid.
    """
    _check_arguments(by=by, reason=reason)
    with site_lock(Path(root)):
        return _approve(Path(root), code, by, reason, at or _now())


def _approve(root: Path, code: str, by: str, reason: str, at: datetime) -> Change:
    site = load_site(root)
    tenant, path, document = _request(site, code)
    if tenant.state in (TenantState.RETIRED, TenantState.REJECTED):
        raise RequestError(
            f"{display_path(path)}: state: tenant {code!r} is {tenant.state.value} "
            "(fix: file a new request with a new code)"
        )
    allocated = allocate(site, tenant)
    allocation = _allocation_map(allocated)
    current = document.get("allocation")
    new_networks = [n for n in allocation["networks"] if current is None or n not in current["networks"]]
    recorded = _new_entries(site, code, allocated, at, by)
    if tenant.state != TenantState.REQUESTED and not new_networks:
        return Change(path, False, f"{code}: already {tenant.state.value}, nothing to allocate")
    if current is None:
        document["allocation"] = allocation
    else:
        for name in new_networks:
            current["networks"][name] = allocation["networks"][name]
    if tenant.state == TenantState.REQUESTED:
        document["state"] = TenantState.APPROVED.value
        document["history"].append(_history_entry(TenantState.APPROVED, at, by, reason))
    _check_and_write(site, path, document, recorded)
    nets = ", ".join(
        f"{n} {allocation['networks'][n]['ipv4']} {allocation['networks'][n]['ipv6']}" for n in new_networks
    )
    return Change(path, True, f"{code}: approved, {allocation['ipv4']}; {nets}")


def _transition(root: Path, code: str, state: TenantState, by: str, reason: str, at: datetime | None) -> Change:
    _check_arguments(by=by, reason=reason)
    with site_lock(Path(root)):
        return _move(Path(root), code, state, by, reason, at)


def _move(root: Path, code: str, state: TenantState, by: str, reason: str, at: datetime | None) -> Change:
    site = load_site(root)
    tenant, path, document = _request(site, code)
    if tenant.state == state:
        return Change(path, False, f"{code}: already {state.value}")
    allowed = TRANSITIONS[state]
    if tenant.state not in allowed:
        first = {TenantState.ACTIVE: "approve", TenantState.RETIRED: "approve"}.get(state, "")
        raise RequestError(
            f"{display_path(path)}: state: tenant {code!r} is {tenant.state.value}; only a "
            f"{' or '.join(s.value for s in allowed)} tenant can become {state.value}"
            + (f" (fix: `hatang tenant {first} {code}` first)" if tenant.state == TenantState.REQUESTED else "")
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


PROFILE_STATES = (TenantState.APPROVED, TenantState.ACTIVE)
"""States whose quota profile may change: a request is rejected and filed again instead, a retired
or rejected tenant has no quota left to change."""


def profile_reason(old: str, new: str, reason: str) -> str:
    """The history reason of a profile change: both profiles, then why (the history has no other field)."""
    return f"quota profile {old} -> {new}: {reason.strip()}"


def set_profile(root: Path, code: str, profile: str, by: str, reason: str, at: datetime | None = None) -> Change:
    """Move an approved or active tenant to another quota profile of `profiles.yml`.

    The site is validated as it would be after the change, so an unknown profile, or quotas that no
    longer fit the hardware, are refused. Addresses do not depend on the profile: the allocation
    and the ledger are left as they are. The history gets an entry in the tenant's current state
    whose reason names both profiles. The same profile again changes nothing.

    Args:
        root: the site folder.
        code: the tenant.
        profile: the new profile's name.
        by: who changes it (recorded in the history).
        reason: why; required.
        at: when (default: now).

    Returns:
        The file, whether it changed, and a summary.

    Raises:
        RequestError: no reason, an unknown tenant, or one that is not approved or active.
        InventoryError: the site (or the edited tenant) would be invalid.
    """
    if not reason.strip():
        raise RequestError(
            "--reason: a profile change needs a reason (fix: say why, e.g. --reason 'thêm máy chủ cho năm 2027')"
        )
    _check_arguments(by=by, reason=reason)
    with site_lock(Path(root)):
        return _set_profile(Path(root), code, profile, by, reason, at or _now())


def _set_profile(root: Path, code: str, profile: str, by: str, reason: str, at: datetime) -> Change:
    site = load_site(root)
    tenant, path, document = _request(site, code)
    if tenant.state not in PROFILE_STATES:
        raise RequestError(
            f"{display_path(path)}: state: tenant {code!r} is {tenant.state.value}; only an approved or active "
            "tenant's quota profile can change"
            + (" (fix: reject the request and file a new one with that profile)"
               if tenant.state == TenantState.REQUESTED else "")
        )
    if profile == tenant.quota_profile:
        return Change(path, False, f"{code}: already on quota profile {profile}")
    document["quota_profile"] = _text(profile)
    document["history"].append(
        _history_entry(tenant.state, at, by, profile_reason(tenant.quota_profile, profile, reason))
    )
    _check_and_write(site, path, document)
    return Change(path, True, f"{code}: quota profile {tenant.quota_profile} -> {profile}")


def reject_tenant(root: Path, code: str, by: str, reason: str, at: datetime | None = None) -> Change:
    """Reject a request: state `rejected`, final for that request, which never gets addresses.

    The file stays as the record of who rejected it, when and why, so the code stays taken: a new
    request needs a new code (docs/tenancy.md). A second run changes nothing.

    Args:
        root: the site folder.
        code: the requested tenant.
        by: who rejects it (recorded in the history).
        reason: why, in words the agency reads; required.
        at: when (default: now).

    Returns:
        The file, whether it changed, and a summary.

    Raises:
        RequestError: no reason, an unknown tenant, one approved already (approved, active,
            retired), or a request the ledger holds addresses for (an interrupted approval).
        InventoryError: the site (or the edited request) is invalid.
    """
    if not reason.strip():
        raise RequestError(
            "--reason: a rejection needs a reason the agency will read (fix: say why, e.g. --reason 'cần cấp độ 3')"
        )
    _check_arguments(by=by, reason=reason)
    with site_lock(Path(root)):
        return _reject(Path(root), code, by, reason.strip(), at or _now())


_NOT_REJECTABLE = {
    TenantState.APPROVED: "an approved tenant is taken back with `hatang tenant retire {code} --reason …`",
    TenantState.ACTIVE: "an active tenant is taken back with `hatang tenant retire {code} --reason …`",
    TenantState.RETIRED: "nothing to do: it was approved, and is retired already",
}
"""Why a tenant past `requested` is not rejected, and what to do instead."""


def _reject(root: Path, code: str, by: str, reason: str, at: datetime) -> Change:
    site = load_site(root)
    tenant, path, document = _request(site, code)
    if tenant.state == TenantState.REJECTED:
        return Change(path, False, f"{code}: already rejected")
    if tenant.state != TenantState.REQUESTED:
        raise RequestError(
            f"{display_path(path)}: state: tenant {code!r} is {tenant.state.value}; only a requested tenant can be "
            f"rejected (fix: {_NOT_REJECTABLE[tenant.state].format(code=code)})"
        )
    held = sorted(str(prefix) for prefix, (owner, _) in owners(site).items() if owner == code)
    if held:
        raise RequestError(
            f"{display_path(site.root / LEDGER_FILE)}: tenant {code!r} holds {', '.join(held[:3])}"
            f"{' …' if len(held) > 3 else ''}: an approval was interrupted, and a request with addresses is not "
            f"rejected (fix: `hatang tenant approve {code}` to finish it, then `hatang tenant retire {code}`)"
        )
    document["state"] = TenantState.REJECTED.value
    document["history"].append(_history_entry(TenantState.REJECTED, at, by, reason))
    _check_and_write(site, path, document)
    return Change(path, True, f"{code}: requested -> rejected")


def create_tenant(root: Path, request: NewTenant, by: str, reason: str, at: datetime | None = None) -> Change:
    """Write a new request file `tenants/<code>.yml` in state requested.

    Raises:
        RequestError: a file for the code exists already.
        InventoryError: the request or the site would be invalid.
    """
    contacts = {f"contact_{k}": v for c in request.contacts for k, v in c.items() if isinstance(v, str)}
    _check_arguments(code=request.code, name=request.name, by=by, reason=reason, **contacts)
    with site_lock(Path(root)):
        return _create(Path(root), request, by, reason, at or _now())


def _create(root: Path, request: NewTenant, by: str, reason: str, at: datetime) -> Change:
    site = load_site(root)
    path = site.root / "tenants" / f"{request.code}.yml"
    earlier = site.tenant(request.code)
    if earlier is not None and earlier.state == TenantState.REJECTED:
        raise RequestError(
            f"{display_path(path)}: code: {request.code!r} was rejected; the file is the record of that decision and "
            "codes are never reused (fix: choose another --code)"
        )
    if os.path.lexists(path) or earlier is not None:
        raise RequestError(
            f"{display_path(path)}: code: exists; codes are never reused (fix: choose another --code)"
        )
    if any(owner == request.code for owner, _ in owners(site).values()):
        raise RequestError(
            f"{display_path(site.root / LEDGER_FILE)}: code: {request.code!r} held addresses before; codes are "
            "never reused (fix: choose another --code, or restore the old request file from git)"
        )
    document = CommentedMap()
    document.yaml_set_start_comment(
        f"Tenant request {request.code}.\nReviewed as a change to this folder; approve with "
        f"`hatang tenant approve {request.code}`."
    )
    document["code"] = _text(request.code)
    document["agency"] = _text(request.agency)
    document["name"] = _text(request.name)
    document["security_level"] = request.security_level
    document["quota_profile"] = _text(request.quota_profile)
    document["contacts"] = _flow_list(request.contacts)
    document["networks"] = _flow_list(request.networks)
    document["applications"] = CommentedSeq(_text(a) for a in request.applications)
    document["applications"].fa.set_flow_style()
    document["state"] = TenantState.REQUESTED.value
    document["history"] = CommentedSeq([_history_entry(TenantState.REQUESTED, at, by, reason)])
    _check_and_write(site, path, document)
    return Change(path, True, f"{request.code}: requested ({display_path(path)})")


def _flow_list(items: tuple[dict[str, Any], ...]) -> CommentedSeq:
    """One flow-style mapping per item, every string quoted where a reader could misread it."""
    out = CommentedSeq()
    for item in items:
        entry = CommentedMap(
            (key, _text(v) if isinstance(v, str) else CommentedSeq(_text(x) for x in v) if isinstance(v, list) else v)
            for key, v in item.items()
        )
        entry.fa.set_flow_style()
        out.append(entry)
    return out
