"""Two hosts of one site audited at once: a controller and a network node (which routes).

Un-hardened test hosts of a copy of the Thái Nguyên sample renamed `auditpar`, on podman's
default network. Shows that hosts run in parallel and that expectations follow each host's
groups in the site model (ip_forward is expected on the router only).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime

import pytest

from infra import testhosts
from infra.audit import AuditResult, Connection, Outcome, run_audit, select_hosts, targets
from infra.site import Site, load_site
from tests.conftest import SAMPLE
from tests.helpers import renamed_site

pytestmark = pytest.mark.hosts

SITE = "auditpar"


@pytest.fixture(scope="module")
def par_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return load_site(renamed_site(SAMPLE, tmp_path_factory.mktemp("site"), SITE))


def _pick(site: Site) -> list[str]:
    """A host that routes and one that does not."""
    routing = {g for g, spec in site.groups.items() if spec.routes}
    router = next(h.name for h in site.hosts if routing & set(h.groups))
    other = next(h.name for h in site.hosts if not routing & set(h.groups))
    return [other, router]


@pytest.fixture(scope="module")
def par_result(par_site: Site) -> Iterator[AuditResult]:
    names = _pick(par_site)
    containers = [testhosts.container_name(par_site.name, n) for n in names]
    image = testhosts.ensure_image()
    try:
        for name in containers:
            subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
            argv = ["podman", "run", "-d", "--name", name, *testhosts.RUN_FLAGS, image]
            subprocess.run(argv, capture_output=True, check=True)
        for name in containers:
            testhosts.wait_booted(name)
        hosts = select_hosts(par_site, ",".join(names))
        yield run_audit(par_site, "new-level3", targets(
            par_site, hosts, Connection.PODMAN, containers=testhosts.containers(par_site.name, hosts)
        ))
    finally:
        for name in containers:
            subprocess.run(["podman", "rm", "-f", "-t", "2", name], capture_output=True, check=False)


def test_parallel_hosts_overlap_in_time(par_result: AuditResult) -> None:
    a, b = par_result.hosts
    start_a, end_a = datetime.fromisoformat(a.started), datetime.fromisoformat(a.finished)
    start_b, end_b = datetime.fromisoformat(b.started), datetime.fromisoformat(b.finished)
    assert start_a < end_b and start_b < end_a
    print(f"2 hosts: {a.duration:.1f} s and {b.duration:.1f} s, wall {end_b - min(start_a, start_b)}")


def test_parallel_each_host_judged_on_its_own_facts(par_result: AuditResult, par_site: Site) -> None:
    assert [h.error for h in par_result.hosts] == [None, None]
    assert par_result.exit_code == 1
    forward = {}
    for host in par_result.hosts:
        control = next(c for c in host.controls if c.control.id == "HT-NET-01")
        assert control.checks[0].outcome in {Outcome.PASS, Outcome.FAIL}
        forward[host.name] = control.checks[0].expected["net.ipv4.ip_forward"]["live"]
    other, router = _pick(par_site)
    assert forward == {other: "0", router: "1"}
