"""Ansible inventory plugin: a hatang site folder (inventories/<site>/) as the inventory.

A shim: the logic lives in infra/ansible_inventory.py, unit-tested without Ansible.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: hatang_site
short_description: Hosts, groups and host variables from a hatang site model
description:
  - Reads inventories/<site>/ (hosts.yml and the rest of the site model) and adds its groups,
    hosts and variables (zone addresses, ansible_host, firewall policy).
  - Claims every file of the site folder, so Ansible does not try other parsers on zones.yml,
    flows.yml or tenants/*.yml.
"""


def _trusted(value: Any) -> Any:
    """The product's own Jinja expressions, marked as templates Ansible may evaluate (2.19+)."""
    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core < 2.19 evaluates every inventory string
        return value
    if isinstance(value, str):
        return trust_as_template(value) if "{{" in value else value
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    NAME = "hatang_site"

    def verify_file(self, path: str) -> bool:
        from infra.ansible_inventory import claims

        return bool(super().verify_file(path)) and claims(path)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        from infra.ansible_inventory import TEMPLATES_KEY, inventory_for
        from infra.errors import HatangError

        try:
            data = inventory_for(path)
        except HatangError as exc:
            raise AnsibleParserError(f"hatang site {path}: {exc}") from exc
        if data is None:
            return
        templates = set(data["_meta"].get(TEMPLATES_KEY, ()))
        for key, value in data["all"].get("vars", {}).items():
            self.inventory.set_variable("all", key, _trusted(value) if key in templates else value)
        for group in data["all"]["children"]:
            self.inventory.add_group(group)
            for host in data[group]["hosts"]:
                self.inventory.add_host(host, group=group)
        for host, variables in data["_meta"]["hostvars"].items():
            self.inventory.add_host(host)
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
