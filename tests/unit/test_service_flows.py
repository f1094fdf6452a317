"""Flows name the platform's services; the flows open exactly the ports the hosts' services use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.errors import InventoryError
from infra.firewall import ruleset
from infra.services import catalogue
from infra.services.coverage import problems
from infra.site import load_site
from infra.validate import load_valid_site
from tests.conftest import REPO
from tests.helpers import edit_yaml
from tests.unit._lab import host, lab_copy, lab_site

SITES = sorted(p.parent.name for p in (REPO / "inventories").glob("*/flows.yml"))


@pytest.mark.parametrize("name", SITES)
def test_service_flows_open_every_deployed_port_and_nothing_else(name: str) -> None:
    assert problems(load_valid_site(REPO / "inventories" / name), catalogue()) == []


def test_service_flows_take_their_ports_from_the_catalogue() -> None:
    site = lab_site()
    flow = next(f for f in site.flows if f.name == "internal-api")
    assert (flow.services, flow.ports) == (("keystone", "nova"), (5000, 8774))
    rule = next(r for r in ruleset(site, host(site, "ctl01")).rules if r.flow == "internal-api")
    assert rule.match == 'iifname "api" tcp dport { 5000, 8774 }'


def _flow(index: int, **changes: Any) -> Any:
    def change(doc: Any) -> None:
        flow = doc["flows"][index]
        for key, value in changes.items():
            if value is None:
                flow.pop(key, None)
            else:
                flow[key] = value

    return change


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"services": None, "ports": [5000, 8774, 8080]},
            "flows.yml:5: flows.3.ports: ports 5000, 8774 of the platform's services: write "
            "`services: [keystone, nova]` instead of ports (a service's ports are written once, in "
            "infra/services/services.yml) (got [5000, 8774, 8080]) (fix: see this field in docs/site-model.md)",
        ),
        (
            {"services": None, "ports": ["3300-3400"]},
            "flows.yml:5: flows.3.ports: ports 3300, 3306 of the platform's services: write `services: "
            "[ceph-mon, mariadb]` "
            "instead of ports (a service's ports are written once, in infra/services/services.yml) "
            "(got ['3300-3400']) (fix: see this field in docs/site-model.md)",
        ),
        (
            {"services": ["keystone", "swift"]},
            "flows.yml:5: flows.3.services.1: unknown service 'swift' (known: barbican, ceph-mon, ceph-osd, cinder, "
            "cinder-volume, glance, horizon, keepalived, keystone, mariadb, mariadb-cluster, memcached, neutron, nova, "
            "nova-compute, ovn-central, "
            "ovn-controller, placement, portal, rabbitmq, tls-front) (got 'swift') "
            "(fix: see this field in docs/site-model.md)",
        ),
        (
            {"ports": [8080]},
            "flows.yml:5: flows.3.ports: write `services` or `ports`, not both (the services' ports come "
            "from the catalogue) (got [8080]) (fix: see this field in docs/site-model.md)",
        ),
        (
            {"protocol": "udp"},
            "flows.yml:5: flows.3.services: the platform's services listen on tcp, not udp "
            "(got ['keystone', 'nova']) (fix: see this field in docs/site-model.md)",
        ),
        (
            {"services": ["nova-compute"]},
            "flows.yml:5: flows.3.services: nova-compute listens on no port (got ['nova-compute']) "
            "(fix: see this field in docs/site-model.md)",
        ),
    ],
)
def test_service_flows_invalid_form_is_refused_with_the_fix(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    root = lab_copy(tmp_path)
    edit_yaml(root, "flows.yml", _flow(3, **changes))
    with pytest.raises(InventoryError) as exc:
        load_site(root)
    assert str(exc.value) == f"{root}/{expected}"


def test_service_flows_loopback_port_is_not_opened(tmp_path: Path) -> None:
    """6640 (Open vSwitch's database) is the catalogue's, on 127.0.0.1 only: no flow writes it."""
    root = lab_copy(tmp_path)
    edit_yaml(root, "flows.yml", _flow(3, services=None, ports=[6640]))
    with pytest.raises(InventoryError) as exc:
        load_site(root)
    assert "flows.3.ports: port 6640 of the platform's services" in str(exc.value)


def test_service_flows_tenant_ports_stay_ports(tmp_path: Path) -> None:
    """A tenant's own database is not the platform's: ports to 'tenants' are not refused."""
    root = lab_copy(tmp_path)
    edit_yaml(root, "flows.yml", lambda doc: doc["flows"].append(
        {"name": "tenant-db", "from": "tenants", "to": "tenants", "protocol": "tcp", "ports": [3306],
         "reason": "Applications and their databases"}
    ))
    assert load_site(root).flows[-1].ports == (3306,)
