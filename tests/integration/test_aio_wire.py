"""Segmentation on the wire: packets between endpoints on the AIO's OVN (marker `aio`).

The tenants are the AIO site's, created by the tenant programs (`applied`); the endpoints are
Neutron ports of theirs plugged into network namespaces of the AIO host (tests/integration/
_wire.py), so every packet goes through OVN's logical switches, routers and ACLs as a guest's
would. Each proof is in IPv4 and IPv6, and each is shown failing when the rule it relies on is
taken away, so none passes by accident.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

import openstack
import pytest

from infra.audit.cloud._probes import Prober, strong_password
from infra.schema import Zone
from infra.validate import load_valid_site
from tests.conftest import AIO
from tests.integration._wire import Endpoint, Wire, default_group, gateways, project_of, router_of, until

pytestmark = pytest.mark.aio

ALLOWED = 8080
OTHER = 8081
FAMILIES = (4, 6)


def _network(conn: Any, project: Any, name: str) -> Any:
    (found,) = conn.network.networks(project_id=project.id, name=name)
    return found


def _cidrs(conn: Any, network: Any) -> dict[int, str]:
    return {s.ip_version: s.cidr for s in conn.network.subnets(network_id=network.id)}


def _open_to_all(plugs: Wire, project: Any) -> Any:
    """The worst a tenant can do to itself: every port, from anywhere, both families."""
    return plugs.group(project, [{"ethertype": "IPv4", "remote_ip_prefix": "0.0.0.0/0"},
                                 {"ethertype": "IPv6", "remote_ip_prefix": "::/0"}])  # fmt: skip


def _reached(client: Endpoint, server: Endpoint, port: int) -> dict[int, bool]:
    return {v: client.reaches(server.address(v), port) for v in FAMILIES}


def test_endpoints_get_their_addresses_from_ovn_dhcp_and_router_advertisements(plugs: Wire) -> None:
    """The IPv4 lease is OVN's native DHCP answer (the port's fixed address), the IPv6 address the
    kernel's SLAAC from the router's advertisements; with DHCP off on the subnet, no lease. A
    port in no group sends nothing at all (port security drops even its DHCP request): the
    endpoint is in a new group, which allows only egress."""
    conn = plugs.conn
    project = project_of(conn, "so-yte")
    network = _network(conn, project, "app")
    egress = plugs.group(project, [])
    endpoint = plugs.plug(project, network, [egress])  # the checks are in plug()
    gateway = {s.ip_version: s.gateway_ip for s in conn.network.subnets(network_id=network.id)}
    assert endpoint.pings(gateway[4]), "the router answers on the tenant's IPv4 gateway"
    routes = endpoint.run("ip -6 route show default").stdout
    assert "via fe80::" in routes, f"a default route learnt from the router's advertisement: {routes!r}"

    (v4,) = conn.network.subnets(network_id=network.id, ip_version=4)
    conn.network.update_subnet(v4, is_dhcp_enabled=False)
    plugs.cleanups.append(lambda: conn.network.update_subnet(v4, is_dhcp_enabled=True))
    late = plugs.plug(project, network, [egress], dhcp=False)
    assert late.dhcp().returncode != 0, "a lease came with DHCP off on the subnet"
    assert late.addresses(4) == set()


def test_a_tenants_group_lets_its_endpoints_reach_each_other_on_its_ports_only(plugs: Wire) -> None:
    conn = plugs.conn
    project = project_of(conn, "so-khcn")
    network = _network(conn, project, "app")
    cidrs = _cidrs(conn, network)
    peers = plugs.group(project, [
        {"ethertype": f"IPv{v}", "protocol": "tcp", "port_range_min": ALLOWED, "port_range_max": ALLOWED,
         "remote_ip_prefix": cidrs[v]}
        for v in FAMILIES
    ])  # fmt: skip
    server = plugs.plug(project, network, [peers])
    client = plugs.plug(project, network, [default_group(conn, project)])
    server.listen(ALLOWED, OTHER)
    assert server.reaches("127.0.0.1", OTHER) and server.reaches("::1", OTHER), "the listeners answer locally"

    assert _reached(client, server, ALLOWED) == {4: True, 6: True}
    assert _reached(client, server, OTHER) == {4: False, 6: False}

    # The failing variant: a second rule that widens the first lets the other port through.
    for version in FAMILIES:
        conn.network.create_security_group_rule(
            security_group_id=peers.id, direction="ingress", ethertype=f"IPv{version}", protocol="tcp",
            remote_ip_prefix=cidrs[version],
        )  # fmt: skip
    assert _reached(client, server, OTHER) == {4: True, 6: True}, "the widening rule is not enforced"


def test_an_endpoint_of_one_tenant_reaches_no_address_of_another(plugs: Wire) -> None:
    """so-yte opens its endpoint to the world; so-khcn's endpoint still reaches none of so-yte's
    addresses, its endpoint's nor its router's: the tenants' routers share no route. The failing
    variant gives them one (an engineer's static route between the routers' gateways)."""
    conn = plugs.conn
    khcn, yte = project_of(conn, "so-khcn"), project_of(conn, "so-yte")
    khcn_web, yte_app = _network(conn, khcn, "web"), _network(conn, yte, "app")
    server = plugs.plug(yte, yte_app, [_open_to_all(plugs, yte)])
    client = plugs.plug(khcn, khcn_web, [default_group(conn, khcn)])
    server.listen(ALLOWED)
    yte_gateways = {s.ip_version: s.gateway_ip for s in conn.network.subnets(network_id=yte_app.id)}

    assert _reached(client, server, ALLOWED) == {4: False, 6: False}
    assert not any(client.pings(a) for a in [*yte_gateways.values(), server.address(4), server.address(6)])

    khcn_router, yte_router = router_of(conn, khcn_web), router_of(conn, yte_app)
    _route_between(plugs, khcn_router, yte_router, _cidrs(conn, khcn_web), _cidrs(conn, yte_app))
    assert _reached(client, server, ALLOWED) == {4: True, 6: True}, "a route between the tenants' routers"


def _route_between(plugs: Wire, a: Any, b: Any, a_cidrs: dict[int, str], b_cidrs: dict[int, str]) -> None:
    """Static routes both ways between two routers on the same provider network, undone after."""
    conn = plugs.conn
    a_gw, b_gw = gateways(a), gateways(b)
    families = sorted(set(a_gw) & set(b_gw) & set(FAMILIES))
    assert families == [4, 6], f"the routers' gateways are dual-stack on one provider network: {a_gw} {b_gw}"
    to_b = [{"destination": b_cidrs[v], "nexthop": b_gw[v]} for v in families]
    to_a = [{"destination": a_cidrs[v], "nexthop": a_gw[v]} for v in families]
    conn.network.add_extra_routes_to_router(a, body={"router": {"routes": to_b}})
    plugs.cleanups.append(lambda: conn.network.remove_extra_routes_from_router(a, body={"router": {"routes": to_b}}))
    conn.network.add_extra_routes_to_router(b, body={"router": {"routes": to_a}})
    plugs.cleanups.append(lambda: conn.network.remove_extra_routes_from_router(b, body={"router": {"routes": to_a}}))


def _zone(name: str) -> Zone:
    (zone,) = [z for z in load_valid_site(AIO).zones if z.name == name]
    return zone


def _route_back(standin: Endpoint, router: Any, cidrs: dict[int, str]) -> None:
    """What the zone's network does for a tenant routed to it: the tenant's prefixes via the
    router's gateway on the zone (the TSLCD side routes the pools it allocated)."""
    for version, gateway in gateways(router).items():
        done = standin.run(f"ip -{version} route replace {cidrs[version]} via {gateway}")
        assert done.returncode == 0, done.stderr


