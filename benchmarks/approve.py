"""Benchmark: `hatang tenant approve` with the allocation ledger, on synthetic sites of growing size.

Each size: a synthetic site (benchmarks/synthetic.py) plus one new request, approved in a fresh
process (what an approver runs), best of 3, in two conditions:
- cold: a fresh copy of the site (new inodes, just written), so nothing comes from the read cache
  (infra/_parsecache.py) — the first command after a clone;
- warm: a checkout an earlier command has read (the cache holds its files), where each timed
  approval follows another one, so the ledger and the previous tenant file are read again, as
  when an approver works through a queue of requests.
Then two approvals started at the same moment on a fresh copy, to show the lock serialising them.
Targets (issue 11): 1,000 tenants <= 1 s, 5,000 <= 3 s.
Usage: python benchmarks/approve.py [SIZES...]   (default 1000 5000)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import REPO, generate

from infra._parsecache import SETTLED_NS

HATANG = str(Path(sys.executable).with_name("hatang"))


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


def _approve(site: Path, code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [HATANG, "tenant", "approve", code, "-i", str(site), "--by", "bench@example.org"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )


def _timed_approve(site: Path, code: str) -> float:
    _request(site, code)
    start = time.perf_counter()
    process = _approve(site, code)
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"approve failed: {err.decode()}")
    return time.perf_counter() - start


def warm(base: Path, work: Path) -> float:
    """Best-of-3 approve seconds on a checkout whose files an earlier command has read."""
    site = work / f"warm-{base.name}"
    shutil.copytree(base, site)
    time.sleep(SETTLED_NS / 1e9 + 0.2)  # the cache keeps only files older than this
    subprocess.run([HATANG, "validate", str(site)], check=True, capture_output=True, cwd=REPO)
    _timed_approve(site, "warm-previous")
    best = min(_timed_approve(site, f"warm-{attempt}") for attempt in range(3))
    shutil.rmtree(site)
    return best


def measure(count: int, work: Path) -> tuple[float, float, float, bool]:
    """Best-of-3 approve seconds cold and warm, wall seconds of two concurrent approvals, and
    whether those got distinct prefixes."""
    base = generate(count, work / f"site-{count}")
    best = float("inf")
    for attempt in range(3):
        site = work / f"try-{count}-{attempt}"
        shutil.copytree(base, site)
        best = min(best, _timed_approve(site, "new-one"))
        shutil.rmtree(site)
    site = work / f"race-{count}"
    shutil.copytree(base, site)
    _request(site, "race-a")
    _request(site, "race-b")
    start = time.perf_counter()
    both = [_approve(site, "race-a"), _approve(site, "race-b")]
    outputs = [p.communicate()[0].decode() for p in both]
    wall = time.perf_counter() - start
    prefixes = {line.partition("approved, ")[2].partition(";")[0] for line in outputs}
    return best, warm(base, work), wall, len(prefixes) == 2 and all(p.returncode == 0 for p in both)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 5000]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'tenants':>8} {'cold s':>7} {'warm s':>7} {'2 at once s':>12} {'distinct':>9}")
        for count in sizes:
            cold, warm_, wall, distinct = measure(count, Path(tmp))
            print(f"{count:>8} {cold:>7.2f} {warm_:>7.2f} {wall:>12.2f} {'yes' if distinct else 'NO':>9}")


if __name__ == "__main__":
    main()
