"""Benchmark: `hatang tenant approve` with the allocation ledger, on synthetic sites of growing size.

Each size: a synthetic site (benchmarks/synthetic.py) plus one new request, approved in a fresh
process (what an approver runs): wall seconds, median (and best) of --runs runs, then the median CPU
seconds (user + system, the command's and its helper's), which other work on shared cores disturbs
far less than wall time; in two conditions:
- cold: a fresh copy of the site (new inodes, just written), so nothing comes from the read cache
  (infra/_parsecache.py) — the first command after a clone; with a second core free a forked
  helper reads part of the files (infra/_parallel.py);
- warm: a checkout an earlier command has read (the cache holds its files), where each timed
  approval follows another one, so the ledger and the previous tenant file are read again, as
  when an approver works through a queue of requests.
With --one-core, cold again under `taskset -c 0`: one usable core, so no helper (the serial reader).
With --baseline DIR (a folder holding another version's `infra/`, e.g. from
`git archive HEAD~1 infra | tar -x -C DIR`), every timed approval is followed by the same one with
that version, so both see the same load on a shared machine; its figures are the "before" rows.
Then two approvals started at the same moment on a fresh copy, to show the lock serialising them.
Targets (issue 11): 1,000 tenants <= 1 s, 5,000 <= 3 s, cold.
Usage: python benchmarks/approve.py [--runs N] [--one-core] [--baseline DIR] [SIZES...]
       (default: 5 runs, 1000 5000)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import REPO, generate

from infra._parsecache import SETTLED_NS

HATANG = str(Path(sys.executable).with_name("hatang"))

Version = dict[str, str] | None
"""The environment of the version to run: None for this checkout, else PYTHONPATH=<baseline>."""


def _request(site: Path, code: str) -> None:
    (site / "tenants" / f"{code}.yml").write_text(
        f"""code: {code}
agency: agency-00000
name: Yêu cầu {code}
security_level: 2
quota_profile: S
contacts: [{{name: A, email: a@example.org, role: requester}}]
networks: [{{name: app, access: [gov]}}, {{name: db}}]
state: requested
history: [{{state: requested, at: '2026-12-01T09:00:00+07:00', by: a@example.org, reason: new}}]
""",
        encoding="utf-8",
    )


def _approve(site: Path, code: str, version: Version = None, one_core: bool = False) -> subprocess.Popen[bytes]:
    command = [HATANG, "tenant", "approve", code, "-i", str(site), "--by", "bench@example.org"]
    return subprocess.Popen(
        ["taskset", "-c", "0", *command] if one_core else command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=version,
    )


Timing = tuple[float, float]
"""Wall seconds and CPU seconds (user + system, the helper's included) of one approval."""


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed_approve(site: Path, code: str, version: Version = None, one_core: bool = False) -> Timing:
    _request(site, code)
    start, cpu = time.perf_counter(), _cpu()
    process = _approve(site, code, version, one_core)
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"approve failed: {err.decode()}")
    return time.perf_counter() - start, _cpu() - cpu


def warm(base: Path, work: Path, runs: int, versions: list[Version]) -> list[list[Timing]]:
    """Approve seconds, per version, on checkouts whose files an earlier command has read."""
    sites = [work / f"warm-{base.name}-{number}" for number in range(len(versions))]
    for site in sites:
        shutil.copytree(base, site)
    time.sleep(SETTLED_NS / 1e9 + 0.2)  # the cache keeps only files older than this
    for site, version in zip(sites, versions, strict=True):
        subprocess.run([HATANG, "validate", str(site)], check=True, capture_output=True, cwd=REPO, env=version)
        _timed_approve(site, "warm-previous", version)
    times: list[list[Timing]] = [[] for _ in versions]
    for attempt in range(runs):
        for number, (site, version) in enumerate(zip(sites, versions, strict=True)):
            times[number].append(_timed_approve(site, f"warm-{attempt}", version))
    for site in sites:
        shutil.rmtree(site)
    return times


def cold(base: Path, work: Path, runs: int, versions: list[Version], one_core: bool = False) -> list[list[Timing]]:
    """Approve seconds, per version, on fresh copies of the site (nothing in the read cache)."""
    times: list[list[Timing]] = [[] for _ in versions]
    for attempt in range(runs):
        for number, version in enumerate(versions):
            site = work / f"try-{base.name}-{attempt}-{number}"
            shutil.copytree(base, site)
            times[number].append(_timed_approve(site, "new-one", version, one_core))
            shutil.rmtree(site)
    return times


def race(base: Path, work: Path) -> tuple[float, bool]:
    """Wall seconds of two approvals started at once, and whether they got distinct prefixes."""
    site = work / f"race-{base.name}"
    shutil.copytree(base, site)
    _request(site, "race-a")
    _request(site, "race-b")
    start = time.perf_counter()
    both = [_approve(site, "race-a"), _approve(site, "race-b")]
    outputs = [p.communicate()[0].decode() for p in both]
    wall = time.perf_counter() - start
    prefixes = {line.partition("approved, ")[2].partition(";")[0] for line in outputs}
    return wall, len(prefixes) == 2 and all(p.returncode == 0 for p in both)


def _figure(times: list[Timing]) -> str:
    """Median (best) wall seconds, then the median CPU seconds, which load disturbs less."""
    if not times:
        return "-"
    wall = [w for w, _ in times]
    return f"{statistics.median(wall):.2f} ({min(wall):.2f}) {statistics.median(c for _, c in times):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 5000])
    parser.add_argument("--runs", type=int, default=5, help="timed approvals per figure (median and best)")
    parser.add_argument("--one-core", action="store_true", help="also cold on one core (taskset -c 0)")
    parser.add_argument("--baseline", type=Path, help="a folder with another version's infra/, run alternately")
    args = parser.parse_args()
    versions: list[Version] = [None]
    if args.baseline is not None:
        if not (args.baseline / "infra" / "site.py").is_file():
            raise SystemExit(f"{args.baseline}: no infra/site.py (fix: git archive REV infra | tar -x -C DIR)")
        versions.append({**os.environ, "PYTHONPATH": str(args.baseline.resolve())})
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"wall seconds, median (best) of {args.runs} approvals, then median CPU seconds (user + system); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(f"{'tenants':>13} {'cold':>18} {'warm':>18} {'cold 1 core':>18} {'2 at once':>10} {'distinct':>9}")
        for count in args.sizes:
            base = generate(count, Path(tmp) / f"site-{count}")
            colds = cold(base, Path(tmp), args.runs, versions)
            warms = warm(base, Path(tmp), args.runs, versions)
            serial = cold(base, Path(tmp), args.runs, versions[:1], one_core=True)[0] if args.one_core else []
            wall, distinct = race(base, Path(tmp))
            print(
                f"{count:>13} {_figure(colds[0]):>18} {_figure(warms[0]):>18} {_figure(serial):>18} {wall:>10.2f} "
                f"{'yes' if distinct else 'NO':>9}"
            )
            if len(versions) > 1:
                print(f"{f'{count} before':>13} {_figure(colds[1]):>18} {_figure(warms[1]):>18}")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
