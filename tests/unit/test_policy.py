"""The flow policy query that the firewall, the security groups and the audit share."""

from __future__ import annotations

import ipaddress

import pytest

from infra.policy import (
    ADMIN_PORTS,
    PORT_PROTOCOLS,
    FlowPolicy,
    admin_openings,
    admin_ports_opened,
    port_ranges,
    remote_networks,
    rule_ports,
    world_cover,
    world_families,
)
from infra.site import load_site
from tests.conftest import SAMPLE
from tests.unit._lab import lab_site


def policy() -> FlowPolicy:
    return FlowPolicy(load_site(SAMPLE))


def test_allows_listed_flow() -> None:
    assert policy().allows("mgmt", "mgmt", "tcp", 22)
    assert policy().allows("api", "api", "tcp", 3306)
    assert FlowPolicy(lab_site()).allows("storage", "storage", "tcp", 7200), "inside the range 7100-7300"


def test_denies_everything_else() -> None:
    p = policy()
    assert not p.allows("gov", "api", "tcp", 22), "SSH only from mgmt"
    assert not p.allows("any", "api", "tcp", 443)
    assert not p.allows("gov", "internet", "tcp", 443)
    assert not p.allows("api", "api", "udp", 3306), "protocol must match"
    assert not p.allows("mgmt", "api", "tcp", 3306), "the database is not an engineers' port"


def test_icmp_without_ports() -> None:
    assert policy().allows("mgmt", "mgmt", "icmp")
    assert not policy().allows("gov", "mgmt", "icmp")


def test_flows_to_respects_groups() -> None:
    p = policy()
    compute = {f.name for f in p.flows_to("storage", ("compute",))}
    storage = {f.name for f in p.flows_to("storage", ("storage",))}
    controllers = {f.name for f in p.flows_to("api", ("controllers",))}
    assert (compute, storage) == (set(), {"storage-cluster"})
    assert {"database", "message-queue", "internal-api", "engineers-api"} <= controllers


def test_networks_of_endpoints() -> None:
    p = policy()
    assert p.networks("any") == (ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
    assert p.networks("tenants")[0] == ipaddress.IPv4Network("10.64.0.0/12")
    assert p.networks("mgmt") == (ipaddress.IPv4Network("10.20.1.0/24"), ipaddress.IPv6Network("fdb4:7e10:1:11::/64"))


def test_port_ranges_sorted() -> None:
    flow = next(f for f in lab_site().flows if f.name == "storage-cluster")
    assert [str(r) for r in port_ranges(flow)] == ["3260", "7100-7300"]


def test_sample_has_no_world_open_admin_port() -> None:
    assert policy().world_open_admin_ports() == []


# ----------------------------------------------------------------------------- reading a security-group rule


@pytest.mark.parametrize(
    ("protocol", "low", "high", "ports"),
    [
        ("tcp", 22, 22, (22, 22)),
        ("6", None, None, (1, 65535)),
        ("TCP", 25, 20, (20, 25)),
        ("udp", 53, None, (53, 65535)),
        ("sctp", 3868, 3868, (3868, 3868)),
        ("132", None, None, (1, 65535)),
        ("DCCP", 1, 100, (1, 100)),
        (33, 5, 5, (5, 5)),
        ("udplite", 9, 9, (9, 9)),
        ("136", 0, 0, (1, 65535)),
        (None, None, None, (1, 65535)),
        ("any", 22, 22, (1, 65535)),
        ("tcpx", 22, 22, (1, 65535)),  # unreadable: every protocol, every port
        ("icmp", 8, 0, None),
        ("gre", None, None, None),
    ],
)
def test_rule_ports_reads_ranges_as_neutron_applies_them(
    protocol: object, low: object, high: object, ports: tuple[int, int] | None
) -> None:
    assert rule_ports(protocol, low, high) == ports


def test_sctp_dccp_udplite_are_port_protocols_by_name_and_number() -> None:
    assert {6, 17, 33, 132, 136} == PORT_PROTOCOLS
    for protocol in ("sctp", "SCTP", "132", 132, "dccp", "33", 33.0, "udplite", "UDPLITE", "136"):
        assert admin_ports_opened(protocol, 22, 22) == [22], protocol
    assert admin_openings(None, None, None) == {(p, port) for p in PORT_PROTOCOLS for port in ADMIN_PORTS}


@pytest.mark.parametrize(
    ("prefix", "ethertype", "networks"),
    [
        (None, "IPv4", ["0.0.0.0/0"]),
        ("", "ipv6", ["::/0"]),
        (None, "bogus", ["0.0.0.0/0", "::/0"]),
        ("junk", "IPv4", ["0.0.0.0/0", "::/0"]),
        (" 10.1.2.3/8 ", "IPv4", ["10.0.0.0/8"]),
        ("0::/0", "IPv4", ["::/0"]),  # the prefix says what it admits, whatever the ethertype
    ],
)
def test_remote_networks_fail_closed(prefix: object, ethertype: str, networks: list[str]) -> None:
    assert [str(n) for n in remote_networks(prefix, ethertype)] == networks


@pytest.mark.parametrize(
    ("prefixes", "families"),
    [
        (["0.0.0.0/0"], [4]),
        (["0.0.0.0/1", "128.0.0.0/1"], [4]),
        (["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"], [4]),
        (["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/3"], [4]),
        (["0.0.0.0/1", "::/0"], [6]),
        (["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"], [4, 6]),
        (["0.0.0.0/1", "128.0.0.0/2"], []),
        (["0.0.0.0/1", "::/1"], []),
        ([], []),
    ],
)
def test_world_families_sees_the_world_in_pieces(prefixes: list[str], families: list[int]) -> None:
    assert world_families([ipaddress.ip_network(p) for p in prefixes]) == families


def test_world_cover_names_only_the_rules_that_make_the_world() -> None:
    admitted = [
        (ipaddress.ip_network("10.0.0.0/8"),),
        (ipaddress.ip_network("0.0.0.0/1"),),
        (ipaddress.ip_network("128.0.0.0/1"),),
        (ipaddress.ip_network("fd00::/8"),),
    ]
    assert world_cover(admitted) == {4: [1, 2]}
    assert world_cover(admitted[:2]) == {}
