"""What OVN enforces, against what Neutron says (HC-NET-05): the northbound database read once.

Neutron's rows are intentions; OVN's northbound database is what the chassis program into the
data plane. A logical switch port left behind, a port taken out of `neutron_pg_drop` (no default
drop: every packet passes), cleared port security, an ACL added or widened by hand: Neutron's API
shows none of them. The auditor reads the northbound tables on a controller (`ovsdb-client
transact`, RFC 7047 `select`: one read-only request, no replica kept) and compares them with the
Neutron snapshot; the comparison is a pure function, unit-tested on data.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.audit._model import CheckResult, Outcome
from infra.audit.cloud._expected import Expected
from infra.audit.cloud._result import check_result
from infra.audit.cloud._snapshot import Port, Rule, Snapshot

__all__ = [
    "DROP_GROUP",
    "NB_SOCKET",
    "OvnAcl",
    "OvnAddressSet",
    "OvnNat",
    "OvnPort",
    "OvnPortGroup",
    "OvnRoute",
    "OvnSwitch",
    "ovn_agrees_with_neutron",
    "read_northbound",
]

NB_SOCKET = "unix:/var/run/ovn/ovnnb_db.sock"
"""The northbound database's local socket on a controller (Debian's ovn-central)."""
DROP_GROUP = "neutron_pg_drop"
"""Neutron's port group whose ACLs drop what no security group allows."""
_ALLOW = frozenset({"allow", "allow-related", "allow-stateless", "pass"})
_UNFILTERED_OWNERS = ("network:floatingip",)
"""Neutron ports that have no logical switch port (a floating IP is a NAT row)."""
_COLUMNS = {
    "Logical_Switch": ["_uuid", "name", "ports", "acls", "external_ids"],
    "Logical_Switch_Port": ["_uuid", "name", "type", "port_security", "external_ids"],
    "Port_Group": ["name", "ports", "acls", "external_ids"],
    "ACL": ["_uuid", "direction", "priority", "match", "action", "external_ids"],
    "Logical_Router": ["name", "static_routes", "nat"],
    "Logical_Router_Static_Route": ["_uuid", "ip_prefix", "nexthop", "external_ids"],
    "NAT": ["_uuid", "type", "logical_ip", "external_ip", "external_ids"],
    "Address_Set": ["name", "addresses"],
}


@dataclass(frozen=True)
class OvnSwitch:
    name: str
    """`neutron-<network id>` for the switches Neutron made."""
    neutron: bool = True
    """Whether it carries Neutron's external ids."""


@dataclass(frozen=True)
class OvnPort:
    name: str
    """The Neutron port id for the ports Neutron made."""
    switch: str
    type: str = ""
    port_security: tuple[str, ...] = ()
    """Entries "MAC [IP ...]": the only source addresses OVN lets the port send from."""


@dataclass(frozen=True)
class OvnPortGroup:
    name: str
    """`pg_<security group id, - as _>`, or `neutron_pg_drop`."""
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class OvnAcl:
    id: str
    owner: str
    """The port group (or switch) the ACL is attached to."""
    direction: str
    priority: int
    match: str
    action: str
    rule_id: str = ""
    """Neutron's `neutron:security_group_rule_id`, empty when it has none."""


@dataclass(frozen=True)
class OvnRoute:
    router: str
    """The logical router: `neutron-<router id>` for Neutron's."""
    prefix: str
    nexthop: str
    gateway: bool = False
    """Neutron's default route through the router's external gateway (`neutron:is_ext_gw`)."""


@dataclass(frozen=True)
class OvnNat:
    router: str
    type: str
    """snat (the router's subnets behind its gateway address), dnat_and_snat (a floating IP), dnat."""
    logical_ip: str
    external_ip: str
    fip_id: str = ""
    """Neutron's `neutron:fip_id`, empty when it has none."""


@dataclass(frozen=True)
class OvnAddressSet:
    name: str
    """`ag_<address group id, - as _>_ip4|ip6` for Neutron's address groups."""
    addresses: tuple[str, ...] = ()


