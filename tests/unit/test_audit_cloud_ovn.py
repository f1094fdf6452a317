"""HC-NET-05's reading of OVN's northbound database and its CLI (the comparison's variants are in
infra/catalogue/violations/cloud/HC-NET-05.yml, run by test_cloud_violations.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.audit import Outcome
from infra.audit.cloud._ovn import (
    NB_SOCKET,
    OvnAcl,
    OvnAddressSet,
    OvnNat,
    OvnPort,
    OvnPortGroup,
    OvnRoute,
    OvnSwitch,
    ovn_agrees_with_neutron,
    read_northbound,
)
from infra.audit.cloud._snapshot import Snapshot
from infra.cli import app
from tests.conftest import AIO

LS, LSP_VM, LSP_NET, ACL, ROUTE, NAT = (f"0000000{i}-0000-0000-0000-000000000000" for i in range(6))

ANSWER = [
    {"rows": [{"_uuid": ["uuid", LS], "name": "neutron-n1", "ports": ["set", [["uuid", LSP_VM], ["uuid", LSP_NET]]],
               "acls": ["set", []], "external_ids": ["map", [["neutron:network_name", "app"]]]}]},
    {"rows": [
        {"_uuid": ["uuid", LSP_VM], "name": "p1", "type": "", "port_security": "fa:16:3e:00:00:01 10.0.0.5",
         "external_ids": ["map", [["neutron:device_owner", "compute:nova"]]]},
        {"_uuid": ["uuid", LSP_NET], "name": "provnet-1", "type": "localnet", "port_security": ["set", []],
         "external_ids": ["map", []]},
    ]},
    {"rows": [{"name": "neutron_pg_drop", "ports": ["uuid", LSP_VM], "acls": ["uuid", ACL],
               "external_ids": ["map", []]}]},
    {"rows": [{"_uuid": ["uuid", ACL], "direction": "to-lport", "priority": 1001,
               "match": "outport == @neutron_pg_drop && ip", "action": "drop", "external_ids": ["map", []]}]},
    {"rows": [{"name": "neutron-r1", "static_routes": ["uuid", ROUTE], "nat": ["set", [["uuid", NAT]]]}]},
    {"rows": [{"_uuid": ["uuid", ROUTE], "ip_prefix": "0.0.0.0/0", "nexthop": "198.51.100.1",
               "external_ids": ["map", [["neutron:is_ext_gw", "true"], ["neutron:is_static_route", "true"]]]}]},
    {"rows": [{"_uuid": ["uuid", NAT], "type": "dnat_and_snat", "logical_ip": "10.0.0.5", "external_ip": "198.51.100.7",
               "external_ids": ["map", [["neutron:fip_id", "f1"]]]}]},
    {"rows": [{"name": "ag_g1_ip4", "addresses": ["set", ["10.0.0.0/24", "10.1.0.5"]]},
              {"name": "ag_g1_ip6", "addresses": ["set", []]}]},
]  # fmt: skip
"""What `ovsdb-client transact` prints for the four selects: one atom where a set has one member."""


def test_read_northbound_reads_sets_maps_and_single_atoms() -> None:
    asked: list[str] = []

    def run(command: str) -> str:
        asked.append(command)
        return json.dumps(ANSWER)

    tables = read_northbound(run)
    (command,) = asked
    assert command.startswith(f"ovsdb-client transact {NB_SOCKET} '[\"OVN_Northbound\", ")
    request = json.loads(command.split(" ", 3)[3].strip("'"))
    assert [op["table"] for op in request[1:]] == [
        "Logical_Switch", "Logical_Switch_Port", "Port_Group", "ACL", "Logical_Router", "Logical_Router_Static_Route",
        "NAT", "Address_Set",
    ]  # fmt: skip
    assert all(op["op"] == "select" for op in request[1:]), "read only"
    assert tables["ovn_switches"] == (OvnSwitch("neutron-n1", True),)
    assert tables["ovn_ports"] == (
        OvnPort("p1", "neutron-n1", "", ("fa:16:3e:00:00:01 10.0.0.5",)),
        OvnPort("provnet-1", "neutron-n1", "localnet", ()),
    )
    assert tables["ovn_port_groups"] == (OvnPortGroup("neutron_pg_drop", ("p1",)),)
    assert tables["ovn_address_sets"] == (
        OvnAddressSet("ag_g1_ip4", ("10.0.0.0/24", "10.1.0.5")), OvnAddressSet("ag_g1_ip6", ()),
    )
    assert tables["ovn_routers"] == ("neutron-r1",)
    assert tables["ovn_routes"] == (OvnRoute("neutron-r1", "0.0.0.0/0", "198.51.100.1", gateway=True),)
    assert tables["ovn_nats"] == (OvnNat("neutron-r1", "dnat_and_snat", "10.0.0.5", "198.51.100.7", "f1"),)
    assert tables["ovn_acls"] == (
        OvnAcl(ACL, "neutron_pg_drop", "to-lport", 1001, "outport == @neutron_pg_drop && ip", "drop", ""),
    )


def test_read_northbound_raises_on_an_ovsdb_error() -> None:
    answer = [{"error": "unknown table", "details": "No table named ACLs."}]
    with pytest.raises(RuntimeError, match="the northbound database refused the read: unknown table"):
        read_northbound(lambda _: json.dumps(answer))


def test_unread_ovn_is_not_checkable_never_passed() -> None:
    result = ovn_agrees_with_neutron(None, Snapshot())  # type: ignore[arg-type]
    assert result.outcome is Outcome.NOT_CHECKABLE
    assert "--ovn-from" in result.message


def test_read_but_empty_ovn_fails_for_every_neutron_network() -> None:
    from infra.audit.cloud._snapshot import Network

    snapshot = Snapshot(networks=(Network("n1", "app", "p1"),), ovn_read_from="aio1")
    result = ovn_agrees_with_neutron(None, snapshot)  # type: ignore[arg-type]
    assert result.outcome is Outcome.FAIL
    missing = {"switch": "neutron-n1", "problem": "Neutron network with no logical switch in OVN"}
    assert result.observed["findings"] == [missing]


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("nosuch", "--ovn-from: 'nosuch' is not a controller of site aio; controllers: aio1"),
        ("", "--ovn-from: '' is not a controller of site aio; controllers: aio1"),
    ],
)
def test_ovn_from_a_host_that_is_no_controller_is_exit_2_before_the_cloud(
    host: str, message: str, tmp_path: Path
) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds: {x: {auth: {auth_url: 'http://127.0.0.1:1/v3'}}}\n")
    result = CliRunner().invoke(app, ["audit", "cloud", "--cloud", "x", "--clouds-yaml", str(clouds), "-i", str(AIO),
                                      "-p", "new-level3", "--ovn-from", host, "-c", "podman"])  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
