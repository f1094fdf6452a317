"""What the cloud has, read once with the auditor's admin credentials into plain, frozen data.

The checks are pure functions over a `Snapshot` (and the site model), so they are unit-tested
without a cloud; only `take_snapshot` talks to OpenStack (read-only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.audit.cloud._storage import VolumeBackend, VolumeService, read_volume_backends
from infra.schema import QuotaCompute, QuotaNetwork, QuotaVolume

if TYPE_CHECKING:
    from infra.audit.cloud._ovn import OvnAcl, OvnAddressSet, OvnNat, OvnPort, OvnPortGroup, OvnRoute, OvnSwitch

__all__ = [
    "QUOTA_KEYS",
    "AddressGroup",
    "Endpoint",
    "FloatingIp",
    "Image",
    "Network",
    "Port",
    "Project",
    "Rbac",
    "RoleAssignment",
    "Router",
    "Rule",
    "Snapshot",
    "Subnet",
    "VolumeType",
    "take_snapshot",
]

QUOTA_KEYS: dict[str, tuple[str, ...]] = {
    "compute": tuple(QuotaCompute.model_fields),
    "network": tuple(QuotaNetwork.model_fields),
    "volume": tuple(QuotaVolume.model_fields),
}
"""The quota keys the site model governs, per service (the native API names)."""


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    domain_id: str
    enabled: bool
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    project_id: str
    shared: bool = False
    external: bool = False
    provider_type: str | None = None
    physnet: str | None = None
    segmentation_id: int | None = None


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    network_id: str
    project_id: str
    ip_version: int
    cidr: str


@dataclass(frozen=True)
class Rule:
    """One security-group rule, with its group's name and owner."""

    id: str
    group_id: str
    group_name: str
    project_id: str
    direction: str
    ethertype: str
    protocol: str | None = None
    port_min: int | None = None
    port_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: str | None = None

    def summary(self) -> str:
        ports = (
            "all ports"
            if self.port_min is None
            else (str(self.port_min) if self.port_min == self.port_max else f"{self.port_min}-{self.port_max}")
        )
        remote = self.remote_ip_prefix or (
            f"group {self.remote_group_id}"
            if self.remote_group_id
            else f"address group {self.remote_address_group_id}"
            if self.remote_address_group_id
            else "any"
        )
        return f"{self.direction} {self.ethertype} {self.protocol or 'any'} {ports} from {remote}"


@dataclass(frozen=True)
class Port:
    """One Neutron port: where it is, which groups filter it, what addresses it may use."""

    id: str
    project_id: str
    network_id: str
    device_owner: str = ""
    security_groups: tuple[str, ...] = ()
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[str, ...] = ()
    """Addresses or prefixes the port may send from besides its fixed IPs (0.0.0.0/0: any)."""
    port_security: bool = True


@dataclass(frozen=True)
class AddressGroup:
    """A Neutron address group (a rule's `remote_address_group_id` admits its addresses)."""

    id: str
    name: str
    project_id: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rbac:
    id: str
    action: str
    object_type: str
    object_id: str
    project_id: str
    target: str


@dataclass(frozen=True)
class Router:
    id: str
    name: str
    project_id: str
    gateway_network_id: str | None = None
    routes: tuple[str, ...] = ()
    """Its extra routes, "PREFIX via NEXTHOP"."""


@dataclass(frozen=True)
class FloatingIp:
    id: str
    project_id: str
    floating_ip: str
    fixed_ip: str | None = None


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    owner: str
    visibility: str


@dataclass(frozen=True)
class Endpoint:
    id: str
    service: str
    interface: str
    url: str


@dataclass(frozen=True)
class RoleAssignment:
    """One holder of a role: a user or a group, with its domain, on a scope."""

    role: str
    user: str | None = None
    group: str | None = None
    holder_domain_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False


@dataclass(frozen=True)
class VolumeType:
    id: str
    name: str
    encrypted: bool


