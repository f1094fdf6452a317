"""Skipping a tenant's stack whose `up` would change nothing.

`up` of a stack costs the engine 4-5 CPU-seconds even when nothing changes: 50 unchanged
tenants cost minutes. The offline check already knows every resource a stack declares, with
its inputs and options; when that, and everything else the engine's run depends on, is what
the stack's last successful `up` recorded, and its state is still the one that `up` left, the
engine would find nothing to do (drift in the cloud aside: `up` never reads it without --refresh).
The decision is made from files (the stack's checkpoint and config), without the CLI: the
`stack select` it saves is most of what a skipped stack still cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra._engine_session import PLUGIN, REPO, TENANT_COMPONENT, Declared, _configured, _Engine, _would_lose

if TYPE_CHECKING:
    from infra.stacks.mockrun import RegisteredResource


@dataclass(frozen=True)
class _Selected:
    """A tenant's stack selected for this run, with what its state says."""

    handle: Any
    """The stack's Automation API handle (None: not selected, its files read alone: `_peek`)."""
    lost: list[str]
    """The protected resources an `up` (or `destroy`) of it would delete."""
    state: str
    """The digest of its exported state (`up` only, else "")."""
    rows: int
    config: str
    """The digest of its project and stack config files."""


def _checked(engine: _Engine, stack: str, name: str, declared: Declared | None, operation: str) -> _Selected:
    """A stack selected for this run, and for `up` or `destroy` what its state holds."""
    from pulumi import automation as auto

    try:
        handle = engine.select(stack, name)
        if operation not in ("up", "destroy"):
            return _Selected(handle, [], "", 0, "")
        deployment = engine.state(stack, name, handle)
    except auto.CommandError as exc:
        raise engine.failed(f"{engine.site.name}/{stack}/{name.partition('.')[2]}", operation, exc) from None
    return _Selected(handle, _would_lose(deployment, declared if operation == "up" else None), _digest(deployment),
                     len(deployment.get("resources", [])), _config_digest(engine, stack, name))  # fmt: skip


def _peek(engine: _Engine, stack: str, name: str, declared: Declared) -> _Selected | None:
    """What `_checked` would say of a stack before an `up`, from its files alone, without selecting
    it (no CLI); None when only the CLI can tell: no checkpoint file or two, the stack's config
    not yet the one `select` writes for this run, an update holding its lock. Then it is selected."""
    if engine.locked(stack, name):
        return None
    if not _configured(engine.workspace.project_dir(stack) / f"Pulumi.{name}.yaml", engine.config()):
        return None
    deployment = engine.checkpoint(stack, name)
    if deployment is None:
        return None
    return _Selected(None, _would_lose(deployment, declared), _digest(deployment),
                     len(deployment.get("resources", [])), _config_digest(engine, stack, name))  # fmt: skip


def _config_digest(engine: _Engine, stack: str, name: str) -> str:
    """The digest of the stack's project and config files."""
    folder = engine.workspace.project_dir(stack)
    return _digest([_file_digest(folder / "Pulumi.yaml"), _file_digest(folder / f"Pulumi.{name}.yaml")])


def _digest(value: Any) -> str:
    """A stable digest of plain data (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _tenant_resources(resources: Collection[RegisteredResource]) -> dict[str, list[RegisteredResource]]:
    """Each tenant's resources (its component and their descendants) with the program's shared ones
    (its provider), as that tenant's own stack declares them."""
    owner: dict[str, str] = {}
    shared: list[RegisteredResource] = []
    mine: dict[str, list[RegisteredResource]] = {}
    for r in resources:
        if r.type == TENANT_COMPONENT:
            owner[r.urn] = r.name
        elif r.parent in owner:
            owner[r.urn] = owner[r.parent]
        else:
            shared.append(r)
            continue
        mine.setdefault(owner[r.urn], []).append(r)
    return {code: [*shared, *rows] for code, rows in mine.items()}


def _row(r: RegisteredResource) -> dict[str, Any]:
    """What the engine receives for a resource: type, name, inputs, parent, dependencies, protect, options."""
    return {**r.as_dict(), "options": dict(r.options), "program": None}


