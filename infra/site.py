"""The site: every file of `inventories/<site>/` parsed into one frozen, typed object.

`load_site` reads and schema-checks every file and reports all problems at once;
`infra.validate.validate_site` adds the rules that need the whole site. Strict reads of unchanged
files come from `infra._parsecache` (they are still schema-checked); errors never do.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from infra import _yaml
from infra._ledgerfile import read_fast
from infra._parsecache import ReadCache
from infra._strictyaml import SiteFileError, loads_strict, read_file, shorten
from infra.errors import InventoryError, Problem, SiteNotFoundError
from infra.schema import (
    PRINTABLE_PATTERN,
    SLUG_PATTERN,
    Agency,
    Application,
    Capacity,
    Flow,
    HostGroup,
    HostSpec,
    LedgerEntry,
    Pools,
    Profile,
    SiteInfo,
    TenantRequest,
    TenantState,
    Zone,
    ZoneKind,
)

__all__ = [
    "LEDGER_FILE",
    "SITE_FILES",
    "Host",
    "Site",
    "describe",
    "display_path",
    "gc_paused",
    "load_site",
    "parse_strict",
]

SITE_FILES = (
    "site.yml",
    "zones.yml",
    "flows.yml",
    "hosts.yml",
    "capacity.yml",
    "pools.yml",
    "profiles.yml",
    "agencies.yml",
    "applications.yml",
)
"""Files every site folder has, besides `tenants/` and the ledger."""

LEDGER_FILE = "ledger.yml"
"""The allocation ledger: every prefix ever allocated (`infra.ledger`)."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Host:
    """A host with both address families resolved for every zone it attaches to."""

    name: str
    groups: tuple[str, ...]
    az: str | None
    ipv4: Mapping[str, ipaddress.IPv4Address]
    ipv6: Mapping[str, ipaddress.IPv6Address]


@dataclass(frozen=True)
class Site:
    """One site model; the only source of the facts the three renderings use."""

    root: Path
    info: SiteInfo
    zones: tuple[Zone, ...]
    flows: tuple[Flow, ...]
    groups: Mapping[str, HostGroup]
    host_specs: tuple[HostSpec, ...]
    capacity: Capacity
    pools: Pools
    profiles: Mapping[str, Profile]
    agencies: tuple[Agency, ...]
    applications: tuple[Application, ...]
    tenants: tuple[TenantRequest, ...]
    tenant_files: Mapping[str, Path] = field(default_factory=dict)
    ledger: tuple[LedgerEntry, ...] | None = None
    """None when the site has no ledger.yml yet (`hatang ledger init` builds it)."""

    @property
    def name(self) -> str:
        return self.info.name

    def zone(self, name: str) -> Zone:
        return next(z for z in self.zones if z.name == name)

    def zone_of_kind(self, kind: ZoneKind) -> Zone | None:
        return next((z for z in self.zones if z.kind == kind), None)

    def zone_names(self) -> set[str]:
        return {z.name for z in self.zones}

    def agency(self, code: str) -> Agency | None:
        return next((a for a in self.agencies if a.code == code), None)

    def tenant(self, code: str) -> TenantRequest | None:
        return next((t for t in self.tenants if t.code == code), None)

    def tenants_in(self, *states: TenantState) -> tuple[TenantRequest, ...]:
        return tuple(t for t in self.tenants if t.state in states)

    @property
    def hosts(self) -> tuple[Host, ...]:
        return tuple(self._host(spec) for spec in self.host_specs)

    def hosts_in(self, group: str) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if group in h.groups)

    def _host(self, spec: HostSpec) -> Host:
        zones = {z.name: z for z in self.zones}
        ipv6 = {name: host_ipv6(zones[name], address) for name, address in spec.addresses.items() if name in zones}
        return Host(spec.name, spec.groups, spec.az, dict(spec.addresses), ipv6)


