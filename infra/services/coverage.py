"""Do a site's flows open exactly the ports its hosts' services listen on?

A deployed service whose port no flow opens is unreachable (the firewall drops it); a flow that
opens a port no service listens on is an open door for whatever starts there next. Both are
mistakes `problems` names, host by host; the only port not in the catalogue is SSH (every host's
sshd, roles/baseline), which the firewall already requires from the mgmt zone.
"""

from __future__ import annotations

from infra.firewall import SSH_PORT
from infra.hostnet import attachments
from infra.policy import FlowPolicy, port_ranges
from infra.services._model import Catalogue
from infra.site import Host, Site

__all__ = ["problems"]


def problems(site: Site, catalogue: Catalogue) -> list[str]:
    """What the flows miss or open too much, per host, sorted.

    Returns:
        One sentence per problem: the host, zone, port and the service or flow concerned.
    """
    policy = FlowPolicy(site)
    found: list[str] = []
    for host in site.hosts:
        found += _host_problems(site, policy, catalogue, host)
    return sorted(found)


def _host_problems(site: Site, policy: FlowPolicy, catalogue: Catalogue, host: Host) -> list[str]:
    kinds = {a.zone: a.kind for a in attachments(site, host) if a.ipv4 is not None}
    listening: dict[tuple[str, int], str] = {}
    out = []
    for name, service in catalogue.services.items():
        if service.group not in host.groups or not service.all_ports:
            continue
        zones = [zone for zone, kind in kinds.items() if kind == service.zone.value]
        if not zones:
            out.append(f"{host.name}: runs {name} but has no address in a zone of kind {service.zone.value}")
        for zone in zones:
            for port in service.all_ports:
                listening[(zone, port)] = name
    opened: dict[tuple[str, int], list[str]] = {}
    for zone in kinds:
        for flow in policy.flows_to(zone, host.groups):
            if flow.protocol not in {"tcp", "udp"}:
                continue
            for rng in port_ranges(flow):
                for port in range(rng.low, rng.high + 1):
                    if flow.protocol == "tcp":
                        opened.setdefault((zone, port), []).append(flow.name)
                    else:
                        out.append(f"{host.name}: flow {flow.name!r} opens udp/{port} in zone {zone}, "
                                   "where no platform service listens")
    for (zone, port), name in sorted(listening.items()):
        if (zone, port) not in opened:
            out.append(f"{host.name}: {name} listens on tcp/{port} in zone {zone}, but no flow opens it")
    for (zone, port), flows in sorted(opened.items()):
        if (zone, port) not in listening and port != SSH_PORT:
            out.append(f"{host.name}: flow {', '.join(map(repr, flows))} opens tcp/{port} in zone {zone}, "
                       "where no platform service listens")
    return out