def _common(engine: _Engine, policy_pack: bool, pack_config: list[str] | None) -> dict[str, Any]:
    """What every tenant stack's run depends on besides its resources: the engine and plugin
    binaries and SDKs, the policy pack's code and config, the platform's state (the programs look
    its resources up), the cloud entry and clouds.yaml."""
    from importlib.metadata import version

    binaries = (engine.tools.pulumi, engine.tools.language_host, engine.tools.plugin)
    pack_files = [*sorted((REPO / "pulumi" / "policy").iterdir()), *PACK_CODE]
    clouds_yaml = engine.env.get("OS_CLIENT_CONFIG_FILE")
    return {
        "tools": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in binaries],
        "plugin": PLUGIN,
        "sdks": {name: version(name) for name in ("pulumi", "pulumi_openstack", "pulumi_policy")},
        "pack": None if not policy_pack else {
            "code": {str(p): _file_digest(p) for p in pack_files if p.is_file()},
            "config": [_file_digest(Path(p)) for p in pack_config or ()],
        },
        "platform": _platform_state(engine),
        "cloud": {key: engine.env.get(key) for key in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "HATANG_INVENTORY")},
        "clouds.yaml": _file_digest(Path(clouds_yaml)) if clouds_yaml else None,
    }


PACK_CODE = (REPO / "infra" / "stacks" / "policies.py", REPO / "infra" / "policy.py")
"""The policy pack's rules, besides pulumi/policy itself (a rule changed: every stack runs again)."""


def _platform_state(engine: _Engine) -> str | None:
    """The digest of the platform's resources and ids: a platform resource replaced (new id) changes
    what the tenants' lookups return. None while the platform has no state. Read from its
    checkpoint file when it has one (two CLI calls saved per run), else exported by the CLI."""
    from pulumi import automation as auto

    engine.workspace.prepare("platform")
    latest = engine.checkpoint("platform", engine.site.name)
    if latest is not None:
        resources = latest.get("resources", [])
    else:
        try:
            folder = str(engine.workspace.project_dir("platform"))
            platform = auto.select_stack(stack_name=engine.site.name, work_dir=folder,
                                         opts=engine.options("platform"))  # fmt: skip
            resources = (platform.export_stack().deployment or {}).get("resources", [])
        except auto.CommandError:
            return None
    return _digest(sorted((r["urn"], r.get("id")) for r in resources))


def _fingerprints(
    engine: _Engine, resources: Collection[RegisteredResource], policy_pack: bool, pack_config: list[str] | None
) -> dict[str, str]:
    """Each declared tenant's fingerprint (a tenant that declares nothing has none: never skipped)."""
    common = _common(engine, policy_pack, pack_config)
    # by URN: the order the SDK registers resources in varies from run to run (their dependencies do not)
    return {code: _digest({"resources": sorted((_row(r) for r in rows), key=lambda row: row["urn"]), **common})
            for code, rows in _tenant_resources(resources).items()}  # fmt: skip


def _unchanged(engine: _Engine, stack: str, stamps: Mapping[str, str], selected: Mapping[str, _Selected]) -> set[str]:
    """The tenants whose stacks' last `up` recorded this fingerprint and left the state they hold."""
    folder = engine.workspace.project_dir(stack)
    return {code for code, stamp in stamps.items()
            if _Record(folder, f"{engine.site.name}.{code}").matches(stamp, selected[code])}  # fmt: skip


def _stamp(fingerprint: str, selected: _Selected) -> str:
    """The fingerprint with the stack's own config files."""
    return _digest([fingerprint, selected.config])


@dataclass(frozen=True)
class _Record:
    """What a stack's last successful `up` declared, and the state it left, beside the state."""

    folder: Path
    name: str

    @property
    def path(self) -> Path:
        return self.folder / "fingerprints" / f"{self.name}.json"

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def write(self, stamp: str, state: str) -> None:
        self.path.parent.mkdir(exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps({"fingerprint": stamp, "state": state}) + "\n", encoding="utf-8")
        temporary.replace(self.path)

    def matches(self, stamp: str, selected: _Selected) -> bool:
        """The stack's last `up` succeeded with this fingerprint, and its state is the one it left."""
        try:
            recorded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(recorded, dict) and recorded.get("fingerprint") == stamp \
            and recorded.get("state") == selected.state  # fmt: skip
