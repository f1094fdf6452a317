"""The platform service catalogue: per OpenStack or infrastructure service, its ports, endpoint
path, host group, databases, queue user, systemd units and secrets, written once (services.yml).

Everything that needs one of these facts reads it here: the site inventory (TLS front, endpoint
URLs, databases, queue users, secrets), the flows (`services:` instead of ports) and the AIO.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from infra.services._load import CATALOGUE_FILE, CatalogueError, load_catalogue
from infra.services._model import Api, Catalogue, Secret, Service

if TYPE_CHECKING:
    from infra.site import Host, Site

__all__ = [
    "CATALOGUE_FILE",
    "Api",
    "Catalogue",
    "CatalogueError",
    "Secret",
    "Service",
    "api_hosts",
    "catalogue",
    "load_catalogue",
]

API_FRONT = "tls-front"
"""The service in front of every API: where it runs, the controllers share the api zone's vip4."""


@cache
def catalogue() -> Catalogue:
    """The project's catalogue (infra/services/services.yml), read once per process.

    Raises:
        CatalogueError: the catalogue is invalid.
    """
    return load_catalogue(CATALOGUE_FILE)


def api_hosts(site: Site) -> tuple[Host, ...]:
    """The hosts that serve the APIs (the TLS front's groups): more than one share a virtual address."""
    groups = set(catalogue().services[API_FRONT].groups)
    return tuple(h for h in site.hosts if groups & set(h.groups))
