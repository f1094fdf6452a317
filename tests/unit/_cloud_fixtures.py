"""A cloud as data: the compliant base of infra/catalogue/violations/cloud/, the patches that
break it, and a fake cloud that answers the live probes from the same data.

The base is written out literally (it is not built from the site model's `Expected`), so a
wrong expectation cannot make a "compliant" fixture pass by construction.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openstack.exceptions
import yaml

from infra.audit.cloud._ovn import OvnAcl, OvnAddressSet, OvnNat, OvnPort, OvnPortGroup, OvnRoute, OvnSwitch
from infra.audit.cloud._snapshot import (
    AddressGroup,
    Endpoint,
    FloatingIp,
    Image,
    Network,
    Port,
    Project,
    Rbac,
    RoleAssignment,
    Router,
    Rule,
    Snapshot,
    Subnet,
    VolumeType,
)
from infra.audit.cloud._storage import VolumeBackend, VolumeService

VIOLATIONS = Path(__file__).resolve().parents[2] / "infra" / "catalogue" / "violations" / "cloud"
BASE = VIOLATIONS / "_base.yml"

RECORDS: dict[str, type] = {
    "projects": Project,
    "networks": Network,
    "subnets": Subnet,
    "rules": Rule,
    "ports": Port,
    "address_groups": AddressGroup,
    "rbac": Rbac,
    "routers": Router,
    "floating_ips": FloatingIp,
    "images": Image,
    "endpoints": Endpoint,
    "admin_assignments": RoleAssignment,
    "volume_types": VolumeType,
    "volume_services": VolumeService,
    "volume_backends": VolumeBackend,
    "ovn_switches": OvnSwitch,
    "ovn_ports": OvnPort,
    "ovn_port_groups": OvnPortGroup,
    "ovn_acls": OvnAcl,
    "ovn_routes": OvnRoute,
    "ovn_nats": OvnNat,
    "ovn_address_sets": OvnAddressSet,
}
"""Snapshot field -> the record type of its items."""
MAPPINGS = ("domains", "quotas", "quota_errors")
SCALARS = ("ovn_read_from",)
STRINGS = ("ovn_routers", "volume_backend_errors")
"""Snapshot fields that are lists of plain strings."""
PROBE_DATA = ("keystone", "handshakes", "tenant_view")
OTHER = ("site", "now")
PATCH_OPS = ("add", "remove", "update", "merge")


def load_base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    return data


def now_of(doc: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(doc["now"]))


def _matches(item: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    return all(item.get(k) == v for k, v in selector.items())


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def apply_patch(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `base` with the patch applied.

    - `add: {field: [records]}` appends records to a list field;
    - `remove: {field: [selector]}` drops the records matching every key of a selector;
    - `update: {field: [{match: selector, set: {key: value}}]}` changes the matching records;
    - `merge: {field: mapping}` deep-merges into a mapping field (a null value deletes the key).

    Raises:
        ValueError: an unknown operation or field, or a selector that matches nothing.
    """
    doc = copy.deepcopy(dict(base))
    for op, fields in patch.items():
        if op not in PATCH_OPS:
            raise ValueError(f"unknown patch operation {op!r}; known: {', '.join(PATCH_OPS)}")
        for field, value in fields.items():
            if op == "merge":
                if field not in (*MAPPINGS, *PROBE_DATA):
                    raise ValueError(f"merge: {field!r} is not a mapping of the document")
                _merge(doc.setdefault(field, {}), value)
                continue
            if field in STRINGS and op in ("add", "remove"):
                names: list[str] = doc.setdefault(field, [])
                for name in value:
                    if op == "add":
                        names.append(name)
                    elif name in names:
                        names.remove(name)
                    else:
                        raise ValueError(f"remove: {field} has no {name!r}")
                continue
            if field not in RECORDS:
                raise ValueError(f"{op}: {field!r} is not a list of records of the snapshot")
            items: list[dict[str, Any]] = doc.setdefault(field, [])
            if op == "add":
                items.extend(copy.deepcopy(value))
            elif op == "remove":
                for selector in value:
                    kept = [item for item in items if not _matches(item, selector)]
                    if len(kept) == len(items):
                        raise ValueError(f"remove: no {field} record matches {selector}")
                    items[:] = kept
            else:
                for change in value:
                    hit = [item for item in items if _matches(item, change["match"])]
                    if not hit:
                        raise ValueError(f"update: no {field} record matches {change['match']}")
                    for item in hit:
                        item.update(copy.deepcopy(change["set"]))
    return doc


def _record(cls: type, data: Mapping[str, Any], strict: bool) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown and strict:
        raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
    return cls(**values)


