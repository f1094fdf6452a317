"""The lab site (tests/roles/network/lab): small, valid, with a provider zone and tenants flows."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.site import Host, Site
from infra.validate import load_valid_site

LAB = Path(__file__).resolve().parent.parent / "roles" / "network" / "lab"


def lab_site(root: Path = LAB) -> Site:
    return load_valid_site(root)


def lab_copy(tmp_path: Path) -> Path:
    target = tmp_path / "lab"
    shutil.copytree(LAB, target)
    return target


def host(site: Site, name: str) -> Host:
    return next(h for h in site.hosts if h.name == name)
