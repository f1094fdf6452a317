"""Shared fixtures of the baseline scenario's verifier (testinfra over `hatang-podman://`: one shell per host).

The controls the catalogue says the role implements are verified by the audit's own checks
(`infra/audit/hosts`, see test_controls.py), through the audit's plugin, with the catalogue's
parameters; what the site model would say of each host is read from this scenario's inventory
(molecule.yml), so no threshold or site value is written here. The other test files check what
the role does that no control covers.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[5]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.audit import HostFacts  # noqa: E402
from infra.audit.hosts import _host  # noqa: E402
from infra.audit.plugin import *  # noqa: E402, F403  (the `check` fixture and the outcome hooks)
from infra.catalogue import load_catalogue  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "molecule.yml"

read = _host.read


def params(control_id: str) -> Mapping[str, Any]:
    """The control's parameters in infra/catalogue/controls/host.yml."""
    return load_catalogue().control(control_id).parameters


def scenario_facts(name: str) -> HostFacts:
    """What the scenario's inventory says host `name` should be, as `infra.audit.host_facts`
    says it of a site's host (the mgmt zone as infra/ansible_inventory.py writes it; no flows)."""
    scenario = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    inventory = scenario["provisioner"]["inventory"]
    groups = next(p.get("groups", []) for p in scenario["platforms"] if p["name"] == name)
    variables: dict[str, Any] = dict(inventory["group_vars"]["all"])
    for group in groups:
        variables.update(inventory["group_vars"].get(group, {}))
    variables.update(inventory["host_vars"].get(name, {}))
    services = variables["hatang_services"]
    zones = variables.get("hatang_zones", {}).values()
    mgmt = [ipaddress.ip_interface(zone["ipv4"]) for zone in zones if zone["kind"] == "mgmt"]
    return HostFacts(
        site="molecule",
        host=name,
        groups=tuple(groups),
        routes=bool(variables.get("hatang_routes")),
        mgmt_addresses=tuple(str(i.ip) for i in mgmt),
        mgmt_networks=tuple(str(i.network) for i in mgmt),
        addresses=(variables["test_address"],),
        ntp=tuple(services["ntp"]),
        syslog=tuple(services["syslog"]),
        apt_mirror=services["apt_mirror"],
        flows=(),
    )


@pytest.fixture
def hatang_host_facts(host: Any) -> HostFacts:
    """The expected side of the checks for the host under test (the plugin reads a site instead)."""
    return scenario_facts(host.backend.get_hostname())
