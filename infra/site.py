"""The site: every file of `inventories/<site>/` parsed into one frozen, typed object.

`load_site` reads and schema-checks every file and reports all problems at once;
`infra.validate.validate_site` adds the rules that need the whole site. Strict reads of unchanged
files come from `infra._parsecache` (they are still schema-checked); errors never do. When many
files must be read and a second core is free, a forked helper reads part of them
(`infra._parallel`); the site and its problems are the same, in the same order, either way.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from infra import _parallel, _yaml
from infra._ledgerfile import read_fast
from infra._parsecache import ReadCache
from infra._strictyaml import SiteFileError, loads_strict_plain, read_file, shorten
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

PARALLEL_MIN_FILES = 200
"""Files to read (not in the read cache) from which a helper process is forked to read part of them.

Forking and sending results back cost a few milliseconds, a strict read about a fifth of one.
"""

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


@dataclass(frozen=True)
class _Read:
    """What reading one file strictly gave: made by `_read`, in this process or in the helper (picklable)."""

    read_at: int
    """`time.time_ns()` before the file was opened (the read cache stores only files settled by then)."""
    info: os.stat_result | None = None
    """Status of the file that was read (None when it could not be read)."""
    problem: tuple[str, str, int | None] | None = None
    """The `SiteFileError` (message, hint, line) when it could not be read."""
    data: Any = None
    """What the schema checks, as `_read` was asked to hand it over; None for an empty or
    comment-only file."""


_Shape = tuple[str, bool, bool] | None
"""How `_read` hands a document over: None, as JSON text (a tenant file, checked whole); or
(key, allow_empty_list, only), as a section (`_section_text`)."""


def _read(path: Path, fast: Callable[[str], Any] | None = None, shape: _Shape = None) -> _Read:
    """Read one site file strictly; a function of the file alone, so a helper process may run it.

    `fast` may read a machine-written layout quickly; it returns None to leave the text to the
    strict YAML loader. The data is handed over as `shape` says, in the JSON text the schema
    checks, so that a helper does that work too and sends text, cheaper to receive than data.
    """
    read_at = time.time_ns()
    try:
        text, info = read_file(path)
        document = fast(text) if fast is not None else None
        plain = document is not None
        if document is None:
            document, plain = loads_strict_plain(text)
    except SiteFileError as exc:
        return _Read(read_at, problem=(str(exc), exc.hint, exc.line))
    if document is None:
        return _Read(read_at, info)
    if shape is None:
        return _Read(read_at, info, data=_json_text(document if plain else _yaml.plain(document)))
    return _Read(read_at, info, data=_section_text(path.name, document, plain, *shape))


def _section_text(
    name: str, document: Any, plain: bool, key: str, allow_empty_list: bool, only: bool
) -> tuple[list[tuple[str, str, str]], str | None]:
    """What `_Reader.section` checks in a document before the schema: the problems found (field,
    message, hint) and the JSON text of section `key` (None when the document has no such section)."""
    if not isinstance(document, Mapping) or (key and key not in document):
        wanted = f"a mapping with a top-level '{key}' key" if key else "a mapping"
        return [(key, f"expected {wanted}", f"start the file with '{key}:'")], None
    found = [
        (shorten(extra, 40), "unknown top-level key", f"{name} holds only '{key}:'")
        for extra in (sorted(map(str, document)) if only and key else ())
        if extra != key
    ]
    data = document[key] if key else document
    if data is None and allow_empty_list:
        data = []
    return found, _json_text(data if plain else _yaml.plain(data))


_Job = tuple[Path, Callable[[str], Any] | None, _Shape]
"""A file a helper may read for `_Reader`: `_read`'s arguments."""


@dataclass(frozen=True)
class _Part:
    """A section of a site file, as `_Reader.section` reads it: `key` of file `name` as `model`."""

    name: str
    key: str
    model: Any
    allow_empty_list: bool = False
    only: bool = False
    fast: Callable[[str], Any] | None = None


def _run(job: _Job) -> _Read:
    return _read(*job)