@dataclass(frozen=True)
class Snapshot:
    """The cloud's state as the checks see it (ids are the cloud's own)."""

    domains: Mapping[str, str] = field(default_factory=dict)
    """Domain name -> id."""
    projects: tuple[Project, ...] = ()
    networks: tuple[Network, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    rules: tuple[Rule, ...] = ()
    ports: tuple[Port, ...] = ()
    address_groups: tuple[AddressGroup, ...] = ()
    rbac: tuple[Rbac, ...] = ()
    routers: tuple[Router, ...] = ()
    floating_ips: tuple[FloatingIp, ...] = ()
    images: tuple[Image, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    admin_assignments: tuple[RoleAssignment, ...] = ()
    admin_errors: tuple[str, ...] = ()
    """What of the admin role's holders could not be read (the implied roles)."""
    volume_types: tuple[VolumeType, ...] = ()
    volume_services: tuple[VolumeService, ...] = ()
    volume_backends: tuple[VolumeBackend, ...] = ()
    volume_backend_errors: tuple[str, ...] = ()
    """Why Cinder's services or pools could not be read."""
    quotas: Mapping[str, Mapping[str, Mapping[str, int]]] = field(default_factory=dict)
    """Project id -> service (compute, network, volume) -> key -> limit (-1 unlimited)."""
    quota_errors: Mapping[str, str] = field(default_factory=dict)
    """Project id -> why its quotas could not be read."""
    ovn_read_from: str | None = None
    """The controller OVN's northbound database was read on (None: not read, `_ovn`)."""
    ovn_switches: tuple[OvnSwitch, ...] = ()
    ovn_ports: tuple[OvnPort, ...] = ()
    ovn_port_groups: tuple[OvnPortGroup, ...] = ()
    ovn_acls: tuple[OvnAcl, ...] = ()
    ovn_address_sets: tuple[OvnAddressSet, ...] = ()
    ovn_routers: tuple[str, ...] = ()
    ovn_routes: tuple[OvnRoute, ...] = ()
    ovn_nats: tuple[OvnNat, ...] = ()

    # -- lookups

    def project(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def project_name(self, project_id: str) -> str:
        if project_id == "*":
            return "*"
        found = self.project(project_id)
        return found.name if found else project_id

    def projects_in(self, domain: str) -> tuple[Project, ...]:
        """Projects of the domain named `domain` (none when the domain does not exist)."""
        domain_id = self.domains.get(domain)
        return tuple(p for p in self.projects if domain_id is not None and p.domain_id == domain_id)

    def network(self, network_id: str) -> Network | None:
        return next((n for n in self.networks if n.id == network_id), None)

    def network_name(self, network_id: str) -> str:
        found = self.network(network_id)
        return found.name if found else network_id

    def subnets_of(self, network_id: str) -> tuple[Subnet, ...]:
        return tuple(s for s in self.subnets if s.network_id == network_id)

    def owned(self, project_id: str) -> tuple[Network, ...]:
        return tuple(n for n in self.networks if n.project_id == project_id)


# --------------------------------------------------------------------------- reading the cloud


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _get_json(proxy: Any, path: str, key: str) -> Any:
    response = proxy.get(path)
    if response.status_code >= 400:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
    return response.json()[key]


def read_quotas(conn: Any, project_id: str) -> dict[str, dict[str, int]]:
    """A project's effective limits from Nova, Neutron and Cinder, with their native key names."""
    sources = {
        "compute": (conn.compute, f"/os-quota-sets/{project_id}", "quota_set"),
        "network": (conn.network, f"/quotas/{project_id}", "quota"),
        "volume": (conn.block_storage, f"/os-quota-sets/{project_id}", "quota_set"),
    }
    out: dict[str, dict[str, int]] = {}
    for section, (proxy, path, key) in sources.items():
        data = _get_json(proxy, path, key)
        out[section] = {k: int(data[k]) for k in QUOTA_KEYS[section] if k in data and data[k] is not None}
    return out


def _roles_implying(identity: Any, role_id: str, name: str) -> dict[str, str]:
    """Role id -> name of `role_id` and of every role that implies it, however indirectly
    (Keystone's implied roles: whoever holds one of them holds the role)."""
    base = str(identity.get_endpoint_data().url).rstrip("/")
    rules = _get_json(identity, f"{base if base.endswith('/v3') else base + '/v3'}/role_inferences", "role_inferences")
    roles = {role_id: name}
    changed = True
    while changed:
        changed = False
        for rule in rules if isinstance(rules, list) else []:
            prior = rule.get("prior_role") or {}
            implies = {(implied or {}).get("id") for implied in rule.get("implies") or []}
            if prior.get("id") and prior["id"] not in roles and implies & set(roles):
                roles[prior["id"]] = prior.get("name") or prior["id"]
                changed = True
    return roles


def _admin_assignments(conn: Any, errors: list[str]) -> tuple[RoleAssignment, ...]:
    """Every holder of admin: direct assignments and effective ones (a user in a group that
    holds it, an assignment inherited from a domain), of admin and of every role implying it.
    What could not be read is appended to `errors`."""
    identity = conn.identity
    role = identity.find_role("admin")
    if role is None:
        return ()
    out: dict[RoleAssignment, None] = {}
    domains: dict[tuple[str, str], str | None] = {}

    def holder_domain(kind: str, ident: str) -> str | None:
        if (kind, ident) not in domains:
            getter = identity.get_user if kind == "user" else identity.get_group
            domains[(kind, ident)] = getattr(getter(ident), "domain_id", None)
        return domains[(kind, ident)]

    try:
        roles = _roles_implying(identity, role.id, "admin")
    except Exception as exc:
        errors.append(f"implied roles not readable: {type(exc).__name__}: {exc}"[:300])
        roles = {role.id: "admin"}
    for role_id, role_name in roles.items():
        for effective in (False, True):
            query: dict[str, Any] = {"role_id": role_id, **({"effective": True} if effective else {})}
            for a in identity.role_assignments(**query):
                user = (a.user or {}).get("id")
                group = (a.group or {}).get("id")
                scope = a.scope or {}
                holder = holder_domain("user", user) if user else holder_domain("group", group) if group else None
                assignment = RoleAssignment(
                    role=role_name,
                    user=user,
                    group=group,
                    holder_domain_id=holder,
                    project_id=(scope.get("project") or {}).get("id"),
                    domain_id=(scope.get("domain") or {}).get("id"),
                    system=bool(scope.get("system")),
                )
                out[assignment] = None
    return tuple(out)


def _volume_types(conn: Any) -> tuple[VolumeType, ...]:
    out = []
    for vt in conn.block_storage.types():
        try:
            enc = conn.block_storage.get_type_encryption(vt.id)
            encrypted = bool(getattr(enc, "provider", None) or getattr(enc, "encryption_id", None))
        except Exception:  # no encryption spec: 404 (or an empty body)
            encrypted = False
        out.append(VolumeType(vt.id, vt.name, encrypted))
    return tuple(out)


def _volume_backends(conn: Any) -> dict[str, Any]:
    """The Snapshot's fields of Cinder's services and pools, or why they could not be read."""
    if not conn.has_service("block-storage"):
        return {"volume_backend_errors": ("the cloud has no block-storage service",)}
    try:
        services, backends = read_volume_backends(conn)
    except Exception as exc:  # the check reports it as an error, with the reason
        return {"volume_backend_errors": (f"{type(exc).__name__}: {exc}"[:300],)}
    return {"volume_services": services, "volume_backends": backends}


def _ports(net: Any) -> tuple[Port, ...]:
    return tuple(
        Port(
            id=p.id,
            project_id=p.project_id or "",
            network_id=p.network_id or "",
            device_owner=p.device_owner or "",
            security_groups=tuple(p.security_group_ids or ()),
            fixed_ips=tuple(str(ip.get("ip_address")) for ip in p.fixed_ips or () if ip.get("ip_address")),
            allowed_address_pairs=tuple(
                str(pair.get("ip_address")) for pair in p.allowed_address_pairs or () if pair.get("ip_address")
            ),
            port_security=p.is_port_security_enabled is not False,
        )
        for p in net.ports()
    )


def _address_groups(net: Any) -> tuple[AddressGroup, ...]:
    if not hasattr(net, "address_groups"):
        return ()
    try:
        return tuple(
            AddressGroup(g.id, g.name or "", g.project_id or "", tuple(str(a) for a in g.addresses or ()))
            for g in net.address_groups()
        )
    except Exception:  # no address-group extension: no rule can name one
        return ()


def take_snapshot(conn: Any, quota_domain: str | None = None) -> Snapshot:
    """Read everything the checks need; quotas of the projects of domain `quota_domain` only."""
    identity, net = conn.identity, conn.network
    services = {s.id: s.name for s in identity.services()}
    domains = {d.name: d.id for d in identity.domains()}
    projects = tuple(
        Project(p.id, p.name, p.domain_id, bool(p.is_enabled), tuple(p.tags or ()))
        for p in identity.projects()
        if not p.is_domain
    )
    snapshot_quotas: dict[str, dict[str, dict[str, int]]] = {}
    quota_errors: dict[str, str] = {}
    quota_domain_id = domains.get(quota_domain or "")
    for project_id in (p.id for p in projects if quota_domain_id and p.domain_id == quota_domain_id):
        try:
            snapshot_quotas[project_id] = read_quotas(conn, project_id)
        except Exception as exc:
            quota_errors[project_id] = f"{type(exc).__name__}: {exc}"
    groups = {g.id: (g.name, g.project_id) for g in net.security_groups()}
    admin_errors: list[str] = []
    return Snapshot(
        domains=domains,
        projects=projects,
        networks=tuple(
            Network(
                id=n.id,
                name=n.name or "",
                project_id=n.project_id or "",
                shared=bool(n.is_shared),
                external=bool(n.is_router_external),
                provider_type=n.provider_network_type,
                physnet=n.provider_physical_network,
                segmentation_id=_int(n.provider_segmentation_id),
            )
            for n in net.networks()
        ),
        subnets=tuple(
            Subnet(s.id, s.name or "", s.network_id, s.project_id or "", int(s.ip_version), s.cidr)
            for s in net.subnets()
        ),
        rules=tuple(
            Rule(
                id=r.id,
                group_id=r.security_group_id,
                group_name=groups.get(r.security_group_id, ("?", ""))[0],
                project_id=r.project_id or groups.get(r.security_group_id, ("", ""))[1] or "",
                direction=r.direction,
                ethertype=r.ether_type,
                protocol=r.protocol,
                port_min=_int(r.port_range_min),
                port_max=_int(r.port_range_max),
                remote_ip_prefix=r.remote_ip_prefix,
                remote_group_id=r.remote_group_id,
                remote_address_group_id=getattr(r, "remote_address_group_id", None),
            )
            for r in net.security_group_rules()
        ),
        ports=_ports(net),
        address_groups=_address_groups(net),
        rbac=tuple(
            Rbac(r.id, r.action, r.object_type, r.object_id, r.project_id or "", r.target_project_id)
            for r in net.rbac_policies()
        ),
        routers=tuple(
            Router(
                r.id, r.name or "", r.project_id or "", (r.external_gateway_info or {}).get("network_id"),
                tuple(f"{route['destination']} via {route['nexthop']}" for route in r.routes or ()),
            )
            for r in net.routers()
        ),
        floating_ips=tuple(
            FloatingIp(f.id, f.project_id or "", f.floating_ip_address or "", f.fixed_ip_address) for f in net.ips()
        ),
        images=tuple(Image(i.id, i.name or "", i.owner or "", i.visibility or "") for i in conn.image.images()),
        endpoints=tuple(
            Endpoint(e.id, services.get(e.service_id, e.service_id), e.interface, e.url) for e in identity.endpoints()
        ),
        admin_assignments=_admin_assignments(conn, admin_errors),
        admin_errors=tuple(admin_errors),
        volume_types=_volume_types(conn) if conn.has_service("block-storage") else (),
        **_volume_backends(conn),
        quotas=snapshot_quotas,
        quota_errors=quota_errors,
    )
