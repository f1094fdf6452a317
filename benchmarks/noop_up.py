"""Benchmark of a no-op `hatang cloud up` of many tenant stacks (skipped as unchanged), no cloud.

What is left of `up` once every tenant's stack is unchanged is hatang's own work: one mock run of
the site, the fingerprints, and per stack whatever is needed to know it is unchanged. This
measures that on a file backend under tmp, the engine running a component-only stand-in for
pulumi/tenants (as tests/pulumi/test_engine_skip.py: no provider, nothing to reach), the policy
pack off. The tools cache and the count of the CLI's runs are tests/pulumi/test_engine_migration.py's
(`tools_in`, `cli_runs`). A copy of inventories/aio gets N - 2 more tenants (`benchmarks/onboarding.py`'s
`generate`, all approved); the first `up` creates the N stacks, then each `up` is timed, then a
`preview` and a `destroy` of every stack: wall seconds, CPU seconds (this process and the
engine's processes), and the CLI's runs by subcommand (a wrapper in place of `pulumi` counts them).

Usage: .venv/bin/python benchmarks/noop_up.py [--tenants 20] [--repeat 3] [--no-skip]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.onboarding import BY, codes, generate  # noqa: E402
from infra import engine  # noqa: E402
from infra.site import load_site  # noqa: E402
from infra.tenants import approve_tenant  # noqa: E402
from tests.pulumi.test_engine_migration import cli_runs, tools_in  # noqa: E402

PROGRAM = """\
import pulumi
from infra.stacks._program import load_program_site, stack_tenant

site = load_program_site()
code = stack_tenant(pulumi.get_stack())
tenant = site.tenant(code)
if tenant is not None:
    component = pulumi.ComponentResource("hatang:tenants:AgencyTenant", code, None)
    pulumi.ComponentResource("hatang:test:Quota", f"{code}-quota-{tenant.quota_profile}", None,
                             pulumi.ResourceOptions(parent=component))
"""


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the engine's CLI and hosts)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def _runs(log: Path) -> Counter[str]:
    """The CLI's runs written to `log` since it was last read, by subcommand; the log emptied."""
    runs = Counter(cli_runs(log))
    log.unlink(missing_ok=True)
    return runs


def _run(site: Path, program: Path, operation: engine.Operation, skip: bool = True) -> tuple[float, float, str]:
    """One operation on the tenants' stacks: wall seconds, CPU seconds, how many stacks were skipped/run."""
    wall, cpu = time.perf_counter(), _cpu()
    outcomes = engine.run_stacks(load_site(site), "tenants", operation, policy_pack=False, program=program, skip=skip)
    counts = {"skipped": sum(1 for o in outcomes if o.skipped), "run": sum(1 for o in outcomes if not o.skipped)}
    return time.perf_counter() - wall, _cpu() - cpu, str(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenant stacks (default 20; the AIO has 2)")
    parser.add_argument("--repeat", type=int, default=3, help="no-op `up`s timed (default 3)")
    parser.add_argument("--no-skip", action="store_true", help="run the engine on unchanged stacks too")
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        log = tmp / "cli.log"
        os.environ["HATANG_TOOLS_CACHE"] = str(tools_in(tmp, log))
        os.environ["HATANG_STATE_DIR"] = str(tmp / "state")
        program = tmp / "program"
        program.mkdir()
        (program / "__main__.py").write_text(PROGRAM, encoding="utf-8")
        extra = codes(max(0, args.tenants - 2))
        site = generate(len(extra), tmp / "aio")
        for code in extra:
            approve_tenant(site, code, by=BY, reason="no-op up benchmark")
        steps = [("first up", "up", True), *[("no-op up", "up", not args.no_skip)] * args.repeat,
                 ("preview", "preview", True), ("destroy", "destroy", True)]  # fmt: skip
        for label, operation, skip in steps:
            wall, cpu, counts = _run(site, program, operation, skip)
            runs = _runs(log)
            print(f"{label:14} {wall:7.2f} s {cpu:7.2f} CPU-s  {counts}  CLI runs {sum(runs.values())}: "
                  f"{dict(sorted(runs.items()))}", flush=True)  # fmt: skip
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