class _Reader:
    """Collects problems while it reads, so that every file is looked at before failing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.cache = ReadCache(root)
        self.info: os.stat_result | None = None
        """Status of the file `document` read last (None when it could not be read)."""
        self.read_at = 0
        """When `document` started reading it."""
        self.helper: _parallel.Helper[_Job, _Read] | None = None
        self.jobs: dict[Path, int] = {}
        """Index in the helper's list of each file it may read."""
        self.looked_up: dict[str, str | None] = {}
        """What `uncached` found in the read cache, by cache key, for `cached` to use."""
        self.meet_below = 0
        """The helper's jobs before this index are the tenant files (where the two meet)."""
        self.ahead: list[_Part] = []
        """Large sections the helper reads first: checked as soon as they are here (`check_ahead`)."""
        self.early: dict[tuple[str, str], tuple[Any, list[Problem]]] = {}
        """What `check_ahead` found, by (file, key): the value and the problems, for `section`."""

    def rel(self, path: Path) -> str:
        return display_path(path)

    def helped(self, jobs: list[_Job]) -> _parallel.Helper[_Job, _Read] | None:
        """A helper process for `jobs` (enter it with `with`), when there are enough and it can run."""
        if len(jobs) < PARALLEL_MIN_FILES or not _parallel.can_fork():
            return None
        self.helper = _parallel.Helper(jobs, _run)
        self.jobs = {path: index for index, (path, _, _) in enumerate(jobs)}
        return self.helper

    def read(self, path: Path, fast: Callable[[str], Any] | None = None, shape: _Shape = None) -> _Read:
        """`_read(path, ...)`, from the helper when it has read that file with these arguments."""
        index = self.jobs.get(path)
        if self.helper is not None and index is not None and self.helper.items[index] == (path, fast, shape):
            done = self.helper.get(index, meet=index < self.meet_below)
            if done is not None:
                return done
        return _read(path, fast, shape)

    def check_ahead(self) -> None:
        """Check the large sections the helper has read already, while this process is still on the
        tenant files: their schema check then overlaps the helper's reading, instead of following it.
        The value and the problems are kept and given by `section` in their place, so nothing but
        the time changes."""
        helper = self.helper
        for part in [p for p in self.ahead if helper is not None and helper.ready(self.jobs[self.root / p.name])]:
            self.ahead.remove(part)
            saved, self.problems = self.problems, []
            try:
                value = self.part(part)
            finally:
                found, self.problems = self.problems, saved
            self.early[(part.name, part.key)] = (value, found)

    def part(self, part: _Part) -> Any:
        return self.section(part.name, part.key, part.model, part.allow_empty_list, part.only, part.fast)

    def document(
        self, path: Path, empty_hint: str, fast: Callable[[str], Any] | None = None, shape: _Shape = None
    ) -> Any:
        """The file's data (`_read`); None (with a problem recorded) when it is unusable or empty."""
        read = self.read(path, fast, shape)
        self.info, self.read_at = None, read.read_at
        if read.problem is not None:
            message, hint, line = read.problem
            self.problems.append(Problem(self.rel(path), "", message, hint, line))
            return None
        self.info = read.info
        if read.data is None:
            self.problems.append(Problem(self.rel(path), "", "the file is empty (or only comments)", empty_hint))
        return read.data

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
        early = self.early.pop((name, key), None)
        if early is not None:
            value, found = early
            self.problems.extend(found)
            return value
        path = self.root / name
        value, cache_key = self.cached(path, key, model)
        if value is not None:
            return value
        before = len(self.problems)
        hint = f"write its content (docs/site-model.md), starting with '{key or 'name'}:'"
        shaped = self.document(path, hint, fast, (key, allow_empty_list, only))
        if shaped is None:
            return None
        found, text = shaped
        self.problems.extend(Problem(self.rel(path), field, message, fix) for field, message, fix in found)
        if text is None:
            return None
        try:
            value = _adapter(model).validate_json(text, strict=True)
        except ValidationError as exc:
            self.problems.extend(_problems(path, self.rel(path), exc, (key,) if key else ()))
            return None
        self.remember(cache_key, before, text)
        return value

    def cached(self, path: Path, part: str, model: Any) -> tuple[Any, str]:
        """The value of `part` of `path` from the read cache (None on a miss), and its cache key.

        A hit is schema-checked like a fresh read; if that fails (the schema changed since),
        it counts as a miss, so the problems are found and located by reading the file.
        """
        cache_key = ReadCache.key(self.root, path, part)
        text = self.looked_up.pop(cache_key) if cache_key in self.looked_up else self.cache.get(cache_key, path)
        if text is not None:
            try:
                return _adapter(model).validate_json(text, strict=True), cache_key
            except ValidationError:
                pass
        return None, cache_key

    def remember(self, cache_key: str, before: int, text: str) -> None:
        """Cache the read `document` made last if it added no problem since `before` (a file with
        problems is always re-read)."""
        if self.info is not None and len(self.problems) == before:
            self.cache.put(cache_key, self.info, self.read_at, text)

    def uncached(self, path: Path, part: str) -> bool:
        """Whether the read cache has nothing for `part` of `path` (it will be read); `cached`
        then uses this answer instead of looking the file up again."""
        if not self.cache.enabled:
            return True
        cache_key = ReadCache.key(self.root, path, part)
        self.looked_up[cache_key] = text = self.cache.get(cache_key, path)
        return text is None

    def tenant_paths(self) -> tuple[list[Path], list[Problem]]:
        """The request files in `tenants/`, and the problems of anything else there (never skipped)."""
        folder = self.root / "tenants"
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return [], [
                Problem(self.rel(folder), "", "is not a folder", "tenants/ is a plain folder of <code>.yml files")
            ]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder.exists() else []
        except OSError as exc:
            return [], [Problem(self.rel(folder), "", f"cannot be listed: {exc.strerror}", "make the folder readable")]
        paths = []
        problems = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue  # hidden files: editors' swap files, our own lock and temporary files
            if not entry.name.endswith(".yml") or entry.name == ".yml":
                problems.append(
                    Problem(
                        self.rel(path),
                        "",
                        "is not a tenant request file (tenants/ holds only <code>.yml files)",
                        f"rename it to {Path(entry.name).stem[:40]}.yml if it is a request, or move it out",
                    )
                )
                continue
            paths.append(path)
        return paths, problems

    def tenants(self, paths: list[Path], listed: list[Problem]) -> tuple[list[TenantRequest], dict[str, Path]]:
        """The requests of `paths` (`tenant_paths`), after the problems `listed` with them."""
        requests: list[TenantRequest] = []
        files: dict[str, Path] = {}
        self.problems.extend(listed)
        for path in paths:
            request, cache_key = self.cached(path, "", TenantRequest)
            if request is None:
                request = self.tenant(path, cache_key)
                if self.ahead:
                    self.check_ahead()
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
        before = len(self.problems)
        hint = "a request file is never emptied; restore it from git (git checkout -- FILE)"
        text = self.document(path, hint)
        if text is None:
            return None
        try:
            request: TenantRequest = _adapter(TenantRequest).validate_json(text, strict=True)
        except ValidationError as exc:
            self.problems.extend(_problems(path, self.rel(path), exc))
            return None
        if path.stem == request.code:
            self.remember(cache_key, before, text)
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


