"""Benchmark: one host's audit time, OpenSCAP against `hatang audit hosts` (level-3 profile).

Target (issue 15): one host's level-3 audit no slower than OpenSCAP's ANSSI-BP-028 intermediary
profile on the same host. Starts one test host (the role-test lab copied as `oscapbench`, on
10.192.0.0/16 and fd99:a4::/32, beside the other labs), applies playbooks/hardening.yml,
installs Debian's scanner in it, then times 3 runs each of:

- `oscap xccdf eval` with ANSSI-BP-028 intermediary (ssg-debian, Debian 12 content);
- `oscap xccdf eval` with CIS Level 1 - Server (ssg-debderived, Ubuntu 24.04 content), the
  profile tests/audit/test_openscap.py uses (docs/cis-openscap.md says why);
- `run_audit` (the engine of `hatang audit hosts --connection podman`), profile new-level3;

interleaved (round-robin), and prints each median. The oscap times are taken through `podman
exec` (one call each; the audit makes its own podman calls). Removes the host afterwards.

Usage: python benchmarks/openscap_vs_audit.py [--site DIR]
  --site DIR: use an already started and hardened lab copy (a site directory) instead.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra import testhosts  # noqa: E402
from infra.audit import Connection, run_audit, targets  # noqa: E402
from infra.site import Site  # noqa: E402
from infra.validate import load_valid_site  # noqa: E402
from tests.audit.test_hardening_proof import HOST, PROFILE, lab_copy, playbook  # noqa: E402
from tests.audit.test_openscap import ANSSI, CIS, install_scanner, oscap_argv  # noqa: E402

RUNS = 3


def bench(site: Site) -> None:
    container = testhosts.container_name(site.name, HOST)
    install_scanner(container)
    lab = testhosts.containers(site.name, [HOST])

    def oscap(scan: tuple[str, str, str]) -> Callable[[], object]:
        argv = ["podman", "exec", "-w", "/root/oscap", container, *oscap_argv(scan, "/root/oscap/bench.xml")]
        return lambda: subprocess.run(argv, capture_output=True, check=False, timeout=900)

    def audit() -> object:
        return run_audit(site, PROFILE, targets(site, [HOST], Connection.PODMAN, containers=lab))

    runs: dict[str, Callable[[], object]] = {
        "oscap ANSSI-BP-028 intermediary (debian12)": oscap(ANSSI),
        "oscap CIS Level 1 - Server (ubuntu2404)": oscap(CIS),
        f"hatang audit hosts ({PROFILE})": audit,
    }
    times: dict[str, list[float]] = {label: [] for label in runs}
    # Round-robin, so that a change in the machine's load falls on every contender alike.
    for _ in range(RUNS):
        for label, run in runs.items():
            start = time.monotonic()
            run()
            times[label].append(time.monotonic() - start)
    medians = {label: statistics.median(found) for label, found in times.items()}
    for label, found in times.items():
        print(f"{label:<46} {medians[label]:>8.1f} s   runs: {', '.join(f'{t:.1f}' for t in found)}")
    anssi, ours = medians["oscap ANSSI-BP-028 intermediary (debian12)"], medians[f"hatang audit hosts ({PROFILE})"]
    verdict = "met" if ours <= anssi else "NOT met"
    print(f"target (hatang <= oscap ANSSI intermediary): {verdict} ({ours:.1f} s vs {anssi:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="an already started and hardened lab copy")
    args = parser.parse_args()
    if args.site:
        bench(load_valid_site(args.site))
        return
    site = lab_copy(Path(tempfile.mkdtemp(prefix="hatang-oscapbench-")), "oscapbench", "10.192.", "fd99:a4:")
    testhosts.ensure_image()
    try:
        testhosts.up(site, limit=HOST)
        done = playbook(site)
        if done.returncode != 0:
            raise SystemExit(done.stdout[-4000:] + done.stderr[-2000:])
        bench(site)
    finally:
        testhosts.down(site.name)


if __name__ == "__main__":
    main()