# --------------------------------------------------------------------------- reading


def _atoms(value: Any) -> list[Any]:
    """An OVSDB set (`["set", [...]]`, or one atom) as a list."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return list(value[1])
    return [value]


def _uuid(value: Any) -> str:
    return str(value[1]) if isinstance(value, list) and len(value) == 2 and value[0] == "uuid" else str(value)


def _map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value[1]} if isinstance(value, list) and value[:1] == ["map"] else {}


def read_northbound(run: Callable[[str], str]) -> dict[str, tuple[Any, ...]]:
    """The northbound tables the check compares, as Snapshot fields (`ovn_*`).

    Args:
        run: runs a shell command on a controller and returns its standard output (raises when
            the command fails).
    """
    request = ["OVN_Northbound"] + [
        {"op": "select", "table": table, "where": [], "columns": columns} for table, columns in _COLUMNS.items()
    ]
    quoted = json.dumps(request).replace("'", "'\\''")
    answer = json.loads(run(f"ovsdb-client transact {NB_SOCKET} '{quoted}'"))
    errors = [part["error"] for part in answer if isinstance(part, dict) and "error" in part]
    if errors:
        raise RuntimeError(f"the northbound database refused the read: {errors[0]}")
    switches, lsps, groups, acls, routers, routes, nats, address_sets = (part["rows"] for part in answer)
    port_names = {_uuid(p["_uuid"]): str(p["name"]) for p in lsps}
    acl_rows = {_uuid(a["_uuid"]): a for a in acls}
    owner_of_port: dict[str, str] = {}
    owner_of_acl: dict[str, str] = {}
    out_switches = []
    for s in switches:
        out_switches.append(OvnSwitch(str(s["name"]), any(k.startswith("neutron:") for k in _map(s["external_ids"]))))
        owner_of_port.update({_uuid(p): str(s["name"]) for p in _atoms(s["ports"])})
        owner_of_acl.update({_uuid(a): str(s["name"]) for a in _atoms(s["acls"])})
    out_groups = []
    for g in groups:
        members = sorted(port_names.get(_uuid(p), "?") for p in _atoms(g["ports"]))
        out_groups.append(OvnPortGroup(str(g["name"]), tuple(members)))
        owner_of_acl.update({_uuid(a): str(g["name"]) for a in _atoms(g["acls"])})
    route_rows = {_uuid(r["_uuid"]): r for r in routes}
    nat_rows = {_uuid(n["_uuid"]): n for n in nats}
    out_routes, out_nats = [], []
    for r in routers:
        name = str(r["name"])
        for ref in _atoms(r["static_routes"]):
            route = route_rows[_uuid(ref)]
            ids = _map(route["external_ids"])
            out_routes.append(OvnRoute(name, str(route["ip_prefix"]), str(route["nexthop"]),
                                       ids.get("neutron:is_ext_gw") == "true"))  # fmt: skip
        for ref in _atoms(r["nat"]):
            nat = nat_rows[_uuid(ref)]
            out_nats.append(OvnNat(name, str(nat["type"]), str(nat["logical_ip"]), str(nat["external_ip"]),
                                   _map(nat["external_ids"]).get("neutron:fip_id", "")))  # fmt: skip
    return {
        "ovn_address_sets": tuple(
            OvnAddressSet(str(a["name"]), tuple(str(x) for x in _atoms(a["addresses"]))) for a in address_sets
        ),
        "ovn_routers": tuple(str(r["name"]) for r in routers),
        "ovn_routes": tuple(out_routes),
        "ovn_nats": tuple(out_nats),
        "ovn_switches": tuple(out_switches),
        "ovn_ports": tuple(
            OvnPort(
                str(p["name"]),
                owner_of_port.get(_uuid(p["_uuid"]), ""),
                str(p["type"]),
                tuple(str(a) for a in _atoms(p["port_security"])),
            )
            for p in lsps
        ),
        "ovn_port_groups": tuple(out_groups),
        "ovn_acls": tuple(
            OvnAcl(
                uid,
                owner_of_acl.get(uid, ""),
                str(a["direction"]),
                int(a["priority"]),
                str(a["match"]),
                str(a["action"]),
                _map(a["external_ids"]).get("neutron:security_group_rule_id", ""),
            )
            for uid, a in acl_rows.items()
        ),
    }


# --------------------------------------------------------------------------- comparing


def group_name(security_group_id: str) -> str:
    """The port group Neutron's OVN driver makes for a security group."""
    return "pg_" + security_group_id.replace("-", "_")


