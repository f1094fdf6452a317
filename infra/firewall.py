"""A host's nftables input policy, derived from the site's zones and flows.

One `inet` table covers IPv4 and IPv6. The input chain drops by default; it accepts established
traffic, loopback and IPv6 neighbour discovery, then sends each packet to the chain of its
source zone (`from-<zone>`, matched on the zone's IPv4 and IPv6 ranges). Each flow that reaches
the host is exactly one accept rule in its source chain, matching the interface(s) of the
destination zone on this host and the flow's protocol and ports, commented with the flow name.
So a flow is one rule in both address families, and an auditor can map rules to flows 1:1.

The role `firewall` only renders this data (hostvar `hatang_firewall`, set by the inventory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.errors import HatangError
from infra.hostnet import attachments
from infra.policy import FlowPolicy, port_ranges
from infra.schema import ENDPOINT_ANY, Flow, ZoneKind
from infra.site import Host, Site

__all__ = ["SSH_PORT", "FirewallError", "Rule", "Ruleset", "SourceChain", "ruleset"]

SSH_PORT = 22

_L4 = {"icmp": "meta l4proto { icmp, ipv6-icmp }", "vrrp": "meta l4proto vrrp"}


class FirewallError(HatangError):
    """The flows would give a host a firewall that breaks a control (e.g. SSH from outside mgmt)."""


@dataclass(frozen=True)
class SourceChain:
    """Where packets from one flow source go: chain `name`, selected by the source's ranges."""

    name: str
    source: str
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One allowed flow on one host: a single nftables accept rule."""

    flow: str
    chain: str
    interfaces: tuple[str, ...]
    protocol: str
    ports: tuple[str, ...]
    reason: str

    @property
    def opens_ssh(self) -> bool:
        """Whether the rule accepts tcp/22 (allowed in the mgmt zone's chain only)."""
        return self.protocol == "tcp" and any(SSH_PORT in r for r in _ranges(self.ports))

    @property
    def match(self) -> str:
        """The rule's match expression (without the verdict and comment)."""
        if len(self.interfaces) == 1:
            parts = [f'iifname "{self.interfaces[0]}"']
        else:
            parts = ["iifname { " + ", ".join(f'"{i}"' for i in self.interfaces) + " }"]
        if self.protocol in _L4:
            parts.append(_L4[self.protocol])
        else:
            ports = self.ports[0] if len(self.ports) == 1 else "{ " + ", ".join(self.ports) + " }"
            parts.append(f"{self.protocol} dport {ports}")
        return " ".join(parts)

    @property
    def nft(self) -> str:
        """The complete rule as it appears in `nft list ruleset`."""
        return f'{self.match} accept comment "{self.flow}"'


@dataclass(frozen=True)
class Ruleset:
    """The input policy of one host."""

    host: str
    chains: tuple[SourceChain, ...]
    rules: tuple[Rule, ...]
    mgmt_chain: str | None
    """The chain of the mgmt zone: the only one with an SSH rule (HT-FW-03)."""

    def to_vars(self) -> dict[str, Any]:
        """Plain data for Ansible (hostvar `hatang_firewall`), in chain order."""
        return {
            "mgmt_chain": self.mgmt_chain,
            "chains": [
                {"name": c.name, "source": c.source, "ipv4": list(c.ipv4), "ipv6": list(c.ipv6)}
                for c in self.chains
            ],
            "rules": [
                {
                    "flow": r.flow,
                    "chain": r.chain,
                    "match": r.match,
                    "ssh": r.opens_ssh,
                    "reason": r.reason,
                }
                for r in self.rules
            ],
        }


def _chain_name(source: str) -> str:
    return f"from-{source}"


def _opens_ssh(flow: Flow) -> bool:
    return flow.protocol == "tcp" and any(SSH_PORT in r for r in port_ranges(flow))


def ruleset(site: Site, host: Host) -> Ruleset:
    """The input policy of `host`: one rule per flow into a zone the host has an address in.

    Raises:
        FirewallError: a flow opens SSH to the host from outside the mgmt zone, or no flow
            opens it from the mgmt zone (the host would be unreachable for its engineers).
    """
    policy = FlowPolicy(site)
    mgmt = site.zone_of_kind(ZoneKind.MGMT)
    rules: list[Rule] = []
    sources: list[str] = []
    for attachment in attachments(site, host):
        if attachment.ipv4 is None:
            continue  # a bridge only: its packets are switched, not delivered to the host
        for flow in policy.flows_to(attachment.zone, host.groups):
            if _opens_ssh(flow) and (mgmt is None or flow.source != mgmt.name):
                raise FirewallError(
                    f"flows.yml: flow {flow.name!r} opens SSH (tcp/22) to {host.name} from "
                    f"{flow.source!r} (fix: SSH is allowed from the mgmt zone only, HT-FW-03)"
                )
            if flow.source not in sources:
                sources.append(flow.source)
            rules.append(
                Rule(
                    flow=flow.name,
                    chain=_chain_name(flow.source),
                    interfaces=attachment.interfaces,
                    protocol=flow.protocol,
                    ports=tuple(str(r) for r in port_ranges(flow)),
                    reason=flow.reason,
                )
            )
    ssh_from_mgmt = any(r.opens_ssh and mgmt and r.chain == _chain_name(mgmt.name) for r in rules)
    if mgmt is not None and mgmt.name in host.ipv4 and not ssh_from_mgmt:
        raise FirewallError(
            f"flows.yml: no flow allows SSH (tcp/22) from zone {mgmt.name!r} to {host.name} "
            f"(fix: add a flow from {mgmt.name} to {mgmt.name}, protocol tcp, ports [22])"
        )
    # 'any' last: a packet from a site zone tries its own zone's flows first
    ordered = sorted(sources, key=lambda s: (s == ENDPOINT_ANY, _source_rank(site, s)))
    chains = tuple(_source_chain(policy, s) for s in ordered)
    rank = {c.name: i for i, c in enumerate(chains)}
    ordered_rules = tuple(sorted(rules, key=lambda r: rank[r.chain]))
    return Ruleset(host.name, chains, ordered_rules, _chain_name(mgmt.name) if mgmt else None)


def _ranges(ports: tuple[str, ...]) -> list[range]:
    out = []
    for item in ports:
        low, _, high = item.partition("-")
        out.append(range(int(low), int(high or low) + 1))
    return out


def _source_rank(site: Site, source: str) -> int:
    names = [z.name for z in site.zones]
    return names.index(source) if source in names else len(names)


def _source_chain(policy: FlowPolicy, source: str) -> SourceChain:
    if source == ENDPOINT_ANY:
        return SourceChain(_chain_name(source), source, (), ())
    networks = policy.networks(source)
    v4 = tuple(str(n) for n in networks if n.version == 4)
    v6 = tuple(str(n) for n in networks if n.version == 6)
    return SourceChain(_chain_name(source), source, v4, v6)
