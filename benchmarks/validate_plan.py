"""Benchmark: `hatang validate` + `hatang plan` on synthetic sites of growing size.

Prints wall time and peak memory per size (each size measured in a fresh process, best of 3),
and the growth factor against n log n. Target: 1,000 tenants in <= 2 s on one core.
Usage: python benchmarks/validate_plan.py [SIZES...]   (default 100 1000 5000)
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate

MEASURE = """
import json, resource, sys, time
t0 = time.perf_counter()
from infra.validate import load_valid_site
from infra.plan import build_plan
t1 = time.perf_counter()
site = load_valid_site(sys.argv[1])
t2 = time.perf_counter()
plan = build_plan(site)
json.dumps(plan)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "validate": t2 - t1, "plan": t3 - t2,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(site: Path) -> dict[str, float]:
    runs = []
    for _ in range(3):
        out = subprocess.run(
            ["taskset", "-c", "0", sys.executable, "-c", MEASURE, str(site)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(out))
    return min(runs, key=lambda r: r["validate"] + r["plan"])


def main(sizes: list[int]) -> None:
    print(f"{'tenants':>8} {'validate s':>11} {'plan s':>8} {'total s':>8} {'peak MiB':>9} {'s per n log n':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            site = generate(size, Path(tmp) / f"site-{size}")
            r = measure(site)
            total = r["validate"] + r["plan"]
            print(
                f"{size:>8} {r['validate']:>11.3f} {r['plan']:>8.3f} {total:>8.3f} {r['peak_mib']:>9.0f} "
                f"{total / (size * math.log2(size)) * 1e6:>12.2f}µs"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 5000])
