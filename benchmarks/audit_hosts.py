"""Benchmark: `hatang audit hosts` wall time for 1, 3 and 10 test hosts (level-3 profile).

Starts the first N hosts of (a copy of) the Thái Nguyên sample site as test hosts (their own podman
networks; the copy's apt mirror is Debian's, since the DC's own mirror does not exist here),
audits them in parallel with the level-3 profile, prints wall time per size, and removes them.
With --playbook, also times playbooks/hardening.yml on 3 hosts. Target: 3 hosts audited in <= 30 s.
Usage: python benchmarks/audit_hosts.py [--playbook] [SIZES...]   (default 1 3 10)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from infra import testhosts
from infra.audit import Connection, run_audit, targets
from infra.validate import load_valid_site

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "inventories" / "thainguyen"


def main(sizes: list[int], playbook: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="hatang-bench-")) / "thainguyen"
    shutil.copytree(SITE, root)
    site_yml = root / "site.yml"
    text = site_yml.read_text(encoding="utf-8")
    site_yml.write_text(
        text.replace("http://mirror.dc.thainguyen.example/debian", "http://deb.debian.org/debian"), encoding="utf-8"
    )
    site = load_valid_site(root)
    names = [h.name for h in site.hosts]
    testhosts.ensure_image()
    print(f"{'hosts':>6} {'up s':>7} {'audit s':>8} {'s per host':>11} {'exit':>5}")
    try:
        for size in sizes:
            chosen = names[:size]
            start = time.monotonic()
            testhosts.up(site, limit=",".join(chosen))
            booted = time.monotonic() - start
            start = time.monotonic()
            lab = testhosts.containers(site.name, chosen)
            result = run_audit(site, "new-level3", targets(site, chosen, Connection.PODMAN, containers=lab))
            seconds = time.monotonic() - start
            print(f"{size:>6} {booted:>7.1f} {seconds:>8.1f} {seconds / size:>11.1f} {result.exit_code:>5}")
        if playbook:
            chosen = names[:3]
            testhosts.up(site, limit=",".join(chosen))
            start = time.monotonic()
            done = testhosts.run_playbook(site, [REPO / "playbooks" / "hardening.yml"], "--limit", ",".join(chosen))
            print(f"hardening.yml on 3 hosts: {time.monotonic() - start:.0f} s (exit {done.returncode})")
    finally:
        testhosts.down(site.name)
        shutil.rmtree(root.parent)


if __name__ == "__main__":
    args = sys.argv[1:]
    with_playbook = "--playbook" in args
    main([int(a) for a in args if a.isdigit()] or [1, 3, 10], with_playbook)
