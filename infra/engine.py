"""hatang's thin wrapper over Pulumi's Automation API: up, preview, refresh, destroy of a site's stacks.

The engine (CLI, Python language host, OpenStack plugin) is the one `scripts/pulumi-tools` builds
into `$HATANG_TOOLS_CACHE/pulumi/current`. Each site's state stays in the province: a file backend
and a passphrase under `.hatang/pulumi/<site>/` (git-ignored), never a SaaS. The projects' code is
the repository's `pulumi/<stack>` folder; the workspace beside the state holds only a Pulumi.yaml
pointing at it (`main:`) and the stack's config, so the repository is never written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from infra.errors import HatangError
from infra.site import Site, display_path

if TYPE_CHECKING:
    from infra.stacks.mockrun import RegisteredResource

__all__ = [
    "STACKS",
    "EngineError",
    "Outcome",
    "PolicyViolationError",
    "ProtectedDeletionError",
    "Tools",
    "Workspace",
    "find_tools",
    "run",
    "tool_versions",
]

STACKS = ("platform", "tenants")
"""The site's two Pulumi projects, in deployment order."""

Operation = Literal["preview", "up", "refresh", "destroy"]
REPO = Path(__file__).resolve().parent.parent
PLUGIN = ("openstack", "5.5.3")
"""The resource plugin the Python SDK pulumi-openstack 5.5.3 asks the engine for."""


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


class ProtectedDeletionError(EngineError):
    """The change would delete or replace protected resources: refused before anything changed."""


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


def check_offline(
    site: Site, stack: str, as_of: datetime | None, policy_pack: bool, tenants: Collection[str] | None = None
) -> Declared:
    """Run the repository's programs under the SDK's mocks (infra.stacks.mockrun) on the same
    site and moment as the engine will, and refuse a mandatory policy violation before the
    engine starts. Returns what the stack's program declares (same names and inputs, with
    placeholder ids), to compare with the protected resources of the state. `tenants`: only
    these tenants are declared (the stacks about to run; a 1,000-tenant site's mock run takes 24 s).

    Raises:
        PolicyViolationError: the pack refuses a declared resource.
    """
    return _declared(_mock_check(site, stack, as_of, policy_pack, tenants))


def _declared(resources: Collection[RegisteredResource]) -> Declared:
    return frozenset((r.type, r.name) for r in resources)


def _mock_check(
    site: Site, stack: str, as_of: datetime | None, policy_pack: bool, tenants: Collection[str] | None = None
) -> list[RegisteredResource]:
    """check_offline's mock run and pack; the stack's resources as registered (with inputs and options)."""
    from infra.offline_plan import evaluate_policies  # loads the SDK's mocks: only for `up`
    from infra.stacks.mockrun import run_programs

    programs = ("platform",) if stack == "platform" else ("platform", stack)
    mocked = run_programs(site.root, now=as_of, programs=programs, lenient=False, site=site, tenants=tenants)
    if policy_pack:
        owner = {r.urn: r.program for r in mocked.resources} | {f"stack {p}": p for p in programs}
        violations = [v for v in evaluate_policies(mocked, site) if owner.get(v.urn) == stack]
        if violations:
            raise PolicyViolationError(
                f"pulumi up of {site.name}/{stack} refused by the policy pack before anything changed:\n"
                + "\n".join(f"[mandatory] {v}" for v in violations[:40])
            )
    return [r for r in mocked.resources if r.program == stack]


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

    @classmethod
    def open(cls, site: Site, stack: str, cloud: str | None, clouds_yaml: Path | None, as_of: datetime | None,
             program: Path | None) -> _Engine:  # fmt: skip
        if stack not in STACKS:
            raise EngineError(f"--stack: {stack!r} is not a stack of a site (fix: use one of {', '.join(STACKS)})")
        tools = find_tools()
        workspace = Workspace.of(site)
        workspace.prepare(stack, program)
        return cls(site, tools, workspace, _environment(workspace, tools, clouds_yaml, cloud), cloud, as_of, program)

    def options(self, stack: str) -> Any:
        from pulumi import automation as auto

        return auto.LocalWorkspaceOptions(
            work_dir=str(self.workspace.project_dir(stack)),
            pulumi_home=str(self.tools.home),
            pulumi_command=auto.PulumiCommand(root=str(self.tools.root), skip_version_check=True),
            env_vars=self.env,
            secrets_provider="passphrase",
        )

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
        config = {
            "hatang:inventory": str(self.site.root.resolve()),
            "hatang:asOf": self.as_of.isoformat() if self.as_of is not None else "",  # "": now
        }
        if self.cloud is not None:
            config["hatang:cloud"] = self.cloud
        if not _configured(self.workspace.project_dir(stack) / f"Pulumi.{name}.yaml", config):
            handle.set_all_config({key: auto.ConfigValue(value) for key, value in config.items()})  # one CLI call
        return handle

    def state(self, stack: str, name: str, handle: Any) -> dict[str, Any]:
        """The stack's deployment, read from the file backend's checkpoint when it has one (a CLI
        `stack export` saved per stack and run: 0.35 CPU-s), else exported by the CLI."""
        import gzip

        folder = self.workspace.backend / ".pulumi" / "stacks" / f"hatang-{stack}"
        found = [p for p in (folder / f"{name}.json", folder / f"{name}.json.gz") if p.is_file()]
        if len(found) == 1:  # both (PULUMI_SELF_MANAGED_STATE_GZIP switched): the CLI knows which
            try:
                with (gzip.open if found[0].suffix == ".gz" else open)(found[0], "rt", encoding="utf-8") as stream:
                    latest = json.load(stream)["checkpoint"].get("latest")
                return latest if isinstance(latest, dict) else {}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass
        return handle.export_stack().deployment or {}

    def failed(self, label: str, operation: str, exc: Exception) -> EngineError:
        """The engine's error as hatang's: protected, policy, or its own lines."""
        lines = [line for line in str(exc).splitlines() if line.strip()]
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


