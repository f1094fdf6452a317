"""The platform service catalogue: per OpenStack or infrastructure service, its ports, endpoint
path, host group, databases, queue user, systemd units and secrets, written once (services.yml).

Everything that needs one of these facts reads it here: the site inventory (TLS front, endpoint
URLs, databases, queue users, secrets), the flows (`services:` instead of ports) and the AIO.
"""

from __future__ import annotations

from functools import cache

from infra.services._load import CATALOGUE_FILE, CatalogueError, load_catalogue
from infra.services._model import Api, Catalogue, Secret, Service

__all__ = [
    "CATALOGUE_FILE",
    "Api",
    "Catalogue",
    "CatalogueError",
    "Secret",
    "Service",
    "catalogue",
    "load_catalogue",
]


@cache
def catalogue() -> Catalogue:
    """The project's catalogue (infra/services/services.yml), read once per process.

    Raises:
        CatalogueError: the catalogue is invalid.
    """
    return load_catalogue(CATALOGUE_FILE)
