"""Benchmark of `hatang plan --resources`: the programs under mocks plus the policy pack.

Sites: the Thái Nguyên sample and synthetic sites of 100 and 1,000 tenants (benchmarks/synthetic.py,
the lead's generator). Each site is measured in a fresh process: wall time, CPU time and peak
RSS per resource. The tenants program of a large site runs in forked worker processes
(`infra.stacks.mockrun.TENANT_BATCH`), so CPU counts the workers too, and the peak is that of the
main process or of the largest worker. The load average is printed: other work on the machine
lengthens the wall time, not the CPU time.
Target: linear, <= 2 ms per resource, 1,000 tenants <= 30 s on a 2-core machine.

Usage: .venv/bin/python benchmarks/plan_resources.py [COUNTS...]   (default: 100 1000)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.synthetic import generate  # noqa: E402
from infra.offline_plan import build_resource_plan  # noqa: E402


def _cpu() -> float:
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def measure(label: str, site: Path) -> None:
    wall, cpu = time.perf_counter(), _cpu()
    plan = build_resource_plan(site)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    count = len(plan.run.resources)
    print(json.dumps({"label": label, "resources": count, "wall": wall, "cpu": cpu}), file=sys.stderr)
    print(
        f"{label:>14}: {count:6d} resources  wall {wall:7.2f} s ({wall / count * 1000:5.2f} ms/res)  "
        f"cpu {cpu:7.2f} s ({cpu / count * 1000:5.2f} ms/res)  peak {own / 2**20:6.1f} MiB "
        f"(workers {worker / 2**20:6.1f} MiB)  violations {len(plan.violations)}  "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )


def _fresh(label: str, site: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--one", label, str(site)], check=True, stderr=subprocess.PIPE,
                          text=True)
    result: dict[str, float] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        measure(sys.argv[2], Path(sys.argv[3]))
        return
    counts = [int(a) for a in sys.argv[1:]] or [100, 1000]
    _fresh("thainguyen", REPO / "inventories" / "thainguyen")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            results.append(_fresh(f"{count} tenants", generate(count, Path(tmp) / f"site{count}")))
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = (large["cpu"] / large["resources"]) / (small["cpu"] / small["resources"])
        print(f"linearity: CPU per resource at {large['label']} is {growth:.2f}x that at {small['label']} "
              "(1.00 = linear)")


if __name__ == "__main__":
    main()
