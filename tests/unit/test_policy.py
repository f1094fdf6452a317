"""The flow policy query that the firewall, the security groups and the audit share."""

from __future__ import annotations

import ipaddress

from infra.policy import FlowPolicy, port_ranges
from infra.site import load_site
from tests.conftest import SAMPLE


def policy() -> FlowPolicy:
    return FlowPolicy(load_site(SAMPLE))


def test_allows_listed_flow() -> None:
    assert policy().allows("mgmt", "mgmt", "tcp", 22)
    assert policy().allows("api", "api", "tcp", 3306)
    assert policy().allows("storage", "storage", "tcp", 6900), "inside the range 6800-7300"


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
    compute = {f.name for f in p.flows_to("api", ("compute",))}
    controllers = {f.name for f in p.flows_to("api", ("controllers",))}
    assert compute == {"live-migration"}
    assert {"database", "message-queue", "internal-api", "engineers-api"} <= controllers
    assert "live-migration" not in controllers


def test_networks_of_endpoints() -> None:
    p = policy()
    assert p.networks("any") == (ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0"))
    assert p.networks("tenants")[0] == ipaddress.IPv4Network("10.64.0.0/12")
    assert p.networks("mgmt") == (ipaddress.IPv4Network("10.20.1.0/24"), ipaddress.IPv6Network("fdb4:7e10:1:11::/64"))


def test_port_ranges_sorted() -> None:
    site = load_site(SAMPLE)
    flow = next(f for f in site.flows if f.name == "live-migration")
    assert [str(r) for r in port_ranges(flow)] == ["16509", "49152-49215"]


def test_sample_has_no_world_open_admin_port() -> None:
    assert policy().world_open_admin_ports() == []
