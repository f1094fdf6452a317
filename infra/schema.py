"""Pydantic models of the site files: the boundary where people's YAML becomes typed data.

Every model is frozen and forbids unknown keys, so a typo in a site file is an error with a
location rather than a silently ignored setting. Cross-references (flow -> zone, tenant ->
application, ...) are checked later by `infra.validate`, which sees the whole site.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from infra._prefix import IPv4Prefix, IPv6Prefix, Prefix

__all__ = [
    "PRINTABLE_PATTERN",
    "SLUG_PATTERN",
    "Agency",
    "AgencyKind",
    "Application",
    "Capacity",
    "Contact",
    "Flow",
    "HostGroup",
    "HostSpec",
    "Hosting",
    "LedgerEntry",
    "NetworkAccess",
    "Overcommit",
    "Pools",
    "Profile",
    "QuotaCompute",
    "QuotaNetwork",
    "QuotaVolume",
    "SiteInfo",
    "StateChange",
    "TenantAllocation",
    "TenantNetwork",
    "TenantRequest",
    "TenantState",
    "Zone",
    "ZoneKind",
]

SLUG_PATTERN = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$"
"""Codes and names: ASCII, lower case, usable as Keystone project, Neutron and DNS labels."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
ProfileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,31}$")]
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]*$"
"""One line of printable text: no control characters or line separators (they break records)."""
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True, pattern=PRINTABLE_PATTERN)
]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- site.yml


_GIT_URL = r"^((ssh|https?|git|file)://[^\s]+|/[^\s]*[^/\s]|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$"
"""What `git clone` takes: a URL, an absolute path, or scp-like `user@host:path`."""


class SiteServices(_Model):
    ntp: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = Field(
        description="NTP servers every host synchronises to."
    )
    dns: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = Field(
        description="Resolvers for hosts and for tenant subnets."
    )
    syslog: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = Field(
        description="Central log collectors hosts forward to (Decree 53/2022: keep logs 12 months)."
    )
    apt_mirror: str = Field(description="The only Debian mirror hosts may use (URL).")
    site_repo: Annotated[str, StringConstraints(pattern=_GIT_URL)] | None = Field(
        None,
        description="The data center's Git repository holding this site (URL or path on the controllers): "
        "the agencies' portal clones it and pushes request branches there (docs/portal.md).",
    )


class Uplink(_Model):
    name: Slug = Field(description="Uplink name, e.g. internet, tslcd.")
    zone: Slug = Field(description="Zone the uplink terminates in.")
    provider: Text = Field(description="Carrier or network operator.")
    links: int = Field(1, ge=1, description="Physical links on separate paths (TSLCD level I: >= 2).")


class SiteInfo(_Model):
    name: Slug = Field(description="Site identifier, also the Pulumi stack name.")
    title: Text = Field(description="Display name (Vietnamese).")
    title_en: Text = Field(description="Display name (English).")
    operator: Text = Field(description="Organisation running the data center.")
    region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")] = Field(
        description="Keystone region name."
    )
    availability_zones: tuple[Slug, ...] = Field(min_length=1, description="Nova/Cinder AZs.")
    agencies_domain: Slug = Field(description="Keystone domain holding the agencies' projects.")
    services: SiteServices = Field(description="External services the site relies on.")
    uplinks: tuple[Uplink, ...] = Field(description="Connections leaving the site.")
    target_date: datetime | None = Field(
        None, description="Deadline of the plan's on-cloud target (plan 111/KH-UBND §II.3)."
    )
    retire_grace_days: int = Field(
        90,
        ge=0,
        le=3650,
        description="Days a retired tenant's project stays (disabled) before the tenants program "
        "removes it.",
    )


# --------------------------------------------------------------------------- zones.yml


class ZoneKind(StrEnum):
    OOB = "oob"
    MGMT = "mgmt"
    API = "api"
    STORAGE = "storage"
    OVERLAY = "overlay"
    DMZ = "dmz"
    INTERNET = "internet"
    GOV = "gov"
    OTHER = "other"


class Provider(_Model):
    physnet: Slug = Field(description="Neutron physical network name (ML2 bridge mapping).")
    network_type: Literal["flat", "vlan"] = Field("vlan", description="Neutron network type.")
    external: bool = Field(True, description="Router gateways may use it (router:external).")
    bridge: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,14}$")] = Field(
        description="Linux/OVS bridge on the hosts that carry this provider network."
    )
    allocation_start: int = Field(
        10, ge=2, description="First host offset Neutron may allocate (lower ones are infrastructure)."
    )


