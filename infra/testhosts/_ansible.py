"""Ansible against test hosts: the site inventory, then one that puts each host in its container.

The site inventory (the `hatang_site` plugin) gives every host its mgmt address for SSH, as on a
real site; a second inventory source, read after it, replaces a host's variables: its container
as `ansible_host`, written out per host (Mitogen reads it untemplated), the `podman` connection
(Mitogen's under its strategy, else the containers.podman collection's), and the lab's Debian
mirror. `hatang testhosts up` writes that file for engineers (.hatang/testhosts/<site>.yml).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from infra._mitogen import mitogen_strategy_env
from infra.site import Site
from infra.testhosts._image import DEFAULT_RECIPE
from infra.testhosts._plan import container_name

REPO = Path(__file__).resolve().parents[2]

LAB_APT_MIRROR = DEFAULT_RECIPE.mirror
"""The Debian mirror test hosts reach (their image's), standing in for a site's own mirror, which
only the site's hosts reach (thainguyen's `http://mirror.dc.thainguyen.example/debian`)."""


def ansible_inventory(site: Site) -> dict[str, object]:
    """The inventory to read after the site's (`-i SITE -i this`): every host of `site` in its
    container. The baseline role's APT sources name the lab's mirror (`LAB_APT_MIRROR`), so that
    the test hosts of any site can install packages; the host audit of test hosts expects that
    mirror too (`lab_apt_mirror` of `infra.audit.targets`). A real site's hosts never get either."""
    return {
        "all": {
            "hosts": {
                host.name: {
                    "ansible_connection": "podman",
                    "ansible_host": container_name(site.name, host.name),
                    "baseline_apt_mirror": LAB_APT_MIRROR,
                    "baseline_apt_security_mirror": DEFAULT_RECIPE.security_mirror,
                }
                for host in site.hosts
            }
        }
    }


def write_ansible_inventory(site: Site, path: Path) -> Path:
    """Write `ansible_inventory(site)` to `path` (a .yml file: Ansible's yaml plugin reads it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "# hatang testhosts: the site's hosts are containers; read it after the site (docs/testhosts.md)\n"
    path.write_text(head + yaml.safe_dump(ansible_inventory(site), sort_keys=False), encoding="utf-8")
    return path


def ansible_env() -> dict[str, str]:
    """ansible-playbook's environment for test hosts: the repository's ansible.cfg and Mitogen's
    strategy, which keeps one Python per host for the whole run instead of a few `podman exec` per
    task (the podman connection has no pipelining): hardening.yml on one host in 33 s, not 185 s."""
    return {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0", **mitogen_strategy_env()}  # fmt: skip


def run_playbook(
    site: Site, playbooks: Sequence[Path], *args: str, timeout: float | None = 3600, env: Mapping[str, str] = {}
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook of `playbooks` against `site`'s test hosts (`args`: --limit, -e, --tags...;
    `env`: more of Ansible's settings, e.g. a callback)."""
    with tempfile.TemporaryDirectory(prefix="hatang-testhosts-") as folder:
        overlay = write_ansible_inventory(site, Path(folder) / "testhosts.yml")
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(site.root), "-i", str(overlay),
                *args, *map(str, playbooks)]  # fmt: skip
        return subprocess.run(argv, cwd=REPO, env={**ansible_env(), **env}, capture_output=True, text=True, check=False,
                              timeout=timeout)  # fmt: skip