def host_ipv6(zone: Zone, address: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    """Derive a host's IPv6 address: the zone prefix plus the host's IPv4 offset in the zone."""
    offset = int(address) - int(zone.ipv4.network_address)
    return zone.ipv6.network_address + offset


# --------------------------------------------------------------------------- loading


_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "remove it, or check its spelling against the documented fields",
    "string_pattern_mismatch": "use lower-case ASCII letters, digits and '-' (2-63 characters, starting with a letter)",
    "ip_v4_network": "write an IPv4 network in CIDR form with host bits zero, e.g. 10.0.0.0/24",
    "ip_v6_network": "write an IPv6 prefix with host bits zero, e.g. fd00:1::/64",
    "ip_v4_address": "write an IPv4 address, e.g. 10.0.0.1",
    "datetime_from_date_parsing": "write an ISO date-time, e.g. 2026-11-28T09:00:00+07:00",
    "datetime_parsing": "write an ISO date-time, e.g. 2026-11-28T09:00:00+07:00",
    "too_short": "give at least one entry",
    "int_type": "write a whole number without quotes, e.g. 3",
    "bool_type": "write true or false (yes/no/on/off are text)",
    "string_type": "write text; quote it if it looks like a number or a boolean",
    "float_type": "write a number, e.g. 1.5",
}


_ADDRESS_WORDS = ("octet", "netmask", "host bits", "IPv4", "IPv6", "Unexpected '/'", "address")


