"""The shared openstack_api_service role and the API roles that take its entry points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from ruamel.yaml import YAML

from infra.services import catalogue
from tests.conftest import REPO

SHARED = REPO / "roles" / "openstack_api_service"
INCLUDE = "ansible.builtin.include_role"
API_ROLES = tuple(s.role for s in catalogue().services.values() if s.api)
"""Every role that deploys an API (Keystone included)."""


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _specs() -> dict[str, Any]:
    specs: dict[str, Any] = _load(SHARED / "meta" / "argument_specs.yml")["argument_specs"]
    return specs


def _includes(role: str) -> list[dict[str, Any]]:
    """The role's tasks that take an entry point of the shared role."""
    tasks = _load(REPO / "roles" / role / "tasks" / "main.yml")
    return [t for t in tasks if t.get(INCLUDE, {}).get("name") == "openstack_api_service"]


def _handler_topics(role: str) -> set[str]:
    handlers = _load(REPO / "roles" / role / "handlers" / "main.yml")
    return {h["name"] for h in handlers} | {h["listen"] for h in handlers if "listen" in h}


def test_openstack_api_service_entry_points_have_task_files() -> None:
    assert sorted(_specs()) == sorted(p.stem for p in (SHARED / "tasks").glob("*.yml"))


def test_openstack_api_service_defaults_documented_where_used() -> None:
    """Every default is documented, with the same value, by each entry point that lists it."""
    defaults = _load(SHARED / "defaults" / "main.yml")
    documented: set[str] = set()
    for entry, spec in _specs().items():
        for name, option in spec["options"].items():
            assert name.startswith("openstack_api_service_"), (entry, name)
            assert ("default" in option) == (name in defaults), (entry, name)
            assert not (option.get("required") and name in defaults), (entry, name)
            if name in defaults:
                assert option["default"] == defaults[name], (entry, name)
                documented.add(name)
    assert documented == set(defaults)


@pytest.mark.parametrize("role", API_ROLES)
def test_openstack_api_service_includes_pass_declared_and_required_parameters(role: str) -> None:
    """A misspelt parameter would be ignored by Ansible; a missing one fails only at run time."""
    specs = _specs()
    includes = _includes(role)
    assert {"install", "uwsgi", "service"} <= {i[INCLUDE]["tasks_from"] for i in includes}  # nova syncs its own
    for include in includes:
        entry = include[INCLUDE]["tasks_from"]
        options = specs[entry]["options"]
        passed = set(include["vars"])
        assert passed <= set(options), (entry, passed - set(options))
        assert {n for n, o in options.items() if o.get("required")} <= passed, entry
        assert include["vars"]["openstack_api_service_name"] == role


@pytest.mark.parametrize("role", API_ROLES)
def test_openstack_api_service_includes_keep_the_role_tags_and_switch(role: str) -> None:
    """apply: carries the tags to the included tasks, so `--tags <role>-config` still reaches them."""
    for include in _includes(role):
        tags = include["tags"]
        assert include[INCLUDE]["apply"] == {"tags": tags}
        assert tags[0] == role and tags[1].startswith(f"{role}-")
        assert include["when"] in (f"{role}_enabled | bool", f"{role}_enabled | bool and {role}_control_enabled | bool")
        if include[INCLUDE]["tasks_from"] in ("uwsgi", "database", "register") and role in ("nova", "cinder"):
            assert include["when"].endswith(f"and {role}_control_enabled | bool"), "no API on a compute or storage host"


@pytest.mark.parametrize("role", API_ROLES)
def test_openstack_api_service_uwsgi_takes_the_role_variables(role: str) -> None:
    """The inventory's <role>_port, <role>_bind_address and the role's uwsgi sizes reach the file;
    a change restarts through one of the role's own handlers."""
    (uwsgi,) = [i for i in _includes(role) if i[INCLUDE]["tasks_from"] == "uwsgi"]
    given = uwsgi["vars"]
    for key in ("port", "bind_address", "uwsgi_processes", "uwsgi_threads"):
        assert given[f"openstack_api_service_{key}"] == f"{{{{ {role}_{key} }}}}"
    assert given["openstack_api_service_notify"] in _handler_topics(role)


def _render(template: str, variables: dict[str, Any]) -> str:
    # The template module's defaults: trim_blocks, trailing newline kept.
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["bool"] = bool
    return env.from_string((SHARED / "templates" / template).read_text(encoding="utf-8")).render(variables)


_UWSGI = {
    "ansible_managed": "Ansible managed",
    "openstack_api_service_bind_address": "127.0.0.1",
    "openstack_api_service_port": 9696,
    "openstack_api_service_wsgi_file": "/usr/bin/neutron-api",
    "openstack_api_service_uwsgi_name": "neutron-api",
    "openstack_api_service_home": "/var/lib/neutron",
    "openstack_api_service_uwsgi_log": "/var/log/neutron/neutron-api.log",
    "openstack_api_service_uwsgi_processes": 2,
    "openstack_api_service_uwsgi_threads": 1,
    "openstack_api_service_uwsgi_start_time": True,
    "openstack_api_service_uwsgi_options": {"pyargv": "--config-file=/etc/neutron/neutron.conf", "env": "TMPDIR=/tmp"},
}


def test_openstack_api_service_uwsgi_ini_ends_with_the_options_in_order() -> None:
    lines = _render("uwsgi.ini.j2", _UWSGI).splitlines()
    assert lines[:7] == [
        "# Ansible managed", "[uwsgi]", "http-socket = 127.0.0.1:9696", "wsgi-file = /usr/bin/neutron-api",
        "name = neutron-api", "chdir = /var/lib/neutron", "logto = /var/log/neutron/neutron-api.log",
    ]
    assert "processes = 2" in lines
    assert "add-header = Connection: close" in lines
    assert lines[-3:] == ["start-time = %t", "pyargv = --config-file=/etc/neutron/neutron.conf", "env = TMPDIR=/tmp"]


def test_openstack_api_service_uwsgi_ini_without_start_time_ends_after_close_on_exec() -> None:
    text = _render("uwsgi.ini.j2", _UWSGI | {
        "openstack_api_service_uwsgi_start_time": False, "openstack_api_service_uwsgi_options": {},
    })
    assert text.endswith("close-on-exec2 = true\n")
    assert "start-time" not in text
