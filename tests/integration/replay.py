"""Test support: replay the Pulumi programs' registered resources against a real OpenStack.

The Pulumi engine cannot be installed on these machines. The real `platform` and `tenants`
programs run under the SDK's mocks (infra.stacks.mockrun); this harness then creates every
registered cloud resource with openstacksdk, in registration order (the order the engine would
respect, since a resource registers only after the resources its inputs need), translating each
mock id into the real id the cloud returned. It is in tests/, not in the product: it proves the
programs' arguments are valid on a real Keystone/Neutron/Nova/Cinder.

Idempotent for a re-run on the same cloud: named resources are found before they are created.
Tenants can be replayed in parallel, one connection per worker (`replay_tenants`, used by
benchmarks/onboarding.py), and removed again by code (`remove_tenant`).
"""

from __future__ import annotations

import contextlib
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import openstack.connection
import openstack.exceptions

from infra.stacks.mockrun import MockRun, RegisteredResource

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


@dataclass
class Replay:
    """Real ids by mock id, plus what each resource became."""

    conn: openstack.connection.Connection
    ids: dict[str, str] = field(default_factory=dict)
    created: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, real id)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time spent in each resource type's handler (for profiling)."""
    calls: dict[str, int] = field(default_factory=dict)
    """How many resources of each type were replayed."""

    def resolve(self, value: Any) -> Any:
        """Replace mock and lookup ids anywhere inside an input value."""
        if isinstance(value, str):
            if value in self.ids:
                return self.ids[value]
            if value.startswith("lookup:role:"):
                role = self.conn.identity.find_role(value.removeprefix("lookup:role:"), ignore_missing=False)
                self.ids[value] = role.id
                return role.id
            if value.startswith(("mock:", "lookup:")):
                raise KeyError(f"unresolved reference {value!r}: its resource was not replayed first")
            return value
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value


Handler = Callable[[Replay, Mapping[str, Any]], str]


def _project(inputs: Mapping[str, Any]) -> str | None:
    return inputs.get("projectId") or inputs.get("tenantId")


def _first(listing: Iterable[Any]) -> Any:
    """The first item of a filtered listing, or None: one request, where openstacksdk's find_*
    first tries the name as an id (a GET answered 404) and then lists."""
    return next(iter(listing), None)


def _domain_or_project(r: Replay, i: Mapping[str, Any]) -> str:
    identity = r.conn.identity
    if i.get("isDomain"):
        domain = identity.find_domain(i["name"]) or identity.create_domain(
            name=i["name"], description=i.get("description", ""), is_enabled=i.get("enabled", True)
        )
        return str(domain.id)
    found = _first(identity.projects(name=i["name"], domain_id=i.get("domainId")))
    attrs = {
        "name": i["name"],
        "description": i.get("description", ""),
        "domain_id": i.get("domainId"),
        "is_enabled": i.get("enabled", True),
        "tags": i.get("tags", []),
    }
    if found is None:
        return str(identity.create_project(**attrs).id)
    identity.update_project(found, **{k: v for k, v in attrs.items() if k != "domain_id"})
    return str(found.id)


def _role(r: Replay, i: Mapping[str, Any]) -> str:
    found = r.conn.identity.find_role(i["name"])
    return str((found or r.conn.identity.create_role(name=i["name"], domain_id=i.get("domainId"))).id)


def _group(r: Replay, i: Mapping[str, Any]) -> str:
    found = _first(r.conn.identity.groups(name=i["name"], domain_id=i.get("domainId")))
    if found is None:
        found = r.conn.identity.create_group(
            name=i["name"], domain_id=i.get("domainId"), description=i.get("description", "")
        )
    return str(found.id)


def _role_assignment(r: Replay, i: Mapping[str, Any]) -> str:
    identity = r.conn.identity  # ids straight into the PUT: no GET of project, group, role
    if "groupId" in i:
        identity.assign_project_role_to_group(i["projectId"], i["groupId"], i["roleId"])
        return f"{i['projectId']}/{i['groupId']}/{i['roleId']}"
    identity.assign_project_role_to_user(i["projectId"], i["userId"], i["roleId"])
    return f"{i['projectId']}/{i['userId']}/{i['roleId']}"