def _unallocated(conn: Any, network: Any) -> str:
    """An IPv4 address of the network's subnet that no port holds (Neutron allocates at random, so
    a fixed choice can be a peer's own address)."""
    taken = {ip["ip_address"] for port in conn.network.ports(network_id=network.id) for ip in port.fixed_ips}
    pool = ipaddress.ip_network(_cidrs(conn, network)[4])
    return next(str(a) for a in reversed(list(pool.hosts())) if str(a) not in taken)


def test_a_tenant_granted_gov_reaches_it_and_one_without_the_grant_cannot(plugs: Wire) -> None:
    """so-khcn's app network is granted gov: its endpoint reaches the gov stand-in, in both
    families. so-yte has no gov grant: its endpoint reaches nothing there, its router cannot be
    attached to gov (Neutron refuses a member of so-yte), and an address it spoofs is dropped by
    port security; without port security the spoofed packet leaves its port."""
    conn = plugs.conn
    khcn, yte = project_of(conn, "so-khcn"), project_of(conn, "so-yte")
    gov = plugs.standin(_zone("gov"))
    gov.listen(443)
    khcn_app, yte_app = _network(conn, khcn, "app"), _network(conn, yte, "app")
    granted = plugs.plug(khcn, khcn_app, [default_group(conn, khcn)])
    refused = plugs.plug(yte, yte_app, [default_group(conn, yte)])
    _route_back(gov, router_of(conn, khcn_app), _cidrs(conn, khcn_app))

    assert _reached(granted, gov, 443) == {4: True, 6: True}
    assert _reached(refused, gov, 443) == {4: False, 6: False}
    assert not any(refused.pings(gov.address(v)) for v in FAMILIES)

    (gov_net,) = conn.network.networks(name="ext-gov")
    prober = Prober.from_connection(conn)
    password = strong_password()
    with prober.throwaway_user("wire", password=password) as user:
        prober.grant(user, yte.id)
        member = prober.connect_as(user, password, yte.id)
        try:
            with pytest.raises(openstack.exceptions.NotFoundException):
                member.network.create_router(name="hatang-wire-gov", external_gateway_info={"network_id": gov_net.id})
        finally:
            member.close()

    # Spoofing: so-yte's endpoint takes a second address of its subnet, one Neutron did not give it.
    peer = plugs.plug(yte, yte_app, [_open_to_all(plugs, yte)])  # its group admits any source
    spoofed = _unallocated(conn, yte_app)
    assert refused.run(f"ip addr add {spoofed}/32 dev {refused.device}").returncode == 0
    assert refused.run(f"ping -c 1 -W 2 -I {spoofed} {peer.address(4)}", timeout=20).returncode != 0, (
        "port security let a spoofed source through"
    )
    conn.network.update_port(refused.port, security_group_ids=[], port_security_enabled=False)
    plugs.cleanups.append(lambda: conn.network.update_port(refused.port, port_security_enabled=True))
    until("a spoofed source passes once port security is off", lambda: refused.run(
        f"ping -c 1 -W 2 -I {spoofed} {peer.address(4)}", timeout=20).returncode == 0, 20)  # fmt: skip


