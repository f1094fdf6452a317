"""Test hosts: a site's hosts as systemd containers in rootful podman, on one network per zone.

Public API (the all-in-one builds on it):

- `ensure_image(recipe)`: build the Debian image from its recipe unless podman has it.
- `up(site, limit)`: networks and containers for the site's hosts, booted; idempotent.
- `down(site)`: remove them; `status(site)`: what runs where; `exec(container, argv)`.
- `ansible_inventory(site)` / `write_ansible_inventory(site, path)`: the inventory, passed after the
  site's, that makes Ansible reach the hosts' containers; `run_playbook(site, playbooks)` runs
  ansible-playbook so, with Mitogen's strategy (`ansible_env()`).

Recipe, flags and traps: docs/platform-notes.md. No `--privileged`: systemd-networkd would
wait for udev, and kernel sysctls would land on the machine running the tests.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.site import Site
from infra.testhosts._ansible import (
    LAB_APT_MIRROR,
    ansible_env,
    ansible_inventory,
    run_playbook,
    write_ansible_inventory,
)
from infra.testhosts._image import DEFAULT_RECIPE, ImageRecipe, ensure_image, image_exists
from infra.testhosts._plan import (
    LABEL_HOST,
    LABEL_SITE,
    LimitError,
    Plan,
    PlannedHost,
    PlannedNetwork,
    container_name,
    network_name,
    plan,
    prefix,
)
from infra.testhosts._podman import PodmanError, podman, podman_json

__all__ = [
    "DEFAULT_RECIPE",
    "LAB_APT_MIRROR",
    "RUN_FLAGS",
    "BootError",
    "HostStatus",
    "ImageRecipe",
    "LimitError",
    "Plan",
    "PodmanError",
    "ansible_env",
    "ansible_inventory",
    "container_name",
    "containers",
    "down",
    "ensure_image",
    "exec",
    "exec_in",
    "image_exists",
    "network_name",
    "plan",
    "prefix",
    "run_playbook",
    "seccomp_profile",
    "status",
    "up",
    "wait_booted",
    "write_ansible_inventory",
]

LABEL_SPEC = "hatang.testhosts.spec"

DEFAULT_SECCOMP = Path("/usr/share/containers/seccomp.json")
"""Podman's seccomp profile (package golang-github-containers-common)."""

RUN_FLAGS = (
    "--systemd=always",
    "--cap-add",
    "NET_ADMIN,NET_RAW",
    "--security-opt",
    "unmask=/proc/sys",
)
"""The podman run flags of every test host (platform-notes: exactly these, no --privileged)."""


class BootError(PodmanError):
    """A test host did not reach systemd state `running` in time."""


@dataclass(frozen=True)
class HostStatus:
    """One test host as podman sees it."""

    container: str
    host: str
    state: str
    image: str
    addresses: dict[str, list[str]] = field(default_factory=dict)
    """Per podman network: the container's IPv4 and IPv6 address."""