def _configured(path: Path, config: Mapping[str, str]) -> bool:
    """The stack's config file already holds these plain values (a CLI call saved per stack and run)."""
    import yaml

    try:
        written = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return False
    return isinstance(written, dict) and all(written.get(key) == value for key, value in config.items())


def _operate(
    engine: _Engine,
    stack: str,
    name: str,
    operation: Operation,
    *,
    policy: list[str] | None,
    refresh: bool,
    declared: Declared | None,
    on_output: Callable[[str], None] | None,
    selected: Any = None,
    pack_config: list[str] | None = None,
    fingerprint: str | None = None,
) -> Outcome:
    """One engine operation on one stack (the state's protected resources checked before up/destroy,
    unless `selected` is the stack's handle, already checked). `fingerprint`: what the stack
    declares, recorded with its state once an `up` succeeded (the next `up` may then skip it)."""
    from pulumi import automation as auto

    tenant = name.partition(".")[2]
    label = f"{engine.site.name}/{stack}" + (f"/{tenant}" if tenant else "")
    try:
        handle = selected if selected is not None else engine.select(stack, name)
        if operation == "preview":
            result = handle.preview(on_output=on_output, policy_packs=policy, policy_pack_configs=pack_config,
                                    refresh=True)  # fmt: skip
            return Outcome(operation, label.split("/", 1)[1], _counts(result.change_summary))
        if operation == "refresh":
            refreshed = handle.refresh(on_output=on_output)
            return Outcome(operation, label.split("/", 1)[1], _counts(refreshed.summary.resource_changes))
        if operation == "up" and declared is None:
            # Another program (tests): the engine's own preview checks the change whole.
            handle.preview(policy_packs=policy, refresh=refresh)
        elif selected is None:
            kept = _would_lose(handle.export_stack().deployment or {}, declared if operation == "up" else None)
            _refuse_protected(label, operation, kept)
        record = _Record(engine.workspace.project_dir(stack), name)
        record.forget()  # whatever happens next, the last update is no longer the one recorded
        if operation == "up":
            done = handle.up(on_output=on_output, policy_packs=policy, policy_pack_configs=pack_config,
                             refresh=refresh)  # fmt: skip
            changes = done.summary.resource_changes
        else:
            changes = handle.destroy(on_output=on_output).summary.resource_changes
        deployment = engine.state(stack, name, handle) if name != engine.site.name else {}
        if name != engine.site.name and (operation == "destroy" or _counts(changes).get("delete")) \
                and _holds_nothing(deployment):
            handle.workspace.remove_stack(name, force=True)  # a removed tenant's, emptied: Stack and provider left
        elif operation == "up" and fingerprint is not None:
            record.write(fingerprint, _digest(deployment))
        return Outcome(operation, label.split("/", 1)[1], _counts(changes))
    except auto.CommandError as exc:
        raise engine.failed(label, operation, exc) from None


