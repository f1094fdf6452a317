"""HC-NET-05 on the AIO: OVN's northbound database against Neutron, and the hole it finds on the wire.

A change made in OVN by hand (a port taken out of Neutron's default drop, an allow ACL added,
port security cleared) is invisible in every Neutron API; the check reads OVN on the controller
(`--ovn-from aio1 -c podman`) and fails, and, for the first, a packet the port's security group
does not allow is shown arriving while the hole is there and dropped again once it is closed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra import audit
from infra.audit import Outcome
from infra.audit.cloud import OvnSource, run_checks
from infra.cli import app
from infra.site import Site, load_site
from tests.conftest import AIO
from tests.integration._wire import CONTAINER, Endpoint, Wire, default_group, gateways, project_of, router_of, sh
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

CHECK = "ovn_agrees_with_neutron"
CLOSED = 8081
FAMILIES = (4, 6)


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(AIO)


def _ovn() -> OvnSource:
    return OvnSource("aio1", audit.remote_command(audit.Target("aio1", f"podman://{CONTAINER}")))


def _nb(command: str) -> str:
    done = sh(f"ovn-nbctl {command}")
    assert done.returncode == 0, f"ovn-nbctl {command}: {done.stderr}"
    return done.stdout.strip()


def _checked(site: Site, conn: Any) -> Any:
    return run_checks(site, conn, [CHECK], ovn=_ovn())[CHECK]


def _findings(result: Any) -> list[str]:
    return [f"{f.get('port') or f.get('acl') or f.get('rule') or f.get('switch') or f.get('router')}: {f['problem']}"
            for f in result.observed["findings"]]  # fmt: skip


def _pair(plugs: Wire) -> tuple[Endpoint, Endpoint, Any]:
    """A server whose group allows no ingress, listening, and a client of the same tenant."""
    conn = plugs.conn
    project = project_of(conn, "so-khcn")
    (network,) = conn.network.networks(project_id=project.id, name="app")
    default = default_group(conn, project)
    server = plugs.plug(project, network, [plugs.group(project, [])])
    client = plugs.plug(project, network, [default])
    server.listen(CLOSED)
    return server, client, project


def _reached(client: Endpoint, server: Endpoint) -> dict[int, bool]:
    return {v: client.reaches(server.address(v), CLOSED) for v in FAMILIES}


def test_a_port_out_of_the_default_drop_is_a_hole_on_the_wire_and_a_finding(plugs: Wire, site: Site) -> None:
    server, client, _ = _pair(plugs)
    assert _reached(client, server) == {4: False, 6: False}, "the server's group allows no ingress"
    clean = _checked(site, plugs.conn)
    assert clean.outcome is Outcome.PASS, _findings(clean)
    assert clean.observed["acls"] > 0 and clean.observed["switch_ports"] > 0, clean.observed

    lsp = _nb(f"--bare --columns=_uuid find Logical_Switch_Port name={server.port.id}")
    _nb(f"remove Port_Group neutron_pg_drop ports {lsp}")
    plugs.cleanups.append(lambda: sh(f"ovn-nbctl add Port_Group neutron_pg_drop ports {lsp}"))
    neutron = plugs.conn.network.get_port(server.port.id)
    assert neutron.security_group_ids == server.port.security_group_ids, "Neutron shows nothing"
    assert _reached(client, server) == {4: True, 6: True}, "without the default drop every packet passes"
    hole = _checked(site, plugs.conn)
    assert hole.outcome is Outcome.FAIL
    assert f"{server.port.id}: not in neutron_pg_drop: no default drop, every packet passes" in _findings(hole)

    _nb(f"add Port_Group neutron_pg_drop ports {lsp}")
    assert _reached(client, server) == {4: False, 6: False}
    assert _checked(site, plugs.conn).outcome is Outcome.PASS


def test_a_route_between_tenants_made_in_ovn_only_carries_packets_and_is_a_finding(plugs: Wire, site: Site) -> None:
    """The wire test's cross-tenant route (test_aio_wire.py), made in OVN's database instead of
    Neutron's: Neutron's routers show no route, the packets pass, HC-NET-05 names the routes."""
    conn = plugs.conn
    khcn, yte = project_of(conn, "so-khcn"), project_of(conn, "so-yte")
    (web,) = conn.network.networks(project_id=khcn.id, name="web")
    (app,) = conn.network.networks(project_id=yte.id, name="app")
    anyone = plugs.group(yte, [{"ethertype": f"IPv{v}", "protocol": "tcp", "port_range_min": CLOSED,
                                "port_range_max": CLOSED} for v in FAMILIES])  # fmt: skip
    server = plugs.plug(yte, app, [anyone])
    client = plugs.plug(khcn, web, [default_group(conn, khcn)])
    server.listen(CLOSED)
    assert _reached(client, server) == {4: False, 6: False}, "no route between the tenants"

    a, b = router_of(conn, web), router_of(conn, app)
    cidrs = {net.id: {s.ip_version: s.cidr for s in conn.network.subnets(network_id=net.id)} for net in (web, app)}
    routes = [(a, cidrs[app.id][v], gateways(b)[v]) for v in FAMILIES] + [
        (b, cidrs[web.id][v], gateways(a)[v]) for v in FAMILIES
    ]
    for router, prefix, nexthop in routes:
        _nb(f"lr-route-add neutron-{router.id} {prefix} {nexthop}")
        plugs.cleanups.append(lambda r=router, p=prefix: sh(f"ovn-nbctl --if-exists lr-route-del neutron-{r.id} {p}"))
    assert not conn.network.get_router(a.id).routes and not conn.network.get_router(b.id).routes, "Neutron shows none"
    assert _reached(client, server) == {4: True, 6: True}, "the routes made in OVN carry the packets"
    hole = _checked(site, conn)
    assert hole.outcome is Outcome.FAIL
    made = {(f"neutron-{router.id}", f"{prefix} via {nexthop}") for router, prefix, nexthop in routes}
    assert {(f["router"], f["route"]) for f in hole.observed["findings"] if "route" in f} == made, _findings(hole)

    for router, prefix, _ in routes:
        _nb(f"lr-route-del neutron-{router.id} {prefix}")
    assert _reached(client, server) == {4: False, 6: False}
    assert _checked(site, conn).outcome is Outcome.PASS


def test_cleared_port_security_and_a_hand_made_acl_fail_through_the_cli(
    plugs: Wire, applied: AioCloud, tmp_path: Path
) -> None:
    server, _, _ = _pair(plugs)
    group = "pg_" + server.port.security_group_ids[0].replace("-", "_")
    pinned = _nb(f"lsp-get-port-security {server.port.id}")
    assert server.port.mac_address in pinned and server.address(4) in pinned, pinned

    def audit_cloud(name: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
        result = CliRunner().invoke(app, [
            "audit", "cloud", "--cloud", applied.cloud, "--clouds-yaml", str(applied.clouds_yaml), "-i", str(AIO),
            "--profile", "new-level3", "--out", str(tmp_path / name), *extra,
        ])  # fmt: skip
        evidence = tmp_path / name / "evidence.json"
        data = json.loads(evidence.read_text()) if evidence.is_file() else {}
        return result.exit_code, result.output, data

    def outcome(data: dict[str, Any]) -> str:
        (host,) = data["hosts"]
        return next(str(c["result"]) for c in host["controls"] if c["control_id"] == "HC-NET-05")

    code, output, data = audit_cloud("clean", "--ovn-from", "aio1", "-c", "podman")
    assert code == 0 and outcome(data) == "pass", output
    code, output, data = audit_cloud("unread")
    assert code == 0 and outcome(data) == "not_checkable", output

    _nb(f"lsp-set-port-security {server.port.id}")
    plugs.cleanups.append(lambda: sh(f"ovn-nbctl lsp-set-port-security {server.port.id} '{pinned}'"))
    _nb(f"acl-add {group} to-lport 1002 'outport == @{group} && ip4' allow-related")
    plugs.cleanups.append(lambda: sh(f"ovn-nbctl acl-del {group} to-lport 1002 'outport == @{group} && ip4'"))
    code, output, data = audit_cloud("holes", "--ovn-from", "aio1", "-c", "podman")
    assert code == 1 and outcome(data) == "fail", output
    assert "HC-NET-05" in output
    (host,) = data["hosts"]
    (control,) = [c for c in host["controls"] if c["control_id"] == "HC-NET-05"]
    problems = json.dumps(control)
    assert "empty in OVN: any source address passes" in problems
    assert "allow-related ACL that no Neutron rule explains" in problems

    code, output, _ = audit_cloud("bad", "--ovn-from", "nosuch", "-c", "podman")
    assert code == 2 and "--ovn-from: 'nosuch' is not a controller of site aio; controllers: aio1" in output


def test_an_address_set_widened_in_ovn_is_a_finding(plugs: Wire, site: Site) -> None:
    """A rule admitting an address group is an ACL on OVN's address set: widening the set in OVN
    opens the rule while Neutron's group is unchanged."""
    conn = plugs.conn
    group = conn.network.create_address_group(name="hatang-wire-admins", addresses=["192.0.2.0/26", "2001:db8:5::/64"])
    rule = {"ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
            "remote_address_group_id": group.id}  # fmt: skip
    ssh = plugs.group(project_of(conn, "so-yte"), [rule])

    def remove() -> None:  # the group before the address group it uses (Neutron refuses otherwise)
        conn.network.delete_security_group(ssh, ignore_missing=True)
        conn.network.delete_address_group(group, ignore_missing=True)

    plugs.cleanups.append(remove)
    assert _checked(site, conn).outcome is Outcome.PASS, "the rule's ACL names the group's set"
    name = "ag_" + group.id.replace("-", "_") + "_ip4"
    _nb(f"add Address_Set {name} addresses 0.0.0.0/0")
    plugs.cleanups.append(lambda: sh(f"ovn-nbctl remove Address_Set {name} addresses 0.0.0.0/0"))
    assert conn.network.get_address_group(group.id).addresses == ["192.0.2.0/26", "2001:db8:5::/64"]
    widened = _checked(site, conn)
    assert widened.outcome is Outcome.FAIL
    assert widened.observed["findings"] == [
        {"address_set": name, "problem": "holds 0.0.0.0/0, which its address group does not"}
    ]
    _nb(f"remove Address_Set {name} addresses 0.0.0.0/0")
    assert _checked(site, conn).outcome is Outcome.PASS
