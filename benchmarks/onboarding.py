"""Benchmark of onboarding tenants onto the AIO: the real programs, replayed with openstacksdk.

A copy of inventories/aio gets 1 + N extra tenants, created and approved with the real
`hatang tenant new/approve` functions (infra.tenants: allocation by hatang's IPAM), shaped like
the AIO's so-khcn (level 3, profile S, networks `app` [gov] and `web` [dmz]: two grants, two
routers). The platform and tenants programs run under mocks (infra.stacks.mockrun.run_programs)
and each new tenant's resources are created on the running AIO with the replay harness of the
integration tests (tests/integration/replay.py, imported from `tests.integration.replay`): the
Pulumi engine cannot be installed here, so the replay stands in for `pulumi up` (one openstacksdk
call or a few per resource, in registration order; the engine would also run independent
resources of one tenant in parallel).

Measured: wall time of one tenant alone, then of N tenants (default 50) replayed `--workers` at a
time (one connection per worker), with each tenant's time (first, median, max); the time per
resource type shows where it goes. Targets: <= 10 s per tenant, 50 tenants <= 2 min. On the AIO's
two cores, 3-4 tenants at a time is quickest (two Neutron workers, Keystone and MariaDB share the
cores; 8 at a time only adds contention: 50 tenants in 95-108 s with 3-4, 99-111 s with 8).
Everything the benchmark creates is deleted again, also when it fails, so the AIO is left as it
was: the tenants' projects, networks, routers, grants, groups and quotas, and the platform too
if it was not there before (it is there after the AIO integration tests ran).

Needs the AIO up (`hatang aio up`); its admin clouds.yaml is the one `hatang aio up` writes, or
$HATANG_AIO_CLOUDS_YAML. Never run against a production cloud: it creates and deletes projects.

Usage: .venv/bin/python benchmarks/onboarding.py [--tenants 50] [--workers 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.aio import CLOUD_NAME, AioPaths  # noqa: E402
from infra.audit.cloud import connect  # noqa: E402
from infra.site import load_site  # noqa: E402
from infra.stacks.mockrun import MockRun, run_programs  # noqa: E402
from infra.tenants import NewTenant, approve_tenant, create_tenant  # noqa: E402
from tests.integration.replay import (  # noqa: E402
    Replay,
    TenantReplay,
    removed_afterwards,
    replay_one,
    replay_tenants,
    summary,
)

SITE = REPO / "inventories" / "aio"
PREFIX = "bench"
BY = "benchmark@aio.example"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def codes(count: int) -> list[str]:
    return [f"{PREFIX}-{index:03d}" for index in range(count)]


def generate(count: int, target: Path) -> Path:
    """A copy of the AIO site with `count` more tenants, requested and approved (allocated)."""
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
        approve_tenant(target, code, by=BY, reason="onboarding benchmark")
    return target


def clouds_yaml() -> Path:
    env = os.environ.get("HATANG_AIO_CLOUDS_YAML")
    return Path(env) if env else AioPaths.for_site(load_site(SITE)).clouds_yaml


def _existing(conn: Any) -> set[str]:
    """Ids of everything the platform program could create (to remove only what is new)."""
    listings: list[Callable[[], Any]] = [
        conn.identity.domains, conn.identity.roles, conn.compute.flavors, conn.network.address_scopes,
        conn.network.subnet_pools, conn.network.networks, conn.network.subnets,
    ]  # fmt: skip
    return {str(item.id) for listing in listings for item in listing()}


_REMOVE_PLATFORM: dict[str, Callable[[Any, str], Any]] = {
    "openstack:identity/project:Project": lambda c, i: (
        c.identity.update_domain(i, is_enabled=False), c.identity.delete_domain(i)
    ),
    "openstack:identity/role:Role": lambda c, i: c.identity.delete_role(i),
    "openstack:compute/flavor:Flavor": lambda c, i: c.compute.delete_flavor(i),
    "openstack:networking/addressScope:AddressScope": lambda c, i: c.network.delete_address_scope(i),
    "openstack:networking/subnetPool:SubnetPool": lambda c, i: c.network.delete_subnet_pool(i),
    "openstack:networking/network:Network": lambda c, i: c.network.delete_network(i),
    "openstack:networking/subnet:Subnet": lambda c, i: c.network.delete_subnet(i),
}


@contextmanager
def platform(run: MockRun, conn: Any) -> Iterator[Replay]:
    """The platform's real ids (replayed: found, or created and removed on exit)."""
    before = _existing(conn)
    started = time.perf_counter()
    state = Replay(conn)
    try:
        for resource in run.custom():
            if resource.program == "platform":
                replay_one(state, resource)
        new = [(type_, real) for type_, _, real in state.created if real not in before]
        print(
            f"platform      {time.perf_counter() - started:7.2f} s  ({len(state.created)} resources, "
            f"{len(new)} created{': removed at the end' if new else ', all there already'})",
            flush=True,
        )
        yield state
    finally:
        for type_, real in reversed([(t, r) for t, _, r in state.created if r not in before]):
            remover = _REMOVE_PLATFORM.get(type_)
            if remover is not None:
                try:
                    remover(conn, real)
                except Exception as exc:  # report, and go on removing the rest
                    print(f"  could not remove {type_} {real}: {exc}", file=sys.stderr)


