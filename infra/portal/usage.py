"""Quota and real usage of an agency's projects, read from the cloud (docs/portal.md, "Usage").

The portal holds no admin credential. It reads with one cloud identity (`--usage-cloud`, an entry
of clouds.yaml) that is a member of the platform's `portal-usage-readers` group. The platform
program gives that group Keystone's built-in `reader` role, inherited on every project of the
agencies domain: the identity can scope to any agency project and read it, never change it. A
token scoped to the project then reads Nova's, Neutron's and Cinder's quota details, each of
which carries the limit and what is in use.

A reading is kept `ttl` seconds per project, so a reloaded page is not six API calls each time,
and a failure is a message on the page, never an error page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from infra.errors import HatangError
from infra.specs.cloud import USAGE_READERS_GROUP

__all__ = ["SHOWN", "CloudUsage", "ProjectUsage", "UsageReader", "Use", "parse_usage"]

log = logging.getLogger("hatang.portal")

SHOWN: tuple[tuple[str, str], ...] = (
    ("compute", "cores"),
    ("compute", "ram"),
    ("compute", "instances"),
    ("volume", "gigabytes"),
    ("volume", "volumes"),
    ("volume", "snapshots"),
    ("network", "network"),
    ("network", "port"),
    ("network", "router"),
    ("network", "floatingip"),
    ("network", "security_group"),
)
"""The (service, native quota key) pairs an agency is shown, in order: what it sizes and pays for."""

_SOURCES = {
    "compute": ("compute", "/os-quota-sets/{id}/detail", "quota_set", "in_use"),
    "network": ("network", "/quotas/{id}/details", "quota", "used"),
    "volume": ("block_storage", "/os-quota-sets/{id}?usage=True", "quota_set", "in_use"),
}
"""Service -> (openstacksdk proxy, path of the project's quota details, JSON key, key of the usage)."""


@dataclass(frozen=True)
class Use:
    """One quota of a project: its limit in the cloud (-1 unlimited), what is in use, and the
    value of the approved profile (None when the tenant's profile does not say)."""

    section: str
    key: str
    limit: int
    used: int
    approved: int | None = None

    @property
    def percent(self) -> int | None:
        """Share of the limit in use, 0-100 (None when unlimited)."""
        if self.limit < 0:
            return None
        if self.limit == 0:
            return 100 if self.used else 0
        return min(100, round(self.used * 100 / self.limit))

    @property
    def full(self) -> bool:
        """Nothing more can be created: the limit is reached (a zero quota that allows nothing is not full)."""
        return 0 <= self.limit <= self.used and (self.limit > 0 or self.used > 0)

    @property
    def drift(self) -> bool:
        """The cloud's limit is not the approved profile's: someone changed it outside the site model."""
        return self.approved is not None and self.approved != self.limit


@dataclass(frozen=True)
class ProjectUsage:
    """What the cloud said about one project, or why it could not be read."""

    project: str
    read_at: str
    uses: tuple[Use, ...] = ()
    error: str = ""

    @property
    def drift(self) -> tuple[Use, ...]:
        return tuple(u for u in self.uses if u.drift)


class UsageReader(Protocol):
    """Reads a project's quota and usage. `approved` is the tenant's profile (section -> key -> value)."""

    def usage(self, project: str, approved: Mapping[str, Mapping[str, int]]) -> ProjectUsage: ...


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{what}: not a number: {value!r}")
    return int(value)


def parse_usage(
    details: Mapping[str, Mapping[str, Any]], approved: Mapping[str, Mapping[str, int]]
) -> tuple[Use, ...]:
    """The shown quotas from the services' detail answers, in their native shapes.

    `details` maps service -> the answer's quota object, whose keys map to `{"limit": N, "in_use": M}`
    (Nova, Cinder) or `{"limit": N, "used": M}` (Neutron). A shown key missing from the answer is
    an error: the page must not show a quota the cloud did not give.
    """
    uses = []
    for section, key in SHOWN:
        counted = _SOURCES[section][3]
        entry = details.get(section, {}).get(key)
        if not isinstance(entry, Mapping) or "limit" not in entry or counted not in entry:
            raise ValueError(f"{section} quota {key}: not in the cloud's answer")
        uses.append(
            Use(
                section,
                key,
                _number(entry["limit"], f"{section}.{key}.limit"),
                _number(entry[counted], f"{section}.{key}.{counted}"),
                approved.get(section, {}).get(key),
            )
        )
    return tuple(uses)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


@dataclass
class CloudUsage:
    """Reads usage as the identity `cloud` of `clouds_yaml` (a reader of the agencies' projects).

    Environment variables (OS_*) are not merged in: the portal reads with the identity it was told.
    """

    cloud: str
    domain: str
    clouds_yaml: Path | None = None
    ttl: float = 60.0
    timeout: float = 10.0
    _base: Any = field(default=None, init=False, repr=False)
    _cache: dict[str, tuple[float, ProjectUsage]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _reading: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        """Refuse an unknown cloud or file at start (exit 2), not at the first page view."""
        import openstack.config
        import openstack.exceptions

        logging.getLogger("openstack").setLevel(logging.CRITICAL)
        logging.getLogger("keystoneauth").setLevel(logging.CRITICAL)
        if self.clouds_yaml is not None and not self.clouds_yaml.is_file():
            raise HatangError(f"{self.clouds_yaml}: no such clouds.yaml (fix: pass --clouds-yaml FILE)")
        config = openstack.config.OpenStackConfig(
            config_files=[str(self.clouds_yaml)] if self.clouds_yaml else None, load_envvars=False
        )
        try:
            self._base = config.get_one(cloud=self.cloud, api_timeout=self.timeout)
        except openstack.exceptions.ConfigException:
            known = ", ".join(sorted(config.get_cloud_names())) or "none"
            where = self.clouds_yaml or "clouds.yaml"
            raise HatangError(
                f"{where}: no cloud {self.cloud!r} to read usage with (known: {known}; fix: pass --usage-cloud NAME)"
            ) from None

    def _kept(self, project: str) -> ProjectUsage | None:
        with self._lock:
            kept = self._cache.get(project)
        return kept[1] if kept is not None and time.monotonic() - kept[0] < self.ttl else None

    def usage(self, project: str, approved: Mapping[str, Mapping[str, int]]) -> ProjectUsage:
        reading = self._kept(project)
        if reading is None:
            with self._lock:
                gate = self._reading.setdefault(project, threading.Lock())
            # One reading per project at a time: pages asking together wait for it instead of each
            # opening a token and three services' quotas (20 users at once made p95 4 s, not 0.4 s).
            with gate:
                reading = self._kept(project)
                if reading is None:
                    started = time.monotonic()
                    reading = self._read(project)
                    with self._lock:
                        self._cache[project] = (started, reading)
        approved_uses = tuple(
            Use(u.section, u.key, u.limit, u.used, approved.get(u.section, {}).get(u.key)) for u in reading.uses
        )
        return ProjectUsage(reading.project, reading.read_at, approved_uses, reading.error)

    def _read(self, project: str) -> ProjectUsage:
        import keystoneauth1.exceptions
        import openstack.connection

        read_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            conn = openstack.connection.Connection(config=self._base)
            scoped = conn.connect_as(project_name=project, project_domain_name=self.domain)
        except Exception as exc:  # any failure is the page's message, not an error page
            return self._failed(project, read_at, f"cannot connect as {self.cloud!r}: {_one_line(exc)}")
        try:
            try:
                project_id = scoped.current_project_id
            except keystoneauth1.exceptions.Unauthorized as exc:
                return self._failed(
                    project, read_at,
                    f"the reader identity cannot open project {project} of domain {self.domain} (not created yet, "
                    f"or {self.cloud!r} is not in group {USAGE_READERS_GROUP}): {_one_line(exc)}",
                )
            except Exception as exc:
                return self._failed(project, read_at, f"Keystone did not answer {self.cloud!r}: {_one_line(exc)}")
            details: dict[str, Mapping[str, Any]] = {}
            for section, (proxy_name, path, key, _) in _SOURCES.items():
                response = getattr(scoped, proxy_name).get(path.format(id=project_id))
                if response.status_code >= 400:
                    return self._failed(
                        project, read_at,
                        f"{proxy_name} refused the quota details: HTTP {response.status_code} "
                        f"{' '.join(response.text.split())[:200]}",
                    )
                details[section] = response.json()[key]
            return ProjectUsage(project, read_at, parse_usage(details, {}))
        except Exception as exc:
            return self._failed(project, read_at, _one_line(exc))
        finally:
            scoped.close()
            conn.close()

    @staticmethod
    def _failed(project: str, read_at: str, why: str) -> ProjectUsage:
        log.warning("usage of %s not read: %s", project, why)
        return ProjectUsage(project, read_at, error=why)