def test_from_the_gov_stand_in_only_the_flows_ports_reach_a_tenant(plugs: Wire) -> None:
    """The tenant's own groups, from the site's flows: from gov, tcp 443 reaches so-khcn's endpoint
    and SSH (22) and a database port (3306) do not; the failing variant is a rule for SSH from gov."""
    conn = plugs.conn
    khcn = project_of(conn, "so-khcn")
    network = _network(conn, khcn, "app")
    (from_gov,) = conn.network.security_groups(project_id=khcn.id, name="from-gov")
    server = plugs.plug(khcn, network, [from_gov])
    server.listen(443, 22, 3306)
    gov = plugs.standin(_zone("gov"))
    _route_back(gov, router_of(conn, network), _cidrs(conn, network))

    assert _reached(gov, server, 443) == {4: True, 6: True}
    assert _reached(gov, server, 22) == {4: False, 6: False}
    assert _reached(gov, server, 3306) == {4: False, 6: False}

    zone = _zone("gov")
    for version, prefix in ((4, zone.ipv4), (6, zone.ipv6)):
        rule = conn.network.create_security_group_rule(
            security_group_id=from_gov.id, direction="ingress", ethertype=f"IPv{version}", protocol="tcp",
            port_range_min=22, port_range_max=22, remote_ip_prefix=str(prefix),
        )  # fmt: skip
        plugs.cleanups.append(functools.partial(conn.network.delete_security_group_rule, rule, ignore_missing=True))
    assert _reached(gov, server, 22) == {4: True, 6: True}, "a rule for SSH from gov is not enforced"