class Zone(_Model):
    name: Slug = Field(description="Zone name.")
    kind: ZoneKind = Field(description="What the zone is for; one zone per kind except other.")
    purpose: Text = Field(description="Why the zone exists (shown in reports).")
    vlan: int = Field(ge=1, le=4094, description="802.1Q VLAN id.")
    ipv4: ipaddress.IPv4Network = Field(description="IPv4 CIDR.")
    ipv6: ipaddress.IPv6Network = Field(description="IPv6 prefix (dual stack everywhere).")
    gateway4: ipaddress.IPv4Address | None = Field(None, description="IPv4 gateway, if routed.")
    gateway6: ipaddress.IPv6Address | None = Field(None, description="IPv6 gateway, if routed.")
    vip4: ipaddress.IPv4Address | None = Field(
        None,
        description="api zone only: the virtual address the controllers share (keepalived moves it to a "
        "healthy one); the endpoints, the database and the cache are reached through it. Needed when the "
        "site has more than one controller.",
    )
    groups: tuple[Slug, ...] = Field((), description="Host groups with an interface here.")
    provider: Provider | None = Field(None, description="Set when Neutron exposes the zone.")


# --------------------------------------------------------------------------- flows.yml

ENDPOINT_ANY = "any"
"""Flow endpoint meaning every address outside the site (0.0.0.0/0 and ::/0)."""
ENDPOINT_TENANTS = "tenants"
"""Flow endpoint meaning the tenant networks (the tenant address pools)."""