def build_snapshot(doc: Mapping[str, Any], *, strict: bool = True) -> Snapshot:
    """The `Snapshot` a document describes (`strict`: an unknown key is an error)."""
    known = {*RECORDS, *MAPPINGS, *SCALARS, *STRINGS, *PROBE_DATA, *OTHER}
    if strict and set(doc) - known:
        raise ValueError(f"unknown key(s) {sorted(set(doc) - known)}")
    snapshot_fields = {f.name for f in dataclasses.fields(Snapshot)}
    values: dict[str, Any] = {}
    for field, cls in RECORDS.items():
        if field in snapshot_fields:
            values[field] = tuple(_record(cls, item, strict) for item in doc.get(field, []))
        elif doc.get(field) and strict:
            raise ValueError(f"the snapshot has no field {field!r}")
    for field in MAPPINGS:
        values[field] = copy.deepcopy(doc.get(field, {}))
    for field in SCALARS:
        values[field] = doc.get(field)
    for field in STRINGS:
        values[field] = tuple(map(str, doc.get(field, [])))
    return Snapshot(**values)


# --------------------------------------------------------------------------- the fake cloud of the probes


@dataclasses.dataclass
class _User:
    id: str
    name: str
    password: str
    must_change: bool
    history: list[str]
    failures: int = 0
    locked: bool = False


class FakeProber:
    """Answers the live probes (`_probes`) as the document's `keystone` and `tenant_view` say."""

    verify: bool | str = True

    def __init__(self, doc: Mapping[str, Any], snapshot: Snapshot) -> None:
        self.keystone = dict(doc.get("keystone", {}))
        self.view = dict(doc.get("tenant_view", {}))
        self.snapshot = snapshot
        self.users: dict[str, _User] = {}
        self._ids = itertools.count(1)
        self.conn = SimpleNamespace(identity=SimpleNamespace(get_user=self._get_user))

    def _get_user(self, user_id: str) -> Any:
        expires = "2027-02-26T00:00:00.000000" if self.keystone.get("password_expires") else None
        return SimpleNamespace(id=user_id, password_expires_at=expires)

    @contextlib.contextmanager
    def throwaway_user(self, purpose: str, *, first_use: bool = False, password: str | None = None) -> Iterator[Any]:
        password = password or "Strong-Passw0rd"
        if self.keystone.get("rejects_weak") and password == "weak":
            raise openstack.exceptions.BadRequestException("Password validation error")
        user = _User(f"u-{next(self._ids)}", f"hatang-audit-{purpose}", password,
                     bool(first_use and self.keystone.get("change_on_first_use")), [password])  # fmt: skip
        self.users[user.id] = user
        try:
            yield user
        finally:
            self.users.pop(user.id, None)

    def login(self, user: _User, password: str, project_id: str | None = None) -> bool:
        if user.locked:
            return False
        if password != user.password:
            user.failures += 1
            limit = self.keystone.get("lockout_failures")
            if limit is not None and user.failures >= int(limit):
                user.locked = True
            return False
        user.failures = 0
        return not user.must_change

    def change_password(self, user: _User, old: str, new: str) -> bool:
        if old != user.password:
            return False
        remembered = int(self.keystone.get("unique_last_passwords") or 0)
        if remembered and new in user.history[-remembered:]:
            return False
        user.password, user.must_change = new, False
        user.history.append(new)
        return True

    def grant(self, user: _User, project_id: str, role_name: str = "member") -> None:
        return None

    def connect_as(self, user: _User, password: str, project_id: str) -> Any:
        project = self.snapshot.project(project_id)
        view = self.view.get(project.name if project else project_id, {})
        return _TenantConnection(self.snapshot, view)


class _TenantConnection:
    """What a member of one project gets from Neutron and Keystone."""

    def __init__(self, snapshot: Snapshot, view: Mapping[str, Any]) -> None:
        self.snapshot = snapshot
        listed = list(view.get("networks", []))
        reads = set(view.get("reads", []))
        groups = {r.group_id: (r.group_name, r.project_id) for r in snapshot.rules}
        self.network = SimpleNamespace(
            networks=lambda: [n for n in (snapshot.network(i) for i in listed) if n is not None],
            security_groups=lambda: [
                SimpleNamespace(id=g, name=groups[g][0], project_id=groups[g][1])
                for g in view.get("security_groups", [])
                if g in groups
            ],
            get_network=lambda network_id: self._get(network_id, set(listed) | reads, snapshot.network),
        )
        self.identity = SimpleNamespace(get_project=lambda project_id: self._read_project(project_id, reads))

    @staticmethod
    def _get(object_id: str, visible: set[str], lookup: Any) -> Any:
        found = lookup(object_id) if object_id in visible else None
        if found is None:
            raise openstack.exceptions.NotFoundException(f"{object_id} not found")
        return found

    def _read_project(self, project_id: str, reads: set[str]) -> Any:
        if project_id not in reads:
            raise openstack.exceptions.ForbiddenException("forbidden")
        return self.snapshot.project(project_id)

    def close(self) -> None:
        return None


def fake_handshake(doc: Mapping[str, Any]) -> Any:
    """A stand-in for `_probes._handshake`: the document's `handshakes`, else a failed handshake."""
    import ssl

    table = dict(doc.get("handshakes", {}))

    def handshake(host: str, port: int, cafile: str | None) -> str:
        version = table.get(f"{host}:{port}")
        if version is None:
            raise ssl.SSLError(f"certificate verify failed for {host}:{port}")
        return str(version)

    return handshake
