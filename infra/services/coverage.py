"""Do a site's flows open exactly the ports its hosts' services listen on?

A deployed service whose port no flow opens is unreachable (the firewall drops it); a flow that
opens a port no service listens on is an open door for whatever starts there next; a flow naming a
service that none of the hosts it reaches runs is a rule for nothing. `problems` names each
mistake once for all the hosts it concerns, located in flows.yml or hosts.yml like the validator's
problems, with the fix; `hatang validate` reports them. The only port not in the catalogue is SSH
(every host's sshd, roles/baseline), which the firewall already requires from the mgmt zone. A
service's `loopback` ports (Open vSwitch's database on 127.0.0.1) are in the catalogue but no
other host reaches them: `Service.listens` leaves them out, so no flow is expected to open them,
and a flow that writes one in `ports` is refused by the site's rules (the port is the catalogue's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infra import _yaml
from infra.errors import Problem
from infra.firewall import SSH_PORT
from infra.hostnet import attachments
from infra.policy import FlowPolicy, port_ranges
from infra.schema import Flow
from infra.services._model import Catalogue, Service
from infra.site import Host, Site, display_path

__all__ = ["problems"]

Ranges = tuple[tuple[int, int], ...]

_SHOWN_HOSTS = 3
"""How many host names a message lists before it only counts them."""
_SHOWN_RANGES = 8
"""How many port ranges a message lists before it only counts them."""


def problems(site: Site, catalogue: Catalogue) -> list[Problem]:
    """What the flows miss or open too much, sorted by file, line and message.

    Returns:
        One located problem per mistake: a deployed service's port no flow opens, a flow opening
        ports where nothing listens, a flow naming a service no host it reaches runs, a host that
        runs a service but has no address in a zone of the service's kind.
    """
    found = _Found(site, catalogue)
    for index, host in enumerate(site.hosts):
        found.host(index, host)
    return found.problems()


class _Found:
    """What each host shows, gathered before it is named once per flow, service or host."""

    def __init__(self, site: Site, catalogue: Catalogue) -> None:
        self.site = site
        self.catalogue = catalogue
        self.policy = FlowPolicy(site)
        self.flow_index = {flow.name: i for i, flow in enumerate(site.flows)}
        self.unheard: defaultdict[tuple[str, str, str, int], set[str]] = defaultdict(set)
        """(service, zone, protocol, port) -> the hosts where it listens but no flow opens the port."""
        self.unused: dict[tuple[int, str, str, str], Ranges] = {}
        """(flow index, zone, protocol, host) -> the ports it opens where nothing listens."""
        self.served: set[tuple[int, str]] = set()
        """(flow index, service) pairs where the flow reaches a host that runs the service."""
        self.zoneless: list[Problem] = []
        self.documents: dict[Path, Any] = {}

    def host(self, index: int, host: Host) -> None:
        kinds = {a.zone: a.kind for a in attachments(self.site, host) if a.ipv4 is not None}
        listening: dict[tuple[str, str, int], str] = {}
        for name, service in self.catalogue.services.items():
            if not set(service.groups) & set(host.groups) or not service.listens():
                continue
            if service.clustered and len({h.name for g in service.groups for h in self.site.hosts_in(g)}) < 2:
                continue
            zones = [zone for zone, kind in kinds.items() if kind == service.zone.value]
            if not zones:
                self.zoneless.append(self._problem(
                    "hosts.yml",
                    ("hosts", index),
                    f"{host.name} runs {name} (group {', '.join(service.groups)}) but has no address in a zone of kind "
                    f"{service.zone.value}",
                    f"give {host.name} an address in a {service.zone.value} zone, or take it out of group "
                    f"{_groups(service, self.site)}",
                ))  # fmt: skip
            for zone in zones:
                for protocol, port in service.listens():
                    listening[(zone, protocol, port)] = name
        opened: set[tuple[str, str, int]] = set()
        for zone in kinds:
            for flow in self.policy.flows_to(zone, host.groups):
                if flow.protocol not in {"tcp", "udp"}:
                    continue
                i = self.flow_index[flow.name]
                self.served.update(
                    (i, name) for name in flow.services if (zone, "tcp", self._port(name)) in listening
                )
                ranges = tuple((r.low, r.high) for r in port_ranges(flow))
                heard = {port for (where, protocol, port) in listening if where == zone and protocol == flow.protocol}
                idle = _minus(ranges, heard | ({SSH_PORT} if flow.protocol == "tcp" else set()))
                if idle:
                    self.unused[(i, zone, flow.protocol, host.name)] = idle
                opened.update(
                    (zone, flow.protocol, port) for port in heard if any(low <= port <= high for low, high in ranges)
                )
        for (zone, protocol, port), name in listening.items():
            if (zone, protocol, port) not in opened:
                self.unheard[(name, zone, protocol, port)].add(host.name)

    def problems(self) -> list[Problem]:
        found = [*self.zoneless, *self._unheard(), *self._unused(), *self._dead()]
        return sorted(set(found), key=lambda p: (p.file, p.line or 0, p.field, p.message))

    def _port(self, service: str) -> int:
        return self.catalogue.services[service].all_ports[0]

    def _dead_pairs(self) -> set[tuple[int, str]]:
        flows = enumerate(self.site.flows)
        return {(i, name) for i, flow in flows for name in flow.services if (i, name) not in self.served}

    def _unheard(self) -> Iterable[Problem]:
        merged: defaultdict[tuple[str, str, str, frozenset[str]], set[int]] = defaultdict(set)
        for (name, zone, protocol, port), hosts in self.unheard.items():
            merged[(name, zone, protocol, frozenset(hosts))].add(port)
        for (name, zone, protocol, on), ports in merged.items():
            service = self.catalogue.services[name]
            opens = f"`services: [{name}]`" if protocol == "tcp" else f"`protocol: udp`, `ports: {sorted(ports)}`"
            yield self._problem(
                "flows.yml",
                ("flows",),
                f"{name} listens on {protocol}/{_ports(_ranges(ports))} in zone {zone} on {_hosts(on)}, "
                "but no flow opens it",
                f"add a flow with `to: {zone}`, `groups: [{_groups(service, self.site)}]`, {opens}, or take "
                f"those hosts out of group {_groups(service, self.site)}",
            )

    def _unused(self) -> Iterable[Problem]:
        dead = self._dead_pairs()
        merged: defaultdict[tuple[int, str, str, Ranges], set[str]] = defaultdict(set)
        for (i, zone, protocol, host), ranges in self.unused.items():
            skip = {port for name in self.site.flows[i].services if (i, name) in dead
                    for port in self.catalogue.services[name].all_ports}  # fmt: skip
            left = _minus(ranges, skip)
            if left:
                merged[(i, zone, protocol, left)].add(host)
        for (i, zone, protocol, ranges), hosts in merged.items():
            flow = self.site.flows[i]
            where = f"{protocol}/{_ports(ranges)} in zone {zone} on {_hosts(hosts)}"
            if flow.services:
                names = [n for n in flow.services if _covers(ranges, self.catalogue.services[n].all_ports)]
                groups = sorted({g for name in names for g in self.catalogue.services[name].groups})
                yield self._problem(
                    "flows.yml",
                    ("flows", i, "services"),
                    f"flow {flow.name!r} opens {where} for {', '.join(names)}, which these hosts do not run",
                    f"narrow the flow's `groups` to the hosts that run it (group {', '.join(groups)}), or "
                    f"remove {', '.join(names)} from its `services`",
                )
            else:
                yield self._problem(
                    "flows.yml",
                    ("flows", i, "ports"),
                    f"flow {flow.name!r} opens {where}, where no platform service listens",
                    "remove those ports or narrow the flow's `groups` to the hosts that serve them; a "
                    "platform service is added to infra/services/services.yml and the flow names it in `services`",
                )

    def _dead(self) -> Iterable[Problem]:
        kinds = {zone.name: zone.kind.value for zone in self.site.zones}
        for i, name in self._dead_pairs():
            flow: Flow = self.site.flows[i]
            service: Service = self.catalogue.services[name]
            kind, zone = service.zone.value, flow.destination
            if kinds.get(zone) == kind:
                fix = f"give a host of group {_groups(service, self.site)} an address in zone {zone}"
            else:
                fix = f"name it in a flow to a zone of kind {kind} (zone {zone} is of kind {kinds.get(zone)})"
            yield self._problem(
                "flows.yml",
                ("flows", i, "services", flow.services.index(name)),
                f"flow {flow.name!r} names {name}, but no host it reaches in zone {zone} runs it "
                f"({name} runs on group {', '.join(service.groups)}, in a zone of kind {kind})",
                f"remove {name} from the flow's `services`, or {fix}",
            )

    def _problem(self, file: str, loc: tuple[Any, ...], message: str, hint: str) -> Problem:
        path = self.site.root / file
        if path not in self.documents:
            try:
                self.documents[path] = _yaml.load(path)
            except (OSError, _yaml.YamlSyntaxError):
                self.documents[path] = None
        line = _yaml.line_of(self.documents[path], loc)
        return Problem(display_path(path), ".".join(map(str, loc)), message, hint, line)


def _minus(ranges: Ranges, ports: set[int]) -> Ranges:
    """The port ranges without `ports`, merged and sorted."""
    out: list[tuple[int, int]] = []
    for low, high in _merge(list(ranges)):
        start = low
        for port in sorted(p for p in ports if low <= p <= high):
            if port > start:
                out.append((start, port - 1))
            start = port + 1
        if start <= high:
            out.append((start, high))
    return tuple(out)


def _merge(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


def _covers(ranges: Ranges, ports: Iterable[int]) -> bool:
    return any(low <= port <= high for port in ports for low, high in ranges)


def _ranges(ports: Iterable[int]) -> Ranges:
    return _merge([(port, port) for port in ports])


def _ports(ranges: Ranges) -> str:
    text = [str(low) if low == high else f"{low}-{high}" for low, high in ranges]
    if len(text) > _SHOWN_RANGES:
        text = [*text[:_SHOWN_RANGES], f"… ({len(text)} ranges)"]
    return text[0] if len(text) == 1 else "{" + ", ".join(text) + "}"


def _hosts(hosts: Iterable[str]) -> str:
    names = sorted(hosts)
    if len(names) <= _SHOWN_HOSTS:
        return ", ".join(names)
    return f"{len(names)} hosts ({', '.join(names[:_SHOWN_HOSTS])}, …)"


def _groups(service: Service, site: Site) -> str:
    """The service's groups the site has, for a fix to write (a flow may name no other group)."""
    return ", ".join([g for g in service.groups if g in site.groups] or service.groups)
