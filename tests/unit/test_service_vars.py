"""The catalogue rendered for Ansible, and the roles and playbooks that no longer restate it."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from ruamel.yaml import YAML

from infra.ansible_inventory import TEMPLATES_KEY, inventory
from infra.services import Secret, catalogue
from infra.services.ansible_vars import platform_vars, secret_lookup
from tests.conftest import REPO
from tests.unit._lab import lab_site

VARS = platform_vars(catalogue())


def test_service_vars_tls_front_serves_every_api_port_and_the_dashboard() -> None:
    assert VARS["tls_front_ports"] == {
        "barbican": 9311, "cinder": 8776, "glance": 9292, "keystone": 5000, "neutron": 9696, "nova": 8774,
        "placement": 8778, "horizon": 8443, "portal": 8444,
    }
    assert VARS["horizon_bind_address"] == "{{ _hatang_backend_address }}"
    assert VARS["horizon_public_url"] == "{{ _hatang_scheme }}://{{ hatang_api_endpoint }}:8443/"
    assert VARS["horizon_keystone_url"] == "{{ keystone_internal_url }}"
    assert "horizon_catalog_entry" not in VARS  # a web site, not an API in Keystone's catalog
    assert VARS["portal_bind_address"] == "{{ _hatang_backend_address }}"
    assert VARS["portal_proxy_headers"] == "{{ _hatang_tls }}"  # its cookies are Secure behind the front
    assert VARS["portal_keystone_url"] == "{{ keystone_internal_url }}"


def test_service_vars_endpoint_urls_carry_port_and_path() -> None:
    assert VARS["nova_public_url"] == "{{ _hatang_scheme }}://{{ hatang_api_endpoint }}:8774/v2.1"
    assert VARS["keystone_public_url"] == "{{ _hatang_scheme }}://{{ hatang_api_endpoint }}:5000"
    assert VARS["glance_keystone_url"] == "{{ keystone_internal_url }}"
    assert "keystone_keystone_url" not in VARS


def test_service_vars_databases_queue_users_and_transport() -> None:
    assert [(d["name"], d["user"]) for d in VARS["mariadb_databases"]] == [
        ("keystone", "keystone"), ("barbican", "barbican"), ("placement", "placement"), ("glance", "glance"),
        ("neutron", "neutron"), ("nova_api", "nova"), ("nova", "nova"), ("nova_cell0", "nova"),
        ("cinder", "cinder"),
    ]
    assert VARS["mariadb_databases"][0]["password"] == "{{ mariadb_keystone_password }}"
    assert [u["name"] for u in VARS["rabbitmq_users"]] == ["neutron", "nova", "cinder"]

    def render(name: str, *addresses: str) -> object:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        env.filters["regex_replace"] = lambda value, pattern, repl: re.sub(pattern, repl, value, count=1)
        context = {
            "hatang_controllers": [{"name": f"c{i}", "address": a} for i, a in enumerate(addresses)],
            "rabbitmq_cinder_password": "pw",
        }
        return env.from_string(VARS[name]).render(context)

    assert render("cinder_transport_url", "10.0.0.1") == "rabbit://cinder:pw@10.0.0.1:5672/"
    assert render("cinder_transport_url", "10.0.0.1", "10.0.0.2", "10.0.0.3") == (
        "rabbit://cinder:pw@10.0.0.1:5672,cinder:pw@10.0.0.2:5672,cinder:pw@10.0.0.3:5672/"
    ), "every broker of the cluster"
    assert render("keystone_memcache_servers", "10.0.0.1", "10.0.0.2") == "['10.0.0.1:11211', '10.0.0.2:11211']"
    assert render("cinder_rabbit_quorum_queue", "10.0.0.1") == "False"
    assert render("cinder_rabbit_quorum_queue", "10.0.0.1", "10.0.0.2") == "True"
    assert VARS["cinder_db_host"] == "{{ hatang_api_endpoint }}"
    assert VARS["hatang_api_endpoint"] == "{{ hatang_api_vip or hatang_api_address }}"


def test_service_vars_secrets_are_lookups_into_the_secrets_folder() -> None:
    secrets = sorted(k for k, v in VARS.items() if isinstance(v, str) and "ansible.builtin.password" in v)
    # 19 passwords (the portal's service user and RabbitMQ's Erlang cookie too), Barbican's KEK, Horizon's
    # key, Keystone's two fernet and two credential keys
    assert len(secrets) == 25
    assert VARS["rabbitmq_nova_password"] == (
        "{{ lookup('ansible.builtin.password', _hatang_secrets ~ '/mq-nova', length=28, "
        "chars=['ascii_letters', 'digits']) }}-Hk7"
    )
    assert secret_lookup(Secret(variable="x_kek", file="x-kek", kind="key")).endswith("| b64encode }}")


def test_service_vars_reach_ansible_through_the_inventory() -> None:
    data = inventory(lab_site())
    assert data["all"]["vars"]["nova_port"] == 8774
    assert set(data["_meta"][TEMPLATES_KEY]) == set(VARS)


def _yaml_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*") if p.suffix in {".yml", ".j2"})


@pytest.mark.parametrize("port", sorted(catalogue().port_owners()))
def test_service_ports_are_written_in_the_catalogue_only(port: int) -> None:
    pattern = re.compile(rf"(?<![0-9.]){port}(?![0-9])")
    found = [
        str(p.relative_to(REPO)) for p in _yaml_files("roles", "playbooks")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_service_vars_loopback_port_reaches_its_server_and_its_client() -> None:
    """Open vSwitch's database port: role ovn_host listens on it, nova-compute's os-vif connects to
    it, both on 127.0.0.1 as the catalogue's `loopback` says, and neither writes the number."""
    assert VARS["ovn_host_ovsdb_port"] == catalogue().services["ovn-controller"].named_ports["ovsdb"]
    yaml = YAML(typ="safe")
    defaults = {
        role: yaml.load((REPO / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
        for role in ("ovn_host", "nova")
    }
    assert defaults["ovn_host"]["ovn_host_ovsdb_manager"] == "ptcp:{{ ovn_host_ovsdb_port }}:127.0.0.1"
    assert defaults["nova"]["nova_ovsdb_connection"] == "tcp:127.0.0.1:{{ ovn_host_ovsdb_port }}"


def test_service_roles_deploy_in_catalogue_order() -> None:
    plays = YAML(typ="safe").load((REPO / "playbooks" / "control-plane.yml").read_text(encoding="utf-8"))
    assert tuple(r["role"] for play in plays for r in play["roles"]) == catalogue().roles()


@pytest.mark.parametrize("role", catalogue().roles())
def test_service_role_specs_require_what_the_catalogue_renders(role: str) -> None:
    """A rendered variable has no default in the role: the catalogue is its only source."""
    yaml = YAML(typ="safe")
    defaults = yaml.load((REPO / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8")) or {}
    specs = yaml.load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"]["main"]["options"]
    required = {name for name, option in options.items() if option.get("required")}
    assert set(options) == set(defaults) | required, "every default documented, nothing else"
    assert required <= set(VARS), "a required option is one the inventory renders"
    assert not required & set(defaults)
    for name in set(defaults):
        described = options[name].get("default")
        if isinstance(defaults[name], str) and "{{" in defaults[name] and described != defaults[name]:
            assert "{{" not in str(described), name
            continue  # a computed default is described in the spec (no second copy of the expression)
        assert options[name].get("default") == defaults[name], name


def test_service_vars_keystone_catalog_entries() -> None:
    """What each API role registers in the Keystone catalog, the catalogue's facts only."""
    assert {k: v for k, v in VARS.items() if k.endswith("_catalog_entry")} == {
        "keystone_catalog_entry": {"name": "keystone", "type": "identity", "description": "Identity API"},
        "barbican_catalog_entry": {
            "name": "barbican", "type": "key-manager", "description": "Key manager (keys of encrypted volumes)",
        },
        "placement_catalog_entry": {
            "name": "placement", "type": "placement", "description": "Resource inventory nova schedules against",
        },
        "glance_catalog_entry": {"name": "glance", "type": "image", "description": "Image API"},
        "nova_catalog_entry": {
            "name": "nova", "type": "compute", "description": "Compute API, conductor and scheduler",
        },
        "neutron_catalog_entry": {"name": "neutron", "type": "network", "description": "Network API"},
        "cinder_catalog_entry": {
            "name": "cinderv3", "type": "volumev3", "description": "Block storage API and scheduler",
        },
    }


@pytest.mark.parametrize(
    ("role", "tasks", "variable"),
    [
        (s.role, "main.yml", "openstack_api_service_catalog_entry")
        for s in catalogue().services.values() if s.api and s.role != "keystone"
    ]
    + [("keystone", "identity.yml", "keystone_register_service")],
)
def test_service_register_tasks_take_the_catalog_entry_from_the_catalogue(role: str, tasks: str, variable: str) -> None:
    play = YAML(typ="safe").load((REPO / "roles" / role / "tasks" / tasks).read_text(encoding="utf-8"))
    passed = [task["vars"][variable] for task in play if variable in task.get("vars", {})]
    assert passed == [f"{{{{ {role}_catalog_entry }}}}"]


def test_service_register_tasks_shared_role_hands_the_catalog_entry_to_keystone() -> None:
    """The API roles register through openstack_api_service, which hands the entry on unchanged."""
    path = REPO / "roles" / "openstack_api_service" / "tasks" / "register.yml"
    play = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert play[0]["ansible.builtin.include_role"] == {"name": "keystone", "tasks_from": "register"}
    assert play[0]["vars"]["keystone_register_service"] == "{{ openstack_api_service_catalog_entry }}"
