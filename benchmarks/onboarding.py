"""Benchmark of onboarding tenants onto the AIO through the real Pulumi engine (`hatang cloud up`).

A copy of inventories/aio gets 1 + N extra tenants (default N = 50), filed with the real
`hatang tenant new` functions, shaped like the AIO's so-khcn (level 3, profile S, networks `app`
[gov] and `web` [dmz]: two grants, two routers). They are applied in the AIO site's own stacks
(state `.hatang/pulumi/aio`, what `scripts/quickstart` applied), the policy pack inside the engine,
each tenant in its own stack, `--jobs` stacks at once (default as `hatang cloud up`):

  platform up     the platform stack (nothing to do once the quick start applied it)
  1 tenant        the first tenant approved, then `up --tenant` of its stack alone (created)
  N tenants       the other N approved at once, then one `up`
  preview         `preview` of the 2 + 1 + N tenants' stacks, nothing to change
  retirement      all retired, then `up`: projects disabled, protection lifted
  removal         `up --as-of` past the grace period deletes them (and their stacks)

Targets (issue 12): <= 10 s per tenant, 50 tenants <= 2 min. Each phase also prints what the
AIO's services did (API requests per service from haproxy's log, CPU seconds of the API workers
and MariaDB), which tells the cloud's share of the time from the engine's, and how many
requests the provider makes per resource. Everything the benchmark adds is removed again, also
when it fails.

Needs the AIO up (`hatang aio up`); its admin clouds.yaml is the one `hatang aio up` writes, or
$HATANG_AIO_CLOUDS_YAML. Never run against a production cloud: it creates and deletes projects.

`--skip-checkpoints` (PULUMI_SKIP_CHECKPOINTS: each stack's state written once at the end, not
after every step) shows what the file backend's writes still cost.

Usage: .venv/bin/python benchmarks/onboarding.py [--tenants 50] [--jobs 4] [--skip-checkpoints]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra import engine  # noqa: E402
from infra.aio import CLOUD_NAME, AioPaths  # noqa: E402
from infra.audit.cloud import connect  # noqa: E402
from infra.site import load_site  # noqa: E402
from infra.tenants import NewTenant, RequestError, approve_tenant, create_tenant, retire_tenant  # noqa: E402
from infra.testhosts import exec_in  # noqa: E402
from infra.testhosts._plan import container_name  # noqa: E402
from infra.validate import load_valid_site  # noqa: E402

SITE = REPO / "inventories" / "aio"
LOG = REPO / ".hatang" / "onboarding-benchmark.log"
"""The engine's own output (git-ignored), to see where a failed run stopped."""
PREFIX = "bench"
JOBS = engine.TENANT_JOBS
BY = "benchmark@aio.example"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def codes(count: int) -> list[str]:
    return [f"{PREFIX}-{index:03d}" for index in range(count)]


