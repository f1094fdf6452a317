"""`hatang cloud up`'s check before the engine starts (infra.engine.check_offline), without a cloud.

The engine deletes unprotected resources before it reaches a protected one, and its policy pack
stops `up` only at the breaking resource; so `up` is checked whole first, on a mock run of the
same programs. These tests feed it states and policies; the AIO tests prove it with the engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from infra import engine, offline_plan
from infra._engine_session import _refuse_protected, _would_lose
from infra.site import load_site
from tests.conftest import AIO, SAMPLE
from tests.pulumi.conftest import NOW


def _state(*resources: tuple[str, str, bool]) -> dict[str, Any]:
    """An exported deployment holding (type, logical name, protect) resources of the aio tenants stack."""
    return {
        "resources": [
            {"urn": f"urn:pulumi:aio::hatang-tenants::hatang:tenants:AgencyTenant${kind}::{name}", "type": kind,
             "protect": protect}
            for kind, name, protect in resources
        ]
    }  # fmt: skip


def _check(site: Any, stack: str, policy_pack: bool, state: dict[str, Any]) -> None:
    """What `hatang cloud up` does first: the mock run and pack, then the state's protected resources."""
    declared = engine.check_offline(site, stack, NOW, policy_pack)
    _refuse_protected(f"{site.name}/{stack}", "up", _would_lose(state, declared))


PROJECT = "openstack:identity/project:Project"
SUBNET = "openstack:networking/subnet:Subnet"


def test_a_protected_resource_the_site_still_declares_passes() -> None:
    state = _state((PROJECT, "so-khcn-project", True), (SUBNET, "so-khcn-net-app-v4", True))
    _check(load_site(AIO), "tenants", True, state)


@pytest.mark.parametrize(
    "gone",
    [
        (PROJECT, "phuong-mau-project", True),  # a tenant the site no longer has
        (SUBNET, "so-khcn-net-old-v4", True),  # a network removed from a tenant
        ("openstack:networking/network:Network", "so-khcn-project", True),  # same name, other type
    ],
)
def test_a_protected_resource_the_site_no_longer_declares_is_refused(gone: tuple[str, str, bool]) -> None:
    state = _state((PROJECT, "so-khcn-project", True), gone)
    with pytest.raises(engine.ProtectedDeletionError, match=rf"{gone[1]}.*nothing was changed"):
        _check(load_site(AIO), "tenants", True, state)


def test_an_unprotected_resource_may_go() -> None:
    _check(load_site(AIO), "tenants", True, _state((PROJECT, "phuong-mau-project", False)))


def test_the_retired_tenant_past_its_grace_period_may_go() -> None:
    """so-tttt (thainguyen) retired 2026-04-25: its protection was lifted by the up in its grace
    period; at NOW the program no longer declares it and the state's unprotected copy may be deleted."""
    site = load_site(SAMPLE)
    state = _state((PROJECT, "so-tttt-project", False))
    state["resources"][0]["urn"] = state["resources"][0]["urn"].replace("urn:pulumi:aio", "urn:pulumi:thainguyen")
    _check(site, "tenants", True, state)
    with pytest.raises(engine.ProtectedDeletionError, match="so-tttt-project"):
        state["resources"][0]["protect"] = True  # never applied during the grace period
        _check(site, "tenants", True, state)


def _deny_rules(args: Any, report: Any) -> None:
    if args.resource_type == "openstack:networking/secGroupRule:SecGroupRule":
        report("probe: every rule refused")


def test_a_mandatory_policy_violation_refuses_up_of_that_stack_only(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = ResourceValidationPolicy(name="probe", description="probe", validate=_deny_rules,
                                     enforcement_level=EnforcementLevel.MANDATORY)  # fmt: skip
    monkeypatch.setattr(offline_plan, "make_policies", lambda site: [probe])
    with pytest.raises(engine.PolicyViolationError, match=r"\[mandatory\] \[probe\] urn:pulumi:aio::hatang-tenants"):
        _check(load_site(AIO), "tenants", True, {})
    _check(load_site(AIO), "platform", True, {})  # the platform has no rules of tenants
    _check(load_site(AIO), "tenants", False, {})  # --no-policy-pack


def test_the_check_of_some_tenants_declares_only_theirs() -> None:
    """`hatang cloud up --tenant so-yte` mock-runs so-yte alone (a large site's full run is slow)."""
    site = load_site(AIO)
    every = engine.check_offline(site, "tenants", NOW, True)
    alone = engine.check_offline(site, "tenants", NOW, True, tenants=["so-yte"])
    assert {name for _, name in alone if not name.startswith("so-yte")} == {"openstack"}  # its provider
    assert alone < every and any(name.startswith("so-khcn-") for _, name in every)
    assert (PROJECT, "so-yte-project") in alone
