"""hatang's thin wrapper over Pulumi's Automation API: up, preview, refresh, destroy of a site's stacks.

The engine (CLI, Python language host, OpenStack plugin) is the one `scripts/pulumi-tools` builds
into `$HATANG_TOOLS_CACHE/pulumi/current`. Each site's state stays in the province: a file backend
and a passphrase under `.hatang/pulumi/<site>/` (git-ignored), never a SaaS. The projects' code is
the repository's `pulumi/<stack>` folder; the workspace beside the state holds only a Pulumi.yaml
pointing at it (`main:`) and the stack's config, so the repository is never written.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from infra.errors import HatangError
from infra.site import Site, display_path

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
        (project / "Pulumi.yaml").write_text(
            f"# Written by hatang (infra/engine.py): the program is the repository's pulumi/{stack}.\n"
            f"name: hatang-{stack}\n"
            "runtime:\n  name: python\n  options:\n"
            f"    virtualenv: {REPO / '.venv'}\n    toolchain: pip\n"
            f"main: {program or REPO / 'pulumi' / stack}\n",
            encoding="utf-8",
        )
        return project


@dataclass(frozen=True)
class Outcome:
    """What an operation did: the engine's change counts, and whether they mean drift."""

    operation: Operation
    stack: str
    changes: Mapping[str, int]

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


def _check_offline(
    site: Site, stack: str, as_of: datetime | None, policy_pack: bool, deployment: Mapping[str, Any]
) -> None:
    """Refuse an `up` before the engine starts: a mandatory policy violation, or a protected
    resource in the state that the program no longer declares (the engine would delete it).

    The programs run under the SDK's mocks (infra.stacks.mockrun) on the same site and moment
    as the engine will: the same resources, names and inputs, with placeholder ids.
    """
    from infra.offline_plan import evaluate_policies  # loads the SDK's mocks: only for `up`
    from infra.stacks.mockrun import run_programs

    programs = ("platform",) if stack == "platform" else ("platform", stack)
    mocked = run_programs(site.root, now=as_of, programs=programs, lenient=False, site=site)
    if policy_pack:
        owner = {r.urn: r.program for r in mocked.resources} | {f"stack {p}": p for p in programs}
        violations = [v for v in evaluate_policies(mocked, site) if owner.get(v.urn) == stack]
        if violations:
            raise PolicyViolationError(
                f"pulumi up of {site.name}/{stack} refused by the policy pack before anything changed:\n"
                + "\n".join(f"[mandatory] {v}" for v in violations[:40])
            )
    declared = {(r.type, r.name) for r in mocked.resources if r.program == stack}
    kept = [
        r["urn"]
        for r in deployment.get("resources", [])
        if r.get("protect") and (r.get("type"), r["urn"].rsplit("::", 1)[-1]) not in declared
    ]
    _refuse_protected(f"{site.name}/{stack}", "up", kept)


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
    """Run one engine operation on one of the site's stacks.

    Args:
        refresh: `up` reads the cloud into the state first (a resource deleted by hand is
            created again); `preview` always does.
        as_of: the moment retirement grace periods are measured against (`hatang:asOf`):
            shows or applies what the site means on that day.
        program: another program folder in place of the repository's pulumi/<stack> (tests).

    Raises:
        EngineError: the engine is missing or the operation failed (its last lines in the message).
    """
    from pulumi import automation as auto  # the SDK's Automation API: loaded only when used

    if stack not in STACKS:
        raise EngineError(f"--stack: {stack!r} is not a stack of a site (fix: use one of {', '.join(STACKS)})")
    tools = find_tools()
    workspace = Workspace.of(site)
    project = workspace.prepare(stack, program)
    env = _environment(workspace, tools, clouds_yaml, cloud)
    options = auto.LocalWorkspaceOptions(
        work_dir=str(project),
        pulumi_home=str(tools.home),
        pulumi_command=auto.PulumiCommand(root=str(tools.root), skip_version_check=True),
        env_vars=env,
        secrets_provider="passphrase",
    )
    policy = [str(REPO / "pulumi" / "policy")] if policy_pack else None
    try:
        handle = auto.create_or_select_stack(stack_name=site.name, work_dir=str(project), opts=options)
        handle.set_config("hatang:inventory", auto.ConfigValue(str(site.root.resolve())))
        if cloud is not None:
            handle.set_config("hatang:cloud", auto.ConfigValue(cloud))
        if as_of is not None:
            handle.set_config("hatang:asOf", auto.ConfigValue(as_of.isoformat()))
        else:
            handle.remove_config("hatang:asOf")
        if operation == "preview":
            result = handle.preview(on_output=on_output, policy_packs=policy, refresh=True)
            return Outcome(operation, stack, _counts(result.change_summary))
        if operation == "up":
            # The engine honours `protect` only when it reaches such a resource, after deleting
            # the unprotected ones before it (a tenant file removed by mistake would lose its
            # router, groups and rules first), and the pack stops `up` only at the resource that
            # breaks it. So the change is checked whole first: offline for the repository's
            # programs (a mock run, under a second), by the engine's preview for another program.
            if program is None:
                _check_offline(site, stack, as_of, policy_pack, handle.export_stack().deployment or {})
            else:
                handle.preview(policy_packs=policy, refresh=refresh)
            done = handle.up(on_output=on_output, policy_packs=policy, refresh=refresh)
            return Outcome(operation, stack, _counts(done.summary.resource_changes))
        if operation == "refresh":
            refreshed = handle.refresh(on_output=on_output)
            return Outcome(operation, stack, _counts(refreshed.summary.resource_changes))
        kept = [r["urn"] for r in (handle.export_stack().deployment or {}).get("resources", []) if r.get("protect")]
        _refuse_protected(f"{site.name}/{stack}", "destroy", kept)
        destroyed = handle.destroy(on_output=on_output)
        return Outcome(operation, stack, _counts(destroyed.summary.resource_changes))
    except auto.CommandError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        _refuse_protected(f"{site.name}/{stack}", operation, _PROTECTED.findall(str(exc)))
        if any("[mandatory]" in line for line in lines):
            violations = [line.strip() for line in lines if "[mandatory]" in line or "Policy Violation" in line]
            raise PolicyViolationError(
                f"pulumi {operation} of {site.name}/{stack} stopped by the policy pack:\n" + "\n".join(violations[:40])
            ) from None
        errors = list(dict.fromkeys(line.strip() for line in lines if "error:" in line))
        raise EngineError(
            f"pulumi {operation} of {site.name}/{stack} failed:\n" + "\n".join([*errors[:15], *lines[-10:]])
            + f"\n(state: {display_path(workspace.backend)})"
        ) from None