def _flavor(r: Replay, i: Mapping[str, Any]) -> str:
    compute = r.conn.compute
    found = compute.find_flavor(i["name"])
    if found is None:
        found = compute.create_flavor(
            name=i["name"], ram=i["ram"], vcpus=i["vcpus"], disk=i.get("disk", 0), is_public=i.get("isPublic", True)
        )
        if i.get("extraSpecs"):
            compute.create_flavor_extra_specs(found, i["extraSpecs"])
    return str(found.id)


_QUOTA_SKIP = {"projectId", "region"}


_QUOTA_SETTERS: dict[str, Callable[[Any, str, dict[str, Any]], Any]] = {
    # the proxies with the project id: the cloud layer's set_*_quotas first looks the project up
    "compute": lambda conn, pid, values: conn.compute.update_quota_set(pid, force=True, **values),
    "network": lambda conn, pid, values: conn.network.update_quota(pid, **values),
    "volume": lambda conn, pid, values: conn.block_storage.update_quota_set(pid, **values),
}


def _quotas(service: str) -> Handler:
    def handler(r: Replay, i: Mapping[str, Any]) -> str:
        values = {snake(k): v for k, v in i.items() if k not in _QUOTA_SKIP}
        if "volume_type_quota" in values:
            values.update(values.pop("volume_type_quota") or {})
        _QUOTA_SETTERS[service](r.conn, i["projectId"], values)
        return f"{service}-quotas:{i['projectId']}"

    return handler


