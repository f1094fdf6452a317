"""One site's engine session: where the engine and the state are, and how a stack is selected.

Split from infra/engine.py (the public surface, which re-exports these names) so that the
one-stack migration and the skipping of unchanged stacks can use the session without a cycle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from infra.errors import HatangError
from infra.site import Site, display_path

STACKS = ("platform", "tenants")
"""The site's two Pulumi projects, in deployment order."""

Operation = Literal["preview", "up", "refresh", "destroy"]
REPO = Path(__file__).resolve().parent.parent
PLUGIN = ("openstack", "5.5.3")
"""The resource plugin the Python SDK pulumi-openstack 5.5.3 asks the engine for."""
TENANT_COMPONENT = "hatang:tenants:AgencyTenant"
"""The type of the component holding one tenant's resources (the unit moved between stacks)."""


class EngineError(HatangError):
    """The engine is missing, or a stack operation failed (not a user's site mistake)."""


class PolicyViolationError(EngineError):
    """The policy pack refused the change inside the engine (a finding: exit 1)."""


@dataclass(frozen=True)
class Tools:
    """Where the engine built by scripts/pulumi-tools lives."""

    root: Path

    @property
    def pulumi(self) -> Path:
        return self.root / "bin" / "pulumi"

    @property
    def language_host(self) -> Path:
        return self.root / "bin" / "pulumi-language-python"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def plugin(self) -> Path:
        name, version = PLUGIN
        return self.home / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"


def find_tools() -> Tools:
    """The engine in `$HATANG_TOOLS_CACHE/pulumi/current` (default /var/cache/hatang).

    Raises:
        EngineError: it was not built (run scripts/pulumi-tools, which scripts/bootstrap calls).
    """
    tools = Tools(Path(os.environ.get("HATANG_TOOLS_CACHE", "/var/cache/hatang")) / "pulumi" / "current")
    missing = [p for p in (tools.pulumi, tools.language_host, tools.plugin) if not os.access(p, os.X_OK)]
    if missing:
        raise EngineError(
            f"the Pulumi engine is not built: {', '.join(str(p) for p in missing)} missing "
            "(fix: run scripts/pulumi-tools, or scripts/bootstrap)"
        )
    return tools


def tool_versions(tools: Tools) -> dict[str, str]:
    """The engine's, the language host's and the provider plugin's own answers about their version."""
    out = {}
    for what, command in (
        ("pulumi", [str(tools.pulumi), "version"]),
        ("pulumi-language-python", [str(tools.language_host), "-version"]),
        (f"pulumi-resource-{PLUGIN[0]}", [str(tools.plugin), "-version"]),
    ):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
            out[what] = (result.stdout.strip() or result.stderr.strip() or f"exit {result.returncode}").splitlines()[0]
        except (OSError, subprocess.SubprocessError) as exc:
            out[what] = f"not runnable: {exc}"
    return out