def generate(count: int, target: Path) -> Path:
    """A copy of the AIO site with `count` more tenants, requested (approved later, in steps)."""
    shutil.copytree(SITE, target)
    capacity = _load(target / "capacity.yml")
    capacity["groups"]["compute"] = {"cores": 16 * (1 + count // 4), "ram_gb": 64 * (1 + count // 4)}
    capacity["groups"]["storage"] = {"disk_gb": 2000 * (1 + count // 4)}
    _dump(target / "capacity.yml", capacity)
    agencies = _load(target / "agencies.yml")
    for code in codes(count):
        agencies["agencies"].append(
            {"code": code, "kind": "department", "name": f"Cơ quan thử {code}", "name_en": f"Benchmark {code}"}
        )
    _dump(target / "agencies.yml", agencies)
    for code in codes(count):
        request = NewTenant(
            code=code,
            agency=code,
            name=f"Dự án thử {code}",
            security_level=3,
            quota_profile="S",
            contacts=({"name": "Benchmark", "email": BY, "role": "requester"},),
            networks=({"name": "app", "access": ["gov"]}, {"name": "web", "access": ["dmz"]}),
        )
        create_tenant(target, request, by=BY, reason="onboarding benchmark")
    return target


@contextmanager
def rbac_room(conn: Any, needed: int) -> Iterator[None]:
    """Room in the admin project's `rbac_policy` quota for `needed` more grants, restored on exit.

    Neutron counts the grants the admin creates for tenants against the admin project's quota
    (default 10): without room, onboarding stops at the first tenant past it.
    """
    project = conn.current_project_id
    quota = conn.network.get_quota(project)
    limit = quota.rbac_policies
    used = sum(1 for _ in conn.network.rbac_policies(project_id=project))
    if limit < 0 or used + needed <= limit:
        yield
        return
    print(f"admin project rbac_policy quota {limit} ({used} used): raised to {used + needed} for the run")
    conn.network.update_quota(project, rbac_policies=used + needed)
    try:
        yield
    finally:
        conn.network.update_quota(project, rbac_policies=limit)


class ServerSide:
    """What the AIO's services did during a phase: API requests per service (haproxy's log) and
    the CPU seconds of the API workers and MariaDB. It tells the engine's own cost (the rest of
    the wall time) from the cloud's, and how many requests the provider makes per resource."""

    def __init__(self) -> None:
        self.container = container_name("aio", "aio1")

    def _read(self) -> tuple[int, dict[str, float]]:
        script = (
            "wc -l < /var/log/haproxy.log; "
            "for pid in $(pgrep -f 'uwsgi_python3|mariadbd'); do "
            "echo \"$(awk '{print $14+$15}' /proc/$pid/stat) $(tr '\\0' ' ' < /proc/$pid/cmdline)\"; done"
        )
        lines = exec_in(self.container, script).stdout.splitlines()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu: dict[str, float] = {}
        for line in lines[1:]:
            jiffies, _, command = line.partition(" ")
            service = "mariadb" if "mariadbd" in command else command.split("/etc/", 1)[-1].split("/", 1)[0]
            cpu[service] = cpu.get(service, 0.0) + int(jiffies) / ticks
        return int(lines[0]), cpu

    @contextmanager
    def phase(self, into: dict[str, Any]) -> Iterator[None]:
        log_before, cpu_before = self._read()
        yield
        log_after, cpu_after = self._read()
        new = exec_in(
            self.container, f"tail -n +{log_before + 1} /var/log/haproxy.log | head -n {log_after - log_before}"
        )
        requests: dict[str, int] = {}
        for line in new.stdout.splitlines():
            fields = line.split()
            if len(fields) > 8 and "~" in fields[5]:
                service = fields[5].rstrip("~")
                requests[service] = requests.get(service, 0) + 1
        into["requests"] = requests
        into["cpu"] = {k: cpu_after.get(k, 0.0) - v for k, v in cpu_before.items() if cpu_after.get(k, 0.0) - v > 0.5}


def _apply(
    site: Path,
    stack: str,
    label: str,
    cloud: str,
    path: Path,
    operation: engine.Operation = "up",
    as_of: datetime | None = None,
    only: list[str] | None = None,
) -> engine.Outcome:
    started = time.perf_counter()
    server: dict[str, Any] = {}
    with LOG.open("a", encoding="utf-8") as log, ServerSide().phase(server):
        outcomes = engine.run_stacks(
            load_valid_site(site), stack, operation, cloud=cloud, clouds_yaml=path, as_of=as_of, jobs=JOBS,
            tenants=only,
            on_output=lambda label, line: log.write(f"{label} | {line.rstrip()}\n"),
        )  # fmt: skip
    total: dict[str, int] = {}
    for one in outcomes:
        for kind, n in one.changes.items():
            total[kind] = total.get(kind, 0) + n
    outcome = engine.Outcome(operation, stack, total)
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(outcome.changes.items()))
    print(f"{label:14s} {time.perf_counter() - started:7.2f} s  ({counts})", flush=True)
    made = sum(n for kind, n in outcome.changes.items() if kind != "same")
    calls = ", ".join(f"{k} {n}" for k, n in sorted(server["requests"].items(), key=lambda kv: -kv[1]))
    cpu = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(server["cpu"].items(), key=lambda kv: -kv[1]))
    per = f", {sum(server['requests'].values()) / made:.1f} per resource changed" if made else ""
    print(f"{'':14s} API requests: {calls or 'none'}{per}; services' CPU: {cpu or '< 1 s'}", flush=True)
    return outcome


@contextmanager
def removed_afterwards(site: Path, bench: list[str], cloud: str, path: Path) -> Iterator[None]:
    """Retire every benchmark tenant and apply past the grace period, however the run ends."""
    try:
        yield
    finally:
        for code in bench:
            if load_site(site).tenant(code) is not None:
                with contextlib.suppress(RequestError):  # a request never approved cannot be retired
                    retire_tenant(site, code, by=BY, reason="onboarding benchmark over")
        _apply(site, "tenants", "retirement", cloud, path)  # projects disabled, protection lifted
        later = datetime.now(UTC) + timedelta(days=load_site(site).info.retire_grace_days + 1)
        _apply(site, "tenants", "removal", cloud, path, as_of=later)


def clouds_yaml() -> Path:
    env = os.environ.get("HATANG_AIO_CLOUDS_YAML")
    return Path(env) if env else AioPaths.for_site(load_site(SITE)).clouds_yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50, help="tenants onboarded together (default 50)")
    parser.add_argument(
        "--skip-checkpoints",
        action="store_true",
        help="PULUMI_SKIP_CHECKPOINTS: write the state once at the end, not after every step",
    )
    parser.add_argument("--jobs", type=int, default=engine.TENANT_JOBS, help="tenant stacks run at once")
    args = parser.parse_args()
    global JOBS
    JOBS = args.jobs
    if args.skip_checkpoints:
        os.environ["PULUMI_SKIP_CHECKPOINTS"] = "true"
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    cloud = os.environ.get("HATANG_AIO_CLOUD", CLOUD_NAME)
    path = clouds_yaml()
    conn = connect(cloud, path)
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text("", encoding="utf-8")
    print(f"engine output in {LOG.relative_to(REPO)}")
    everyone = codes(1 + args.tenants)
    one, many = everyone[:1], everyone[1:]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            site = generate(len(everyone), Path(tmp) / "aio")
            print(f"site edits     {time.perf_counter() - started:7.2f} s  ({len(everyone)} tenant requests)")
            _apply(site, "platform", "platform up", cloud, path)
            with rbac_room(conn, 2 * len(everyone)), removed_afterwards(site, everyone, cloud, path):
                approve_tenant(site, one[0], by=BY, reason="onboarding benchmark")
                _apply(site, "tenants", "1 tenant", cloud, path, only=one)  # `up --tenant CODE`
                started = time.perf_counter()
                for code in many:
                    approve_tenant(site, code, by=BY, reason="onboarding benchmark")
                print(f"approvals      {time.perf_counter() - started:7.2f} s  ({len(many)} tenants)")
                started = time.perf_counter()
                _apply(site, "tenants", f"{len(many)} tenants", cloud, path)
                print(f"               {(time.perf_counter() - started) / len(many):7.2f} s per tenant")
                outcome = _apply(site, "tenants", "preview", cloud, path, operation="preview")
                if outcome.changed:
                    raise SystemExit("preview after up found changes: the engine's up is not idempotent")
    finally:
        conn.close()
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
