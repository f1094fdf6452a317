"""Issue 15: the evasions a hostile review found in the policy pack, each closed (called directly).

1. no-world-open-admin-ports read the protocol as a lower-case name only and the prefix as two
   spellings of the world: `"6"`, `6`, `"TCP"`, `0::/0` or an unreadable prefix slipped through.
2. `hatang:scope=platform` exempted a resource from five rules in whatever stack it was.
3. level3-internet-only-via-dmz trusted the router's zone tag, not the network its gateway is on.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pulumi_openstack as openstack
import pytest
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.audit.cloud._checks import no_world_open_admin_ports as audit_world_open
from infra.audit.cloud._snapshot import Rule, Snapshot
from infra.offline_plan import evaluate_policies
from infra.policy import admin_ports_opened, ip_protocol, reaches_world
from infra.site import load_site
from infra.specs.cloud import PLATFORM_PROJECT, PLATFORM_SCOPE_TAG
from infra.stacks.mockrun import MockRun, run_under_mocks
from infra.stacks.policies import (
    EXTERNAL_NETWORK_IDS,
    QUOTA_TYPES,
    T_ADDRESS_GROUP,
    T_NETWORK,
    T_PORT,
    T_PROJECT,
    T_RBAC,
    T_ROUTER,
    T_SG,
    T_SG_RULE,
    T_SUBNET,
    make_policies,
    urn_project,
)
from tests.conftest import SAMPLE

SITE = load_site(SAMPLE)
POLICIES = {p.name: p for p in make_policies(SITE)}
TENANTS = "urn:pulumi:thainguyen::hatang-tenants::{type}::{name}"
PLATFORM = "urn:pulumi:thainguyen::hatang-platform::{type}::{name}"
LEVEL3 = ["hatang:site=thainguyen", "hatang:tenant=vp-ubnd", "hatang:level=3"]  # vp-ubnd: level 3
LEVEL2 = ["hatang:site=thainguyen", "hatang:tenant=ban-do-so", "hatang:level=2"]  # ban-do-so: level 2
ZONE_IDS = {"gov": "id-gov", "dmz": "id-dmz", "internet": "id-internet"}


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _violations(policy: str, type_: str, props: Any, urn: str = TENANTS) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(type_, props, urn.format(type=type_, name="r"), "r", _opts(), None)
    POLICIES[policy].validate(args, lambda message, urn=None: found.append(message))
    return found


def _res(
    type_: str, name: str, props: Any, deps: dict[str, list[PolicyResource]] | None = None, urn: str = TENANTS
) -> PolicyResource:
    urn = urn.format(type=type_, name=name)
    return PolicyResource(type_, props, urn, name, _opts(), None, None, [], deps or {})


def _stack(policy: str, resources: list[PolicyResource], config: dict[str, Any] | None = None) -> list[str]:
    found: list[str] = []
    POLICIES[policy].validate(StackValidationArgs(resources, config), lambda message, urn=None: found.append(message))
    return found


# ----------------------------------------------------------------------------- 1. protocols, ports, prefixes

SSH = {"direction": "ingress", "ethertype": "IPv4", "portRangeMin": 22, "portRangeMax": 22}


@pytest.mark.parametrize(
    "props",
    [
        # protocol as a number, a number as text, any case
        {**SSH, "protocol": "6", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": 6, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": 6.0, "remoteIpPrefix": "0.0.0.0/0"},  # the engine's protobuf number
        {**SSH, "protocol": "006", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "TCP", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "Tcp", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "17", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": 17, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "UDP", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "ethertype": "IPv6", "remoteIpPrefix": "::/0"},
        # every protocol: absent, None, "", any, ANY, 0
        {**SSH, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": None, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "any", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "ANY", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "0", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": 0, "remoteIpPrefix": "0.0.0.0/0"},
        {"direction": "ingress", "protocol": "any", "remoteIpPrefix": "::/0"},
        # a protocol Neutron does not know: read as every protocol
        {**SSH, "protocol": "tcpx", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "300", "remoteIpPrefix": "0.0.0.0/0"},
        # port ranges holding an admin port, or none at all
        {**SSH, "protocol": "6", "portRangeMin": 1, "portRangeMax": 65535, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "portRangeMin": 20, "portRangeMax": 25, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "portRangeMin": 25, "portRangeMax": 20, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "portRangeMin": 20, "portRangeMax": None, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "portRangeMin": None, "portRangeMax": None, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "portRangeMin": 0, "portRangeMax": 0, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "6", "portRangeMin": "22", "portRangeMax": "22", "remoteIpPrefix": "0.0.0.0/0"},
        {"direction": "ingress", "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "TCP", "portRangeMin": 3300, "portRangeMax": 3400, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "17", "portRangeMin": 623, "portRangeMax": 623, "remoteIpPrefix": "0.0.0.0/0"},
        # sctp, dccp and udplite carry ports too, by name in any case or by number
        {**SSH, "protocol": "132", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "SCTP", "remoteIpPrefix": "::/0"},
        {**SSH, "protocol": 33, "portRangeMin": 3300, "portRangeMax": 3400, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "dccp", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "136", "portRangeMin": None, "portRangeMax": None, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "UDPLite", "remoteIpPrefix": "::/0"},
        # the world written otherwise
        {**SSH, "protocol": "tcp", "ethertype": "IPv6", "remoteIpPrefix": "0::/0"},
        {**SSH, "protocol": "tcp", "ethertype": "IPv6", "remoteIpPrefix": "::0/0"},
        {**SSH, "protocol": "tcp", "ethertype": "IPv6", "remoteIpPrefix": "::/000"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/00"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "10.1.2.0/0"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/0.0.0.0"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": ""},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": None},
        {**SSH, "protocol": "tcp"},
        # not a prefix at all: never passed as narrow
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "0/0"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "world"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "10.1.2.0/33"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": 0},
        # direction other than egress
        {**SSH, "protocol": "tcp", "direction": "INGRESS", "remoteIpPrefix": "0.0.0.0/0"},
        {key: value for key, value in {**SSH, "protocol": "6", "remoteIpPrefix": "::/0"}.items() if key != "direction"},
    ],
)
def test_world_open_admin_port_variants_are_reported(props: dict[str, Any]) -> None:
    found = _violations("no-world-open-admin-ports", T_SG_RULE, props)
    assert found, props
    assert all("to the world" in message for message in found)


@pytest.mark.parametrize(
    "props",
    [
        {**SSH, "protocol": "6", "portRangeMin": 443, "portRangeMax": 443, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": 6, "portRangeMin": 80, "portRangeMax": 443, "remoteIpPrefix": "::/0"},
        {**SSH, "protocol": "17", "portRangeMin": 53, "portRangeMax": 53, "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "TCP", "remoteIpPrefix": "10.20.1.0/24"},
        {**SSH, "protocol": "6", "ethertype": "IPv6", "remoteIpPrefix": "fdb4:7e10:1:11::/64"},
        {**SSH, "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/32"},
        {"direction": "ingress", "protocol": "icmp", "remoteIpPrefix": "0.0.0.0/0"},
        {"direction": "ingress", "protocol": "1", "remoteIpPrefix": "0.0.0.0/0"},
        {"direction": "ingress", "protocol": 58, "ethertype": "IPv6", "remoteIpPrefix": "::/0"},
        {"direction": "ingress", "protocol": "IPv6-ICMP", "ethertype": "IPv6", "remoteIpPrefix": "::/0"},
        {**SSH, "protocol": "6", "direction": "egress", "remoteIpPrefix": "0.0.0.0/0"},
        {**SSH, "protocol": "any", "direction": "EGRESS", "remoteIpPrefix": "::/0"},
        {**SSH, "protocol": "6", "remoteGroupId": "sg-1"},
        {**SSH, "protocol": "47", "remoteIpPrefix": "0.0.0.0/0"},  # gre has no ports
    ],
)
def test_rules_that_do_not_open_admin_ports_to_the_world_pass(props: dict[str, Any]) -> None:
    assert _violations("no-world-open-admin-ports", T_SG_RULE, props) == []


def test_world_open_messages_say_what_was_read() -> None:
    unread = _violations("no-world-open-admin-ports", T_SG_RULE, {**SSH, "protocol": "6", "remoteIpPrefix": "0/0"})
    assert unread == ["ingress from '0/0' (not a prefix: read as any address) opens ssh port 22 to the world"]
    odd = _violations("no-world-open-admin-ports", T_SG_RULE, {**SSH, "protocol": "tcpx", "remoteIpPrefix": "::/0"})
    assert len(odd) == 1 and odd[0].startswith("ingress from ::/0 opens ssh port 22, ipmi port 623, ")
    assert odd[0].endswith("to the world (protocol 'tcpx' is not a protocol Neutron knows: read as every protocol)")


def test_one_reading_of_protocols_and_prefixes_shared_with_the_cloud_audit() -> None:
    assert [ip_protocol(v) for v in ("tcp", "TCP", "6", 6, 6.0, "006", "udp", "17", None, "", "any", "0")] == [
        6, 6, 6, 6, 6, 6, 17, 17, 0, 0, 0, 0,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        ip_protocol("tcpx")
    assert admin_ports_opened("6", 20, 25) == [22]
    assert admin_ports_opened("icmp", None, None) == []
    assert all(reaches_world(p) for p in (None, "", "0::/0", "::0/0", "0.0.0.0/00", "junk"))
    assert not any(reaches_world(p) for p in ("10.0.0.0/8", "::1/128", "0.0.0.0/1"))
    # the cloud audit (HC-SG-01) reads the cloud's rules the same way
    rules = (
        Rule("numeric", "g", "g", "p", "ingress", "IPv6", "6", 22, 22, "0::/0"),
        Rule("upper", "g", "g", "p", "ingress", "IPv4", "TCP", 20, 25, "0.0.0.0/00"),
        Rule("narrow", "g", "g", "p", "ingress", "IPv4", "6", 22, 22, "10.20.1.0/24"),
    )
    result = audit_world_open(SimpleNamespace(domain="agencies"), Snapshot(rules=rules))  # type: ignore[arg-type]
    assert [f["rule"] for f in result.observed["findings"]] == ["numeric", "upper"]


# ----------------------------------------------------------------------------- 2. the platform tag


def test_urn_project_reads_the_engines_urn_only() -> None:
    assert urn_project(PLATFORM.format(type=T_NETWORK, name="n")) == PLATFORM_PROJECT
    assert urn_project(TENANTS.format(type=T_NETWORK, name="n")) == "hatang-tenants"
    # a stack or a resource name spelled like the platform does not make a platform resource
    assert urn_project(f"urn:pulumi:hatang-platform::hatang-tenants::{T_NETWORK}::n") == "hatang-tenants"
    assert urn_project(f"urn:pulumi:s::hatang-tenants::{T_NETWORK}::x::hatang-platform::y") == "hatang-tenants"
    assert urn_project(f"urn:test::{T_NETWORK}::r") is None


OUTSIDE_PLATFORM = [
    TENANTS,
    "urn:test::{type}::{name}",
    "urn:pulumi:hatang-platform::hatang-tenants::{type}::{name}",  # the stack named like the platform
    "urn:pulumi:thainguyen::hatang-platform-x::{type}::{name}",
]


@pytest.mark.parametrize("urn", OUTSIDE_PLATFORM)
@pytest.mark.parametrize(
    ("policy", "type_", "props"),
    [
        ("tenant-subnets-in-pools", T_SUBNET, {"cidr": "10.150.0.0/22"}),
        ("no-shared-networks-outside-platform", T_NETWORK, {"name": "ext-gov", "shared": True}),
        ("no-shared-networks-outside-platform", T_NETWORK, {"name": "ext-gov", "external": True}),
        ("required-tags", T_NETWORK, {"name": "app"}),
        ("required-tags", T_PROJECT, {"name": "vp-ubnd"}),
    ],
)
def test_the_platform_tag_exempts_nothing_outside_the_platform_stack(
    urn: str, policy: str, type_: str, props: dict[str, Any]
) -> None:
    tagged = {**props, "tags": [PLATFORM_SCOPE_TAG]}
    assert _violations(policy, type_, tagged, urn)
    assert not _violations(policy, type_, tagged, PLATFORM)  # the platform's own


def test_required_tags_reports_the_platform_tag_on_a_tenant_resource() -> None:
    tagged = {"name": "app", "tags": [*LEVEL3, PLATFORM_SCOPE_TAG]}
    assert _violations("required-tags", T_NETWORK, tagged) == [
        "carries hatang:scope=platform outside the platform stack (project 'hatang-tenants', not "
        "'hatang-platform'); the tag is the platform's and exempts nothing here"
    ]
    assert not _violations("required-tags", T_NETWORK, {"name": "app", "tags": LEVEL3})


def test_in_the_platform_stack_the_tag_is_still_needed() -> None:
    shared = {"name": "x", "shared": True, "tags": ["hatang:site=thainguyen"]}
    assert _violations("no-shared-networks-outside-platform", T_NETWORK, shared, PLATFORM)


@pytest.mark.parametrize("urn", OUTSIDE_PLATFORM)
def test_stack_rules_ignore_the_platform_tag_outside_the_platform(urn: str) -> None:
    tag = [PLATFORM_SCOPE_TAG]
    network = _res(T_NETWORK, "n", {"name": "app", "tags": tag}, urn=urn)
    assert _stack("tenant-networks-dual-stack", [network]) == [
        "tenant network 'app' has no IPv4 or IPv6 subnet; every tenant network is dual-stack"
    ]
    project = _res(T_PROJECT, "p", {"name": "vp-ubnd", "tags": tag}, urn=urn)
    assert len(_stack("tenant-quotas-explicit", [project])) == len(QUOTA_TYPES)
    # the platform's own network and domain are exempt
    assert not _stack("tenant-networks-dual-stack", [_res(T_NETWORK, "n", {"tags": tag}, urn=PLATFORM)])
    assert not _stack("tenant-quotas-explicit", [_res(T_PROJECT, "p", {"name": "x", "tags": tag}, urn=PLATFORM)])


def test_offline_plan_judges_the_platform_tag_by_the_program_that_declared_it() -> None:
    def tenant_program() -> None:
        openstack.networking.Network("sneaky", name="sneaky", shared=True, tags=[PLATFORM_SCOPE_TAG])

    run = run_under_mocks(tenant_program, project="hatang-tenants", stack="thainguyen")
    found = {(v.policy, v.urn.rsplit("::", 1)[-1]) for v in evaluate_policies(run, SITE)}
    assert {("no-shared-networks-outside-platform", "sneaky"), ("required-tags", "sneaky")} <= found
    assert ("tenant-networks-dual-stack", "sneaky") in found
    platform = run_under_mocks(tenant_program, project=PLATFORM_PROJECT, stack="thainguyen")
    assert evaluate_policies(platform, SITE) == []


# ----------------------------------------------------------------------------- 3. level 3: the real gateway


def _project(code: str, urn: str = TENANTS) -> PolicyResource:
    return _res(T_PROJECT, f"{code}-project", {"name": code}, urn=urn)


def _router(props: dict[str, Any], project: PolicyResource | None = None, urn: str = TENANTS) -> PolicyResource:
    return _res(T_ROUTER, "router", props, {"tenantId": [project]} if project else {}, urn=urn)


def _level3(resources: list[PolicyResource], ids: dict[str, str] | None = ZONE_IDS) -> list[str]:
    return _stack("level3-internet-only-via-dmz", resources, {EXTERNAL_NETWORK_IDS: ids} if ids else None)


DMZ_TAGS = [*LEVEL3, "hatang:access=dmz", "hatang:zone=dmz"]


@pytest.mark.parametrize(
    "resources",
    [
        # the issue: tagged dmz, gateway on the internet zone's network
        [_router({"externalNetworkId": "id-internet", "tags": DMZ_TAGS})],
        # no tags at all: the project is vp-ubnd's (level 3 in its tenant file)
        [p := _project("vp-ubnd"), _router({"externalNetworkId": "id-internet"}, p)],
        # tags lie about the level; the project says 3 (and thainguyen-id says 4)
        [p := _project("vp-ubnd"), _router({"externalNetworkId": "id-internet", "tags": LEVEL2}, p)],
        [p := _project("thainguyen-id"), _router({"externalNetworkId": "id-internet", "tags": LEVEL2}, p)],
        # the tenant tag names a level-3 tenant
        [_router({"externalNetworkId": "id-internet", "tags": ["hatang:tenant=so-yte", "hatang:zone=dmz"]})],
        # a tenants-stack router carrying the platform tag is no platform router
        [_router({"externalNetworkId": "id-internet", "tags": [*DMZ_TAGS, PLATFORM_SCOPE_TAG]})],
        # a gateway on a network that is none of the platform's zone networks
        [_router({"externalNetworkId": "id-made-up", "tags": DMZ_TAGS})],
        # the old tag check still holds
        [_router({"externalNetworkId": "id-dmz", "tags": [*LEVEL3, "hatang:zone=internet"]})],
        [_router({"externalNetworkId": "id-dmz", "tags": [*LEVEL3, "hatang:access=internet"]})],
        # an RBAC grant or a port on the internet zone's network
        [p := _project("hcc"),
         _res(T_RBAC, "g", {"objectId": "id-internet", "targetTenant": "x"}, {"targetTenant": [p]})],
        [_res(T_RBAC, "g", {"objectId": "id-internet", "targetTenant": "*", "action": "access_as_external"})],
        [p := _project("so-khcn"), _res(T_PORT, "port", {"networkId": "id-internet"}, {"tenantId": [p]})],
    ],
)  # fmt: skip
def test_level3_reaching_the_internet_zone_network_is_reported(resources: list[PolicyResource]) -> None:
    found = _level3(resources)
    assert found, resources
    assert all("internet" in message or "none of the platform's zone networks" in message for message in found)


def test_level3_the_gateway_is_known_from_the_platforms_networks_in_the_same_evaluation() -> None:
    internet = _res(
        T_NETWORK,
        "ext-internet",
        {"id": "uuid-9", "tags": [PLATFORM_SCOPE_TAG, "hatang:zone=internet"]},
        urn=PLATFORM,
    )
    router = _router({"externalNetworkId": "uuid-9", "tags": DMZ_TAGS})
    assert _level3([internet, router], ids=None) == [
        "a level-3 tenant's router has its gateway on the internet zone (network uuid-9 is zone internet's); "
        "level 3 and above reach the internet only through the DMZ"
    ]
    # a tenants-stack network tagged like the platform's names no zone
    fake = _res(T_NETWORK, "fake", {"id": "uuid-1", "tags": [PLATFORM_SCOPE_TAG, "hatang:zone=dmz"]})
    assert _level3([fake, internet, _router({"externalNetworkId": "uuid-1", "tags": DMZ_TAGS})], ids=None)


@pytest.mark.parametrize("address", ["198.51.100.7", "2001:db8:7e10:101::7"])
def test_level3_the_gateway_address_neutron_assigned_places_it_in_a_zone(address: str) -> None:
    # the engine's stack check runs on outputs: once the router exists its gateway IP is known
    router = _router({"externalNetworkId": "uuid-x", "externalFixedIps": [{"ipAddress": address}], "tags": DMZ_TAGS})
    assert _level3([router], ids=None) == [
        f"a level-3 tenant's router has its gateway on the internet zone (gateway address {address} is in zone "
        "internet); level 3 and above reach the internet only through the DMZ"
    ]
    dmz = _router({"externalNetworkId": "uuid-x", "externalFixedIps": [{"ipAddress": "203.0.113.7"}], "tags": DMZ_TAGS})
    assert _level3([dmz], ids=None) == []


@pytest.mark.parametrize(
    "resources",
    [
        [_router({"externalNetworkId": "id-dmz", "tags": DMZ_TAGS})],
        [_router({"externalNetworkId": "id-gov", "tags": [*LEVEL3, "hatang:access=gov", "hatang:zone=gov"]})],
        [p := _project("vp-ubnd"), _router({"externalNetworkId": "id-dmz"}, p)],
        [_router({"tags": DMZ_TAGS})],  # no gateway
        # level 2 in its tenant file: the internet directly is allowed
        [p := _project("ban-do-so"), _router({"externalNetworkId": "id-internet", "tags": LEVEL2}, p)],
        [p := _project("so-gddt"), _res(T_RBAC, "g", {"objectId": "id-internet"}, {"targetTenant": [p]})],
        [p := _project("vp-ubnd"), _res(T_RBAC, "g", {"objectId": "id-dmz"}, {"targetTenant": [p]})],
        [p := _project("vp-ubnd"), _res(T_PORT, "port", {"networkId": "id-gov"}, {"tenantId": [p]})],
        # the platform's own networks are not tenants' resources
        [_res(T_NETWORK, "n", {"id": "id-internet", "tags": [PLATFORM_SCOPE_TAG, "hatang:zone=internet"]},
              urn=PLATFORM)],
    ],
)  # fmt: skip
def test_level3_compliant_gateways_pass(resources: list[PolicyResource]) -> None:
    assert _level3(resources) == []


def test_level3_a_gateway_not_known_at_preview_falls_back_to_the_tags() -> None:
    unknown = {"externalNetworkId": UNKNOWN_STRING_VALUE}
    assert _level3([_router(unknown_checking_proxy({**unknown, "tags": DMZ_TAGS}))]) == []
    internet = unknown_checking_proxy({**unknown, "tags": [*LEVEL3, "hatang:zone=internet"]})
    assert _level3([_router(internet)]) == [
        "a level-3 tenant's router has its gateway on the internet zone (tagged hatang:zone=internet); "
        "level 3 and above reach the internet only through the DMZ"
    ]


def test_level3_offline_plan_compares_the_gateway_with_the_platforms_networks(tn_run: MockRun) -> None:
    """The real programs under mocks; vp-ubnd's dmz router then pointed at the internet network
    (what a wrong lookup in the tenants program would do): reported, whatever its tags say."""
    run = dataclasses.replace(tn_run, resources=list(tn_run.resources))
    assert evaluate_policies(run, SITE) == []
    internet = next(r for r in run.resources if r.type == T_NETWORK and r.name == "ext-internet-network")
    router = next(r for r in run.resources if r.type == T_ROUTER and r.name == "vp-ubnd-router-dmz")
    assert "hatang:zone=dmz" in router.inputs["tags"]
    index = run.resources.index(router)
    run.resources[index] = dataclasses.replace(router, inputs={**router.inputs, "externalNetworkId": internet.id})
    found = [v for v in evaluate_policies(run, SITE) if v.policy == "level3-internet-only-via-dmz"]
    assert [(v.urn, v.message) for v in found] == [
        (
            router.urn,
            f"a level-3 tenant's router has its gateway on the internet zone (network {internet.id} is zone "
            "internet's); level 3 and above reach the internet only through the DMZ",
        )
    ]


def test_level3_rule_is_a_mandatory_stack_policy_with_the_zone_ids_as_config() -> None:
    # every violation above is mandatory: each rule of the pack is
    assert {p.enforcement_level.value for p in POLICIES.values()} == {"mandatory"}
    policy: Policy = POLICIES["level3-internet-only-via-dmz"]
    assert policy.config_schema is not None and EXTERNAL_NETWORK_IDS in policy.config_schema.properties


# ----------------------------------------------------------------------------- 4. the world split over rules

COMBINED = "no-world-open-admin-ports-combined"


def _sg_rule(
    name: str, prefix: str, deps: dict[str, list[PolicyResource]] | None = None, **props: Any
) -> PolicyResource:
    ethertype = "IPv6" if ":" in prefix else "IPv4"
    base = {**SSH, "protocol": "tcp", "ethertype": ethertype, "remoteIpPrefix": prefix, "tenantId": "p-1"}
    return _res(T_SG_RULE, name, {**base, **props}, deps)


@pytest.mark.parametrize(
    "resources",
    [
        # two /1s
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "128.0.0.0/1")],
        # four /2s, protocols and ranges written four ways
        [_sg_rule("a", "0.0.0.0/2", protocol="6"), _sg_rule("b", "64.0.0.0/2", protocol="TCP"),
         _sg_rule("c", "128.0.0.0/2", portRangeMin=20, portRangeMax=30), _sg_rule("d", "192.0.0.0/2", protocol=None)],
        # IPv6 in uneven pieces
        [_sg_rule("a", "::/1"), _sg_rule("b", "8000::/2"), _sg_rule("c", "c000::/2")],
        # two groups of one project (the project from a dependency)
        [p := _project("so-yte"), _sg_rule("a", "0.0.0.0/1", {"tenantId": [p]}, tenantId=None, securityGroupId="g1"),
         _sg_rule("b", "128.0.0.0/1", {"tenantId": [p]}, tenantId=None, securityGroupId="g2")],
        # rules without a tenant: their groups' project
        [g1 := _res(T_SG, "g1", {"tenantId": "p-9"}), g2 := _res(T_SG, "g2", {"tenantId": "p-9"}),
         _sg_rule("a", "0.0.0.0/1", {"securityGroupId": [g1]}, tenantId=None),
         _sg_rule("b", "128.0.0.0/1", {"securityGroupId": [g2]}, tenantId=None)],
        # sctp halves
        [_sg_rule("a", "0.0.0.0/1", protocol="sctp"), _sg_rule("b", "128.0.0.0/1", protocol="132")],
    ],
)  # fmt: skip
def test_rules_that_together_admit_the_world_are_reported(resources: list[PolicyResource]) -> None:
    found = _stack(COMBINED, resources)
    assert found, resources
    assert all("together admit every" in message for message in found)
    rules = [r for r in resources if r.resource_type == T_SG_RULE]
    assert len(found) == len(rules), "one report per rule taking part"


@pytest.mark.parametrize(
    "resources",
    [
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "128.0.0.0/2")],  # a quarter left out
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "::/1")],  # half of each family
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "128.0.0.0/1", tenantId="p-2")],  # two projects
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "128.0.0.0/1", protocol="udp")],  # tcp and udp halves
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "128.0.0.0/1", portRangeMin=443, portRangeMax=443)],
        [_sg_rule("a", "0.0.0.0/1"), _sg_rule("b", "128.0.0.0/1", direction="egress")],
        [g1 := _res(T_SG, "g1", {"tenantId": "p-8"}), g2 := _res(T_SG, "g2", {"tenantId": "p-9"}),
         _sg_rule("a", "0.0.0.0/1", {"securityGroupId": [g1]}, tenantId=None),
         _sg_rule("b", "128.0.0.0/1", {"securityGroupId": [g2]}, tenantId=None)],
        [_sg_rule("a", "0.0.0.0/0"), _sg_rule("b", "10.0.0.0/8")],  # alone: the resource policy's
    ],
)  # fmt: skip
def test_rules_that_leave_addresses_out_together_pass(resources: list[PolicyResource]) -> None:
    assert _stack(COMBINED, resources) == []


def test_combined_world_message_names_the_rules_and_ports() -> None:
    found = _stack(COMBINED, [_sg_rule("a", "0.0.0.0/1", portRangeMax=23), _sg_rule("b", "128.0.0.0/1", protocol=None)])
    message = "ingress rules a, b together admit every IPv4 address to ssh port 22 "
    assert found == [message + "(their remote prefixes add up to the world)"] * 2


def test_offline_plan_reports_halves_declared_by_a_program() -> None:
    def tenant_program() -> None:
        group = openstack.networking.SecGroup("g", name="g", tenant_id="p-1")
        for name, prefix in (("lo", "0.0.0.0/1"), ("hi", "128.0.0.0/1")):
            openstack.networking.SecGroupRule(
                name, direction="ingress", ethertype="IPv4", protocol="6", port_range_min=22, port_range_max=22,
                remote_ip_prefix=prefix, security_group_id=group.id, tenant_id="p-1",
            )  # fmt: skip

    run = run_under_mocks(tenant_program, project="hatang-tenants", stack="thainguyen")
    found = {(v.policy, v.urn.rsplit("::", 1)[-1]) for v in evaluate_policies(run, SITE)}
    assert {(COMBINED, "lo"), (COMBINED, "hi")} <= found
    assert not {v for v in found if v[0] == "no-world-open-admin-ports"}


HELD = "address to ssh port 22 (its remote address group holds the world)"


@pytest.mark.parametrize(
    ("addresses", "found"),
    [
        (["0.0.0.0/0"], [f"ingress rule a admits every IPv4 {HELD}"]),
        (["0.0.0.0/1", "128.0.0.0/1", "::/0"], [f"ingress rule a admits every IPv4 and IPv6 {HELD}"]),
        (["10.0.0.0/8", "fd00::/8"], []),
    ],
)
def test_a_remote_address_group_of_the_stack_is_read(addresses: list[str], found: list[str]) -> None:
    group = _res(T_ADDRESS_GROUP, "ag", {"addresses": addresses})
    rule = _sg_rule("a", "", {"remoteAddressGroupId": [group]}, remoteIpPrefix=None, remoteAddressGroupId="ag-id")
    assert _stack(COMBINED, [group, rule]) == found
    # a group of another stack: unknown here, left to the cloud audit
    assert _stack(COMBINED, [_sg_rule("b", "", remoteIpPrefix=None, remoteAddressGroupId="ag-elsewhere")]) == []


@pytest.mark.parametrize(
    ("props", "urn", "bad"),
    [
        ({"networkId": "n", "portSecurityEnabled": False}, TENANTS, True),
        ({"networkId": "n", "portSecurityEnabled": True}, TENANTS, False),
        ({"networkId": "n"}, TENANTS, False),
        ({"networkId": "n", "portSecurityEnabled": False, "tags": [PLATFORM_SCOPE_TAG]}, PLATFORM, False),
    ],
)
def test_a_tenant_port_without_port_security_is_reported(props: dict[str, Any], urn: str, bad: bool) -> None:
    found = _violations("no-world-open-admin-ports", T_PORT, props, urn)
    assert bool(found) is bad
    assert all(message.startswith("port security disabled") for message in found)