def run(
    site: Site,
    stack: str,
    operation: Operation,
    *,
    cloud: str | None = None,
    clouds_yaml: Path | None = None,
    policy_pack: bool = True,
    refresh: bool = False,
    as_of: datetime | None = None,
    program: Path | None = None,
    on_output: Callable[[str], None] | None = None,
) -> Outcome:
    """Run one engine operation on the site's stack `<site>` of a project (one stack, every tenant).

    `hatang cloud` runs the tenants one stack each (`run_stacks`); this is for the platform, and
    for another program in place of the repository's (`program`, tests).

    Args:
        refresh: `up` reads the cloud into the state first (a resource deleted by hand is
            created again); `preview` always does.
        as_of: the moment retirement grace periods are measured against (`hatang:asOf`):
            shows or applies what the site means on that day.
        program: another program folder in place of the repository's pulumi/<stack> (tests).

    Raises:
        EngineError: the engine is missing or the operation failed (its last lines in the message).
    """
    engine = _Engine.open(site, stack, cloud, clouds_yaml, as_of, program)
    policy = [str(REPO / "pulumi" / "policy")] if policy_pack else None
    declared = check_offline(site, stack, as_of, policy_pack) if operation == "up" and program is None else None
    return _operate(engine, stack, site.name, operation, policy=policy, refresh=refresh, declared=declared,
                    on_output=on_output)  # fmt: skip


TENANT_JOBS = 4
"""Tenant stacks run at once: the AIO's Neutron, not the engine, is then the limit (2 cores)."""


