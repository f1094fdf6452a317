"""The allocation ledger: every prefix ever handed out, to whom, when, by which approval.

`inventories/<site>/ledger.yml` is append-only and reviewed like the tenant files. Approval
allocates against it (not only against the files present), so an emptied, renamed or deleted
tenant file can never free an address; `hatang validate` checks files and ledger both ways.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml as pyyaml
from pydantic import ValidationError

from infra import _yaml
from infra._ledgerfile import HEADER, entry_text, only_entries
from infra._strictyaml import read_text, shorten
from infra.errors import HatangError, RequestError
from infra.ipam import Span, span
from infra.schema import LedgerEntry, TenantAllocation, TenantRequest, TenantState
from infra.site import LEDGER_FILE, Site, display_path, load_site

__all__ = [
    "Owner",
    "append_text",
    "check_ledger",
    "flatten",
    "history_entries",
    "init_ledger",
    "owners",
    "render",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Owner = tuple[str, str | None]
"""(tenant code, network name or None for the tenant's IPv4 prefix)."""


def flatten(allocation: TenantAllocation) -> list[tuple[Network, str | None]]:
    """Every prefix of an allocation with the network it serves (None: the tenant prefix)."""
    out: list[tuple[Network, str | None]] = [(allocation.ipv4, None)]
    for name, net in allocation.networks.items():
        out += [(net.ipv4, name), (net.ipv6, name)]
    return out


def owners(site: Site) -> dict[Network, Owner]:
    """The ledger as prefix -> owner (the first entry wins when a hand edit recorded one twice)."""
    recorded: dict[Network, Owner] = {}
    for entry in site.ledger or ():
        recorded.setdefault(entry.prefix, (entry.tenant, entry.network))
    return recorded


def _line(entry: LedgerEntry) -> str:
    fields = [("prefix", str(entry.prefix)), ("tenant", entry.tenant)]
    if entry.network is not None:
        fields.append(("network", entry.network))
    return entry_text([*fields, ("at", entry.at.isoformat()), ("by", entry.by)])


def render(entries: Iterable[LedgerEntry]) -> str:
    """A whole ledger file holding `entries`."""
    return HEADER + "".join(_line(e) for e in entries)


def append_text(site: Site, entries: Iterable[LedgerEntry]) -> str:
    """The ledger's text with `entries` appended; the existing text is kept byte for byte.

    Appending lines is only sound when `allocations:` is the file's last top-level key and its
    items are indented as hatang writes them; anything else is refused rather than rewritten.

    Raises:
        RequestError: the file was edited into a layout that appending would change.
    """
    path = site.root / LEDGER_FILE
    if not site.ledger:
        return render(entries)
    text = read_text(path)
    if not only_entries(text) and not _appendable(text):
        raise RequestError(
            f"{display_path(path)}: allocations: cannot append: the file is not in the layout hatang writes "
            "(fix: keep `allocations:` as the last key, entries as `hatang ledger init` writes them)"
        )
    return text + ("" if text.endswith("\n") else "\n") + "".join(_line(e) for e in entries)


def _appendable(text: str) -> bool:
    """`allocations:` is the last top-level key and every indented line is an entry's."""
    top_level = [
        line.rstrip()
        for line in text.splitlines()
        if line.strip() and not line.startswith((" ", "#")) and not line.lstrip().startswith("#")
    ]
    indented = [line for line in text.splitlines() if line.startswith(" ") and line.strip()]
    return top_level[-1:] == ["allocations:"] and all(line.startswith(("  - ", "    ")) for line in indented)


def check_ledger(
    site: Site, add: Callable[[Path, tuple[Any, ...], str, str], None], span_of: Callable[[Network], Span] = span
) -> None:
    """Files against the ledger and the ledger against the files; `add(file, loc, message, hint)`.

    Prefixes are hashed and compared as spans (`span_of`, ints): 25,000 entries at 5,000 tenants.
    """
    ledger_path = site.root / LEDGER_FILE
    ledger = site.ledger
    if ledger is None:
        add(
            ledger_path,
            (),
            "missing: the allocation ledger, the record of every prefix ever handed out",
            f"build it once with `hatang ledger init -i {display_path(site.root)}`, review and commit it",
        )
        return
    spans = [span_of(entry.prefix) for entry in ledger]
    recorded: dict[Span, int] = {}
    for index, key in enumerate(spans):
        first = recorded.setdefault(key, index)
        if first != index:
            entry, earlier = ledger[index], ledger[first]
            add(
                ledger_path,
                ("allocations", index, "prefix"),
                f"{entry.prefix} is recorded again (first as entry {first}, for {_who(_owner(earlier))})",
                "entries are never duplicated or edited; remove the line added by hand",
            )
    _check_ledger_overlaps(site, spans, add)
    held = _check_files(site, recorded, span_of, add)
    files = {t.code: t for t in site.tenants}
    for index, entry in enumerate(ledger):
        holder = files.get(entry.tenant)
        if holder is None:
            add(
                ledger_path,
                ("allocations", index),
                f"{entry.prefix} is recorded for tenant {entry.tenant!r}, whose file tenants/{entry.tenant}.yml "
                "is missing",
                f"restore the file from git (git log --diff-filter=D -- tenants/{entry.tenant}.yml shows where "
                "it went); a tenant file is never deleted, retire the tenant instead",
            )
        elif (spans[index], entry.network) not in held[holder.code]:
            add(
                site.tenant_files[holder.code],
                ("allocation",),
                f"the ledger records {entry.prefix} for {_who(_owner(entry))} "
                f"(ledger entry {index}) but this file does not hold it",
                f"run `hatang tenant approve {holder.code}` to write it back"
                if holder.state in (TenantState.REQUESTED, TenantState.APPROVED)
                else "it was approved, so it is retired, not rejected: restore its state and allocation from git, "
                f"then `hatang tenant retire {holder.code}`"
                if holder.state == TenantState.REJECTED
                else "restore the allocation from git; allocations are never removed",
            )


def _owner(entry: LedgerEntry) -> Owner:
    return entry.tenant, entry.network


def _check_files(
    site: Site,
    recorded: dict[Span, int],
    span_of: Callable[[Network], Span],
    add: Callable[[Path, tuple[Any, ...], str, str], None],
) -> dict[str, set[tuple[Span, str | None]]]:
    """Each file's allocation against the ledger (`recorded`: span -> its first entry); returns what
    each tenant's file holds, by code."""
    ledger = site.ledger or ()
    held: dict[str, set[tuple[Span, str | None]]] = {}
    for tenant in site.tenants:
        mine = held.setdefault(tenant.code, set())
        if tenant.allocation is None:
            continue
        path = site.tenant_files.get(tenant.code) or site.root / "tenants" / f"{tenant.code}.yml"
        for prefix, network in flatten(tenant.allocation):
            key = span_of(prefix)
            mine.add((key, network))
            found = recorded.get(key)
            loc = ("allocation", "ipv4") if network is None else ("allocation", "networks", network)
            if found is None:
                add(path, loc, f"{prefix} is not in the ledger", _unrecorded_hint(tenant))
            elif _owner(ledger[found]) != (tenant.code, network):
                add(
                    path,
                    loc,
                    f"{prefix} is recorded in the ledger for {_who(_owner(ledger[found]))}",
                    "a prefix never changes owner; let `hatang tenant approve` allocate a new one",
                )
    return held


def _check_ledger_overlaps(
    site: Site, spans: list[Span], add: Callable[[Path, tuple[Any, ...], str, str], None]
) -> None:
    """Two tenants' prefixes never overlap (a tenant's subnets sit inside its own prefix)."""
    ledger = site.ledger or ()
    open_: list[int] = []
    for version, start, index in sorted((v, s, i) for i, (v, s, _) in enumerate(spans)):
        entry = ledger[index]
        open_ = [j for j in open_ if spans[j][0] == version and spans[j][2] >= start]
        for j in open_:
            other = ledger[j]
            if other.tenant != entry.tenant:
                add(
                    site.root / LEDGER_FILE,
                    ("allocations", max(index, j), "prefix"),
                    f"{entry.prefix} ({entry.tenant}) overlaps {other.prefix} ({other.tenant})",
                    "prefixes of two tenants never overlap; remove the entry added by hand",
                )
        open_.append(index)


def _who(owner: Owner) -> str:
    tenant, network = owner
    return f"tenant {tenant!r}" + (f" network {network!r}" if network else "")


def _unrecorded_hint(tenant: TenantRequest) -> str:
    return (
        "allocations are made by `hatang tenant approve`, which records them in ledger.yml; "
        f"remove what was written by hand and run `hatang tenant approve {tenant.code}`"
    )


# --------------------------------------------------------------------------- migration


@dataclass(frozen=True)
class Recovered:
    """What `init_ledger` built: the entries, and prefixes history gave to two owners."""

    path: Path
    entries: tuple[LedgerEntry, ...]
    conflicts: tuple[str, ...]


def _approval(tenant: dict[str, Any]) -> tuple[datetime, str]:
    for change in tenant.get("history") or ():
        if isinstance(change, dict) and change.get("state") == TenantState.APPROVED.value:
            at = change.get("at")
            when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
            return when, str(change.get("by") or "unknown")
    return datetime.fromtimestamp(0).astimezone(), "unknown"


def _entries_of(document: Any) -> list[LedgerEntry]:
    """Ledger entries for one version of a tenant file; none when it holds no readable allocation."""
    if not isinstance(document, dict) or not isinstance(document.get("allocation"), dict):
        return []
    try:
        allocation = TenantAllocation.model_validate(document["allocation"])
        at, by = _approval(document)
        code = str(document["code"])
        return [LedgerEntry(prefix=p, tenant=code, network=n, at=at, by=by) for p, n in flatten(allocation)]
    except (ValidationError, KeyError, ValueError, TypeError):
        return []


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False)
    return result.stdout if result.returncode == 0 else b""


