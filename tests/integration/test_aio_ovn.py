"""Neutron's networks, routers and security groups are OVN's on the AIO (marker `aio`).

The AIO's Neutron runs the ML2/OVN driver: what the tenant programs create through the API must
exist in OVN's Northbound database, which ovn-northd turns into the flows of every chassis. Each
test reads both sides — openstacksdk and `ovn-nbctl`/`ovn-sbctl` in the AIO host — and compares
them, and the API-driven ones change Neutron and watch OVN follow (then undo the change), so a
driver that wrote nothing, or wrote it once and stopped, fails.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from infra import aio, testhosts
from infra.services import catalogue
from infra.validate import load_valid_site
from tests.conftest import AIO
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

CONTAINER = testhosts.container_name("aio", "aio1")


def _ctl(tool: str, *args: str) -> list[dict[str, Any]]:
    """Rows of `ovn-nbctl`/`ovn-sbctl list ...` in the AIO host, columns as a dict per row."""
    out = testhosts.exec_in(CONTAINER, [tool, "--format=json", *args]).stdout
    table = json.loads(out)
    return [dict(zip(table["headings"], (_value(v) for v in row), strict=True)) for row in table["data"]]


def _value(cell: Any) -> Any:
    """OVSDB's JSON cell: ["map", [[k, v], ...]], ["set", [...]], ["uuid", u] or a scalar."""
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "map":
        return {k: _value(v) for k, v in cell[1]}
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set":
        return [_value(v) for v in cell[1]]
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "uuid":
        return cell[1]
    return cell


def _set(value: Any) -> list[Any]:
    """A set column: OVSDB writes a one-element set as the bare element."""
    return value if isinstance(value, list) else [value]


def _until(what: str, probe: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"OVN did not follow Neutron within {timeout:.0f} s: {what}")
        time.sleep(0.5)


def _switches() -> dict[str, dict[str, Any]]:
    """Logical switches by the Neutron network id OVN recorded."""
    return {row["name"].removeprefix("neutron-"): row for row in _ctl("ovn-nbctl", "list", "Logical_Switch")}


def _acl_rule_ids() -> set[str]:
    return {
        row["external_ids"]["neutron:security_group_rule_id"]
        for row in _ctl("ovn-nbctl", "list", "ACL")
        if "neutron:security_group_rule_id" in row["external_ids"]
    }


def test_every_network_is_a_logical_switch_and_nothing_else_is(applied: AioCloud) -> None:
    """Both ways: a Neutron network without its switch is a segment that forwards nothing; a
    switch without a network is a stale segment nobody audits."""
    networks = {net.id for net in applied.conn.network.networks()}
    switches = _switches()
    assert networks, "the applied site has networks"
    assert networks == set(switches)


def test_every_subnet_has_ovn_dhcp_options_or_router_advertisements(applied: AioCloud) -> None:
    """IPv4 subnets get OVN's native DHCP; IPv6 SLAAC subnets are advertised by their router's port."""
    options = {row["external_ids"].get("subnet_id") for row in _ctl("ovn-nbctl", "list", "DHCP_Options")}
    router_ports = _ctl("ovn-nbctl", "list", "Logical_Router_Port")
    advertised = {p for row in router_ports for p in _set(row["networks"]) if row["ipv6_ra_configs"]}
    subnets = list(applied.conn.network.subnets())
    v4 = [s for s in subnets if s.ip_version == 4 and s.is_dhcp_enabled]
    assert v4 and {s.id for s in v4} <= options
    slaac = [s for s in subnets if s.ip_version == 6 and s.ipv6_ra_mode == "slaac"]
    interfaces = applied.conn.network.ports(device_owner="network:router_interface")
    routed = {ip["subnet_id"] for port in interfaces for ip in port.fixed_ips}
    assert slaac and any(s.id in routed for s in slaac)
    for subnet in (s for s in slaac if s.id in routed):
        wanted = f"{subnet.gateway_ip}/{subnet.cidr.split('/')[1]}"
        assert wanted in advertised, (subnet.cidr, advertised)


def test_every_router_is_a_logical_router_with_its_gateway_on_the_gateway_chassis(applied: AioCloud) -> None:
    routers = {r.id: r for r in applied.conn.network.routers()}
    logical = {row["name"].removeprefix("neutron-"): row for row in _ctl("ovn-nbctl", "list", "Logical_Router")}
    assert routers and set(routers) == set(logical)
    chassis = {row["name"] for row in _ctl("ovn-sbctl", "list", "Chassis")}
    gateways = _ctl("ovn-nbctl", "list", "Gateway_Chassis")
    for router in routers.values():
        if router.external_gateway_info:
            port = _gateway_port(applied, router.id)
            names = [g["chassis_name"] for g in gateways if g["name"].startswith(f"lrp-{port}")]
            assert names and set(names) <= chassis, (router.name, names, chassis)