def address_set_name(address_group_id: str, family: str) -> str:
    """The address set Neutron's OVN driver makes for one family (ip4, ip6) of an address group."""
    return f"ag_{address_group_id.replace('-', '_')}_{family}"


def _address_set_findings(snapshot: Snapshot) -> list[dict[str, Any]]:
    """An address group's sets hold its addresses of their family, no more and no fewer."""
    wanted: dict[str, set[str]] = {}
    for group in snapshot.address_groups:
        for family, version in (("ip4", 4), ("ip6", 6)):
            wanted[address_set_name(group.id, family)] = {
                str(n) for a in group.addresses if (n := ipaddress.ip_network(a, strict=False)).version == version
            }
    have = {
        a.name: {str(ipaddress.ip_network(x, strict=False)) for x in a.addresses} for a in snapshot.ovn_address_sets
    }
    out = []
    for name in sorted(wanted):
        if name not in have:
            if wanted[name]:
                out.append({"address_set": name, "problem": "address group's set missing in OVN"})
            continue
        for extra in sorted(have[name] - wanted[name]):
            out.append({"address_set": name, "problem": f"holds {extra}, which its address group does not"})
        for missing in sorted(wanted[name] - have[name]):
            out.append({"address_set": name, "problem": f"lacks {missing} of its address group"})
    out += [{"address_set": name, "problem": "address set of no Neutron address group"}
            for name in sorted(set(have) - set(wanted)) if name.startswith("ag_")]  # fmt: skip
    return out


def _terms(match: str) -> set[str] | None:
    """The conjunction's terms, or None when the match is not a plain conjunction."""
    if "||" in match:
        return None
    return {t.strip().strip("()").strip() for t in match.split("&&") if t.strip()}


def _rule_terms(rule: Rule) -> set[str]:
    """Terms every ACL rendering `rule` must have (more terms only narrow it)."""
    family = "ip6" if rule.ethertype.lower() == "ipv6" else "ip4"
    ingress = rule.direction == "ingress"
    terms = {f"{'outport' if ingress else 'inport'} == @{group_name(rule.group_id)}", family}
    side = "src" if ingress else "dst"
    if rule.remote_ip_prefix and ipaddress.ip_network(rule.remote_ip_prefix, strict=False).prefixlen:
        terms.add(f"{family}.{side} == {ipaddress.ip_network(rule.remote_ip_prefix, strict=False)}")
    if rule.remote_group_id:
        terms.add(f"{family}.{side} == ${group_name(rule.remote_group_id)}_{family}")
    if rule.remote_address_group_id:
        terms.add(f"{family}.{side} == ${address_set_name(rule.remote_address_group_id, family)}")
    protocol = (rule.protocol or "").lower()
    if protocol in {"tcp", "udp", "sctp"}:
        terms.add(protocol)
        if rule.port_min is not None and rule.port_min == rule.port_max:
            terms.add(f"{protocol}.dst == {rule.port_min}")
        elif rule.port_min is not None:
            terms |= {f"{protocol}.dst >= {rule.port_min}", f"{protocol}.dst <= {rule.port_max}"}
    return terms