def _hint(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "value_error" and any(word in error["msg"] for word in _ADDRESS_WORDS):
        return "write an address like 10.0.0.1 or a network with host bits zero like 10.0.0.0/24 (fd00:1::/64)"
    if kind == "enum":
        return f"use one of: {error.get('ctx', {}).get('expected', '')}"
    if kind == "literal_error":
        return f"use one of: {error.get('ctx', {}).get('expected', '')}"
    bound = {"less_than_equal": "<=", "greater_than_equal": ">=", "less_than": "<", "greater_than": ">"}
    if kind in bound:
        limit = next(iter(error.get("ctx", {}).values()), "")
        return f"use a value {bound[kind]} {limit}"
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == PRINTABLE_PATTERN:
        return "write it on one line, without control characters"
    if kind == "value_error":
        return "see this field in docs/site-model.md"
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") != SLUG_PATTERN:
        return f"match the pattern {error['ctx']['pattern']}"
    return _HINTS.get(kind, "")


def describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """One pydantic error as (message, hint), the offending value cut short."""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == PRINTABLE_PATTERN:
        message = "must be one line of printable text (no control characters or line breaks)"
    if error["type"] not in {"missing", "extra_forbidden"} and "input" in error:
        message = f"{message} (got {shorten(error['input'])})"
    return message, _hint(error) or "see this field in docs/site-model.md"


def _problems(path: Path, file: str, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """Pydantic's errors as located problems (the file is parsed again, with line info, only now)."""
    try:
        document = _yaml.load(path)
    except _yaml.YamlSyntaxError:
        document = None
    out = []
    for error in exc.errors():
        loc = prefix + tuple(error["loc"])
        message, hint = describe(error)
        out.append(
            Problem(
                file=file,
                field=".".join(str(part) for part in loc),
                message=message,
                hint=hint,
                line=_yaml.line_of(document, loc),
            )
        )
    return out


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def parse_strict(model: Any, data: Any) -> Any:
    """Validate plain YAML data as `model` in pydantic's strict mode.

    Strict JSON mode: text becomes an address, a date or an enum, but a boolean is never a
    number and a number never text, so what a reviewer reads is what the model holds.

    Raises:
        ValidationError: with every field error.
    """
    return _adapter(model).validate_json(_json_text(data), strict=True)


def _json_text(data: Any) -> str:
    """Plain YAML data as the JSON text pydantic validates (and the read cache stores)."""
    return json.dumps(data, ensure_ascii=False)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block.

    Reading a large site allocates hundreds of thousands of long-lived objects and almost no
    cycles; the collector would scan them again and again (a third of the time of 5,000 tenants).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


class _Reader:
    """Collects problems while it reads, so that every file is looked at before failing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.cache = ReadCache(root)
        self.info: os.stat_result | None = None
        """Status of the file `document` read last (None when it could not be read)."""
        self.plain = False
        """Whether `document` read it with its `fast` reader, which returns plain dicts and lists."""

    def rel(self, path: Path) -> str:
        return display_path(path)

    def document(self, path: Path, empty_hint: str, fast: Callable[[str], Any] | None = None) -> Any:
        """The file's data; None (with a problem recorded) when it is unusable or empty.

        `fast` may read a machine-written layout quickly; it returns None to leave the text to
        the strict YAML loader.
        """
        self.info, self.plain = None, False
        try:
            text, info = read_file(path)
            document = fast(text) if fast is not None else None
            self.plain = document is not None
            if document is None:
                document = loads_strict(text)
        except SiteFileError as exc:
            self.problems.append(Problem(self.rel(path), "", str(exc), exc.hint, exc.line))
            return None
        self.info = info
        if document is None:
            self.problems.append(Problem(self.rel(path), "", "the file is empty (or only comments)", empty_hint))
        return document

    def section(
        self,
        name: str,
        key: str,
        model: Any,
        allow_empty_list: bool = False,
        only: bool = False,
        fast: Callable[[str], Any] | None = None,
    ) -> Any:
        """Read `key` of file `name` as `model` (a model or a TypeAdapter type)."""
        path = self.root / name
        value, cache_key = self.cached(path, key, model)
        if value is not None:
            return value
        before, read_at = len(self.problems), time.time_ns()
        hint = f"write its content (docs/site-model.md), starting with '{key or 'name'}:'"
        document = self.document(path, hint, fast)
        if document is None:
            return None
        if not isinstance(document, Mapping) or (key and key not in document):
            wanted = f"a mapping with a top-level '{key}' key" if key else "a mapping"
            self.problems.append(Problem(self.rel(path), key, f"expected {wanted}", f"start the file with '{key}:'"))
            return None
        for extra in sorted(map(str, document)) if only and key else ():
            if extra != key:
                self.problems.append(
                    Problem(self.rel(path), shorten(extra, 40), "unknown top-level key", f"{name} holds only '{key}:'")
                )
        data = document[key] if key else document
        if data is None and allow_empty_list:
            data = []
        text = _json_text(data if self.plain else _yaml.plain(data))
        try:
            value = _adapter(model).validate_json(text, strict=True)
        except ValidationError as exc:
            self.problems.extend(_problems(path, self.rel(path), exc, (key,) if key else ()))
            return None
        self.remember(cache_key, before, read_at, text)
        return value

    def cached(self, path: Path, part: str, model: Any) -> tuple[Any, str]:
        """The value of `part` of `path` from the read cache (None on a miss), and its cache key.

        A hit is schema-checked like a fresh read; if that fails (the schema changed since),
        it counts as a miss, so the problems are found and located by reading the file.
        """
        cache_key = ReadCache.key(self.root, path, part)
        text = self.cache.get(cache_key, path)
        if text is not None:
            try:
                return _adapter(model).validate_json(text, strict=True), cache_key
            except ValidationError:
                pass
        return None, cache_key

    def remember(self, cache_key: str, before: int, read_at: int, text: str) -> None:
        """Cache a read that added no problem since `before` (a file with problems is always re-read)."""
        if self.info is not None and len(self.problems) == before:
            self.cache.put(cache_key, self.info, read_at, text)

    def tenant_paths(self) -> list[Path]:
        """The request files in `tenants/`; anything else there is a problem, never skipped."""
        folder = self.root / "tenants"
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            self.problems.append(
                Problem(self.rel(folder), "", "is not a folder", "tenants/ is a plain folder of <code>.yml files")
            )
            return []
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder.exists() else []
        except OSError as exc:
            self.problems.append(
                Problem(self.rel(folder), "", f"cannot be listed: {exc.strerror}", "make the folder readable")
            )
            return []
        paths = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue  # hidden files: editors' swap files, our own lock and temporary files
            if not entry.name.endswith(".yml") or entry.name == ".yml":
                self.problems.append(
                    Problem(
                        self.rel(path),
                        "",
                        "is not a tenant request file (tenants/ holds only <code>.yml files)",
                        f"rename it to {Path(entry.name).stem[:40]}.yml if it is a request, or move it out",
                    )
                )
                continue
            paths.append(path)
        return paths

    def tenants(self) -> tuple[list[TenantRequest], dict[str, Path]]:
        requests: list[TenantRequest] = []
        files: dict[str, Path] = {}
        for path in self.tenant_paths():
            request, cache_key = self.cached(path, "", TenantRequest)
            if request is None:
                request = self.tenant(path, cache_key)
            if request is None:
                continue
            if path.stem != request.code:
                self.problems.append(
                    Problem(
                        self.rel(path),
                        "code",
                        f"code {shorten(request.code)} differs from the file name",
                        f"rename the file to {request.code}.yml",
                        _yaml.line_of(_yaml.load(path), ("code",)),
                    )
                )
            requests.append(request)
            files[request.code] = path
        return requests, files

    def tenant(self, path: Path, cache_key: str) -> TenantRequest | None:
        """One request file read strictly (None, with its problems recorded, when unusable)."""
        before, read_at = len(self.problems), time.time_ns()
        document = self.document(path, "a request file is never emptied; restore it from git (git checkout -- FILE)")
        if document is None:
            return None
        text = _json_text(_yaml.plain(document))
        try:
            request: TenantRequest = _adapter(TenantRequest).validate_json(text, strict=True)
        except ValidationError as exc:
            self.problems.extend(_problems(path, self.rel(path), exc))
            return None
        if path.stem == request.code:
            self.remember(cache_key, before, read_at, text)
        return request


def load_site(root: Path | str) -> Site:
    """Read and schema-check every file of a site folder.

    Raises:
        SiteNotFoundError: the folder or a required file is missing.
        InventoryError: with every schema problem found in every file.
    """
    root = Path(root)
    if not root.is_dir():
        raise SiteNotFoundError(root, "no such inventory folder (give inventories/<site>)")
    missing = [name for name in SITE_FILES if not (root / name).is_file()]
    if missing:
        raise SiteNotFoundError(root, f"missing site file(s): {', '.join(missing)}")
    with gc_paused():
        return _load(root)


def _load(root: Path) -> Site:
    reader = _Reader(root)
    info = reader.section("site.yml", "", SiteInfo)
    zones = reader.section("zones.yml", "zones", tuple[Zone, ...])
    flows = reader.section("flows.yml", "flows", tuple[Flow, ...])
    groups = reader.section("hosts.yml", "groups", dict[str, HostGroup])
    hosts = reader.section("hosts.yml", "hosts", tuple[HostSpec, ...])
    capacity = reader.section("capacity.yml", "", Capacity)
    pools = reader.section("pools.yml", "", Pools)
    profiles = reader.section("profiles.yml", "profiles", dict[str, Profile])
    agencies = reader.section("agencies.yml", "agencies", tuple[Agency, ...])
    applications = reader.section("applications.yml", "applications", tuple[Application, ...])
    tenants, files = reader.tenants()
    ledger = None
    if os.path.lexists(root / LEDGER_FILE):
        ledger = reader.section(
            LEDGER_FILE, "allocations", tuple[LedgerEntry, ...], allow_empty_list=True, only=True, fast=read_fast
        )
    reader.cache.save()
    if reader.problems:
        raise InventoryError(reader.problems)
    return Site(
        root=root,
        info=info,
        zones=zones,
        flows=flows,
        groups=groups,
        host_specs=hosts,
        capacity=capacity,
        pools=pools,
        profiles=profiles,
        agencies=agencies,
        applications=applications,
        tenants=tuple(tenants),
        tenant_files=files,
        ledger=ledger,
    )