def run_stacks(
    site: Site,
    stack: str,
    operation: Operation,
    *,
    cloud: str | None = None,
    clouds_yaml: Path | None = None,
    policy_pack: bool = True,
    refresh: bool = False,
    as_of: datetime | None = None,
    jobs: int = TENANT_JOBS,
    tenants: Collection[str] | None = None,
    on_output: Callable[[str, str], None] | None = None,
    skip: bool = True,
    program: Path | None = None,
) -> list[Outcome]:
    """Run one engine operation on a site's stack: the platform, or every tenant's own stack.

    Each tenant has its stack `<site>.<code>` (state of its own ~40 resources: the file backend
    rewrites a stack's whole state after every step, so one stack of every tenant grew slower with
    each tenant). The stacks are those of the tenants the site declares and those the state holds
    (a tenant removed from the site keeps its stack until an `up` empties it). Before anything
    runs, the change is checked whole: the policy pack offline, and every stack's protected
    resources; one refusal and no stack changes. Then `jobs` stacks run at once; a failure in one
    stops none of the others, and every failure is reported at the end.

    `tenants` limits the run to these tenants' stacks (an agency onboarded alone); the offline
    check still covers the whole site. `on_output(label, line)` gets the engines' lines, `label`
    naming the stack. `up` skips a tenant's stack whose fingerprint (what it declares, with
    options, config, tools, pack, platform state: `_fingerprints`) and state are those its last
    successful `up` recorded, unless `skip` is False or `refresh` (its Outcome says `skipped`).
    `program`: another program folder in place of pulumi/tenants for the engine (tests); the
    offline check and the fingerprints still run the repository's.

    Raises:
        EngineError: one or more stacks failed (all named); ProtectedDeletionError and
            PolicyViolationError before anything changed.
    """
    import concurrent.futures

    from infra.stacks.spec import tenants_plan

    def output(label: str) -> Callable[[str], None] | None:
        return None if on_output is None else (lambda line: on_output(label, line))

    if stack != "tenants":
        return [run(site, stack, operation, cloud=cloud, clouds_yaml=clouds_yaml, policy_pack=policy_pack,
                    refresh=refresh, as_of=as_of, on_output=output(stack))]  # fmt: skip
    engine = _Engine.open(site, stack, cloud, clouds_yaml, as_of, program)
    policy = [str(REPO / "pulumi" / "policy")] if policy_pack else None
    codes = _tenant_stacks(engine, stack)
    if operation in ("preview", "up"):
        plan = tenants_plan(site, as_of if as_of is not None else datetime.now().astimezone())
        codes = sorted({*codes, *(spec.code for spec in plan.tenants)})
    if tenants is not None:
        unknown = sorted(set(tenants) - set(codes))
        if unknown:
            raise EngineError(
                f"--tenant: {', '.join(unknown)[:200]}: no such tenant stack to {operation} in {site.name} "
                f"(fix: one of {', '.join(codes)[:400] or 'none'}; a requested tenant is approved first)"
            )
        codes = [code for code in codes if code in tenants]
    resources = _mock_check(site, stack, as_of, policy_pack, tenants=codes) if operation == "up" else None
    declared = _declared(resources) if resources is not None else None
    pack_config = _pack_config(engine) if policy_pack and operation in ("preview", "up") else None
    fingerprints = _fingerprints(engine, resources, policy_pack, pack_config) if resources is not None else {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        # Every stack selected (created when new) and, for up and destroy, its protected
        # resources checked, before any of them changes.
        checks = {code: pool.submit(_checked, engine, stack, f"{site.name}.{code}", declared, operation)
                  for code in codes}  # fmt: skip
        selected = {code: future.result() for code, future in checks.items()}
        _refuse_protected(f"{site.name}/{stack}", operation, [urn for s in selected.values() for urn in s.lost])
        stamps = {code: _stamp(fingerprints[code], selected[code]) for code in codes if code in fingerprints}
        unchanged = _unchanged(engine, stack, stamps, selected) if skip and not refresh else set()
        futures = {
            code: pool.submit(
                _operate, engine, stack, f"{site.name}.{code}", operation, policy=policy, refresh=refresh,
                declared=declared if declared is not None else frozenset(), on_output=output(code),
                selected=selected[code].handle, pack_config=pack_config, fingerprint=stamps.get(code),
            )
            for code in codes if code not in unchanged
        }
        outcomes = [Outcome("up", f"tenants/{code}", {"same": selected[code].rows}, skipped="unchanged")
                    for code in sorted(unchanged)]  # fmt: skip
        failures: list[tuple[str, EngineError]] = []
        for code, future in futures.items():
            try:
                outcomes.append(future.result())
            except EngineError as exc:
                failures.append((code, exc))
    if failures:
        kind = PolicyViolationError if all(isinstance(e, PolicyViolationError) for _, e in failures) else EngineError
        done = ", ".join(o.stack for o in outcomes) or "none"
        raise kind("\n".join(str(e) for _, e in failures) + f"\n(stacks done: {done})")
    return sorted(outcomes, key=lambda outcome: outcome.stack)


def _tenant_stacks(engine: _Engine, stack: str) -> list[str]:
    """The codes of the tenants whose stacks the state holds, once a one-stack state is split."""
    names = engine.stack_names(stack)
    if engine.site.name in names:
        _split_one_stack_of_all(engine, stack)
        names = engine.stack_names(stack)
    return [name.partition(".")[2] for name in names if name.startswith(f"{engine.site.name}.")]


@dataclass(frozen=True)
class _Selected:
    """A tenant's stack selected for this run, with what its state says."""

    handle: Any
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
    folder = engine.workspace.project_dir(stack)
    config = _digest([_file_digest(folder / "Pulumi.yaml"), _file_digest(folder / f"Pulumi.{name}.yaml")])
    return _Selected(handle, _would_lose(deployment, declared if operation == "up" else None), _digest(deployment),
                     len(deployment.get("resources", [])), config)  # fmt: skip


def _pack_config(engine: _Engine) -> list[str] | None:
    """The pack's config for the tenants' stacks: the platform's zone network ids (what its stack
    exports), since the engine does not tell the pack which zone a network id is. None while the
    platform has no state (the pack then judges a router by its gateway address and tags)."""
    import json

    from infra.stacks.policies import EXTERNAL_NETWORK_IDS, LEVEL3_POLICY
    from pulumi import automation as auto

    engine.workspace.prepare("platform")
    try:
        folder = str(engine.workspace.project_dir("platform"))
        platform = auto.select_stack(stack_name=engine.site.name, work_dir=folder, opts=engine.options("platform"))
        ids = platform.outputs().get(EXTERNAL_NETWORK_IDS)
    except auto.CommandError:
        return None
    if ids is None or not ids.value:
        return None
    path = engine.workspace.project_dir("tenants") / "policy-config.json"
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({LEVEL3_POLICY: {EXTERNAL_NETWORK_IDS: ids.value}}, indent=1), encoding="utf-8")
    temporary.replace(path)
    return [str(path)]


