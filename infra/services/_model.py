"""Pydantic models of the platform service catalogue (infra/services/services.yml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from infra.schema import SLUG_PATTERN, Port, Slug, Text, ZoneKind

__all__ = ["Api", "Catalogue", "Secret", "Service", "Web"]

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
"""A name Ansible and MariaDB both accept: role names, variables, databases."""
Unit = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9@-]{0,62}[a-z0-9@]$")]
"""A systemd service's name without `.service`; ending in `@`, every instance of a template
(`ceph-osd@`: one per disk)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Api(_Model):
    port: Port = Field(description="TCP port of the endpoint (the TLS front serves the same port).")
    type: Slug = Field(description="Service type in the Keystone catalog (`compute`, `volumev3`, ...).")
    name: Slug | None = Field(
        None, description="Service name in the Keystone catalog when it is not the service's (`cinderv3`)."
    )
    path: Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._-]+)*$")] = Field(
        "", description="Path after host:port in the Keystone catalog's URL, e.g. /v2.1."
    )


class Web(_Model):
    port: Port = Field(
        description="TCP port browsers reach it on over https (the TLS front serves the same port and passes "
        "to the site on the loopback)."
    )


class Secret(_Model):
    variable: Identifier = Field(description="The Ansible variable that holds it.")
    file: Slug = Field(description="File name in the secrets folder (hatang_secrets_dir).")
    kind: Literal["password", "key", "cephx"] = Field(
        "password",
        description="password: satisfies Keystone's password_regex; key: 32 bytes, base64; cephx: a Ceph "
        "key (`ceph-authtool --gen-print-key`'s format).",
    )


