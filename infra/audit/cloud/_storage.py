"""HC-VOL-02: the volume backends answer and have room, as Cinder's own scheduler sees them.

cinder-volume reports each backend's pool every minute: its state (the RBD driver says `down`
when it cannot reach the Ceph cluster), its total and free capacity. The scheduler places
volumes from these reports, so a backend that is down or full stops new volumes before any
alarm rings. The check reads them (and the services' heartbeats) through Cinder's admin API:
the cloud audit needs no access to the storage hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.audit._model import CheckResult, Outcome
from infra.audit.cloud._result import check_result

if TYPE_CHECKING:
    from infra.audit.cloud._snapshot import Snapshot

__all__ = [
    "VolumeBackend",
    "VolumeService",
    "read_volume_backends",
    "volume_backends_healthy",
]

VOLUME_SERVICE = "cinder-volume"


@dataclass(frozen=True)
class VolumeService:
    """One Cinder service as its heartbeat says (`host` is `HOST@BACKEND` for cinder-volume)."""

    binary: str
    host: str
    enabled: bool
    up: bool


@dataclass(frozen=True)
class VolumeBackend:
    """One pool as its cinder-volume last reported it (None: not reported, or `unknown`)."""

    name: str
    state: str | None
    total_gb: float | None
    free_gb: float | None


def _gb(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):  # "unknown", "infinite" or absent
        return None


def read_volume_backends(conn: Any) -> tuple[tuple[VolumeService, ...], tuple[VolumeBackend, ...]]:
    """Cinder's services and its scheduler's pools (admin API, read-only).

    Raises:
        RuntimeError: Cinder refused one of the reads.
    """
    proxy = conn.block_storage
    replies = {}
    for path, key in (("/os-services", "services"), ("/scheduler-stats/get_pools?detail=True", "pools")):
        response = proxy.get(path)
        if response.status_code >= 400:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")
        replies[key] = response.json()[key]
    services = tuple(
        VolumeService(s["binary"], s["host"], s.get("status") == "enabled", s.get("state") == "up")
        for s in replies["services"]
    )
    backends = []
    for pool in replies["pools"]:
        stats = pool.get("capabilities") or {}
        backends.append(
            VolumeBackend(
                pool["name"], stats.get("backend_state"), _gb(stats.get("total_capacity_gb")),
                _gb(stats.get("free_capacity_gb")),
            )
        )
    return services, tuple(backends)


def _backend_findings(backend: VolumeBackend, min_free: float) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if backend.state is not None and backend.state != "up":
        found.append({"backend": backend.name, "problem": f"reports its state as {backend.state}"})
    if backend.total_gb is None or backend.free_gb is None or backend.total_gb <= 0:
        found.append({"backend": backend.name, "problem": "reports no capacity (its storage does not answer)"})
    elif backend.free_gb / backend.total_gb * 100 < min_free:
        free = round(backend.free_gb / backend.total_gb * 100, 1)
        found.append({"backend": backend.name, "problem": f"{free}% free, under {min_free:g}%"})
    return found


def volume_backends_healthy(snapshot: Snapshot, params: Mapping[str, Any]) -> CheckResult:
    """HC-VOL-02: a cinder-volume service is up, every enabled one is up, and each reported pool
    is up with at least `min_free_percent` of its capacity free."""
    if snapshot.volume_backend_errors:
        return CheckResult(
            "volume_backends_healthy", Outcome.ERROR, {"not_read": list(snapshot.volume_backend_errors)}, None,
            "; ".join(snapshot.volume_backend_errors),
        )
    min_free = float(params["min_free_percent"])
    findings: list[dict[str, Any]] = []
    volume_services = [s for s in snapshot.volume_services if s.binary == VOLUME_SERVICE]
    if not any(s.enabled and s.up for s in volume_services):
        findings.append({"problem": "no cinder-volume service is up: no volume can be made"})
    for service in volume_services:
        if service.enabled and not service.up:
            findings.append({"service": service.host, "problem": "enabled, and its heartbeat stopped"})
    if not snapshot.volume_backends:
        findings.append({"problem": "the scheduler has no pool: no backend reported its capacity"})
    for backend in snapshot.volume_backends:
        findings += _backend_findings(backend, min_free)
    observed = {
        "services": {s.host: ("up" if s.up else "down") + ("" if s.enabled else ", disabled") for s in volume_services},
        "pools": {
            b.name: {"state": b.state, "total_gb": b.total_gb, "free_gb": b.free_gb} for b in snapshot.volume_backends
        },
    }
    return check_result(
        "volume_backends_healthy", findings, observed,
        {"cinder-volume": "up", "pools": f"up, >= {min_free:g}% free"},
        "volume backends down or full",
    )  # fmt: skip
