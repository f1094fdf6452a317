"""Flows against the deployed services: `coverage.problems`, and `hatang validate` reporting them.

Each case breaks a copy of a shipped site one way and checks the located message a user sees and
the exit code: 1, a finding about a site that is otherwise valid input (like a policy violation of
`plan --resources`); a site the validator refuses is bad input (2) and is not compared.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.services import catalogue
from infra.services.coverage import problems
from infra.site import load_site
from tests.conftest import REPO
from tests.helpers import edit_yaml

runner = CliRunner()

SITES = sorted(p.parent for p in (REPO / "inventories").glob("*/flows.yml"))

FIX_PORTS = (
    "remove those ports or narrow the flow's `groups` to the hosts that serve them; a platform service "
    "is added to infra/services/services.yml and the flow names it in `services`"
)


def _flow(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        change(next(flow for flow in doc["flows"] if flow["name"] == name))

    return edit


def _drop_flow(name: str) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        doc["flows"].remove(next(flow for flow in doc["flows"] if flow["name"] == name))

    return edit


def _add_flow(**flow: Any) -> Callable[[Any], None]:
    return lambda doc: doc["flows"].append({**flow, "reason": "Test"})


def _validate_findings(root: Path) -> list[str]:
    """What `hatang validate` prints, one finding a line, after checking it exits 1."""
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    *found, last = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert last == f"{len(found)} finding(s): the flows and the services the hosts run disagree (docs/services.md)."
    return found


@pytest.mark.parametrize("root", SITES, ids=[p.name for p in SITES])
def test_validate_shipped_site_flows_match_its_services(root: Path) -> None:
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 0, result.output


def test_validate_service_deployed_without_a_flow(aio_copy: Path) -> None:
    edit_yaml(aio_copy, "flows.yml", _drop_flow("memcached"))
    assert _validate_findings(aio_copy) == [
        f"{aio_copy / 'flows.yml'}:2: flows: memcached listens on tcp/11211 in zone api on aio1, but no flow "
        "opens it (fix: add a flow with `to: api`, `groups: [controllers]`, `services: [memcached]`, or take "
        "those hosts out of group controllers)"
    ]


def test_validate_service_with_several_ports_without_a_flow(aio_copy: Path) -> None:
    edit_yaml(aio_copy, "flows.yml", _drop_flow("message-queue"))
    assert _validate_findings(aio_copy) == [
        f"{aio_copy / 'flows.yml'}:2: flows: rabbitmq listens on tcp/{{4369, 5672, 25672}} in zone api on aio1, "
        "but no flow opens it (fix: add a flow with `to: api`, `groups: [controllers]`, `services: [rabbitmq]`, "
        "or take those hosts out of group controllers)"
    ]


def test_validate_flow_naming_a_service_no_longer_deployed(aio_copy: Path) -> None:
    """aio1 leaves group storage (its disk counted under compute): the storage-cluster flow names Ceph still."""
    edit_yaml(aio_copy, "hosts.yml", lambda doc: doc["hosts"][0]["groups"].remove("storage"))
    edit_yaml(aio_copy, "capacity.yml", lambda doc: doc["groups"]["compute"].update(doc["groups"].pop("storage")))
    assert _validate_findings(aio_copy) == [
        f"{aio_copy / 'flows.yml'}:61: flows.8.services.{i}: flow 'storage-cluster' names {name}, but no host "
        f"it reaches in zone storage runs it ({name} runs on group storage, in a zone of kind storage) "
        f"(fix: remove {name} from the flow's `services`, or give a host of group storage an address "
        "in zone storage)"
        for i, name in enumerate(("ceph-mon", "ceph-osd"))
    ]


def test_validate_flow_naming_a_service_in_the_wrong_zone(aio_copy: Path) -> None:
    edit_yaml(aio_copy, "flows.yml", _flow("memcached", lambda flow: flow["services"].append("ceph-mon")))
    assert _validate_findings(aio_copy) == [
        f"{aio_copy / 'flows.yml'}:54: flows.7.services.1: flow 'memcached' names ceph-mon, but no host "
        "it reaches in zone api runs it (ceph-mon runs on group storage, in a zone of kind storage) "
        "(fix: remove ceph-mon from the flow's `services`, or name it in a flow to a zone of kind "
        "storage (zone api is of kind api))"
    ]


def test_validate_port_flow_opening_what_nothing_deploys(aio_copy: Path) -> None:
    edit_yaml(aio_copy, "flows.yml", _add_flow(
        name="vnc", **{"from": "mgmt", "to": "api"}, protocol="tcp", ports=[6080, "9000-9100"]
    ))  # fmt: skip
    assert _validate_findings(aio_copy) == [
        f"{aio_copy / 'flows.yml'}:112: flows.16.ports: flow 'vnc' opens tcp/{{6080, 9000-9100}} in zone api on "
        f"aio1, where no platform service listens (fix: {FIX_PORTS})"
    ]


def test_validate_udp_flow_opening_what_nothing_deploys(aio_copy: Path) -> None:
    edit_yaml(aio_copy, "flows.yml", _add_flow(name="dns", **{"from": "api", "to": "api"}, protocol="udp", ports=[53]))
    assert _validate_findings(aio_copy) == [
        f"{aio_copy / 'flows.yml'}:112: flows.16.ports: flow 'dns' opens udp/53 in zone api on aio1, where no "
        f"platform service listens (fix: {FIX_PORTS})"
    ]


def test_validate_services_flow_reaching_hosts_that_do_not_run_it(site_copy: Path) -> None:
    """Without `groups` the memcached flow opens 11211 on every compute host of the api zone too."""
    edit_yaml(site_copy, "flows.yml", _flow("memcached", lambda flow: flow.pop("groups")))
    assert _validate_findings(site_copy) == [
        f"{site_copy / 'flows.yml'}:71: flows.9.services: flow 'memcached' opens tcp/11211 in zone api on "
        "13 hosts (cmp01, cmp02, cmp03, …) for memcached, which these hosts do not run (fix: narrow the "
        "flow's `groups` to the hosts that run it (group controllers), or remove memcached from its `services`)"
    ]


def test_validate_reports_coverage_only_of_an_otherwise_valid_site(aio_copy: Path) -> None:
    """The rules run first; a site they refuse is bad input (2), not also compared with the catalogue."""
    edit_yaml(aio_copy, "flows.yml", _drop_flow("memcached"))
    edit_yaml(aio_copy, "hosts.yml", lambda doc: doc["hosts"][0]["groups"].remove("storage"))
    result = runner.invoke(app, ["validate", str(aio_copy)])
    assert result.exit_code == 2, result.output
    problems = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert [line.split(": ", 2)[1] for line in problems[:-1]] == ["groups"]
    assert problems[-1] == "1 problem(s); nothing was changed."


def test_coverage_ssh_is_never_a_problem(aio_copy: Path) -> None:
    ssh = _add_flow(name="ssh-api", **{"from": "mgmt", "to": "api"}, protocol="tcp", ports=[22])
    edit_yaml(aio_copy, "flows.yml", ssh)
    assert problems(load_site(aio_copy), catalogue()) == []


def test_validate_several_controllers_need_their_replication_flow(site_copy: Path) -> None:
    """Three controllers replicate: without `database-cluster` Galera's ports would be dropped."""
    edit_yaml(site_copy, "flows.yml", _drop_flow("database-cluster"))
    found = _validate_findings(site_copy)
    assert len(found) == 1
    assert "mariadb-cluster listens on tcp/{4444, 4567-4569} in zone api on ctl01, ctl02, ctl03" in found[0]