def _security_findings(port: Port, lsp: OvnPort) -> list[dict[str, Any]]:
    """Port security: OVN must pin the port to its MAC and Neutron's addresses (no wider)."""
    if not port.port_security:
        return []
    if not lsp.port_security:
        return [{"port": port.id, "problem": "port security on in Neutron, empty in OVN: any source address passes"}]
    allowed = [ipaddress.ip_network(a, strict=False) for a in (*port.fixed_ips, *port.allowed_address_pairs)]
    out = []
    for entry in lsp.port_security:
        mac, *addresses = entry.split()
        if not addresses and port.fixed_ips:
            out.append({"port": port.id, "problem": f"OVN pins only the MAC ({mac}): any source IP passes"})
        for address in addresses:
            network = ipaddress.ip_network(address, strict=False)
            if not any(network.version == a.version and network.subnet_of(a) for a in allowed):  # type: ignore[arg-type]
                out.append({"port": port.id, "problem": f"OVN lets it send from {address}, not one of its addresses"})
    return out


def _port_findings(snapshot: Snapshot) -> list[dict[str, Any]]:
    networks = {n.id for n in snapshot.networks}
    lsps = {p.name: p for p in snapshot.ovn_ports}
    members = {g.name: set(g.ports) for g in snapshot.ovn_port_groups}
    neutron_groups = {group_name(r.group_id) for r in snapshot.rules}
    out: list[dict[str, Any]] = []
    ports = [p for p in snapshot.ports if p.device_owner not in _UNFILTERED_OWNERS]
    for port in ports:
        lsp = lsps.get(port.id)
        if lsp is None:
            out.append({"port": port.id, "problem": "Neutron port with no logical switch port in OVN"})
            continue
        if lsp.switch != f"neutron-{port.network_id}":
            out.append({"port": port.id, "problem": f"on switch {lsp.switch or '(none)'}, not its network's"})
        out.extend(_security_findings(port, lsp))
        if port.port_security and port.security_groups and port.id not in members.get(DROP_GROUP, set()):
            out.append({"port": port.id, "problem": f"not in {DROP_GROUP}: no default drop, every packet passes"})
        wanted = {group_name(g) for g in port.security_groups} if port.port_security else set()
        for name in sorted(wanted - {g for g, m in members.items() if port.id in m}):
            out.append({"port": port.id, "problem": f"not in port group {name} of its security group"})
        for name in sorted(g for g, m in members.items() if port.id in m and g != DROP_GROUP and g not in wanted):
            why = "of a security group it does not have" if name in neutron_groups else "Neutron does not know"
            out.append({"port": port.id, "problem": f"member of port group {name}, {why}"})
    known_ports = {p.id for p in ports}
    for lsp in snapshot.ovn_ports:
        if lsp.name in known_ports or (lsp.type == "localnet" and lsp.switch.removeprefix("neutron-") in networks):
            continue
        out.append({"port": lsp.name, "problem": f"logical switch port on {lsp.switch} with no Neutron port"})
    return out


def _acl_findings(snapshot: Snapshot) -> list[dict[str, Any]]:
    rules = {r.id: r for r in snapshot.rules}
    out: list[dict[str, Any]] = []
    enforced: set[str] = set()
    for acl in snapshot.ovn_acls:
        if acl.action not in _ALLOW:
            continue
        rule = rules.get(acl.rule_id)
        if rule is None:
            out.append({"acl": acl.id, "owner": acl.owner, "match": acl.match,
                        "problem": f"{acl.action} ACL that no Neutron rule explains"})  # fmt: skip
            continue
        if acl.owner != group_name(rule.group_id):
            out.append({"acl": acl.id, "rule": rule.id, "owner": acl.owner,
                        "problem": f"rule of {group_name(rule.group_id)} attached to {acl.owner}"})  # fmt: skip
            continue
        terms = _terms(acl.match)
        missing = sorted(_rule_terms(rule) - terms) if terms is not None else ["a plain conjunction (no ||)"]
        if missing:
            out.append({"acl": acl.id, "rule": rule.id, "match": acl.match,
                        "problem": f"wider than {rule.summary()}: lacks {' && '.join(missing)}"})  # fmt: skip
            continue
        enforced.add(rule.id)
    groups_in_use = {g.name for g in snapshot.ovn_port_groups if g.ports}
    for rule in sorted(rules.values(), key=lambda r: r.id):
        if rule.id not in enforced and group_name(rule.group_id) in groups_in_use:
            out.append({"rule": rule.id, "problem": f"Neutron rule ({rule.summary()}) with no ACL in OVN"})
    return out