_AGENCIES = _Part("agencies.yml", "agencies", tuple[Agency, ...])
_APPLICATIONS = _Part("applications.yml", "applications", tuple[Application, ...])
_LEDGER = _Part(LEDGER_FILE, "allocations", tuple[LedgerEntry, ...], allow_empty_list=True, only=True, fast=read_fast)
_LARGE = (_AGENCIES, _APPLICATIONS, _LEDGER)
"""The sections that grow with the number of tenants (the other site files are a few kilobytes)."""


def _load(root: Path) -> Site:
    reader = _Reader(root)
    paths, listed = reader.tenant_paths()
    has_ledger = os.path.lexists(root / LEDGER_FILE)
    large = [part for part in _LARGE if part is not _LEDGER or has_ledger]
    # What is read below, in the order it is read: a helper works through this list from its end
    # (the ledger and the large files first), this process from its start (the tenant files).
    jobs: list[_Job] = [(path, None, None) for path in paths if reader.uncached(path, "")]
    reader.meet_below = len(jobs)
    ahead = [part for part in large if reader.uncached(root / part.name, part.key)]
    jobs += [(root / part.name, part.fast, (part.key, part.allow_empty_list, part.only)) for part in ahead]
    with reader.helped(jobs) or nullcontext():
        if reader.helper is not None:
            reader.ahead = ahead
        tenants, files = reader.tenants(paths, listed)
        in_tenants, reader.problems = reader.problems, []
        info = reader.section("site.yml", "", SiteInfo)
        zones = reader.section("zones.yml", "zones", tuple[Zone, ...])
        flows = reader.section("flows.yml", "flows", tuple[Flow, ...])
        groups = reader.section("hosts.yml", "groups", dict[str, HostGroup])
        hosts = reader.section("hosts.yml", "hosts", tuple[HostSpec, ...])
        capacity = reader.section("capacity.yml", "", Capacity)
        pools = reader.section("pools.yml", "", Pools)
        profiles = reader.section("profiles.yml", "profiles", dict[str, Profile])
        agencies = reader.part(_AGENCIES)
        applications = reader.part(_APPLICATIONS)
        in_sections, reader.problems = reader.problems, []
        ledger = reader.part(_LEDGER) if has_ledger else None
    reader.problems = [*in_sections, *in_tenants, *reader.problems]  # in file order, as read without a helper
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
