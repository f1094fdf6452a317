"""Benchmark: the controllers' cluster (tests/cluster/lab): deployment, memory, failover windows.

Starts the cluster lab's 3 controllers as test hosts, deploys their shared services (MariaDB
Galera, RabbitMQ, memcached, keepalived, the TLS front) with the site's playbook, and prints:
the deployment time, each controller's memory (the container's cgroup), and for ROUNDS rounds of
"power off the shared address's holder": how long a write through the shared address fails, how
long after power-on the controller is back in Galera and RabbitMQ. Removes the hosts at the end.
Usage, from the repository root: python -m benchmarks.cluster_failover [ROUNDS]   (default 3)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra import testhosts
from infra.validate import load_valid_site
from tests.cluster._ha import LAB, Cluster, until

WRITE = (
    "CREATE TABLE IF NOT EXISTS bench (id INT AUTO_INCREMENT PRIMARY KEY, at DOUBLE); "
    "INSERT INTO bench (at) VALUES (UNIX_TIMESTAMP(NOW(6)))"
)


def _memory_mib(cluster: Cluster, host: str) -> float:
    """The container's memory as podman counts it (its cgroup, page cache included)."""
    out = subprocess.run(
        ["podman", "stats", "--no-stream", "--format", "json", cluster.container(host)],
        capture_output=True, text=True, check=False,
    ).stdout
    usage = json.loads(out)[0]["mem_usage"].split("/")[0].strip() if out.strip() else ""
    units = {"kB": 1e3, "MB": 1e6, "GB": 1e9, "B": 1.0}
    for unit, factor in units.items():
        if usage.endswith(unit):
            return float(usage[: -len(unit)]) * factor / 2**20
    return float("nan")


def _round(cluster: Cluster) -> tuple[float, float, float]:
    holder = cluster.vip_holders()[0]
    survivor = next(h for h in cluster.hosts if h != holder)
    cluster.power_off(holder)
    window = until(lambda: cluster.sql(survivor, WRITE, through_vip=True).returncode == 0, 60, step=0.2)
    start = time.monotonic()
    cluster.power_on(holder)
    galera = until(lambda: cluster.wsrep(holder).get("wsrep_local_state_comment") == "Synced", 180)
    galera_s = time.monotonic() - start if galera is not None else float("nan")
    brokers = until(lambda: len(cluster.running_brokers(holder)) == 3, 180, step=1)
    brokers_s = time.monotonic() - start if brokers is not None else float("nan")
    until(lambda: len(cluster.vip_holders()) == 1, 30)
    return (window if window is not None else float("nan")), galera_s, brokers_s


def main(rounds: int) -> None:
    site = load_valid_site(LAB)
    testhosts.ensure_image()
    start = time.monotonic()
    testhosts.up(site)
    booted = time.monotonic() - start
    try:
        cluster = Cluster(site, Path(tempfile.mkdtemp(prefix="hatang-ha-secrets-")))
        start = time.monotonic()
        result, _ = cluster.playbook()
        deployed = time.monotonic() - start
        if result.returncode:
            print(result.stdout[-3000:], file=sys.stderr)
            raise SystemExit(1)
        again = time.monotonic()
        _, changed = cluster.playbook()
        converged = time.monotonic() - again
        print(f"3 controllers: hosts up {booted:.1f} s, shared services deployed {deployed:.1f} s, "
              f"second run {converged:.1f} s (changed: {sum(changed.values())})")
        until(lambda: len(cluster.vip_holders()) == 1, 30)
        for host in cluster.hosts:
            print(f"  {host}: {_memory_mib(cluster, host):.0f} MiB (podman stats, page cache included)")
        print(f"{'round':>6} {'db unavailable s':>17} {'galera back s':>14} {'rabbitmq back s':>16}")
        figures = []
        for index in range(1, rounds + 1):
            figures.append(_round(cluster))
            print(f"{index:>6} {figures[-1][0]:>17.1f} {figures[-1][1]:>14.1f} {figures[-1][2]:>16.1f}")
        medians = [statistics.median(f[i] for f in figures) for i in range(3)]
        print(f"{'median':>6} {medians[0]:>17.1f} {medians[1]:>14.1f} {medians[2]:>16.1f}")
    finally:
        testhosts.down(site.name)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
