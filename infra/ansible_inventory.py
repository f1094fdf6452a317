"""The Ansible inventory of a site, computed from the site model (no hand-written hosts file).

`plugins/inventory/hatang_site.py` is a shim: Ansible hands it each file of the site folder;
`claims` says which are ours (all of them, so Ansible warns about none) and `inventory_for`
returns groups and host variables, built once from `hosts.yml` and the rest of the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.firewall import ruleset
from infra.hostnet import attachments
from infra.schema import ZoneKind
from infra.services import api_hosts, catalogue
from infra.services.ansible_vars import platform_vars
from infra.site import SITE_FILES, Host, Site
from infra.validate import load_valid_site

__all__ = ["PRIMARY_FILE", "TEMPLATES_KEY", "claims", "host_vars", "inventory", "inventory_for", "site_root"]

PRIMARY_FILE = "hosts.yml"
"""The site file whose parsing builds the inventory; the other site files add nothing."""

TEMPLATES_KEY = "templates"
"""`_meta` key listing the variables of `all` that are Jinja expressions the product wrote (the
catalogue's renderings): the plugin lets Ansible evaluate those, and only those."""


def site_root(path: Path | str) -> Path | None:
    """The site folder a file belongs to (the folder itself, or the parent of `tenants/`)."""
    path = Path(path)
    for folder in (path.parent, path.parent.parent):
        if all((folder / name).is_file() for name in ("site.yml", "zones.yml", PRIMARY_FILE)):
            if folder == path.parent and path.name in SITE_FILES:
                return folder
            if folder == path.parent.parent and path.parent.name == "tenants":
                return folder
    return None


def claims(path: Path | str) -> bool:
    """Whether the file is part of a site folder (and so parsed by the hatang plugin)."""
    return site_root(path) is not None


def _address_vars(site: Site, host: Host) -> dict[str, Any]:
    zones = {}
    for a in attachments(site, host):
        zones[a.zone] = {
            "kind": a.kind,
            "vlan": a.vlan,
            "device": a.device,
            "bridge": a.bridge,
            "interface": a.interface,
            "ipv4": str(a.ipv4) if a.ipv4 else None,
            "ipv6": str(a.ipv6) if a.ipv6 else None,
            "address4": str(a.ipv4.ip) if a.ipv4 else None,
            "address6": str(a.ipv6.ip) if a.ipv6 else None,
            "gateway4": str(a.gateway4) if a.gateway4 else None,
            "gateway6": str(a.gateway6) if a.gateway6 else None,
        }
    return zones


def host_vars(site: Site, host: Host) -> dict[str, Any]:
    """Variables of one host: addresses per zone, connection address, firewall policy."""
    zones = _address_vars(site, host)
    mgmt = site.zone_of_kind(ZoneKind.MGMT)
    first = next((z for z in zones.values() if z["address4"]), None)
    ssh_zone = zones.get(mgmt.name) if mgmt else None
    connect = ssh_zone or first
    out: dict[str, Any] = {
        "hatang_site": site.name,
        "hatang_zones": zones,
        "hatang_routes": any(site.groups[g].routes for g in host.groups if g in site.groups),
        # an OVN chassis: a host of the groups the catalogue's ovn-controller service runs on
        "hatang_ovn_chassis": bool(set(catalogue().services["ovn-controller"].groups) & set(host.groups)),
        "hatang_firewall": ruleset(site, host).to_vars(),
    }
    if connect is not None:
        out["ansible_host"] = connect["address4"]
    return out


CEPH_MON = "ceph-mon"
"""The catalogue's service whose hosts are the storage cluster's monitors."""


def storage_vars(site: Site) -> dict[str, Any]:
    """The storage cluster: its monitors (an odd number, five at most, of the hosts that run
    them, each with its storage-zone address), how a client lists them (Ceph's `mon_host`,
    messenger v2) and the copies kept of every block (capacity.yml)."""
    zone = site.zone_of_kind(ZoneKind.STORAGE)
    service = catalogue().services[CEPH_MON]
    hosts = [h for h in site.hosts if set(service.groups) & set(h.groups) and zone is not None and zone.name in h.ipv4]
    count = min(5, len(hosts) - (1 - len(hosts) % 2)) if hosts else 0
    monitors = [{"name": h.name, "address": str(h.ipv4[zone.name])} for h in hosts[:count] if zone]
    return {
        "monitors": monitors,
        "mon_host": ",".join(f"[v2:{m['address']}:{service.named_ports['mon']}]" for m in monitors),
        "replicas": site.capacity.storage_replicas,
    }


def inventory(site: Site) -> dict[str, Any]:
    """The site as `ansible-inventory --list` would print it, with the platform catalogue's variables."""
    services = site.info.services
    platform = platform_vars(catalogue())
    api_zone = site.zone_of_kind(ZoneKind.API)
    data: dict[str, Any] = {
        "_meta": {"hostvars": {h.name: host_vars(site, h) for h in site.hosts}, TEMPLATES_KEY: sorted(platform)},
        "all": {
            "children": sorted(site.groups),
            "vars": {
                "hatang_site": site.name,
                "hatang_site_root": str(site.root.resolve()),
                "hatang_region": site.info.region,
                "hatang_site_title": site.info.title,
                "hatang_agencies_domain": site.info.agencies_domain,
                # the hosts behind the APIs (each with its api-zone address) and their shared address
                "hatang_controllers": [
                    {"name": h.name, "address": str(h.ipv4[api_zone.name])}
                    for h in api_hosts(site)
                    if api_zone is not None and api_zone.name in h.ipv4
                ],
                "hatang_api_vip": str(api_zone.vip4) if api_zone and api_zone.vip4 else "",
                "hatang_storage": storage_vars(site),
                "hatang_physnets": sorted({z.provider.physnet for z in site.zones if z.provider is not None}),
                "hatang_services": {
                    "ntp": [str(a) for a in services.ntp],
                    "dns": [str(a) for a in services.dns],
                    "syslog": [str(a) for a in services.syslog],
                    "apt_mirror": services.apt_mirror,
                    "site_repo": services.site_repo or "",
                },
                **platform,
            },
        },
    }
    for group in sorted(site.groups):
        data[group] = {"hosts": [h.name for h in site.hosts_in(group)]}
    return data


def inventory_for(path: Path | str) -> dict[str, Any] | None:
    """The inventory when `path` is the site's hosts.yml; None for the other site files.

    Raises:
        HatangError: the site is invalid (the message lists every problem).
    """
    root = site_root(path)
    if root is None or Path(path).name != PRIMARY_FILE or Path(path).parent != root:
        return None
    return inventory(load_valid_site(root))
