"""Benchmark of `hatang aio up`: cold bring-up, second (converging) run, memory of the services.

Cold: the AIO container and networks are removed first (`aio.down`; the image and the local
secrets stay, as for a developer who ran `hatang aio down`); with --rebuild-image the image is
removed too, so the time includes building it. Second run: `up` again on the running AIO.
Memory: resident set size summed per systemd unit inside the container (`ps -eo unit,rss`).
Targets: cold <= 8 min on 2 cores, second run <= 1 min.

Usage: .venv/bin/python benchmarks/aio_bringup.py [--rebuild-image] [--no-cold]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra import aio, testhosts  # noqa: E402
from infra.validate import load_valid_site  # noqa: E402

SITE = REPO / "inventories" / "aio"


def rss_by_unit(container: str) -> dict[str, int]:
    """KiB of resident memory per systemd unit in the container."""
    result = testhosts.exec_in(container, ["ps", "-eo", "unit=,rss="], check=False)
    totals: dict[str, int] = defaultdict(int)
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            totals[parts[0]] += int(parts[1])
    return dict(totals)


def timed_up(label: str) -> aio.UpReport:
    site = load_valid_site(SITE)
    start = time.monotonic()
    report = aio.up(site)
    print(
        f"{label:12s} {time.monotonic() - start:7.1f} s  (image {report.image_seconds:.1f} s, "
        f"host {report.host_seconds:.1f} s, deploy {report.deploy_seconds:.1f} s; "
        f"{report.tasks} tasks, {report.changed} changed)",
        flush=True,
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild-image", action="store_true", help="remove the image first")
    parser.add_argument("--no-cold", action="store_true", help="measure the running AIO only")
    args = parser.parse_args()
    site = load_valid_site(SITE)
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    if not args.no_cold:
        aio.down(site)
        if args.rebuild_image:
            subprocess.run(["podman", "rmi", "--force", aio.image_recipe().image], check=False)
        timed_up("cold")
    report = timed_up("second run")
    usage = rss_by_unit(report.container)
    services = {unit.removesuffix(".service"): kib for unit, kib in usage.items()}
    wanted = [unit for unit, _ in aio.SERVICES if unit in services]
    print("RSS per unit (MiB):")
    for unit in wanted:
        print(f"  {unit:18s} {services[unit] / 1024:7.1f}")
    total = sum(services[u] for u in wanted)
    print(f"  {'total':18s} {total / 1024:7.1f}")
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