def _switch_findings(snapshot: Snapshot) -> list[dict[str, Any]]:
    networks = {f"neutron-{n.id}" for n in snapshot.networks}
    switches = {s.name: s for s in snapshot.ovn_switches}
    out = [{"switch": name, "problem": "Neutron network with no logical switch in OVN"}
           for name in sorted(networks - set(switches))]  # fmt: skip
    for name, switch in sorted(switches.items()):
        if name not in networks:
            what = "left behind by a deleted network" if switch.neutron else "that Neutron does not know"
            out.append({"switch": name, "problem": f"logical switch {what}"})
    return out


_DEFAULT_ROUTES = frozenset({"0.0.0.0/0", "::/0"})


def _router_findings(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Routes and NAT: a path between networks or to the outside that Neutron did not make."""
    routers = {f"neutron-{r.id}": r for r in snapshot.routers}
    cidrs = {s.cidr: s.project_id for s in snapshot.subnets}
    floating = {f.id: f for f in snapshot.floating_ips}
    out = [{"router": name, "problem": "Neutron router with no logical router in OVN"}
           for name in sorted(set(routers) - set(snapshot.ovn_routers))]  # fmt: skip
    out += [{"router": name, "problem": "logical router that Neutron does not know"}
            for name in sorted(set(snapshot.ovn_routers) - set(routers))]  # fmt: skip
    for route in snapshot.ovn_routes:
        router = routers.get(route.router)
        if router is None:
            continue
        if route.gateway and route.prefix in _DEFAULT_ROUTES and router.gateway_network_id:
            continue
        if not route.gateway and f"{route.prefix} via {route.nexthop}" in router.routes:
            continue
        out.append({"router": route.router, "route": f"{route.prefix} via {route.nexthop}",
                    "problem": "route that Neutron's router does not have"})  # fmt: skip
    for nat in snapshot.ovn_nats:
        router = routers.get(nat.router)
        if router is None:
            continue
        if nat.type == "snat":
            if router.gateway_network_id and cidrs.get(nat.logical_ip) == router.project_id:
                continue
            problem = f"SNAT of {nat.logical_ip}, not a subnet of the router's project"
        else:
            fip = floating.get(nat.fip_id)
            if fip and fip.floating_ip == nat.external_ip and fip.fixed_ip == nat.logical_ip:
                continue
            problem = f"{nat.type} {nat.external_ip} -> {nat.logical_ip} that no floating IP explains"
        out.append({"router": nat.router, "problem": problem})
    return out


def ovn_agrees_with_neutron(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-NET-05: every network, port, port-security pin, port-group membership, ACL, address set,
    router, route and NAT in OVN's northbound database is one Neutron asked for, and none is
    missing."""
    del expected  # the comparison is between the cloud's two databases
    check_id = "ovn_agrees_with_neutron"
    if snapshot.ovn_read_from is None:
        return CheckResult(check_id, Outcome.NOT_CHECKABLE, {}, "OVN's northbound database read on a controller",
                           "OVN's northbound database was not read (give --ovn-from CONTROLLER)")  # fmt: skip
    findings = [*_switch_findings(snapshot), *_port_findings(snapshot), *_acl_findings(snapshot),
                *_router_findings(snapshot), *_address_set_findings(snapshot)]  # fmt: skip
    observed: Mapping[str, Any] = {
        "read_from": snapshot.ovn_read_from,
        "switches": len(snapshot.ovn_switches),
        "switch_ports": len(snapshot.ovn_ports),
        "port_groups": len(snapshot.ovn_port_groups),
        "acls": len(snapshot.ovn_acls),
        "routers": len(snapshot.ovn_routers),
        "routes": len(snapshot.ovn_routes),
        "nat": len(snapshot.ovn_nats),
        "address_sets": len(snapshot.ovn_address_sets),
    }
    return check_result(check_id, findings, dict(observed), {"findings": []},
                        "OVN's northbound database differs from Neutron")  # fmt: skip
