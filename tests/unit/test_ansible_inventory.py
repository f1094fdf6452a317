"""The Ansible inventory computed from the site model, and the plugin shim that hands it over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.ansible_inventory import claims, inventory, inventory_for
from infra.errors import InventoryError
from infra.site import load_site
from tests.conftest import AIO
from tests.helpers import edit_yaml
from tests.unit._lab import LAB, lab_copy, lab_site

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["hosts.yml", "zones.yml", "flows.yml", "applications.yml"])
def test_claims_every_site_file(name: str) -> None:
    assert claims(LAB / name)


def test_claims_tenant_requests(tmp_path: Path) -> None:
    root = lab_copy(tmp_path)
    (root / "tenants" / "x.yml").write_text("code: x\n", encoding="utf-8")
    assert claims(root / "tenants" / "x.yml")


def test_claims_nothing_outside_a_site(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all: {}\n", encoding="utf-8")
    assert not claims(tmp_path / "hosts.yml")
    assert not claims(LAB / "README.md")


def test_inventory_for_only_hosts_yml_builds_the_inventory() -> None:
    assert inventory_for(LAB / "zones.yml") is None
    data = inventory_for(LAB / "hosts.yml")
    assert data is not None
    assert data["controllers"] == {"hosts": ["ctl01", "ctl02"]}
    assert data["all"]["children"] == ["controllers", "network"]


def test_inventory_host_vars_carry_addresses_and_connection() -> None:
    data = inventory(lab_site())
    ctl01 = data["_meta"]["hostvars"]["ctl01"]
    assert ctl01["ansible_host"] == "10.199.1.11"
    assert "hatang_container" not in ctl01, "a real site's inventory knows nothing of containers"
    assert ctl01["hatang_zones"]["api"]["ipv6"] == "fd99:ab:0:12::b/64"
    assert ctl01["hatang_zones"]["api"]["interface"] == "api"
    assert ctl01["hatang_firewall"]["mgmt_chain"] == "from-mgmt"
    assert data["_meta"]["hostvars"]["net01"]["hatang_routes"] is True
    chassis = {name: host["hatang_ovn_chassis"] for name, host in data["_meta"]["hostvars"].items()}
    assert chassis == {"ctl01": False, "ctl02": False, "net01": True}, "network hosts are OVN chassis"
    assert data["all"]["vars"]["hatang_services"]["ntp"] == ["10.199.1.2"]


def test_inventory_names_the_controllers_and_their_shared_address() -> None:
    """Galera, RabbitMQ, memcached and keepalived take their members from here; none is written twice."""
    lab = inventory(lab_site())["all"]["vars"]
    assert lab["hatang_controllers"] == [
        {"name": "ctl01", "address": "10.199.2.11"}, {"name": "ctl02", "address": "10.199.2.12"},
    ], "the api-zone addresses of the hosts behind the APIs, network nodes not among them"
    assert lab["hatang_api_vip"] == "10.199.2.10"
    aio = inventory(load_site(AIO))["all"]["vars"]
    assert aio["hatang_controllers"] == [{"name": "aio1", "address": "10.99.2.10"}]
    assert aio["hatang_api_vip"] == "", "a lone controller serves on its own address"


def test_inventory_gives_the_control_plane_its_region_and_physnets() -> None:
    site = load_site(AIO)
    found = inventory(site)["all"]["vars"]
    assert (found["hatang_region"], found["hatang_physnets"]) == (site.info.region, ["physnet-dmz", "physnet-gov"])


def test_inventory_for_invalid_site_raises_with_every_problem(tmp_path: Path) -> None:
    root = lab_copy(tmp_path)
    edit_yaml(root, "hosts.yml", lambda doc: doc["hosts"][0]["groups"].append("nope"))
    with pytest.raises(InventoryError) as exc:
        inventory_for(root / "hosts.yml")
    assert "unknown host group 'nope'" in str(exc.value)


def test_plugin_gives_ansible_the_site_without_warnings() -> None:
    """The shim, through Ansible itself: groups, a host var, no 'Unable to parse' warnings."""
    tool = Path(sys.executable).parent / "ansible-inventory"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        [str(tool), "-i", str(LAB), "--list"], cwd=REPO, env=env,
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    assert data["network"]["hosts"] == ["net01"]
    bridge = data["_meta"]["hostvars"]["net01"]["hatang_zones"]["dmz"]["bridge"]
    # ansible-core marks inventory strings unsafe (never templated): fine for data
    assert bridge in ("br-dmz", {"__ansible_unsafe": "br-dmz"})


def test_inventory_bridge_only_zone_has_no_addresses() -> None:
    gov = inventory(lab_site())["_meta"]["hostvars"]["net01"]["hatang_zones"]["gov"]
    assert (gov["bridge"], gov["interface"], gov["ipv4"], gov["address6"]) == ("br-gov", "br-gov", None, None)


def test_inventory_and_host_audit_do_not_import_the_lab() -> None:
    """The product never imports the test-host lab: the lab adds its connection from outside."""
    code = (
        "import sys, infra.ansible_inventory, infra.audit, infra.audit._runner; "
        "print(sorted(m for m in sys.modules if m.startswith('infra.testhosts')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_inventory_names_the_storage_monitors_and_the_copies(tmp_path: Path) -> None:
    """An odd number of monitors (at most five) among the storage hosts; the copies from capacity.yml."""
    found = inventory(load_site(AIO))["all"]["vars"]["hatang_storage"]
    assert found == {
        "monitors": [{"name": "aio1", "address": "10.99.3.10"}], "mon_host": "[v2:10.99.3.10:3300]", "replicas": 1,
    }
    thainguyen = inventory(load_site(REPO / "inventories" / "thainguyen"))["all"]["vars"]["hatang_storage"]
    assert [m["name"] for m in thainguyen["monitors"]] == ["stg01", "stg02", "stg03"]
    assert thainguyen["mon_host"] == "[v2:10.20.3.51:3300],[v2:10.20.3.52:3300],[v2:10.20.3.53:3300]"
    assert thainguyen["replicas"] == 3


@pytest.mark.parametrize(("storage_hosts", "monitors"), [(2, 1), (3, 3), (4, 3), (6, 5), (8, 5)])
def test_inventory_monitors_are_an_odd_number_of_storage_hosts(
    aio_copy: Path, storage_hosts: int, monitors: int
) -> None:
    """Ceph's monitors need a majority: an even count adds a host that can fail without adding a vote."""

    def add(doc: Any) -> None:
        for i in range(2, storage_hosts + 1):
            doc["hosts"].append({
                "name": f"stg{i}", "groups": ["storage"], "az": "nova",
                "addresses": {"mgmt": f"10.99.1.{20 + i}", "api": f"10.99.2.{20 + i}", "storage": f"10.99.3.{20 + i}"},
            })  # fmt: skip

    edit_yaml(aio_copy, "hosts.yml", add)
    found = inventory(load_site(aio_copy))["all"]["vars"]["hatang_storage"]["monitors"]
    assert [m["name"] for m in found] == ["aio1", *(f"stg{i}" for i in range(2, monitors + 1))]
