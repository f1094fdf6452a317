"""What the VM tests share: an Ansible run against a VM, and a disk the VM may write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra._mitogen import mitogen_strategy_env
from infra.site import Site
from infra.testhosts import vm
from tests.conftest import REPO


def playbook(site: Site, machine: vm.Vm, host: str, name: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`ansible-playbook playbooks/<name>` for `host` of `site`, reaching it as the VM `machine`."""
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(site.root), "--limit", host,
        "-e", json.dumps({**machine.ansible_vars(), **extra}), str(REPO / "playbooks" / name),
    ]  # fmt: skip
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0",
           **mitogen_strategy_env()}  # fmt: skip
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=3600)


def disk_copy(disk: Path, target: Path) -> Path:
    """A sparse copy of a VM disk, for a VM whose writes must last or a disk edited before boot."""
    subprocess.run(["cp", "--sparse=always", str(disk), str(target)], check=True)
    return target