def _gateway_port(applied: AioCloud, router_id: str) -> str:
    (port,) = applied.conn.network.ports(device_id=router_id, device_owner="network:router_gateway")
    return str(port.id)


def test_provider_networks_leave_through_the_bridge_the_site_model_maps(applied: AioCloud) -> None:
    """A zone's provider network is a localnet port on the zone's physnet, and the chassis maps
    that physnet to the zone's bridge (zones.yml `provider`)."""
    site = load_valid_site(AIO)
    wanted = {z.provider.physnet: z.provider.bridge for z in site.zones if z.provider is not None}
    localnets = {
        row["options"].get("network_name")
        for row in _ctl("ovn-nbctl", "list", "Logical_Switch_Port")
        if row["type"] == "localnet"
    }
    provider = {
        n.provider_physical_network for n in applied.conn.network.networks() if n.provider_physical_network
    }
    assert provider and provider <= localnets
    (aio1,) = [row for row in _ctl("ovn-sbctl", "list", "Chassis") if row["hostname"] == "aio1"]
    other = aio1["other_config"]
    mappings = dict(item.split(":") for item in other["ovn-bridge-mappings"].split(","))
    assert mappings == wanted
    assert "enable-chassis-as-gw" in other.get("ovn-cms-options", "")
    assert other.get("datapath-type") == "netdev"


def test_security_group_rules_become_acls_and_go_with_them(applied: AioCloud) -> None:
    """Every rule of every group is an ACL; a rule added through the API appears, and goes
    when it is deleted."""
    rules = {r.id for r in applied.conn.network.security_group_rules()}
    assert rules <= _acl_rule_ids()
    project = applied.conn.current_project_id
    name = f"hatang-test-ovn-{uuid.uuid4().hex[:8]}"
    group = applied.conn.network.create_security_group(name=name, project_id=project)
    try:
        rule = applied.conn.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", ethertype="IPv6", protocol="tcp",
            port_range_min=8443, port_range_max=8443, remote_ip_prefix="2001:db8::/64",
        )
        _until(f"an ACL for rule {rule.id}", lambda: rule.id in _acl_rule_ids())
        (acl,) = [
            row for row in _ctl("ovn-nbctl", "list", "ACL")
            if row["external_ids"].get("neutron:security_group_rule_id") == rule.id
        ]
        assert "tcp.dst == 8443" in acl["match"] and "ip6.src == 2001:db8::/64" in acl["match"], acl["match"]
        assert acl["direction"] == "to-lport" and acl["action"] in {"allow-related", "allow-stateless"}
        applied.conn.network.delete_security_group_rule(rule)
        _until(f"the ACL of deleted rule {rule.id} gone", lambda: rule.id not in _acl_rule_ids())
    finally:
        applied.conn.network.delete_security_group(group, ignore_missing=True)


def test_a_network_created_through_the_api_becomes_a_switch_and_goes_with_it(applied: AioCloud) -> None:
    net = applied.conn.network.create_network(name=f"hatang-test-ovn-{uuid.uuid4().hex[:8]}")
    try:
        _until(f"switch of network {net.id}", lambda: net.id in _switches())
        assert net.provider_network_type == "geneve"
    finally:
        applied.conn.network.delete_network(net)
    _until(f"switch of deleted network {net.id} gone", lambda: net.id not in _switches())


def test_the_ovn_databases_listen_where_the_catalogue_says(applied: AioCloud) -> None:
    ports = catalogue().services["ovn-central"].named_ports
    address = aio.api_address(load_valid_site(AIO))
    listening = testhosts.exec_in(CONTAINER, ["ss", "-Hltn"]).stdout
    for name in ("nb", "sb"):
        assert f"{address}:{ports[name]} " in listening, (name, listening)
        # TLS only: the one network remote is pssl (role ovn_central; tests/roles/network/test_role_ovn.py
        # shows plain TCP and foreign certificates refused)
        ctl = f"/var/run/ovn/ovn{name}_db.ctl"
        remotes = testhosts.exec_in(CONTAINER, ["ovs-appctl", "-t", ctl, "ovsdb-server/list-remotes"]).stdout.split()
        assert sorted(remotes) == [f"pssl:{ports[name]}:{address}", f"punix:/var/run/ovn/ovn{name}_db.sock"], remotes
    # the clients connected over TLS: the chassis, and Neutron (a network it creates becomes a switch, above)
    chassis = testhosts.exec_in(CONTAINER, ["ovs-vsctl", "get", "open", ".", "external_ids:ovn-remote"]).stdout
    assert chassis.strip().strip('"') == f"ssl:{address}:{ports['sb']}", chassis
    ml2 = testhosts.exec_in(CONTAINER, ["cat", "/etc/neutron/plugins/ml2/ml2_conf.ini"]).stdout
    assert f"ovn_nb_connection = ssl:{address}:{ports['nb']}" in ml2, ml2