def _address_scope(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    found = net.find_address_scope(i["name"])
    if found is None:
        found = net.create_address_scope(name=i["name"], ip_version=i["ipVersion"], shared=i.get("shared", False))
    return str(found.id)


def _subnet_pool(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    found = net.find_subnet_pool(i["name"])
    if found is None:
        attrs = {
            "name": i["name"],
            "prefixes": i["prefixes"],
            "address_scope_id": i.get("addressScopeId"),
            "default_prefix_length": i.get("defaultPrefixlen"),
            "minimum_prefix_length": i.get("minPrefixlen"),
            "maximum_prefix_length": i.get("maxPrefixlen"),
            "is_shared": i.get("shared", False),
            "description": i.get("description"),
        }
        found = net.create_subnet_pool(**{k: v for k, v in attrs.items() if v is not None})
    return str(found.id)


def _network(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    project = _project(i)
    found = _first(net.networks(name=i["name"], **({"project_id": project} if project else {})))
    if found is None:
        attrs: dict[str, Any] = {
            "name": i["name"],
            "description": i.get("description"),
            "is_router_external": i.get("external", False),
            "is_shared": i.get("shared", False),
            "is_admin_state_up": i.get("adminStateUp", True),
            "project_id": project,
        }
        segments = i.get("segments") or []
        if segments:
            attrs["provider_network_type"] = segments[0].get("networkType")
            attrs["provider_physical_network"] = segments[0].get("physicalNetwork")
            if segments[0].get("segmentationId"):
                attrs["provider_segmentation_id"] = segments[0]["segmentationId"]
        found = net.create_network(**{k: v for k, v in attrs.items() if v is not None})
    if i.get("tags"):
        net.set_tags(found, list(i["tags"]))
    return str(found.id)


def _subnet(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    found = next(iter(net.subnets(network_id=i["networkId"], name=i["name"])), None)
    if found is None:
        attrs = {
            "name": i["name"],
            "network_id": i["networkId"],
            "cidr": i.get("cidr"),
            "ip_version": i.get("ipVersion", 4),
            "gateway_ip": i.get("gatewayIp"),
            "ipv6_address_mode": i.get("ipv6AddressMode"),
            "ipv6_ra_mode": i.get("ipv6RaMode"),
            "allocation_pools": i.get("allocationPools"),
            "dns_nameservers": i.get("dnsNameservers"),
            "is_dhcp_enabled": i.get("enableDhcp", True),
            "subnet_pool_id": i.get("subnetpoolId"),
            "prefix_length": i.get("prefixLength"),
            "project_id": _project(i),
            "host_routes": [{"destination": h["destinationCidr"], "nexthop": h["nextHop"]} for h in i["hostRoutes"]]
            if i.get("hostRoutes")
            else None,
            "description": i.get("description"),
        }
        if attrs["gateway_ip"] == "":
            attrs["gateway_ip"] = None
            attrs["is_gateway_disabled"] = True
        found = net.create_subnet(**{k: v for k, v in attrs.items() if v is not None})
    return str(found.id)


def _subnet_route(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    subnet = net.get_subnet(i["subnetId"])
    route = {"destination": i["destinationCidr"], "nexthop": i["nextHop"]}
    routes = list(subnet.host_routes or [])
    if route not in routes:
        net.update_subnet(subnet, host_routes=[*routes, route])
    return f"{i['subnetId']}:{i['destinationCidr']}"


def _router(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    project = _project(i)
    found = next(iter(net.routers(name=i["name"], project_id=project)), None)
    if found is None:
        attrs: dict[str, Any] = {"name": i["name"], "project_id": project, "description": i.get("description")}
        if i.get("externalNetworkId"):
            gateway: dict[str, Any] = {"network_id": i["externalNetworkId"]}
            if i.get("externalFixedIps"):
                gateway["external_fixed_ips"] = [
                    {k: v for k, v in {"subnet_id": f.get("subnetId"), "ip_address": f.get("ipAddress")}.items() if v}
                    for f in i["externalFixedIps"]
                ]
            attrs["external_gateway_info"] = gateway
        found = net.create_router(**{k: v for k, v in attrs.items() if v is not None})
    return str(found.id)


def _router_interface(r: Replay, i: Mapping[str, Any]) -> str:
    router = i["routerId"]
    try:
        # positional: the keywords differ between openstacksdk releases (subnet_id/port_id, now subnet/port)
        if i.get("subnetId"):
            r.conn.network.add_interface_to_router(router, i["subnetId"])
        else:
            r.conn.network.add_interface_to_router(router, None, i["portId"])
    except openstack.exceptions.ConflictException:
        pass  # already attached by an earlier replay
    except openstack.exceptions.BadRequestException as exc:
        if "already has a port" not in str(exc):
            raise  # Neutron answers 400, not 409, for a subnet the router is already on
    return f"{i['routerId']}:{i.get('subnetId') or i.get('portId')}"


def _port(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    found = next(iter(net.ports(network_id=i["networkId"], name=i.get("name", ""))), None) if i.get("name") else None
    if found is None:
        fixed = [
            {k: v for k, v in {"subnet_id": f.get("subnetId"), "ip_address": f.get("ipAddress")}.items() if v}
            for f in i.get("fixedIps", [])
        ]
        found = net.create_port(
            network_id=i["networkId"], name=i.get("name"), fixed_ips=fixed or None, project_id=_project(i)
        )
    return str(found.id)


def _security_group(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    project = _project(i)
    found = next(iter(net.security_groups(name=i["name"], project_id=project)), None)
    if found is None:
        found = net.create_security_group(name=i["name"], description=i.get("description", ""), project_id=project)
        if i.get("deleteDefaultRules"):
            for rule in net.security_group_rules(security_group_id=found.id):
                net.delete_security_group_rule(rule)
    return str(found.id)


def _security_group_rule(r: Replay, i: Mapping[str, Any]) -> str:
    attrs = {
        "security_group_id": i["securityGroupId"],
        "direction": i["direction"],
        "ether_type": i.get("ethertype", "IPv4"),
        "protocol": i.get("protocol"),
        "port_range_min": i.get("portRangeMin"),
        "port_range_max": i.get("portRangeMax"),
        "remote_ip_prefix": i.get("remoteIpPrefix"),
        "remote_group_id": i.get("remoteGroupId"),
        "project_id": _project(i),
        "description": i.get("description"),
    }
    try:
        rule = r.conn.network.create_security_group_rule(**{k: v for k, v in attrs.items() if v not in (None, "")})
        return str(rule.id)
    except openstack.exceptions.ConflictException:
        return f"existing-rule:{i['securityGroupId']}:{i.get('portRangeMin')}:{i.get('remoteIpPrefix')}"


def _rbac(r: Replay, i: Mapping[str, Any]) -> str:
    net = r.conn.network
    found = next(
        iter(net.rbac_policies(object_id=i["objectId"], target_project_id=i["targetTenant"], action=i["action"])), None
    )
    if found is None:
        found = net.create_rbac_policy(
            action=i["action"],
            object_id=i["objectId"],
            object_type=i["objectType"],
            target_project_id=i["targetTenant"],
        )
    return str(found.id)


HANDLERS: dict[str, Handler] = {
    "openstack:identity/project:Project": _domain_or_project,
    "openstack:identity/role:Role": _role,
    "openstack:identity/groupV3:GroupV3": _group,
    "openstack:identity/roleAssignment:RoleAssignment": _role_assignment,
    "openstack:compute/flavor:Flavor": _flavor,
    "openstack:compute/quotaSetV2:QuotaSetV2": _quotas("compute"),
    "openstack:networking/quotaV2:QuotaV2": _quotas("network"),
    "openstack:blockstorage/quoteSetV3:QuoteSetV3": _quotas("volume"),
    "openstack:networking/addressScope:AddressScope": _address_scope,
    "openstack:networking/subnetPool:SubnetPool": _subnet_pool,
    "openstack:networking/network:Network": _network,
    "openstack:networking/subnet:Subnet": _subnet,
    "openstack:networking/subnetRoute:SubnetRoute": _subnet_route,
    "openstack:networking/router:Router": _router,
    "openstack:networking/routerInterface:RouterInterface": _router_interface,
    "openstack:networking/port:Port": _port,
    "openstack:networking/secGroup:SecGroup": _security_group,
    "openstack:networking/secGroupRule:SecGroupRule": _security_group_rule,
    "openstack:networking/rbacPolicyV2:RbacPolicyV2": _rbac,
}


def replay_one(state: Replay, resource: RegisteredResource) -> str:
    """Create (or find) one resource; record its real id under its mock id."""
    handler = HANDLERS.get(resource.type)
    if handler is None:
        raise NotImplementedError(f"no replay for {resource.type} ({resource.urn})")
    started = time.perf_counter()
    inputs = state.resolve(dict(resource.inputs))
    real = handler(state, inputs)
    state.seconds[resource.type] = state.seconds.get(resource.type, 0.0) + time.perf_counter() - started
    state.calls[resource.type] = state.calls.get(resource.type, 0) + 1
    if resource.id is not None:
        state.ids[resource.id] = real
    state.created.append((resource.type, resource.name, real))
    return real


def replay(
    run: MockRun, conn: openstack.connection.Connection, skip: Callable[[RegisteredResource], bool] | None = None
) -> Replay:
    """Create every cloud resource of `run` on the cloud behind `conn`; return the id mapping."""
    state = Replay(conn)
    for resource in run.custom():
        if skip is None or not skip(resource):
            replay_one(state, resource)
    return state


# --------------------------------------------------------------------------- tenants

TENANT_TYPE = "hatang:tenants:AgencyTenant"


def tenant_of(resource: RegisteredResource) -> str | None:
    """The code of the tenant a resource belongs to (its `AgencyTenant` parent), else None."""
    parent = resource.parent or ""
    if f"::{TENANT_TYPE}::" not in parent:
        return None
    return parent.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class TenantReplay:
    """One tenant's replay: when it started and ended (perf_counter), what it did."""

    code: str
    started: float
    seconds: float
    resources: int
    by_type: Mapping[str, float]


def _prime(base: Replay, value: Any) -> None:
    if isinstance(value, str) and value.startswith("lookup:role:"):
        base.resolve(value)
    elif isinstance(value, list):
        for item in value:
            _prime(base, item)
    elif isinstance(value, Mapping):
        for item in value.values():
            _prime(base, item)


def _replay_tenant(base: Replay, conn: Any, code: str, resources: list[RegisteredResource]) -> TenantReplay:
    state = Replay(conn, ids=dict(base.ids))
    started = time.perf_counter()
    for resource in resources:
        replay_one(state, resource)
    return TenantReplay(code, started, time.perf_counter() - started, len(resources), dict(state.seconds))


def replay_tenants(
    run: MockRun,
    base: Replay,
    codes: Iterable[str],
    *,
    workers: int = 1,
    connect: Callable[[], Any] | None = None,
) -> list[TenantReplay]:
    """Replay the resources of the tenants `codes`, `workers` tenants at a time.

    `base` holds the platform's real ids (a `replay` of the platform program). Each worker
    thread gets its own connection from `connect` (default: `base.conn`, one worker only), so
    no keystoneauth session is shared between threads. Within a tenant, resources are created
    in registration order, as the engine would (it would also run independent ones in parallel).
    """
    wanted = list(codes)
    groups: dict[str, list[RegisteredResource]] = {code: [] for code in wanted}
    for resource in run.custom():
        code = tenant_of(resource)
        if code in groups:
            groups[code].append(resource)
    for resource in (r for code in wanted for r in groups[code]):
        _prime(base, resource.inputs)  # Keystone's own roles: looked up once, not per tenant
    if workers <= 1 or connect is None:
        return [_replay_tenant(base, base.conn, code, groups[code]) for code in wanted]
    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()

    def work(code: str) -> TenantReplay:
        if not hasattr(local, "conn"):
            local.conn = connect()
            with lock:
                opened.append(local.conn)
        return _replay_tenant(base, local.conn, code, groups[code])

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(work, wanted))
    finally:
        for conn in opened:
            conn.close()


def summary(durations: list[float]) -> dict[str, float]:
    """First, median and max of a series of durations (seconds)."""
    return {"first": durations[0], "median": statistics.median(durations), "max": max(durations)}


# --------------------------------------------------------------------------- removal


def _quiet(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(openstack.exceptions.NotFoundException):
        action(*args, **kwargs)


def remove_tenant(conn: Any, code: str, domain: str = "agencies") -> bool:
    """Delete tenant `code`'s project and everything the replay (or Neutron) made for it.

    By name, so it also cleans up after a replay that failed half-way: routers (interfaces and
    gateway first), ports, networks with their subnets, security groups (Neutron's `default`
    too), the admin's RBAC grants to the project, its quotas, its groups, then the project.
    Returns False when there was no such project (its groups are removed anyway).
    """
    identity, net = conn.identity, conn.network
    found = identity.find_domain(domain)
    if found is None:
        return False
    for suffix in ("admins", "members", "auditors"):
        group = _first(identity.groups(name=f"{code}-{suffix}", domain_id=found.id))
        if group is not None:
            _quiet(identity.delete_group, group)
    project = _first(identity.projects(name=code, domain_id=found.id))
    if project is None:
        return False
    pid = project.id
    for router in list(net.routers(project_id=pid)):
        for port in list(net.ports(device_id=router.id)):
            if port.device_owner == "network:router_interface":
                _quiet(net.remove_interface_from_router, router, None, port.id)
        if router.external_gateway_info:
            _quiet(net.update_router, router, external_gateway_info={})
        _quiet(net.delete_router, router)
    for port in list(net.ports(project_id=pid)):
        _quiet(net.delete_port, port)
    for network in list(net.networks(project_id=pid)):
        _quiet(net.delete_network, network)
    for group in list(net.security_groups(project_id=pid)):
        _quiet(net.delete_security_group, group)
    for rbac in list(net.rbac_policies(target_project_id=pid)):
        _quiet(net.delete_rbac_policy, rbac)
    for deleter in (conn.delete_network_quotas, conn.delete_compute_quotas, conn.delete_volume_quotas):
        _quiet(deleter, pid)
    if project.is_enabled:
        identity.update_project(project, is_enabled=False)
    _quiet(identity.delete_project, project)
    return True


@contextlib.contextmanager
def removed_afterwards(conn: Any, codes: Iterable[str]) -> Iterator[None]:
    """Remove the tenants `codes` on exit, however the block ends (and before it, leftovers)."""
    wanted = list(codes)
    for code in wanted:
        remove_tenant(conn, code)
    try:
        yield
    finally:
        for code in wanted:
            remove_tenant(conn, code)
