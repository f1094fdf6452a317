"""Benchmark: guests booted through Nova on the AIO (libvirt, QEMU's emulation, OVN), by number.

For each size N, N members of the AIO's sample tenants boot the test guest at the same moment
(`hatang aio guest`'s code: infra/guests/nova.py); each guest pings its router in IPv4 and IPv6.
Printed per size: the slowest guest's seconds from the create request to ACTIVE and to its
router answering it, and the AIO container's memory at its peak meanwhile and before.
Issue 13's targets: a guest answering ping <= 60 s after it is asked for; the AIO's memory with 3
guests. Needs the AIO up with its tenants (scripts/quickstart).
Usage: python benchmarks/nova_guests.py [SIZES...]   (default: 1 3)
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra import aio, testhosts
from infra.audit.cloud import connect
from infra.guests.nova import Proof, prove
from infra.validate import load_valid_site

SITE = load_valid_site(Path(__file__).resolve().parents[1] / "inventories" / "aio")
PLACES = [("so-yte", "app"), ("so-khcn", "app"), ("so-khcn", "web"), ("so-khcn", "app")]
"""Where the guests go, in order: the tenants' instance quotas are 2 (S) and 4 (M)."""


def _memory_mib(container: str) -> float:
    """The container's memory as its cgroup counts it (page cache included)."""
    out = testhosts.exec_in(container, "cat /sys/fs/cgroup/memory.current 2>/dev/null || "
                            "cat /sys/fs/cgroup/memory/memory.usage_in_bytes").stdout  # fmt: skip
    return int(out.split()[0]) / 2**20


def _one(tenant: str, network: str) -> Proof:
    conn = connect(aio.CLOUD_NAME, aio.AioPaths.for_site(SITE).clouds_yaml)
    try:
        return prove(conn, SITE.info.agencies_domain, tenant, network)
    finally:
        conn.close()


def measure(size: int, container: str) -> tuple[float, float, float, float]:
    before = _memory_mib(container)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1):
            peak[0] = max(peak[0], _memory_mib(container))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(size) as pool:
            proofs = list(pool.map(lambda place: _one(*place), PLACES[:size]))
    finally:
        done.set()
        sampler.join()
    failed = [p for p in proofs if not p.ok]
    if failed:
        raise SystemExit(f"{len(failed)} guest(s) did not answer: {failed}")
    active = max(p.active_after for p in proofs)
    answered = max(p.answered_after or 0.0 for p in proofs)
    return active, answered, before, peak[0]


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1, 3]
    container = testhosts.container_name(SITE.name, SITE.hosts[0].name)
    print("| guests at once | slowest ACTIVE | slowest router answered | AIO memory before | AIO memory peak |")
    print("|---|---|---|---|---|")
    for size in sizes:
        active, answered, before, peak = measure(size, container)
        print(f"| {size} | {active:.1f} s | {answered:.1f} s | {before:.0f} MiB | {peak:.0f} MiB |", flush=True)
        time.sleep(5)


if __name__ == "__main__":
    main(sys.argv[1:])