def test_validate_a_lone_controller_opens_no_replication_port(aio_copy: Path) -> None:
    """The AIO's one controller runs no Galera replication: a flow naming it is a rule for nothing."""
    edit_yaml(aio_copy, "flows.yml", _add_flow(
        name="database-cluster", **{"from": "api", "to": "api"}, groups=["controllers"], protocol="tcp",
        services=["mariadb-cluster"],
    ))
    found = _validate_findings(aio_copy)
    assert len(found) == 1
    assert "flow 'database-cluster' names mariadb-cluster, but no host it reaches in zone api runs it" in found[0]


def test_validate_fix_names_only_the_groups_the_site_has(tmp_path: Path) -> None:
    """ovn-controller runs on groups compute and network; the cluster lab has no network group, and a
    flow naming it is refused: the fix must not suggest it."""
    lab = shutil.copytree(REPO / "tests" / "cluster" / "lab", tmp_path / "lab")
    edit_yaml(lab, "flows.yml", _drop_flow("geneve-tunnels"))
    assert _validate_findings(lab) == [
        f"{lab / 'flows.yml'}:1: flows: ovn-controller listens on udp/6081 in zone overlay on cmp01, but no flow "
        "opens it (fix: add a flow with `to: overlay`, `groups: [compute]`, `protocol: udp`, `ports: [6081]`, "
        "or take those hosts out of group compute)"
    ]