def exec_in(
    container: str, argv: Sequence[str] | str, *, check: bool = True, timeout: float | None = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command in a test host (a string runs through `sh -c`).

    Raises:
        PodmanError: with `check`, when the command exits non-zero.
    """
    command = ["sh", "-c", argv] if isinstance(argv, str) else list(argv)
    return podman("exec", container, *command, check=check, timeout=timeout)


exec = exec_in



def containers(site: str, hosts: Iterable[str]) -> dict[str, str]:
    """Host -> the container standing for it (what the host audit's podman connection needs)."""
    return {host: container_name(site, host) for host in hosts}


def _labels(site: str, host: str | None = None) -> list[str]:
    out = ["--label", f"{LABEL_SITE}={site}"]
    if host:
        out += ["--label", f"{LABEL_HOST}={host}"]
    return out


def _existing_networks(site: str) -> dict[str, dict[str, object]]:
    found = podman_json("network", "ls", "--filter", f"label={LABEL_SITE}={site}", "--format", "json")
    return {str(n["name"]): n for n in found}


def _subnets(network: dict[str, object]) -> set[str]:
    subnets = network.get("subnets")
    if not isinstance(subnets, list):
        return set()
    return {str(s.get("subnet")) for s in subnets if isinstance(s, dict)}


def _ensure_network(site: str, net: PlannedNetwork, existing: dict[str, dict[str, object]]) -> bool:
    """Create the zone's network; True when created now."""
    if net.name in existing:
        if _subnets(existing[net.name]) == {str(net.subnet4), str(net.subnet6)}:
            return False
        podman("network", "rm", "--force", net.name)  # the zone's CIDRs changed
    argv = [
        "network",
        "create",
        *_labels(site),
        "--ipv6",
        "--subnet",
        str(net.subnet4),
        "--gateway",
        str(net.gateway4),
        "--subnet",
        str(net.subnet6),
        "--gateway",
        str(net.gateway6),
    ]
    if net.internal:
        argv.append("--internal")
    result = podman(*argv, net.name, check=False)
    if result.returncode != 0:
        raise PodmanError(
            f"cannot create the network of zone {net.zone} ({net.name}, {net.subnet4}, "
            f"{net.subnet6}): {result.stderr.strip()} (fix: remove what uses the range, "
            "e.g. another site's test hosts: hatang testhosts down -i inventories/<site>)"
        )
    return True


def _spec(host: PlannedHost, image: str) -> str:
    """Digest of what the container was started with: a change means a new container."""
    spec: list[object] = [image, host.host, [a.option() for a in host.attachments], RUN_FLAGS]
    if host.devices:  # only then: the other hosts keep their digest (and their container)
        spec.append(list(host.devices))
    if host.syscalls:
        spec.append(list(host.syscalls))
    text = json.dumps(spec)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _current(container: str, spec: str) -> bool:
    """Whether the container runs, started from the same spec."""
    result = podman(
        "container",
        "inspect",
        "--format",
        f'{{{{.State.Running}}}} {{{{index .Config.Labels "{LABEL_SPEC}"}}}}',
        container,
        check=False,
    )
    return result.returncode == 0 and result.stdout.split() == ["true", spec]


def _start(site: str, host: PlannedHost, image: str) -> None:
    argv = [
        "run",
        "-d",
        "--name",
        host.container,
        "--hostname",
        host.host,
        *_labels(site, host.host),
        "--label",
        f"{LABEL_SPEC}={_spec(host, image)}",
        *RUN_FLAGS,
    ]
    for device in host.devices:
        argv += ["--device", device]
    for attachment in host.attachments:
        argv += ["--network", attachment.option()]
    with tempfile.NamedTemporaryFile("w", prefix="hatang-seccomp-", suffix=".json") as profile:
        if host.syscalls:  # podman copies the profile into the container's spec when it creates it
            json.dump(seccomp_profile(host.syscalls), profile)
            profile.flush()
            argv += ["--security-opt", f"seccomp={profile.name}"]
        podman(*argv, image)


def seccomp_profile(syscalls: Sequence[str], default: Path = DEFAULT_SECCOMP) -> dict[str, object]:
    """Podman's default seccomp profile with `syscalls` allowed as well (and refused by no rule).

    Raises:
        PodmanError: the default profile is missing or is not JSON.
    """
    try:
        profile = json.loads(default.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PodmanError(
            f"{default}: cannot read podman's default seccomp profile ({exc}); fix: reinstall podman"
        ) from exc
    rules = profile.get("syscalls") if isinstance(profile, dict) else None
    if not isinstance(rules, list):
        raise PodmanError(f"{default}: no list of syscalls in podman's default seccomp profile; fix: reinstall podman")
    wanted = set(syscalls)
    for rule in rules:  # podman's refuses some calls by name (io_pgetevents with EPERM): not these
        if isinstance(rule, dict) and rule.get("action") != "SCMP_ACT_ALLOW":
            rule["names"] = [name for name in rule.get("names", []) if name not in wanted]
    rules.append({"names": sorted(wanted), "action": "SCMP_ACT_ALLOW", "args": [], "comment": "hatang test host"})
    return dict(profile)


def wait_booted(container: str, timeout: float = 90) -> None:
    """Wait until systemd in the container says `running`.

    Raises:
        BootError: the state is still not `running` after `timeout` seconds (`degraded` names
            the failed units).
    """
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        result = exec_in(
            container,
            ["systemctl", "is-system-running", "--wait"],
            check=False,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        state = result.stdout.strip() or result.stderr.strip()
        if state == "running":
            return
        if state == "degraded":
            failed = exec_in(container, ["systemctl", "--failed", "--plain", "--no-legend"], check=False)
            raise BootError(f"{container}: systemd is degraded; failed units:\n{failed.stdout.strip()}")
        time.sleep(0.5)
    raise BootError(f"{container}: systemd did not reach 'running' within {timeout:.0f} s (last: {state})")


def up(site: Site, limit: str | None = None, recipe: ImageRecipe = DEFAULT_RECIPE) -> Plan:
    """Start the site's test hosts (or those in `limit`) and wait until they have booted.

    Idempotent: running containers and matching networks are kept. On any failure, what this
    call created is removed again before the error propagates.

    Raises:
        LimitError: `limit` names nothing in the site.
        PodmanError: podman or the image build failed.
        BootError: a host did not boot.
    """
    wanted = plan(site, limit)
    image = ensure_image(recipe)
    created_networks: list[str] = []
    created_containers: list[str] = []
    try:
        existing = _existing_networks(site.name)
        for net in wanted.networks:
            if _ensure_network(site.name, net, existing):
                created_networks.append(net.name)
        for host in wanted.hosts:
            if _current(host.container, _spec(host, image)):
                continue
            podman("rm", "--force", "--ignore", host.container)
            created_containers.append(host.container)
            _start(site.name, host, image)
        for host in wanted.hosts:
            wait_booted(host.container)
    except BaseException:
        for container in created_containers:
            podman("rm", "--force", "--ignore", "--time", "0", container, check=False)
        for name in created_networks:
            podman("network", "rm", "--force", name, check=False)
        raise
    return wanted


def down(site: str) -> list[str]:
    """Remove every test-host container and network of the site.

    Returns:
        The names of the removed podman objects.
    """
    removed = []
    containers = podman_json("ps", "-a", "--filter", f"label={LABEL_SITE}={site}", "--format", "json")
    names = [str(c["Names"][0]) for c in containers]
    if names:
        podman("rm", "--force", "--time", "0", *names)
        removed += names
    networks = sorted(_existing_networks(site))
    if networks:
        podman("network", "rm", "--force", *networks)
        removed += networks
    return removed


def status(site: str) -> list[HostStatus]:
    """The site's test hosts: container, host, state, image and addresses per network."""
    containers = podman_json("ps", "-a", "--filter", f"label={LABEL_SITE}={site}", "--format", "json")
    if not containers:
        return []
    names = [str(c["Names"][0]) for c in containers]
    out = []
    for info in podman_json("container", "inspect", *names):
        networks = info.get("NetworkSettings", {}).get("Networks") or {}
        addresses = {
            str(net): [a for a in (data.get("IPAddress"), data.get("GlobalIPv6Address")) if a]
            for net, data in sorted(networks.items())
        }
        out.append(
            HostStatus(
                container=str(info["Name"]).lstrip("/"),
                host=str(info.get("Config", {}).get("Labels", {}).get(LABEL_HOST, "")),
                state=str(info.get("State", {}).get("Status", "")),
                image=str(info.get("ImageName", "")),
                addresses=addresses,
            )
        )
    return sorted(out, key=lambda s: s.container)
