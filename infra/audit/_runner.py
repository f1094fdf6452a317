"""Run a profile's host checks against hosts, in parallel across hosts.

Each host gets its own pytest process over the packaged checks (`infra/audit/hosts`) with testinfra's
`podman://` or `ssh://` backend; the plugin writes the check results to a JSON file that
`run_audit` folds into control results with the catalogue and the waivers.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlencode

from infra.audit._model import AuditResult, CheckResult, HostResult, Outcome, control_outcome
from infra.catalogue import Catalogue, Scope, Waiver, load_catalogue
from infra.errors import HatangError
from infra.site import Site

__all__ = [
    "CHECKS_DIR",
    "Connection",
    "LimitError",
    "Target",
    "UnknownControlError",
    "remote_command",
    "run_audit",
    "select_hosts",
    "targets",
]

CHECKS_DIR = Path(__file__).resolve().parent / "hosts"
"""The host checks, shipped in the package (`infra.audit.hosts`)."""

PROBE_TIMEOUT = 30.0
HOST_TIMEOUT = 900.0


class LimitError(HatangError):
    """`--limit` names neither a host group nor a host of the site."""


class ChecksNotFoundError(HatangError):
    """The folder of host checks does not exist."""


class UnknownControlError(HatangError):
    """A control id that the profile does not hold."""


class Connection(StrEnum):
    PODMAN = "podman"
    SSH = "ssh"


@dataclass(frozen=True)
class Target:
    """One host to audit: its name in the site model and the testinfra URL that reaches it."""

    host: str
    url: str
    apt_mirror: str | None = None
    """Test hosts only: the lab's Debian mirror, expected instead of the site's (HT-PKG-01)."""
    ssh_config: Path | None = None
    """SSH only: the ssh_config file (`ssh -F`) saying how the host's address is reached (a jump
    host, a port, a key); already in `url`, kept for the commands run outside testinfra."""


def select_hosts(site: Site, limit: str | None = None) -> list[str]:
    """Host names of the site, or those named by `limit` (groups or hosts, comma-separated).

    Raises:
        LimitError: an item of `limit` is neither a group nor a host.
    """
    names = [h.name for h in site.hosts]
    if not limit:
        return names
    wanted: set[str] = set()
    for item in (i.strip() for i in limit.split(",") if i.strip()):
        if item in names:
            wanted.add(item)
        elif item in site.groups:
            wanted |= {h.name for h in site.hosts_in(item)}
        else:
            known = sorted(set(names) | set(site.groups))
            raise LimitError(f"--limit: {item!r} is neither a host nor a group; known: {', '.join(known)}")
    return [n for n in names if n in wanted]


def targets(
    site: Site,
    hosts: Sequence[str],
    connection: Connection,
    ssh_user: str | None = None,
    containers: Mapping[str, str] | None = None,
    lab_apt_mirror: str | None = None,
    ssh_config: Path | None = None,
) -> list[Target]:
    """testinfra URLs: SSH to each host's management address, or its container (`podman://`).

    The product knows no container: with `Connection.PODMAN` the caller (the test-host lab)
    says which container stands for which host, and which Debian mirror its hosts use instead of
    the site's (`lab_apt_mirror`: the site's own mirror is out of a lab's reach). A host reached
    over SSH is always held to the site's mirror. `ssh_config` (SSH only) is the file `ssh -F`
    reads: how each host's address is really reached.

    Raises:
        HatangError: podman, and a host without a container in `containers`.
    """
    by_name = {h.name: h for h in site.hosts}
    mgmt = next((z.name for z in site.zones if z.kind.value == "mgmt"), None)
    out = []
    for name in hosts:
        if connection is Connection.PODMAN:
            if not containers or name not in containers:
                raise HatangError(f"--connection podman: no container stands for host {name!r}")
            out.append(Target(name, f"podman://{containers[name]}", lab_apt_mirror))
            continue
        host = by_name[name]
        address = str(host.ipv4[mgmt]) if mgmt and mgmt in host.ipv4 else name
        user = f"{ssh_user}@" if ssh_user else ""
        query = f"?{urlencode({'ssh_config': str(ssh_config)})}" if ssh_config else ""
        out.append(Target(name, f"ssh://{user}{address}{query}", ssh_config=ssh_config))
    return out


def _probe(target: Target) -> str | None:
    """None when the host answers, else why not (an unreachable host is an error, not a fail)."""
    try:
        remote_command(target)("true")
    except HatangError as exc:
        return f"unreachable {str(exc).removeprefix(target.host + ' ')}"
    return None


def remote_command(target: Target, sudo: bool = False, timeout: float = PROBE_TIMEOUT) -> Callable[[str], str]:
    """A function that runs a shell command on the target and returns its output.

    The function raises `HatangError` ("HOST (URL): why") when the command fails or the host
    does not answer.
    """
    scheme, _, rest = target.url.partition("://")

    def run(command: str) -> str:
        line = f"sudo -n /bin/sh -c {shlex.quote(command)}" if sudo else command
        if scheme == "podman":
            argv = ["podman", "exec", rest, "/bin/sh", "-c", line]
        else:
            config = ["-F", str(target.ssh_config)] if target.ssh_config else []
            argv = ["ssh", *config, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", rest.partition("?")[0], line]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HatangError(f"{target.host} ({target.url}): {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise HatangError(f"{target.host} ({target.url}): {detail[-1] if detail else f'rc {done.returncode}'}")
        return done.stdout

    return run


def _shell_url(target: Target) -> str:
    """The target's URL for the checks: the same host through a backend that keeps one shell open
    for all of them (`infra.audit._shell`), not a new exec or SSH session per command."""
    scheme, _, rest = target.url.partition("://")
    return f"hatang-{scheme}://{rest}" if scheme in ("podman", "ssh") else target.url


def _run_host(
    target: Target,
    site_root: Path,
    check_ids: Sequence[str],
    checks_dir: Path,
    catalogue_dir: Path | None,
    sudo: bool,
) -> tuple[dict[str, CheckResult], str | None, float]:
    started = time.monotonic()
    reason = _probe(target)
    if reason:
        return {}, reason, time.monotonic() - started
    if not check_ids:
        return {}, None, time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix="hatang-audit-") as tmp:
        results_file = Path(tmp) / "results.json"
        argv = [
            sys.executable, "-m", "pytest", str(checks_dir),
            "--confcutdir", str(checks_dir), "--rootdir", str(checks_dir),
            "-c", os.devnull, "-p", "no:cacheprovider", "-p", "testinfra.plugin", "-p", "infra.audit.plugin",
            "-q", "--no-header", "-rN",
            f"--hosts={_shell_url(target)}",
            "--hatang-site", str(site_root), "--hatang-host", target.host,
            "--hatang-checks", ",".join(check_ids),
            "--hatang-results", str(results_file),
        ]  # fmt: skip
        if catalogue_dir is not None:
            argv += ["--hatang-catalogue", str(catalogue_dir)]
        if target.apt_mirror:
            argv += ["--hatang-lab-apt-mirror", target.apt_mirror]
        if sudo:
            argv.append("--sudo")
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=HOST_TIMEOUT,
                check=False,
                cwd=str(checks_dir),
                # Only the two plugins above: another one installed beside hatang costs start-up
                # time (hypothesis' alone 0.7 s) and could change how the checks run.
                env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            )
        except subprocess.TimeoutExpired:
            return {}, f"checks did not finish within {HOST_TIMEOUT:.0f} s", time.monotonic() - started
        if not results_file.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            return {}, f"the checks did not run (pytest exit {proc.returncode}):\n{tail}", time.monotonic() - started
        data = json.loads(results_file.read_text(encoding="utf-8"))
    results = {
        item["check_id"]: CheckResult(
            check_id=item["check_id"],
            outcome=Outcome(item["result"]),
            observed=item.get("observed"),
            expected=item.get("expected"),
            message=item.get("message", ""),
            timestamp=item.get("timestamp", ""),
            duration=float(item.get("duration", 0.0)),
        )
        for item in data["checks"]
    }
    return results, None, time.monotonic() - started


def _now(precise: bool = False) -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds" if precise else "seconds")


def run_audit(
    site: Site,
    profile: str,
    hosts: Sequence[Target],
    *,
    waivers: Mapping[str, Waiver] | None = None,
    catalogue: Catalogue | None = None,
    catalogue_dir: Path | None = None,
    checks_dir: Path = CHECKS_DIR,
    sudo: bool = False,
    workers: int = 8,
    only: Collection[str] | None = None,
) -> AuditResult:
    """Audit `hosts` of `site` against the host controls of `profile`.

    Hosts run in parallel, one pytest process each. Waived controls (`run: false`) are not run
    and are reported as waived with their justification.

    Args:
        site: the loaded site model (the expected values).
        profile: a profile id such as 'old-level3'.
        hosts: what to audit and how to reach it (see `targets`).
        waivers: control id -> waiver (see `infra.catalogue.load_waivers`).
        catalogue: the catalogue (default: the packaged one, or `catalogue_dir`).
        catalogue_dir: a catalogue folder, passed on to the check processes too.
        checks_dir: folder of the host checks.
        sudo: run the checks' commands through sudo (SSH as a non-root user).
        workers: hosts audited at the same time.
        only: audit just these control ids of the profile (e.g. after breaking one on purpose).

    Returns:
        The per host, per control results; `.exit_code` is 0, 1 or 2.

    Raises:
        UnknownProfileError: the profile does not exist.
        ChecksNotFoundError: `checks_dir` does not exist.
    """
    if catalogue is None:
        catalogue = load_catalogue(catalogue_dir) if catalogue_dir else load_catalogue()
    resolved = catalogue.profile(profile)
    if not checks_dir.is_dir():
        raise ChecksNotFoundError(f"{checks_dir}: no host checks here")
    waivers = dict(waivers or {})
    controls = resolved.controls_in(Scope.HOST)
    if only is not None:
        unknown = sorted(set(only) - {c.id for c in controls})
        if unknown:
            raise UnknownControlError(f"not host controls of profile {profile}: {', '.join(unknown)}")
        controls = tuple(c for c in controls if c.id in set(only))
    to_run = sorted({cid for c in controls if c.id not in waivers or waivers[c.id].run for cid in c.checks})
    started = _now()
    site_root = site.root.resolve()

    def one(target: Target) -> HostResult:
        begun = _now(precise=True)
        checks, error, seconds = _run_host(target, site_root, to_run, checks_dir.resolve(), catalogue_dir, sudo)
        results = () if error else tuple(control_outcome(c, checks, waivers.get(c.id)) for c in controls)
        return HostResult(target.host, target.url, results, error, seconds, begun, _now(precise=True))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts) or 1))) as pool:
        host_results = tuple(pool.map(one, hosts))
    return AuditResult(
        site=site.name,
        profile=resolved,
        catalogue_version=catalogue.version,
        hosts=host_results,
        started=started,
        finished=_now(),
        meta={"checks_run": len(to_run), "waived": sorted(waivers),
              **({"lab_apt_mirror": lab} if (lab := {t.host: t.apt_mirror for t in hosts if t.apt_mirror}) else {})},
        instruments=catalogue.instruments,
    )