def _split_one_stack_of_all(engine: _Engine, stack: str) -> None:
    """A state from before one stack per tenant (stack `<site>` holding every tenant) is moved
    into the tenants' stacks (`pulumi state move`, each tenant's component with its children).

    Safe to run again after an interruption: a tenant already moved is skipped, and one that
    `state move` wrote to its stack but not yet removed from `<site>` (it saves the destination
    first) is dropped from `<site>` once its stack is seen to hold the same resources and ids.
    A tenant's stack holding other resources of that tenant is refused, nothing changed.
    """
    from pulumi import automation as auto

    name = engine.site.name
    try:
        handle = engine.select(stack, name)
        moves, copied = _plan_split(engine, stack, (handle.export_stack().deployment or {}).get("resources", []))
        for code, urn in moves:
            subprocess.run(
                [str(engine.tools.pulumi), "state", "move", "--source", name, "--dest", f"{name}.{code}",
                 "--yes", "--non-interactive", urn],
                cwd=engine.workspace.project_dir(stack), env={**os.environ, **engine.env}, check=True,
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        deployment = handle.export_stack().deployment or {}
        if copied:
            kept = [r for r in deployment.get("resources", []) if r["urn"] not in copied]
            handle.import_stack(auto.Deployment(version=3, deployment={**deployment, "resources": kept}))
            deployment = handle.export_stack().deployment or {}
        if _holds_nothing(deployment):
            handle.workspace.remove_stack(name, force=True)  # only its Stack and provider rows are left
    except (auto.CommandError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise EngineError(
            f"the tenants of {name} are in one stack (before one stack per tenant) and moving them "
            f"failed:\n{str(detail).strip()[-2000:]}\n(state: {display_path(engine.workspace.backend)})"
        ) from None


def _plan_split(engine: _Engine, stack: str, resources: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], set[str]]:
    """Every tenant of the one stack checked before any is moved: (code, component URN) to move,
    and the URNs to drop from the one stack because the tenant's stack already holds them."""
    moves, copied = [], set()
    for urn in [r["urn"] for r in resources if r.get("type") == TENANT_COMPONENT]:
        code = urn.rsplit("::", 1)[-1]
        target = engine.select(stack, f"{engine.site.name}.{code}")  # created when new
        held = _tenant_rows((target.export_stack().deployment or {}).get("resources", []))
        if held:
            copied |= _already_moved(engine.site.name, code, _tree(resources, urn), held)
        else:
            moves.append((code, urn))
    return moves, copied


TENANT_COMPONENT = "hatang:tenants:AgencyTenant"
"""The type of the component holding one tenant's resources (the unit moved between stacks)."""


def _tree(resources: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    """The rows of `root` and of its descendants (children are listed after their parents)."""
    inside = {root}
    for row in resources:
        if row.get("parent") in inside:
            inside.add(row["urn"])
    return [row for row in resources if row["urn"] in inside]


def _tenant_rows(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tenant stack's rows but its Stack and providers."""
    return [r for r in resources if not str(r.get("type", "")).startswith(("pulumi:pulumi:Stack", "pulumi:providers:"))]


def _already_moved(site: str, code: str, rows: list[dict[str, Any]], held: list[dict[str, Any]]) -> set[str]:
    """The URNs in `<site>` of a tenant its stack already holds (a move interrupted after the
    destination was saved), to drop from `<site>`.

    Raises:
        EngineError: the tenant's stack holds something else (other ids or resources): which copy
            is the cloud's cannot be told here, so nothing is changed.
    """
    moved = {(r["urn"].replace(f"urn:pulumi:{site}::", f"urn:pulumi:{site}.{code}::", 1), r.get("id")) for r in rows}
    if moved != {(r["urn"], r.get("id")) for r in held}:
        raise EngineError(
            f"tenant {code} is both in the one stack {site} (before one stack per tenant: {len(rows)} "
            f"resources) and in its own stack {site}.{code} ({len(held)} resources), with other resources "
            f"or ids: no tenant was moved (fix: keep the copy that matches the cloud: `pulumi state delete` "
            f"the other one, or remove the stack {site}.{code} if it is the stale one)"
        )
    return {r["urn"] for r in rows}


# -- skipping unchanged tenant stacks
#
# `up` of a stack costs the engine 4-5 CPU-seconds even when nothing changes: 50 unchanged
# tenants cost minutes. The offline check already knows every resource a stack declares, with
# its inputs and options; when that, and everything else the engine's run depends on, is what
# the stack's last successful `up` recorded, and its state is still the one that `up` left, the
# engine would find nothing to do (drift in the cloud aside: `up` never reads it without --refresh).


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
    what the tenants' lookups return. None while the platform has no state."""
    from pulumi import automation as auto

    engine.workspace.prepare("platform")
    try:
        folder = str(engine.workspace.project_dir("platform"))
        platform = auto.select_stack(stack_name=engine.site.name, work_dir=folder, opts=engine.options("platform"))
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