def _port_or_range(value: object) -> int | str:
    """A destination port (1-65535) or a 'low-high' range inside it; booleans are neither."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}-[0-9]{1,5}", value):
        low, high = (int(part) for part in value.split("-"))
        if 1 <= low <= high <= 65535:
            return value
    raise ValueError("a port is a number 1-65535 or a range 'low-high' inside it, low first")


PortOrRange = Annotated[
    int | str,
    PlainValidator(_port_or_range),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 65535}, {"type": "string"}]}),
]


def _service_name(value: str) -> str:
    """A service of the platform catalogue (infra/services/services.yml)."""
    from infra.services import catalogue

    known = catalogue().services
    if value not in known:
        raise ValueError(f"unknown service {value!r} (known: {', '.join(sorted(known))})")
    return value


ServiceName = Annotated[str, AfterValidator(_service_name)]


class Flow(_Model):
    name: Slug = Field(description="Flow name; each rendered rule carries it as a comment.")
    source: Slug = Field(alias="from", description="Source zone, 'tenants' or 'any'.")
    destination: Slug = Field(alias="to", description="Destination zone or 'tenants'.")
    groups: tuple[Slug, ...] = Field(
        (), description="Destination host groups; empty means every host attached to the zone."
    )
    protocol: Literal["tcp", "udp", "icmp", "vrrp"] = Field(description="IP protocol.")
    services: tuple[ServiceName, ...] = Field(
        (),
        description="Platform services the flow reaches (infra/services/services.yml); their ports "
        "become the flow's ports, so a platform port is never written in a site.",
    )
    ports: tuple[PortOrRange, ...] = Field(
        (),
        description="Destination ports or 'low-high' ranges of traffic that is not a platform "
        "service's (tenant applications, SSH); empty for icmp/vrrp and with `services`.",
    )
    reason: Text = Field(description="Why the flow is allowed (audit evidence).")

    @field_validator("ports")
    @classmethod
    def _not_a_service_port(cls, ports: tuple[int | str, ...], info: ValidationInfo) -> tuple[int | str, ...]:
        if ports and info.data.get("services"):
            raise ValueError("write `services` or `ports`, not both (the services' ports come from the catalogue)")
        if ports and info.data.get("destination") != ENDPOINT_TENANTS:
            from infra.services import catalogue

            owners = catalogue().port_owners()
            taken = [port for port in owners if any(_covers(item, port) for item in ports)]
            if taken:
                names = ", ".join(dict.fromkeys(owners[port] for port in taken))
                raise ValueError(
                    f"port{'s' if len(taken) > 1 else ''} {_spans(taken)} of the "
                    f"platform's services: write `services: [{names}]` instead of ports (a service's "
                    "ports are written once, in infra/services/services.yml)"
                )
        return ports

    @field_validator("services")
    @classmethod
    def _services_listen(cls, services: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if not services:
            return services
        from infra.services import catalogue

        if info.data.get("protocol", "tcp") != "tcp":
            raise ValueError(f"the platform's services listen on tcp, not {info.data['protocol']}")
        entries = catalogue().services
        idle = [name for name in services if not entries[name].all_ports]
        if idle:
            raise ValueError(f"{', '.join(idle)} listen{'s' if len(idle) == 1 else ''} on no port")
        return services

    @model_validator(mode="after")
    def _ports_of_services(self) -> Flow:
        if self.services:
            from infra.services import catalogue

            entries = catalogue().services
            ports = sorted({port for name in self.services for port in entries[name].all_ports})
            object.__setattr__(self, "ports", tuple(ports))  # derived, never written: frozen from here on
        return self


def _spans(ports: list[int]) -> str:
    """Ports as a short list: runs of consecutive ports as `low-high`."""
    runs: list[list[int]] = []
    for port in sorted(set(ports)):
        if runs and port == runs[-1][-1] + 1:
            runs[-1].append(port)
        else:
            runs.append([port])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _covers(item: int | str, port: int) -> bool:
    if isinstance(item, int):
        return item == port
    low, high = (int(part) for part in item.split("-"))
    return low <= port <= high


# --------------------------------------------------------------------------- hosts.yml


class HostGroup(_Model):
    description: Text = Field(description="What the group runs.")
    routes: bool = Field(False, description="Hosts forward packets (ip_forward on).")


class HostSpec(_Model):
    name: Slug = Field(description="Host name.")
    groups: tuple[Slug, ...] = Field(min_length=1, description="Groups the host belongs to.")
    addresses: dict[Slug, ipaddress.IPv4Address] = Field(
        description="IPv4 address per zone; the IPv6 address is derived from the zone prefix."
    )
    az: Slug | None = Field(None, description="Availability zone (compute and storage hosts).")


# --------------------------------------------------------------------------- capacity.yml


class Overcommit(_Model):
    cpu: float = Field(gt=0, le=16, description="vCPU per physical core.")
    ram: float = Field(gt=0, le=2, description="Virtual RAM per physical RAM.")
    disk: float = Field(gt=0, le=4, description="Provisioned volume GB per usable GB.")


class GroupCapacity(_Model):
    cores: int = Field(0, ge=0, description="Physical cores per host.")
    ram_gb: int = Field(0, ge=0, description="RAM per host (GiB).")
    disk_gb: int = Field(0, ge=0, description="Usable raw disk per host for volumes (GB).")


class Capacity(_Model):
    overcommit: Overcommit = Field(description="Overcommit ratios used by the schedulers.")
    reserved_cores: int = Field(2, ge=0, description="Cores per compute host kept for the host.")
    reserved_ram_gb: int = Field(16, ge=0, description="RAM per compute host kept for the host.")
    storage_replicas: int = Field(3, ge=1, le=5, description="Copies of every volume block.")
    groups: dict[Slug, GroupCapacity] = Field(description="Per host group hardware.")


# --------------------------------------------------------------------------- pools.yml


class Pools(_Model):
    ipv4: ipaddress.IPv4Network = Field(description="Supernet tenant IPv4 prefixes come from.")
    tenant_prefix_v4: int = Field(ge=8, le=29, description="Prefix length given to each tenant.")
    network_prefix_v4: int = Field(ge=8, le=29, description="Prefix length of each tenant network.")
    ipv6: ipaddress.IPv6Network = Field(description="The /48 tenant IPv6 networks come from.")
    network_prefix_v6: Literal[64] = Field(64, description="Every tenant network gets a /64.")


class QuotaCompute(_Model):
    instances: int = Field(ge=0)
    cores: int = Field(ge=0)
    ram: int = Field(ge=0, description="MiB")
    key_pairs: int = Field(ge=0)
    metadata_items: int = Field(ge=0)
    server_groups: int = Field(ge=0)
    server_group_members: int = Field(ge=0)


class QuotaNetwork(_Model):
    network: int = Field(ge=0)
    subnet: int = Field(ge=0)
    port: int = Field(ge=0)
    router: int = Field(ge=0)
    floatingip: int = Field(ge=0)
    security_group: int = Field(ge=0)
    security_group_rule: int = Field(ge=0)
    rbac_policy: int = Field(ge=0)
    subnetpool: int = Field(ge=0)


class QuotaVolume(_Model):
    volumes: int = Field(ge=0)
    snapshots: int = Field(ge=0)
    gigabytes: int = Field(ge=0)
    per_volume_gigabytes: int = Field(ge=0)
    backups: int = Field(ge=0)
    backup_gigabytes: int = Field(ge=0)
    groups: int = Field(ge=0)


class Profile(_Model):
    """A quota profile as written: may inherit and override single keys."""

    description: Text = Field(description="Who the size is for.")
    inherits: ProfileName | None = Field(None, description="Profile whose values are the defaults.")
    compute: dict[str, int] = Field(default_factory=dict, description="Nova quota keys.")
    network: dict[str, int] = Field(default_factory=dict, description="Neutron quota keys.")
    volume: dict[str, int] = Field(default_factory=dict, description="Cinder quota keys.")


# --------------------------------------------------------------------------- agencies.yml


class AgencyKind(StrEnum):
    DEPARTMENT = "department"
    COMMUNE = "commune"
    PUBLIC_SERVICE_UNIT = "public_service_unit"
    SHARED_PLATFORM = "shared_platform"


class Agency(_Model):
    code: Slug = Field(description="Stable ASCII code.")
    name: Text = Field(description="Official name (Vietnamese).")
    name_en: Text = Field(description="English name.")
    kind: AgencyKind = Field(description="Kind of agency.")


# --------------------------------------------------------------------------- tenants/*.yml


class TenantState(StrEnum):
    """requested → approved → active → retired, or requested → rejected (final for that request).

    A rejected request never got addresses; its file stays as the record of the decision, so its
    code stays taken (docs/tenancy.md).
    """

    REQUESTED = "requested"
    APPROVED = "approved"
    ACTIVE = "active"
    RETIRED = "retired"
    REJECTED = "rejected"


class NetworkAccess(StrEnum):
    GOV = "gov"
    DMZ = "dmz"
    INTERNET = "internet"


class Contact(_Model):
    name: Text
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 .-]{6,20}$")] | None = None
    role: Literal["requester", "technical", "security"] = "technical"


class TenantNetwork(_Model):
    name: Slug = Field(description="Network name inside the project.")
    access: tuple[NetworkAccess, ...] = Field(
        (), description="External networks it routes to: gov, dmz (published via the DMZ), internet."
    )


class StateChange(_Model):
    state: TenantState
    at: datetime
    by: Text
    reason: Text


class NetworkAllocation(_Model):
    ipv4: IPv4Prefix
    ipv6: IPv6Prefix


class TenantAllocation(_Model):
    ipv4: IPv4Prefix = Field(description="The tenant's IPv4 prefix.")
    networks: dict[Slug, NetworkAllocation] = Field(description="Per network subnets.")


class LedgerEntry(_Model):
    """One prefix handed out, to whom, when and by which approval (ledger.yml)."""

    prefix: Prefix = Field(
        description="The allocated prefix.",
        union_mode="left_to_right",  # no text is both: stop at the first match (pydantic's errors, `Prefix`)
    )
    tenant: Slug = Field(description="Tenant code it was allocated to.")
    network: Slug | None = Field(None, description="Tenant network it serves; absent for the tenant's IPv4 prefix.")
    at: datetime = Field(description="When the approval allocated it.")
    by: Text = Field(description="Who approved.")


class TenantRequest(_Model):
    code: Slug = Field(description="Project name; stable, never reused.")
    agency: Slug = Field(description="Owning agency (agencies.yml).")
    name: Text = Field(description="Display name (Vietnamese).")
    security_level: int = Field(ge=1, le=5, description="Highest level of the systems it hosts.")
    quota_profile: ProfileName = Field(description="Quota profile (profiles.yml).")
    contacts: tuple[Contact, ...] = Field(min_length=1, description="People to reach.")
    networks: tuple[TenantNetwork, ...] = Field(min_length=1, description="Tenant networks.")
    applications: tuple[Slug, ...] = Field((), description="Application ids it hosts.")
    state: TenantState = Field(description="Lifecycle state.")
    history: tuple[StateChange, ...] = Field(min_length=1, description="Who moved it, when, why.")
    allocation: TenantAllocation | None = Field(None, description="Written by `hatang tenant approve`.")


# --------------------------------------------------------------------------- applications.yml


class Hosting(StrEnum):
    CLOUD = "cloud"
    PROVIDER = "provider"
    ONPREM = "onprem"
    PLANNED = "planned"


class Application(_Model):
    id: Slug = Field(description="Stable application id.")
    name: Text = Field(description="Name (Vietnamese).")
    name_en: Text = Field(description="Name (English).")
    owner: Slug = Field(description="Owning agency code.")
    security_level: int = Field(ge=1, le=5)
    hosting: Hosting = Field(description="Where it runs now.")
    tenant: Slug | None = Field(None, description="Tenant running it, when hosting is cloud.")
    provider: Text | None = Field(None, description="Other (domestic) cloud provider, if any.")
    wave: Text | None = Field(None, description="Planned migration wave, e.g. 2027-Q1.")
    blocker: Text | None = Field(None, description="Why it cannot move yet.")
