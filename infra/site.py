"""The site: every file of `inventories/<site>/` parsed into one frozen, typed object.

`load_site` reads and schema-checks every file and reports all problems at once;
`infra.validate.validate_site` adds the rules that need the whole site.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from infra import _yaml
from infra.errors import InventoryError, Problem, SiteNotFoundError
from infra.schema import (
    SLUG_PATTERN,
    Agency,
    Application,
    Capacity,
    Flow,
    HostGroup,
    HostSpec,
    Pools,
    Profile,
    SiteInfo,
    TenantRequest,
    TenantState,
    Zone,
    ZoneKind,
)

__all__ = ["SITE_FILES", "Host", "Site", "load_site"]

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
"""Files every site folder has, besides `tenants/`."""

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
}


def _hint(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "enum":
        return f"use one of: {error.get('ctx', {}).get('expected', '')}"
    if kind == "literal_error":
        return f"use one of: {error.get('ctx', {}).get('expected', '')}"
    bound = {"less_than_equal": "<=", "greater_than_equal": ">=", "less_than": "<", "greater_than": ">"}
    if kind in bound:
        limit = next(iter(error.get("ctx", {}).values()), "")
        return f"use a value {bound[kind]} {limit}"
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") != SLUG_PATTERN:
        return f"match the pattern {error['ctx']['pattern']}"
    return _HINTS.get(kind, "")


def _problems(path: Path, file: str, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    """Pydantic's errors as located problems (the file is parsed again, with line info, only now)."""
    try:
        document = _yaml.load(path)
    except _yaml.YamlSyntaxError:
        document = None
    out = []
    for error in exc.errors():
        loc = prefix + tuple(error["loc"])
        message = error["msg"]
        if error["type"] not in {"missing", "extra_forbidden"} and "input" in error:
            message = f"{message} (got {error['input']!r})"
        out.append(
            Problem(
                file=file,
                field=".".join(str(part) for part in loc),
                message=message,
                hint=_hint(error),
                line=_yaml.line_of(document, loc),
            )
        )
    return out


class _Reader:
    """Collects problems while it reads, so that every file is looked at before failing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def document(self, path: Path) -> Any:
        try:
            return _yaml.load_fast(path)
        except _yaml.YamlSyntaxError as exc:
            self.problems.append(
                Problem(self.rel(path), "", f"YAML syntax error: {exc}", "fix the YAML syntax", exc.line)
            )
            return None

    def section(self, name: str, key: str, model: Any) -> Any:
        """Read `key` of file `name` as `model` (a model or a TypeAdapter type)."""
        path = self.root / name
        document = self.document(path)
        if document is None:
            return None
        if not isinstance(document, Mapping) or (key and key not in document):
            wanted = f"a mapping with a top-level '{key}' key" if key else "a mapping"
            self.problems.append(Problem(self.rel(path), key, f"expected {wanted}", f"start the file with '{key}:'"))
            return None
        data = document[key] if key else document
        try:
            return TypeAdapter(model).validate_python(_yaml.plain(data))
        except ValidationError as exc:
            self.problems.extend(_problems(path, self.rel(path), exc, (key,) if key else ()))
            return None

    def tenants(self) -> tuple[list[TenantRequest], dict[str, Path]]:
        folder = self.root / "tenants"
        requests: list[TenantRequest] = []
        files: dict[str, Path] = {}
        for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
            document = self.document(path)
            if document is None:
                continue
            try:
                request = TenantRequest.model_validate(_yaml.plain(document))
            except ValidationError as exc:
                self.problems.extend(_problems(path, self.rel(path), exc))
                continue
            if path.stem != request.code:
                self.problems.append(
                    Problem(
                        self.rel(path),
                        "code",
                        f"code {request.code!r} differs from the file name",
                        f"rename the file to {request.code}.yml",
                        _yaml.line_of(_yaml.load(path), ("code",)),
                    )
                )
            requests.append(request)
            files[request.code] = path
        return requests, files


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
    )


def iter_site_files(root: Path) -> Iterator[Path]:
    """Every file that is part of the site model (for hashing and history)."""
    for name in SITE_FILES:
        yield root / name
    yield from sorted((root / "tenants").glob("*.yml"))