@dataclass(frozen=True)
class Workspace:
    """Where one site's Pulumi state, passphrase and per-stack workspaces live."""

    site: Site
    root: Path

    @classmethod
    def of(cls, site: Site) -> Workspace:
        base = Path(os.environ.get("HATANG_STATE_DIR", REPO / ".hatang" / "pulumi"))
        return cls(site, base / site.name)

    @property
    def backend(self) -> Path:
        return self.root / "backend"

    @property
    def passphrase_file(self) -> Path:
        return self.root / "passphrase"

    def project_dir(self, stack: str) -> Path:
        return self.root / stack

    def forget(self) -> bool:
        """Remove the state (the cloud it described is gone, e.g. `hatang aio down`)."""
        if not self.root.exists():
            return False
        shutil.rmtree(self.root)
        return True

    def prepare(self, stack: str, program: Path | None = None) -> Path:
        """Create the backend folder, the passphrase (once) and the stack's project file."""
        self.backend.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.passphrase_file.exists():
            fd = os.open(self.passphrase_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as stream:
                stream.write(secrets.token_urlsafe(32) + "\n")
        project = self.project_dir(stack)
        project.mkdir(parents=True, exist_ok=True)
        text = (
            f"# Written by hatang (infra/engine.py): the program is the repository's pulumi/{stack}.\n"
            f"name: hatang-{stack}\n"
            "runtime:\n  name: python\n  options:\n"
            f"    virtualenv: {REPO / '.venv'}\n    toolchain: pip\n"
            f"main: {program or REPO / 'pulumi' / stack}\n"
        )
        target = project / "Pulumi.yaml"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            # Replaced whole: a tenant stack's engine may be reading it in another thread.
            temporary = project / f".Pulumi.yaml.{os.getpid()}.{threading.get_ident()}"
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(target)
        return project


@dataclass(frozen=True)
class Outcome:
    """What an operation did: the engine's change counts, and whether they mean drift."""

    operation: Operation
    stack: str
    changes: Mapping[str, int]
    skipped: str | None = None
    """Why the engine was not run for this stack (its `changes` are then its state's rows, all same)."""

    @property
    def changed(self) -> bool:
        return any(count for kind, count in self.changes.items() if kind != "same")


def _environment(workspace: Workspace, tools: Tools, clouds_yaml: Path | None, cloud: str | None) -> dict[str, str]:
    env = {
        "PULUMI_BACKEND_URL": f"file://{workspace.backend}",
        "PULUMI_CONFIG_PASSPHRASE_FILE": str(workspace.passphrase_file),
        "PULUMI_HOME": str(tools.home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "HATANG_INVENTORY": str(workspace.site.root.resolve()),
    }
    if clouds_yaml is not None:
        env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml.resolve())
    if cloud is not None:
        env["OS_CLOUD"] = cloud
    return env


def _counts(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """The engine's change counts keyed by plain operation names (create, update, same, ...)."""
    return {str(getattr(kind, "value", kind)): count for kind, count in (summary or {}).items()}


def _summary(event_log: Path) -> dict[str, int]:
    """The change counts of the engine's summary event in an `--event-log` file (JSON lines)."""
    changes: dict[str, int] | None = None
    with event_log.open(encoding="utf-8") as events:
        for line in events:
            if '"summaryEvent"' in line:
                changes = json.loads(line)["summaryEvent"].get("resourceChanges") or {}
    if changes is None:
        raise EngineError(f"{event_log}: the engine ended without its summary event")
    return _counts(changes)


class ProtectedDeletionError(EngineError):
    """The change would delete or replace protected resources: refused before anything changed."""


_COMMAND_LOCK = threading.Lock()

_FRAME = re.compile(r'File "[^"]+", line \d+')
_CARETS = re.compile(r"(?:^|\s)[\^~]*\^[\^~]*\s*$")


class WithoutTracebacks:
    """The engine's lines without the Python tracebacks the language host adds to a program's
    error: the error itself has its own `error:` line, and a user's mistake (no cloud named, a
    refused credential) must not read as a crash. Stateful: a frame's source line follows it."""

    def __init__(self, sink: Callable[[str], None] | None = None) -> None:
        self.sink = sink
        self._after_frame = False

    def keep(self, line: str) -> bool:
        after_frame, self._after_frame = self._after_frame, False
        if "Traceback (most recent call last)" in line or _CARETS.search(line):
            return False
        if _FRAME.search(line):
            self._after_frame = True
            return False
        return not (after_frame and "error:" not in line)

    def __call__(self, line: str) -> None:
        if self.sink is not None and self.keep(line):
            self.sink(line)


_PROTECTED = re.compile(r'resource "(urn:pulumi:[^"]+)" cannot be deleted\s+because it is protected')


def _refuse_protected(stack: str, operation: str, urns: list[str]) -> None:
    """Refuse a change that would delete protected resources, naming them."""
    if not urns:
        return
    names = sorted({urn.rsplit("::", 1)[-1] for urn in urns})
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    raise ProtectedDeletionError(
        f"{operation} of {stack} would delete {len(names)} protected resource(s): {shown}; nothing was "
        "changed (fix: restore a tenant file or ledger entry removed by mistake from git; a tenant "
        "leaves by `hatang tenant retire`, an `up` during its grace period lifting the protection, "
        "then an `up` after it: `--as-of` a day within the grace period lifts it late)"
    )


Declared = frozenset[tuple[str, str]]
"""(type, logical name) of every resource a program declares."""


def _would_lose(deployment: Mapping[str, Any], declared: Declared | None) -> list[str]:
    """Protected resources of a state that the program no longer declares (None: destroy, all)."""
    return [
        r["urn"]
        for r in deployment.get("resources", [])
        if r.get("protect") and (declared is None or (r.get("type"), r["urn"].rsplit("::", 1)[-1]) not in declared)
    ]


def _holds_nothing(deployment: Mapping[str, Any]) -> bool:
    """Only the stack itself and its providers left: the tenant's stack can go."""
    return all(str(r.get("type", "")).startswith(("pulumi:pulumi:Stack", "pulumi:providers:"))
               for r in deployment.get("resources", []))  # fmt: skip


@dataclass
class _Engine:
    """One site's engine session: the tools, the state's workspace, the stacks' options."""

    site: Site
    tools: Tools
    workspace: Workspace
    env: dict[str, str]
    cloud: str | None
    as_of: datetime | None
    program: Path | None
    _command: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, site: Site, stack: str, cloud: str | None, clouds_yaml: Path | None, as_of: datetime | None,
             program: Path | None, *, prepare: bool = True) -> _Engine:  # fmt: skip
        """The session of the site's `stack`; `prepare=False` writes nothing (a preview prepares its
        `scratch` copy instead)."""
        if stack not in STACKS:
            raise EngineError(f"--stack: {stack!r} is not a stack of a site (fix: use one of {', '.join(STACKS)})")
        tools = find_tools()
        workspace = Workspace.of(site)
        if prepare:
            workspace.prepare(stack, program)
        return cls(site, tools, workspace, _environment(workspace, tools, clouds_yaml, cloud), cloud, as_of, program)

    @contextlib.contextmanager
    def scratch(self, stack: str) -> Iterator[_Engine]:
        """This session on a copy of the site's state, removed afterwards: what a preview runs on, so
        that it never writes the state (a stack it creates because it is new, the config `select`
        writes, the pack's config, the move of a one-stack state: all in the copy).

        The copy is the backend's stack files (not their history, backups or locks), the projects'
        workspaces (the stacks' config: their secrets' salts) and the passphrase, beside the state
        (`HATANG_STATE_DIR`, not /tmp: the state stays where the province keeps it). A site without
        state has nothing to copy: its preview runs in the system's temporary folder.
        """
        real = self.workspace
        with tempfile.TemporaryDirectory(dir=real.root if real.root.is_dir() else None, prefix=".preview-") as folder:
            copy = Workspace(real.site, Path(folder))
            if (real.backend / ".pulumi").is_dir():
                shutil.copytree(real.backend / ".pulumi", copy.backend / ".pulumi", ignore=_not_copied)
            for project in STACKS:
                if real.project_dir(project).is_dir():
                    shutil.copytree(real.project_dir(project), copy.project_dir(project),
                                    ignore=shutil.ignore_patterns("fingerprints", ".*"))  # fmt: skip
            if real.passphrase_file.is_file():
                shutil.copy2(real.passphrase_file, copy.passphrase_file)
            copy.prepare(stack, self.program)
            env = {**self.env, "PULUMI_BACKEND_URL": f"file://{copy.backend}",
                   "PULUMI_CONFIG_PASSPHRASE_FILE": str(copy.passphrase_file)}  # fmt: skip
            try:
                yield dataclasses.replace(self, workspace=copy, env=env)
            except EngineError as exc:
                message = str(exc).replace(str(copy.root), str(real.root))
                message = message.replace(display_path(copy.root), display_path(real.root))
                raise type(exc)(
                    f"{message}\n(previewed on a copy of the state: the state of {real.site.name} was not changed)"
                ) from None
            finally:
                for project in STACKS:  # the CLI's record of the copy's selected stack, in PULUMI_HOME
                    _settings(self.tools, project, copy.project_dir(project)).unlink(missing_ok=True)

    def options(self, stack: str) -> Any:
        from pulumi import automation as auto

        return auto.LocalWorkspaceOptions(
            work_dir=str(self.workspace.project_dir(stack)),
            pulumi_home=str(self.tools.home),
            pulumi_command=self.command(),
            env_vars=self.env,
            secrets_provider="passphrase",
        )

    def command(self) -> Any:
        """The CLI as the Automation API runs it, made once per session: making one runs
        `pulumi version` (0.1 CPU-s), which the SDK otherwise did for every stack selected."""
        from pulumi import automation as auto

        with _COMMAND_LOCK:
            if self._command is None:
                self._command = auto.PulumiCommand(root=str(self.tools.root), skip_version_check=True)
            return self._command

    def stack_names(self, stack: str) -> list[str]:
        """The stacks of the project that exist in the state (names without organisation)."""
        from pulumi import automation as auto

        local = auto.LocalWorkspace(**vars(self.options(stack)))
        return [summary.name.rsplit("/", 1)[-1] for summary in local.list_stacks()]

    def select(self, stack: str, name: str) -> Any:
        """The stack `name` of the project, created when new, configured for this run."""
        from pulumi import automation as auto

        handle = auto.create_or_select_stack(stack_name=name, work_dir=str(self.workspace.project_dir(stack)),
                                             opts=self.options(stack))  # fmt: skip
        config = self.config()
        if not _configured(self.workspace.project_dir(stack) / f"Pulumi.{name}.yaml", config):
            handle.set_all_config({key: auto.ConfigValue(value) for key, value in config.items()})  # one CLI call
        return handle

    def update(self, handle: Any, operation: Literal["up", "destroy"], *, on_output: Callable[[str], None] | None,
               policy_packs: list[str] | None = None, pack_config: list[str] | None = None, refresh: bool = False,
               remove: bool = False) -> dict[str, int]:  # fmt: skip
        """`pulumi up` or `pulumi destroy` of the stack `handle` as the SDK's `Stack.up`/`destroy` run
        it, and its change counts. `remove`: the destroyed stack is removed too (`--remove`).

        The SDK then runs the CLI again: `stack output` twice and `stack history` after `up`,
        `stack history` after `destroy` (and `stack rm` for `remove=True`, which it does not pass on),
        for outputs hatang does not use and a summary the engine already wrote to its event log:
        ~1 CPU-s and a second per stack. The same command through the same `PulumiCommand` (its
        errors are the SDK's `CommandError`s), with the summary read from `--event-log`.
        """
        args = [operation, "--yes", "--skip-preview", "--exec-kind", "auto.local"]
        for pack in policy_packs or ():
            args += ["--policy-pack", pack]
        for path in pack_config or ():
            args += ["--policy-pack-config", path]
        if refresh:
            args.append("--refresh")
        if remove:
            args.append("--remove")
        with tempfile.TemporaryDirectory(prefix=f"hatang-{operation}-") as folder:
            log = Path(folder) / "events.jsonl"
            args += ["--event-log", str(log), "--stack", handle.name]
            env = {"PULUMI_DEBUG_COMMANDS": "true", "PULUMI_HOME": str(self.tools.home), **self.env}
            handle.workspace.pulumi_command.run(args, handle.workspace.work_dir, env, on_output)
            return _summary(log)

    def config(self) -> dict[str, str]:
        """The plain config every stack of this run has (`select` writes it when it differs)."""
        config = {
            "hatang:inventory": str(self.site.root.resolve()),
            "hatang:asOf": self.as_of.isoformat() if self.as_of is not None else "",  # "": now
        }
        if self.cloud is not None:
            config["hatang:cloud"] = self.cloud
        return config

    def state(self, stack: str, name: str, handle: Any) -> dict[str, Any]:
        """The stack's deployment, read from the file backend's checkpoint when it has one (a CLI
        `stack export` saved per stack and run: 0.35 CPU-s), else exported by the CLI."""
        latest = self.checkpoint(stack, name)
        return latest if latest is not None else handle.export_stack().deployment or {}

    def checkpoint(self, stack: str, name: str) -> dict[str, Any] | None:
        """The stack's deployment as the file backend saved it (`<backend>/.pulumi/stacks/<project>/
        <stack>.json`, or `.json.gz` with PULUMI_SELF_MANAGED_STATE_GZIP), without the CLI. None
        when that cannot be told for sure: no such file, or several (a compression switched: the
        CLI reads the newest), `.json.zst` (no zstd here), unreadable."""
        folder = self.workspace.backend / ".pulumi" / "stacks" / f"hatang-{stack}"
        found = [path for ext in ("", ".gz", ".zst") if (path := folder / f"{name}.json{ext}").is_file()]
        if len(found) != 1 or found[0].suffix == ".zst":
            return None
        try:
            with (gzip.open if found[0].suffix == ".gz" else open)(found[0], "rt", encoding="utf-8") as stream:
                latest = json.load(stream)["checkpoint"].get("latest")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return latest if isinstance(latest, dict) else {}

    def locked(self, stack: str, name: str) -> bool:
        """An update of the stack holds its lock in the file backend (`.pulumi/locks/organization/
        <project>/<stack>/<id>.json`): its checkpoint may be the one of a step in progress."""
        locks = self.workspace.backend / ".pulumi" / "locks" / "organization" / f"hatang-{stack}" / name
        try:
            return any(locks.iterdir())
        except FileNotFoundError:
            return False
        except OSError:
            return True  # unreadable: as if locked

    def failed(self, label: str, operation: str, exc: Exception) -> EngineError:
        """The engine's error as hatang's: protected, policy, or its own lines."""
        shown = WithoutTracebacks()
        lines = [line for line in str(exc).splitlines() if line.strip() and shown.keep(line)]
        protected = _PROTECTED.findall(str(exc))
        if protected:
            try:
                _refuse_protected(label, operation, protected)
            except ProtectedDeletionError as refused:
                return refused
        if any("[mandatory]" in line for line in lines):
            violations = [line.strip() for line in lines if "[mandatory]" in line or "Policy Violation" in line]
            return PolicyViolationError(
                f"pulumi {operation} of {label} stopped by the policy pack:\n" + "\n".join(violations[:40])
            )
        errors = list(dict.fromkeys(line.strip() for line in lines if "error:" in line))
        return EngineError(
            f"pulumi {operation} of {label} failed:\n" + "\n".join([*errors[:15], *lines[-10:]])
            + f"\n(state: {display_path(self.workspace.backend)})"
        )


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """What a preview's copy of the backend leaves out: the stacks' history, backups, locks, and
    the checkpoints' `.bak` copies with their `.attrs` (the CLI reads none of them to preview)."""
    skipped = {"history", "backups", "locks"} if Path(folder).name == ".pulumi" else set()
    return skipped | {name for name in names if name.endswith((".bak", ".bak.attrs"))}


def _settings(tools: Tools, project: str, folder: Path) -> Path:
    """Where the CLI records the stack selected in a project folder: `$PULUMI_HOME/workspaces/
    <project>-<sha1 of the real path of its Pulumi.yaml>-workspace.json` (pkg/workspace)."""
    digest = hashlib.sha1(os.path.realpath(folder / "Pulumi.yaml").encode(), usedforsecurity=False).hexdigest()
    return tools.home / "workspaces" / f"hatang-{project}-{digest}-workspace.json"


def _configured(path: Path, config: Mapping[str, str]) -> bool:
    """The stack's config file already holds these plain values (a CLI call saved per stack and run)."""
    import yaml

    try:
        written = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return False
    return isinstance(written, dict) and all(written.get(key) == value for key, value in config.items())
