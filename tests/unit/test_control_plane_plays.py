"""playbooks/control-plane.yml puts each role on the host groups the service catalogue gives its services.

A real site's compute and storage hosts are in no group but their own: a role whose services span
controllers and compute hosts must be in a play of both, and a play must not reach hosts where the
catalogue runs none of its roles' services.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
from ruamel.yaml import YAML

from infra.services import catalogue

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "control-plane.yml"
PLAYS: list[dict[str, Any]] = YAML(typ="safe").load(PLAYBOOK.read_text(encoding="utf-8"))


def _role_groups(role: str) -> set[str]:
    return {group for service in catalogue().services.values() if service.role == role for group in service.groups}


def _play_of(role: str) -> dict[str, Any]:
    (play,) = [p for p in PLAYS if role in [r["role"] for r in p["roles"]]]
    return play


@pytest.mark.parametrize("role", catalogue().roles())
def test_control_plane_play_hosts_are_the_groups_of_the_roles_services(role: str) -> None:
    assert set(_play_of(role)["hosts"].split(":")) == _role_groups(role), _play_of(role)["name"]


def test_control_plane_roles_in_no_play_twice() -> None:
    roles = [r["role"] for play in PLAYS for r in play["roles"]]
    assert len(roles) == len(set(roles))


@pytest.mark.parametrize(
    ("role", "groups"), [("nova", {"controllers", "compute"}), ("cinder", {"controllers", "storage"})]
)
def test_control_plane_nova_and_cinder_reach_the_compute_and_storage_hosts(role: str, groups: set[str]) -> None:
    """The defect this guards against: a play on `controllers` only never deploys nova-compute or
    cinder-volume on a site whose compute and storage hosts are only that."""
    assert set(_play_of(role)["hosts"].split(":")) == groups


@pytest.mark.parametrize(("role", "switch"), [("nova", "nova_control_enabled"), ("cinder", "cinder_control_enabled")])
def test_control_plane_roles_run_their_api_only_on_controllers(role: str, switch: str) -> None:
    defaults = YAML(typ="safe").load((REPO / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    (api_group,) = {str(s.group) for s in catalogue().services.values() if s.role == role and s.api is not None}
    assert defaults[switch] == "{{ '" + api_group + "' in group_names }}"


def _combine(*dicts: Any, recursive: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dicts:
        for key, value in (d or {}).items():
            out[key] = _combine(out[key], value) if recursive and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("control", [True, False])
def test_control_plane_nova_conf_has_the_database_only_with_the_control_services(control: bool) -> None:
    """nova-compute reaches its cell through the conductor: a compute host keeps no database password."""
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    env.filters["combine"] = _combine
    env.filters["bool"] = bool
    template = env.from_string((REPO / "roles/nova/templates/etc/nova/nova.conf.j2").read_text(encoding="utf-8"))
    defaults = YAML(typ="safe").load((REPO / "roles/nova/defaults/main.yml").read_text(encoding="utf-8"))
    context = defaults | {
        "nova_control_enabled": control, "nova_db_password": "db-secret", "nova_keystone_url": "https://k:5000",
        "ansible_managed": "test",
    }  # fmt: skip
    rendered = template.render(context)
    assert ("[database]" in rendered) is control
    assert ("[api_database]" in rendered) is control
    assert ("db-secret" in rendered) is control
    assert "[neutron]" in rendered and "[placement]" in rendered


def _listed_hosts(listing: str) -> dict[str, list[str]]:
    """`ansible-playbook --list-hosts`'s output as {play's host pattern: sorted hosts}."""
    hosts: dict[str, list[str]] = {}
    pattern = ""
    for line in listing.splitlines():
        if found := re.match(r"\s*play #\d+ \(([^)]+)\):", line):
            pattern = found[1]
            hosts[pattern] = []
        elif pattern and re.fullmatch(r"\s{6}\S+", line):
            hosts[pattern].append(line.strip())
    return {p: sorted(h) for p, h in hosts.items()}


def test_control_plane_plays_reach_the_sample_sites_compute_and_storage_hosts() -> None:
    """Ansible itself, on the sample site's inventory: nova and cinder reach every compute and storage host."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(REPO / "inventories" / "thainguyen"),
         str(PLAYBOOK), "--list-hosts"],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    hosts = _listed_hosts(result.stdout)
    ctl = ["ctl01", "ctl02", "ctl03"]
    assert hosts["controllers"] == ctl
    assert hosts["controllers:compute"] == sorted([*ctl, *(f"cmp0{i}" for i in range(1, 9))])
    assert hosts["controllers:storage"] == sorted([*ctl, "stg01", "stg02", "stg03"])
    assert hosts["storage"] == ["stg01", "stg02", "stg03"]