class Calls:
    """HTTP requests made through the connections (counted in keystoneauth's session)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)

    def watch(self, conn: Any) -> Any:
        original = conn.session.request

        def request(url: str, method: str, **kwargs: Any) -> Any:
            service = "token" if "/auth/tokens" in url else kwargs.get("endpoint_filter", {}).get("service_type", "?")
            started = time.perf_counter()
            try:
                return original(url, method, **kwargs)
            finally:
                with self.lock:
                    self.count[f"{method} {service}"] += 1
                    self.seconds[f"{method} {service}"] += time.perf_counter() - started

        conn.session.request = request
        return conn

    def report(self, tenants: int) -> None:
        total = sum(self.count.values())
        mean = sum(self.seconds.values()) / max(total, 1) * 1000
        print(f"HTTP requests: {total} ({total / tenants:.0f} per tenant), {mean:.0f} ms each on average:")
        for key, n in self.count.most_common():
            print(f"  {key:22s} {n:6d}  {self.seconds[key] / n * 1000:5.0f} ms each")


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


def _report(label: str, results: list[TenantReplay], wall: float) -> None:
    times = [r.seconds for r in sorted(results, key=lambda r: r.started)]
    stats = summary(times)
    resources = sum(r.resources for r in results)
    print(
        f"{label:13s} {wall:7.2f} s  per tenant: first {stats['first']:5.2f} s, median {stats['median']:5.2f} s, "
        f"max {stats['max']:5.2f} s  ({resources} resources, {wall / resources * 1000:4.0f} ms/resource wall)",
        flush=True,
    )


def _profile(results: list[TenantReplay]) -> None:
    total: dict[str, float] = {}
    for result in results:
        for type_, seconds in result.by_type.items():
            total[type_] = total.get(type_, 0.0) + seconds
    spent = sum(total.values())
    print("time per resource type (summed over tenants and workers):")
    for type_, seconds in sorted(total.items(), key=lambda kv: -kv[1]):
        print(f"  {type_.rsplit(':', 1)[-1]:18s} {seconds:7.2f} s  {seconds / spent * 100:4.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50, help="tenants onboarded together (default 50)")
    parser.add_argument("--workers", type=int, default=4, help="tenants replayed at a time (default 4)")
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    cloud = os.environ.get("HATANG_AIO_CLOUD", CLOUD_NAME)
    path = clouds_yaml()
    conn = connect(cloud, path)
    everyone = codes(1 + args.tenants)
    one, many = everyone[:1], everyone[1:]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        site = generate(len(everyone), Path(tmp) / "aio")
        print(f"site edits    {time.perf_counter() - started:7.2f} s  ({len(everyone)} tenants new + approve)")
        started = time.perf_counter()
        run = run_programs(site, now=datetime.now(UTC), lenient=False)
        print(f"programs      {time.perf_counter() - started:7.2f} s  ({len(run.custom())} resources, under mocks)")
    try:
        grants = sum(1 for r in run.custom() if r.type.endswith("RbacPolicyV2") and r.name.startswith(PREFIX))
        with rbac_room(conn, grants), platform(run, conn) as base, removed_afterwards(conn, everyone):
            calls = Calls()
            calls.watch(conn)
            started = time.perf_counter()
            first = replay_tenants(run, base, one)
            _report("1 tenant", first, time.perf_counter() - started)
            started = time.perf_counter()
            results = replay_tenants(
                run, base, many, workers=args.workers, connect=lambda: calls.watch(connect(cloud, path))
            )
            _report(f"{len(many)} tenants", results, time.perf_counter() - started)
            print(f"              ({args.workers} workers)")
            _profile(first + results)
            calls.report(len(everyone))
            started = time.perf_counter()
        print(f"cleanup       {time.perf_counter() - started:7.2f} s  (tenants removed)")
    finally:
        conn.close()
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
