"""Benchmark: volumes in the AIO's Ceph, made by Cinder and written by a guest, by volume type.

For each type (the default and `encrypted`): the seconds Cinder takes to make a 1 GiB volume
(create request to `available`; the encrypted one is LUKS-formatted by cinder-volume with a key
from Barbican), then a member's test guest with such a volume attached once it is ACTIVE (the
create-to-ACTIVE and the attach included), and the seconds from the guest's create request until
it has written its mark on the volume and read it back. Then the Ceph daemons' memory (RSS).
Needs the AIO up with its tenants (scripts/quickstart).
Usage: python benchmarks/volumes.py [ROUNDS]   (default: 1)
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra import aio, testhosts
from infra.audit.cloud import connect
from infra.guests import Guest
from infra.guests.nova import boot, console
from infra.validate import load_valid_site

SITE = load_valid_site(Path(__file__).resolve().parents[1] / "inventories" / "aio")
CONTAINER = testhosts.container_name(SITE.name, SITE.hosts[0].name)


def _made(conn: Any, volume_type: str) -> float:
    """Seconds from the create request to `available` for a 1 GiB volume (deleted afterwards)."""
    started = time.monotonic()
    volume = conn.block_storage.create_volume(size=1, volume_type=volume_type or None)
    try:
        conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=300)
        return time.monotonic() - started
    finally:
        conn.block_storage.delete_volume(volume, ignore_missing=True)


def _written(conn: Any, volume_type: str) -> tuple[float, float]:
    """Seconds to the guest ACTIVE with its volume attached, and to its mark written and read back."""
    domain = conn.identity.find_domain(SITE.info.agencies_domain, ignore_missing=False)
    project = conn.identity.find_project("so-yte", domain_id=domain.id, ignore_missing=False)
    (network,) = conn.network.networks(project_id=project.id, name="app")
    mark = f"hatang-bench-{secrets.token_hex(4)}"
    started = time.monotonic()
    with boot(conn, project, network, Guest("bench-vol"), volume_type=volume_type, mark=mark) as booted:
        attached = time.monotonic() - started
        while console(booted).disk.get("wrote") != mark:
            if time.monotonic() - started > 600 or "missing" in console(booted).disk:
                raise RuntimeError(f"the guest did not write its volume: {console(booted).disk}")
            time.sleep(2)
        return attached, time.monotonic() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    conn = connect(aio.CLOUD_NAME, aio.AioPaths.for_site(SITE).clouds_yaml)
    print(f"{'type':>10} {'made s':>7} {'attached s':>11} {'written s':>10}")
    try:
        for _ in range(rounds):
            for volume_type in ("", "encrypted"):
                made = _made(conn, volume_type)
                attached, written = _written(conn, volume_type)
                print(f"{volume_type or 'default':>10} {made:>7.1f} {attached:>11.1f} {written:>10.1f}")
    finally:
        conn.close()
    rss = testhosts.exec_in(CONTAINER, "ps -o rss=,comm= -C ceph-mon,ceph-mgr,ceph-osd").stdout.split("\n")
    print("Ceph's memory (RSS MiB):", ", ".join(f"{c} {int(r) / 1024:.0f}" for r, c in (x.split() for x in rss if x)))


if __name__ == "__main__":
    main()
