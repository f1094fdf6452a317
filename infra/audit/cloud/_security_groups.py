"""The security-group checks (HC-SG-01, HC-SG-02): rules read as Neutron applies them.

Protocols, port ranges and prefixes are read with `infra.policy`, as the Pulumi policy pack
reads them; what a rule admits is a set of networks, and the world is any set whose union
(`ipaddress.collapse_addresses`) leaves no address of a family out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from infra.audit._model import CheckResult
from infra.audit.cloud._expected import Expected, prefix_label
from infra.audit.cloud._result import check_result
from infra.audit.cloud._snapshot import AddressGroup, Port, Rule, Snapshot
from infra.policy import (
    ADMIN_PORTS,
    admin_openings,
    remote_networks,
    rule_ports,
    rule_protocol,
    world_cover,
    world_families,
)

__all__ = ["no_world_open_admin_ports", "security_group_rules_dual_stack"]

ICMP_NUMBERS = {1, 58}
"""ICMP and ICMPv6: one protocol for pairing the families."""

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _family(ethertype: str) -> int | None:
    return {"ipv4": 4, "ipv6": 6}.get((ethertype or "").strip().lower())


def _admitted(
    rule: Rule, members: Mapping[str, list[Port]], address_groups: Mapping[str, AddressGroup]
) -> tuple[Net, ...]:
    """The source addresses an ingress rule admits, failing closed.

    A remote prefix (none: the ethertype's whole family); a remote address group's addresses
    (unknown group: everything); a remote security group's members' fixed IPs and allowed
    address pairs (a member allowed to send from 0.0.0.0/0 brings the world in with it), of the
    rule's family as Neutron filters them.
    """
    if rule.remote_group_id:
        family = _family(rule.ethertype)
        found = [
            n
            for port in members.get(rule.remote_group_id, [])
            for address in (*port.fixed_ips, *port.allowed_address_pairs)
            for n in remote_networks(address)
        ]
        return tuple(n for n in found if family is None or n.version == family)
    if rule.remote_address_group_id:
        group = address_groups.get(rule.remote_address_group_id)
        if group is None:
            return remote_networks("not read")
        return tuple(n for address in group.addresses for n in remote_networks(address))
    return remote_networks(rule.remote_ip_prefix, rule.ethertype)


def _rule_scopes(snapshot: Snapshot) -> dict[str, set[str]]:
    """Security group id -> the projects whose ports it may filter: its owner's, and those it is
    shared with by RBAC (every project for '*'). Groups filtering one port add up."""
    every = {p.id for p in snapshot.projects}
    scopes: dict[str, set[str]] = {}
    for rule in snapshot.rules:
        scopes.setdefault(rule.group_id, set()).add(rule.project_id)
    for r in snapshot.rbac:
        if r.object_type == "security_group" and r.object_id in scopes:
            scopes[r.object_id] |= every if r.target == "*" else {r.target}
    return scopes


def _names(families: list[int]) -> str:
    return " and ".join(f"IPv{v}" for v in families)


def no_world_open_admin_ports(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-SG-01: no ingress rule, alone or with others, lets every address reach an admin port.

    Protocols and port ranges are read as the policy pack reads them (`infra.policy`): `6`/`"TCP"`
    is tcp, sctp/dccp/udplite carry ports, no protocol or no range opens every port, `0::/0` is
    the world. The world is also two /1s, a v4 rule plus a v6 rule, or any set of prefixes whose
    union leaves no address out, across the rules of every group that can filter the same port
    (a project's own groups and those shared with it), a remote security group one of whose
    members may send from any address, or an address group holding the world. A port of an agency
    project without port security is filtered by no group at all.
    """
    findings: list[dict[str, Any]] = []
    openings: dict[tuple[str, int, int], list[tuple[Rule, tuple[Net, ...]]]] = {}
    alone_of: dict[str, list[int]] = {}
    scopes = _rule_scopes(snapshot)
    members: dict[str, list[Port]] = {}
    for member in snapshot.ports:
        for group_id in member.security_groups:
            members.setdefault(group_id, []).append(member)
    address_groups = {g.id: g for g in snapshot.address_groups}
    for rule in snapshot.rules:
        if rule.direction.strip().lower() == "egress":
            continue  # Neutron knows ingress and egress: anything else is read as ingress
        admitted = _admitted(rule, members, address_groups)
        opened = admin_openings(rule.protocol, rule.port_min, rule.port_max)
        if not opened:
            continue
        families = alone_of[rule.id] = world_families(admitted)
        if families:
            ports = sorted({port for _, port in opened})
            findings.append(
                {
                    "project": snapshot.project_name(rule.project_id),
                    "security_group": rule.group_name,
                    "rule": rule.id,
                    "summary": rule.summary(),
                    "admin_ports": [f"{p}/{ADMIN_PORTS[p]}" for p in ports],
                    "world": _names(families),
                }
            )
        for project in sorted(scopes.get(rule.group_id, {rule.project_id})):
            for proto, port in opened:
                openings.setdefault((project, proto, port), []).append((rule, admitted))
    combined: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    covers: dict[tuple[str, ...], dict[int, list[int]]] = {}  # many ports share one set of rules
    for (project, _proto, port), rules in sorted(openings.items()):
        alone = {v for r, _ in rules for v in alone_of[r.id]}
        if len(alone) == 2 or len(rules) < 2:
            continue  # every family already reported by a rule alone, or a single rule
        key = tuple(r.id for r, _ in rules)
        if key not in covers:
            covers[key] = world_cover([admitted for _, admitted in rules])
        cover = {v: i for v, i in covers[key].items() if v not in alone}
        if not cover:
            continue
        together = sorted(cover)
        rules = sorted({rules[i] for indexes in cover.values() for i in indexes}, key=lambda ra: ra[0].id)
        ids = tuple(r.id for r, _ in rules)
        entry = combined.setdefault(
            (project, ids),
            {
                "project": snapshot.project_name(project),
                "security_groups": sorted({r.group_name for r, _ in rules}),
                "rules": list(ids),
                "summary": [r.summary() for r, _ in sorted(rules, key=lambda ra: ra[0].id)],
                "admin_ports": set(),
                "world": set(),
                "problem": "together these rules admit every address",
            },
        )
        entry["admin_ports"].add(port)
        entry["world"].update(together)
    for entry in combined.values():
        entry["summary"] = list(dict.fromkeys(entry["summary"]))
        entry["admin_ports"] = [f"{p}/{ADMIN_PORTS[p]}" for p in sorted(entry["admin_ports"])]
        entry["world"] = _names(sorted(entry["world"]))
        findings.append(entry)
    agency = {p.id for p in snapshot.projects_in(expected.domain)}
    for unfiltered in snapshot.ports:
        if (
            not unfiltered.port_security
            and unfiltered.project_id in agency
            and not unfiltered.device_owner.startswith("network:")
        ):
            findings.append(
                {
                    "project": snapshot.project_name(unfiltered.project_id),
                    "port": unfiltered.id,
                    "network": snapshot.network_name(unfiltered.network_id),
                    "problem": "port security disabled: no security group filters it, every port is open",
                }
            )
    return check_result(
        "no_world_open_admin_ports",
        findings,
        {"rules_checked": len(snapshot.rules)},
        {"findings": [], "admin_ports": {str(p): n for p, n in sorted(ADMIN_PORTS.items())}},
        "administration or database ports open to the world",
    )


def _family_neutral(rule: Rule, prefixes: Mapping[str, str]) -> tuple[Any, ...]:
    """What a rule does, without its address family: the key its twin in the other family shares.

    The protocol as a number (`"6"`, `"TCP"`, 6 are tcp; icmp and ipv6-icmp are one; every protocol
    however written), the port range as Neutron applies it (none: every port), the remote as the
    site model pairs the families.
    """
    number = rule_protocol(rule.protocol)
    protocol: Any = "icmp" if number in ICMP_NUMBERS else number
    ports: Any = rule_ports(rule.protocol, rule.port_min, rule.port_max)
    if ports is None:  # ICMP type/code and the like, compared as given
        ports = (rule.port_min, rule.port_max)
    if rule.remote_group_id:
        remote: Any = ("group", rule.remote_group_id)
    elif rule.remote_address_group_id:
        remote = ("address group", rule.remote_address_group_id)
    else:
        remote = prefix_label(rule.remote_ip_prefix, prefixes)
        if remote.startswith("other:"):
            remote = "other"
    direction = rule.direction.strip().lower()
    return (rule.group_id, direction, protocol, ports, remote)


def security_group_rules_dual_stack(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-SG-02: every rule has its twin in the other family (same group, direction, protocol,
    ports; the remote prefix's counterpart as the site model pairs them). Protocols and ports are
    compared as Neutron reads them, not as written."""
    by_family: dict[str, dict[tuple[Any, ...], Rule]] = {"IPv4": {}, "IPv6": {}}
    for rule in snapshot.rules:
        family = {4: "IPv4", 6: "IPv6"}.get(_family(rule.ethertype) or 0)
        if family is not None:
            by_family[family].setdefault(_family_neutral(rule, expected.prefixes), rule)
    findings = []
    for family, other in (("IPv4", "IPv6"), ("IPv6", "IPv4")):
        for key, rule in sorted(by_family[family].items(), key=lambda kv: kv[1].id):
            if key not in by_family[other]:
                findings.append(
                    {
                        "project": snapshot.project_name(rule.project_id),
                        "security_group": rule.group_name,
                        "rule": rule.id,
                        "summary": rule.summary(),
                        "missing": other,
                    }
                )
    return check_result(
        "security_group_rules_dual_stack",
        findings,
        {"ipv4_rules": len(by_family["IPv4"]), "ipv6_rules": len(by_family["IPv6"])},
        {"findings": [], "pairs": "0.0.0.0/0 with ::/0; each zone's, pool's and allocation's IPv4 with its IPv6"},
        "rules without a twin in the other address family",
    )