class Service(_Model):
    description: Text = Field(description="What the service is (shown by `hatang aio status`).")
    role: Identifier = Field(description="The role under roles/ that deploys it.")
    group: Slug | tuple[Slug, ...] = Field(description="The host group (or groups) it runs on.")
    zone: ZoneKind = Field(ZoneKind.API, description="Kind of the zone its ports listen in.")
    api: Api | None = Field(None, description="Its API endpoint, registered in Keystone, behind the TLS front.")
    web: Web | None = Field(None, description="Its web site for browsers (the dashboard), behind the TLS front.")
    ports: tuple[Port, ...] = Field((), description="Other TCP ports it listens on.")
    port_range: tuple[Port, Port] | None = Field(
        None,
        description="First and last of a range of TCP ports its daemons take as they start, as many as the "
        "host has (Ceph's OSDs: four each, one OSD per disk).",
    )
    udp_ports: tuple[Port, ...] = Field((), description="UDP ports it listens on (Geneve's tunnel endpoint).")
    named_ports: dict[Identifier, Port] = Field(
        {}, description="TCP ports the role tells apart, rendered as `<role>_<name>_port` (OVN's databases)."
    )
    loopback: tuple[Identifier, ...] = Field(
        (),
        description="Named ports that listen on 127.0.0.1 only, for clients on the same host (Open vSwitch's "
        "database for nova-compute): no flow opens them, and none is expected to.",
    )
    clustered: bool = Field(
        False,
        description="Runs only where its group has several hosts (replication or failover between them): "
        "a site with one such host deploys nothing of it and no flow opens its ports.",
    )
    databases: tuple[Identifier, ...] = Field((), description="MariaDB databases; the user is named after the role.")
    messaging: bool = Field(False, description="Has a RabbitMQ user named after the role.")
    service_user: bool = Field(False, description="Has a Keystone service user named after the role.")
    part_of: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)] | None = Field(
        None,
        description="The service whose units run it (Galera's replication runs inside MariaDB): it has no "
        "units of its own.",
    )
    units: dict[Unit, Text] = Field({}, description="systemd units and what each is.")
    secrets: tuple[Secret, ...] = Field(
        (), description="Secrets besides the database, queue and service-user passwords."
    )

    @field_validator("web")
    @classmethod
    def _api_or_web(cls, web: Web | None, info: ValidationInfo) -> Web | None:
        if web is not None and info.data.get("api") is not None:
            raise ValueError("a service has an api or a web site, not both: the TLS front serves one port per service")
        return web

    @field_validator("port_range")
    @classmethod
    def _range_in_order(cls, ports: tuple[int, int] | None) -> tuple[int, int] | None:
        if ports is not None and ports[0] > ports[1]:
            raise ValueError(f"the range's first port ({ports[0]}) is after its last ({ports[1]})")
        return ports

    @model_validator(mode="after")
    def _units_or_part_of(self) -> Service:
        if bool(self.units) == bool(self.part_of):
            raise ValueError("a service has units of its own, or is part_of another service, not both or neither")
        return self

    @field_validator("loopback")
    @classmethod
    def _loopback_names_a_port(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if "named_ports" not in info.data:  # invalid itself, and reported so
            return names
        named = info.data["named_ports"]
        unknown = [name for name in names if name not in named]
        if unknown:
            known = ", ".join(sorted(named)) or "none"
            raise ValueError(
                f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among its named_ports "
                f"({known}): a loopback port is written in named_ports and named here"
            )
        if len(set(names)) != len(names):
            raise ValueError("a named port is listed twice")
        return names

    @property
    def groups(self) -> tuple[str, ...]:
        """The host groups it runs on."""
        return (self.group,) if isinstance(self.group, str) else self.group

    def listens(self) -> tuple[tuple[str, int], ...]:
        """(protocol, port) of every port it listens on for other hosts (what flows must open)."""
        return tuple(("tcp", port) for port in self.all_ports) + tuple(("udp", port) for port in self.udp_ports)

    @property
    def all_ports(self) -> tuple[int, ...]:
        """Every TCP port other hosts reach it on (what a flow naming it opens), its API's or web site's first.

        Its `loopback` ports are not among them: see `loopback_ports`.
        """
        named = tuple(port for name, port in self.named_ports.items() if name not in self.loopback)
        ranged = tuple(range(self.port_range[0], self.port_range[1] + 1)) if self.port_range else ()
        return ((self.fronted_port,) if self.fronted_port else ()) + self.ports + named + ranged

    @property
    def fronted_port(self) -> int | None:
        """The port the TLS front serves for it: its API's or its web site's."""
        front = self.api or self.web
        return front.port if front else None

    @property
    def loopback_ports(self) -> tuple[int, ...]:
        """The TCP ports it listens on at 127.0.0.1 only: no flow opens them."""
        return tuple(self.named_ports[name] for name in self.loopback)


class Catalogue(_Model):
    services: dict[Annotated[str, StringConstraints(pattern=SLUG_PATTERN)], Service] = Field(
        min_length=1, description="Services by name, in deployment order."
    )

    @model_validator(mode="after")
    def _part_of_a_service(self) -> Catalogue:
        for name, service in self.services.items():
            owner = self.services.get(service.part_of or name)
            if owner is None or owner.part_of:
                raise ValueError(f"{name}: part_of names a service with units of its own")
        return self

    def unit_of(self, name: str) -> str:
        """The systemd unit that runs the service (its first, or that of the service it is part of)."""
        service = self.services[name]
        return next(iter(self.services[service.part_of].units if service.part_of else service.units))

    def port_owners(self) -> dict[int, str]:
        """TCP port -> the service that listens on it, its loopback ports included."""
        services = self.services.items()
        return {port: name for name, service in services for port in service.all_ports + service.loopback_ports}

    def _on(self, clustered: bool) -> list[Service]:
        return [service for service in self.services.values() if clustered or not service.clustered]

    def roles(self, clustered: bool = True) -> tuple[str, ...]:
        """The roles that deploy the services, in deployment order; `clustered=False`: on a lone controller."""
        return tuple(dict.fromkeys(service.role for service in self._on(clustered)))

    def units(self, clustered: bool = True) -> dict[str, str]:
        """Every systemd unit and what it is, in deployment order; `clustered=False`: on a lone controller."""
        return {unit: what for service in self._on(clustered) for unit, what in service.units.items()}
