"""Each policy of the pack fires on a bad resource and passes a good one (called directly)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.site import load_site
from infra.specs.cloud import PLATFORM_SCOPE_TAG, parse_tags
from infra.stacks import policies
from infra.stacks.policies import (
    POLICY_NAMES,
    QUOTA_TYPES,
    T_NETWORK,
    T_PROJECT,
    T_ROUTER,
    T_SG_RULE,
    T_SUBNET,
    make_policies,
)
from tests.conftest import SAMPLE

POLICIES = {p.name: p for p in make_policies(load_site(SAMPLE))}
TENANT_TAGS = ["hatang:site=thainguyen", "hatang:tenant=vp-ubnd", "hatang:level=3"]
PLATFORM_URN = "urn:pulumi:thainguyen::hatang-platform::{type}::r"
"""Where the platform's resources live: the platform exemption follows the URN's project."""


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _resource_violations(policy: str, type_: str, props: dict[str, Any], urn: str = "urn:test::{type}::r") -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(type_, props, urn.format(type=type_), "r", _opts(), None)
    POLICIES[policy].validate(args, lambda message, urn=None: found.append(message))
    return found


def _res(
    type_: str,
    name: str,
    props: dict[str, Any],
    deps: dict[str, list[PolicyResource]] | None = None,
    parent: PolicyResource | None = None,
) -> PolicyResource:
    return PolicyResource(type_, props, f"urn:test::{type_}::{name}", name, _opts(), None, parent, [], deps or {})


def _stack_violations(policy: Policy, resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn)))
    return found


def test_pack_has_every_rule_mandatory() -> None:
    assert sorted(POLICIES) == sorted(POLICY_NAMES)
    assert {p.enforcement_level.value for p in POLICIES.values()} == {"mandatory"}


RULE = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22}


@pytest.mark.parametrize(
    ("props", "bad"),
    [
        ({**RULE, "remoteIpPrefix": "0.0.0.0/0"}, True),
        ({**RULE, "remoteIpPrefix": "::/0", "ethertype": "IPv6"}, True),
        ({**RULE, "portRangeMin": 1, "portRangeMax": 65535, "remoteIpPrefix": "0.0.0.0/0"}, True),
        ({"direction": "ingress", "ethertype": "IPv4"}, True),  # no prefix, no protocol: everything
        ({**RULE, "remoteIpPrefix": "10.20.1.0/24"}, False),
        ({**RULE, "portRangeMin": 443, "portRangeMax": 443, "remoteIpPrefix": "0.0.0.0/0"}, False),
        ({**RULE, "direction": "egress", "remoteIpPrefix": "0.0.0.0/0"}, False),
    ],
)
def test_no_world_open_admin_ports(props: dict[str, Any], bad: bool) -> None:
    assert bool(_resource_violations("no-world-open-admin-ports", T_SG_RULE, props)) is bad


def test_tenant_subnets_in_pools_fires_outside_and_passes_inside() -> None:
    bad = _resource_violations("tenant-subnets-in-pools", T_SUBNET, {"cidr": "10.99.4.0/24", "tags": TENANT_TAGS})
    assert bad == ["tenant subnet 10.99.4.0/24 is outside the tenant pool 10.64.0.0/12 (pools.yml)"]
    assert not _resource_violations("tenant-subnets-in-pools", T_SUBNET, {"cidr": "fdb4:7e10:8000:1::/64"})
    platform = {"cidr": "10.150.0.0/22", "tags": ["hatang:scope=platform"]}
    assert not _resource_violations("tenant-subnets-in-pools", T_SUBNET, platform, PLATFORM_URN)


def test_no_shared_networks_outside_platform() -> None:
    assert _resource_violations("no-shared-networks-outside-platform", T_NETWORK, {"name": "app", "shared": True})
    assert not _resource_violations("no-shared-networks-outside-platform", T_NETWORK, {"name": "app", "shared": False})
    platform = {"name": "ext-gov", "external": True, "tags": ["hatang:scope=platform"]}
    assert not _resource_violations("no-shared-networks-outside-platform", T_NETWORK, platform, PLATFORM_URN)


def test_level3_internet_only_via_dmz() -> None:
    policy = POLICIES["level3-internet-only-via-dmz"]  # a stack policy: it follows the router to its project
    router = {"externalNetworkId": "x", "tags": [*TENANT_TAGS, "hatang:zone=internet"]}
    assert _stack_violations(policy, [_res(T_ROUTER, "r", router)])
    dmz = {"externalNetworkId": "x", "tags": [*TENANT_TAGS, "hatang:zone=dmz"]}
    assert not _stack_violations(policy, [_res(T_ROUTER, "r", dmz)])
    level2 = {"externalNetworkId": "x", "tags": ["hatang:level=2", "hatang:zone=internet"]}
    assert not _stack_violations(policy, [_res(T_ROUTER, "r", level2)])


def test_required_tags_on_projects_follow_the_tenant_file() -> None:
    good = {
        "name": "vp-ubnd",
        "tags": [
            "hatang:site=thainguyen",
            "hatang:agency=vp-ubnd",
            "hatang:level=3",
            "hatang:app=qlvb",
            "hatang:app=cong-ttdt",
        ],
    }
    assert not _resource_violations("required-tags", T_PROJECT, good)
    assert _resource_violations("required-tags", T_PROJECT, {"name": "vp-ubnd", "tags": []})
    wrong_level = {**good, "tags": [t.replace("level=3", "level=2") for t in good["tags"]]}
    assert _resource_violations("required-tags", T_PROJECT, wrong_level) == [
        "project tag hatang:level is ['2'] but the tenant file says ['3']"
    ]


def test_required_tags_on_tenant_network_resources() -> None:
    assert _resource_violations("required-tags", T_NETWORK, {"name": "app"}) == [
        "missing tag(s) hatang:site=, hatang:tenant=, hatang:level="
    ]
    assert not _resource_violations("required-tags", T_NETWORK, {"name": "app", "tags": TENANT_TAGS})


def _project_with_quotas(drop_section: str | None = None, drop_key: str | None = None) -> list[PolicyResource]:
    project = _res(T_PROJECT, "p", {"name": "vp-ubnd"})
    resources = [project]
    values = {
        "compute": {
            "instances": 1,
            "cores": 1,
            "ram": 1,
            "keyPairs": 1,
            "metadataItems": 1,
            "serverGroups": 1,
            "serverGroupMembers": 1,
        },
        "network": {
            k: 1
            for k in (
                "network",
                "subnet",
                "port",
                "router",
                "floatingip",
                "securityGroup",
                "securityGroupRule",
                "rbacPolicy",
                "subnetpool",
            )
        },
        "volume": {
            k: 1
            for k in ("volumes", "snapshots", "gigabytes", "perVolumeGigabytes", "backups", "backupGigabytes", "groups")
        },
    }
    for section, props in values.items():
        if section == drop_section:
            continue
        props = {k: v for k, v in props.items() if k != drop_key}
        resources.append(_res(QUOTA_TYPES[section], f"q-{section}", props, {"projectId": [project]}))
    return resources


def test_tenant_quotas_explicit_passes_complete_quotas() -> None:
    assert _stack_violations(POLICIES["tenant-quotas-explicit"], _project_with_quotas()) == []


def test_tenant_quotas_explicit_fires_on_a_missing_set() -> None:
    found = _stack_violations(POLICIES["tenant-quotas-explicit"], _project_with_quotas(drop_section="volume"))
    assert found == [
        (
            "project 'vp-ubnd' has no volume quota set (QuoteSetV3); every project gets compute, "
            "network and volume quotas",
            f"urn:test::{T_PROJECT}::p",
        )
    ]


def test_tenant_quotas_explicit_fires_on_a_missing_key() -> None:
    found = _stack_violations(POLICIES["tenant-quotas-explicit"], _project_with_quotas(drop_key="subnetpool"))
    assert [m for m, _ in found] == [
        "network quota subnetpool: field required (every quota key is explicit; an unset Neutron quota becomes 0)"
    ]


def test_tenant_networks_dual_stack() -> None:
    network = _res(T_NETWORK, "n", {"name": "app", "tags": TENANT_TAGS})
    v4 = _res(T_SUBNET, "s4", {"ipVersion": 4.0}, {"networkId": [network]})
    v6 = _res(T_SUBNET, "s6", {"ipVersion": 6.0}, {"networkId": [network]})
    policy = POLICIES["tenant-networks-dual-stack"]
    assert _stack_violations(policy, [network, v4, v6]) == []
    assert _stack_violations(policy, [network, v4]) == [
        ("tenant network 'app' has no IPv6 subnet; every tenant network is dual-stack", network.urn)
    ]


class _EngineList(Sequence[str]):
    """What the engine's policy library hands over for a list: a read-only sequence, not a list."""

    def __init__(self, items: list[str]) -> None:
        self._items = items

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)


def test_tags_are_read_from_the_engines_sequences_too() -> None:
    tags = _EngineList([PLATFORM_SCOPE_TAG, "hatang:zone=gov", "hatang:zone=dmz", "other"])
    assert parse_tags(tags) == {"scope": ["platform"], "zone": ["gov", "dmz"]}
    assert parse_tags("hatang:zone=gov") == {}
    assert policies._has_platform_tag({"tags": tags})