def history_entries(root: Path) -> list[LedgerEntry]:
    """Entries from every version of every tenant file git has seen (deleted files included)."""
    blobs: list[bytes] = []
    for line in _git(root, "log", "--format=", "--raw", "--no-abbrev", "--no-renames", "--", "tenants").splitlines():
        parts = line.split()
        if line.startswith(b":") and len(parts) >= 4:
            blobs += [sha for sha in parts[2:4] if sha.strip(b"0")]
    unique = list(dict.fromkeys(blobs))
    if not unique:
        return []
    out = _git(root, "cat-file", "--batch", stdin=b"\n".join(unique) + b"\n")
    entries: list[LedgerEntry] = []
    position = 0
    while position < len(out):
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        size = int(header[2]) if len(header) == 3 else 0
        body = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + (1 if size else 0)
        try:
            entries += _entries_of(pyyaml.safe_load(body.decode("utf-8", "replace")))
        except pyyaml.YAMLError:
            continue
    return entries


def init_ledger(root: Path) -> Recovered:
    """Build `ledger.yml` from the tenant files and their git history (once, for existing sites).

    Entries are ordered by approval time; when history gave one prefix to two tenants the earlier
    approval keeps it, and the conflict is reported so the later tenant can be re-approved.

    Raises:
        RequestError: the ledger exists already.
    """
    site = load_site(root)
    path = site.root / LEDGER_FILE
    if site.ledger is not None:
        raise RequestError(f"{display_path(path)}: exists; the ledger is append-only and is never rebuilt")
    found: list[LedgerEntry] = []
    for tenant in site.tenants:
        if tenant.allocation is not None:
            at, by = _approval(tenant.model_dump(mode="json"))
            found += [
                LedgerEntry(prefix=p, tenant=tenant.code, network=n, at=at, by=by)
                for p, n in flatten(tenant.allocation)
            ]
    found += history_entries(site.root)
    found.sort(key=lambda e: (e.at, e.tenant, e.network or "", e.prefix.version, str(e.prefix)))
    kept: dict[Network, LedgerEntry] = {}
    conflicts: list[str] = []
    for entry in found:
        first = kept.setdefault(entry.prefix, entry)
        if (first.tenant, first.network) != (entry.tenant, entry.network):
            kept_for, also = _who((first.tenant, first.network)), _who((entry.tenant, entry.network))
            note = f"{entry.prefix}: kept for {kept_for}, also held by {also}"
            if note not in conflicts:
                conflicts.append(note)
    entries = tuple(kept.values())
    text = render(entries)
    try:
        _yaml.write_atomic(path, text)
    except OSError as exc:
        raise HatangError(f"{display_path(path)}: cannot write: {exc.strerror}") from None
    return Recovered(path, entries, tuple(shorten(c, 300) for c in conflicts))
