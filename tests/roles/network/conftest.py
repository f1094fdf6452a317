"""The lab site's test hosts, shared by the firewall and netzones role tests.

`lab/` is a small valid site with its own address ranges. The hosts start once per test session;
a file lock keeps parallel workers (pytest-xdist) from starting or removing them under each other.
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import testhosts
from infra.site import Site
from infra.validate import load_valid_site

REPO = Path(__file__).resolve().parents[3]
LAB = Path(__file__).resolve().parent / "lab"


@dataclass
class Lab:
    site: Site
    timings: dict[str, float]

    def container(self, host: str) -> str:
        return testhosts.container_name(self.site.name, host)

    def playbook(self, name: str, limit: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """Run playbooks/<name> against the test hosts through the site inventory."""
        return testhosts.run_playbook(self.site, [REPO / "playbooks" / name], "--limit", limit, *extra, timeout=None)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The lab site's hosts, up for the session (2 controllers and a network node)."""
    lock_path = Path("/run/lock/hatang-tests-lab.lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        site = load_valid_site(LAB)
        timings: dict[str, float] = {}
        start = time.monotonic()
        testhosts.ensure_image()
        timings["image"] = time.monotonic() - start
        start = time.monotonic()
        testhosts.up(site)
        timings["up"] = time.monotonic() - start
        try:
            yield Lab(site, timings)
        finally:
            testhosts.down(site.name)
