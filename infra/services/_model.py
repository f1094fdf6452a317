"""Pydantic models of the platform service catalogue (infra/services/services.yml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from infra.schema import SLUG_PATTERN, Port, Slug, Text, ZoneKind

__all__ = ["Api", "Catalogue", "Secret", "Service"]

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
"""A name Ansible and MariaDB both accept: role names, variables, databases."""
Unit = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9@-]{0,62}[a-z0-9]$")]


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


class Secret(_Model):
    variable: Identifier = Field(description="The Ansible variable that holds it.")
    file: Slug = Field(description="File name in the secrets folder (hatang_secrets_dir).")
    kind: Literal["password", "key"] = Field(
        "password", description="password: satisfies Keystone's password_regex; key: 32 bytes, base64."
    )


class Service(_Model):
    description: Text = Field(description="What the service is (shown by `hatang aio status`).")
    role: Identifier = Field(description="The role under roles/ that deploys it.")
    group: Slug | tuple[Slug, ...] = Field(description="The host group (or groups) it runs on.")
    zone: ZoneKind = Field(ZoneKind.API, description="Kind of the zone its ports listen in.")
    api: Api | None = Field(None, description="Its API endpoint, registered in Keystone, behind the TLS front.")
    ports: tuple[Port, ...] = Field((), description="Other TCP ports it listens on.")
    udp_ports: tuple[Port, ...] = Field((), description="UDP ports it listens on (Geneve's tunnel endpoint).")
    named_ports: dict[Identifier, Port] = Field(
        {}, description="TCP ports the role tells apart, rendered as `<role>_<name>_port` (OVN's databases)."
    )
    databases: tuple[Identifier, ...] = Field((), description="MariaDB databases; the user is named after the role.")
    messaging: bool = Field(False, description="Has a RabbitMQ user named after the role.")
    service_user: bool = Field(False, description="Has a Keystone service user named after the role.")
    units: dict[Unit, Text] = Field(min_length=1, description="systemd units and what each is.")
    secrets: tuple[Secret, ...] = Field(
        (), description="Secrets besides the database, queue and service-user passwords."
    )

    @property
    def groups(self) -> tuple[str, ...]:
        """The host groups it runs on."""
        return (self.group,) if isinstance(self.group, str) else self.group

    def listens(self) -> tuple[tuple[str, int], ...]:
        """(protocol, port) of every port it listens on."""
        return tuple(("tcp", port) for port in self.all_ports) + tuple(("udp", port) for port in self.udp_ports)

    @property
    def all_ports(self) -> tuple[int, ...]:
        """Every port the service listens on, its API's first."""
        return ((self.api.port,) if self.api else ()) + self.ports + tuple(self.named_ports.values())


class Catalogue(_Model):
    services: dict[Annotated[str, StringConstraints(pattern=SLUG_PATTERN)], Service] = Field(
        min_length=1, description="Services by name, in deployment order."
    )

    def port_owners(self) -> dict[int, str]:
        """Port -> the service that listens on it."""
        return {port: name for name, service in self.services.items() for port in service.all_ports}

    def roles(self) -> tuple[str, ...]:
        """The roles that deploy the services, in deployment order."""
        return tuple(dict.fromkeys(service.role for service in self.services.values()))

    def units(self) -> dict[str, str]:
        """Every systemd unit and what it is, in deployment order."""
        return {unit: what for service in self.services.values() for unit, what in service.units.items()}
