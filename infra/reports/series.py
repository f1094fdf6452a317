"""Time series of the figures: adoption shares and committed capacity, one point per snapshot.

The git history is the record. When it is too short to show a pace (a fresh repository, a site
copied in one commit), the dates the tenant files themselves record are used instead, and the
series says so: the lifecycle history of every tenant request (exact for quotas and addresses),
and, for adoption, the day each application's tenant became active (an estimate: it assumes the
application went live with its tenant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from infra.reports.adoption import quick_share
from infra.reports.capacity import Resource, demand
from infra.reports.forecast import Point
from infra.reports.history import Snapshot
from infra.schema import Application, Hosting, Profile, TenantRequest, TenantState

__all__ = [
    "MIN_SPAN_DAYS",
    "AdoptionSeries",
    "DemandSeries",
    "Source",
    "adoption_from_tenant_history",
    "adoption_series",
    "demand_from_tenant_history",
    "demand_series",
    "usable",
    "with_current_adoption",
    "with_current_demand",
]

MIN_SPAN_DAYS = 28.0
"""A pace needs points spread over at least four weeks."""


class Source(StrEnum):
    """Where a series comes from."""

    GIT = "git"
    TENANT_HISTORY = "tenant_history"
    NONE = "none"


@dataclass(frozen=True)
class AdoptionSeries:
    """Province-cloud and domestic-cloud shares over time."""

    source: Source
    province: tuple[Point, ...]
    domestic: tuple[Point, ...]


@dataclass(frozen=True)
class DemandSeries:
    """Committed (used + reserved) amount of every resource over time."""

    source: Source
    points: Mapping[Resource, tuple[Point, ...]]


def _aware(value: datetime) -> datetime:
    """Times without a zone (a data problem validate reports) are read as UTC, not a crash."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _span_ok(points: Sequence[Point]) -> bool:
    if len(points) < 2:
        return False
    return (points[-1].at - points[0].at).total_seconds() >= MIN_SPAN_DAYS * 86400


def adoption_series(
    snapshots: Iterable[Snapshot], now: datetime | None = None,
    current: tuple[float, float] | None = None,
) -> AdoptionSeries:
    """Shares per snapshot, then `current` (province, domestic) measured at `now`.

    The current state is a measurement too: a share that has not moved since the last commit
    has had no pace since then.
    """
    province: list[Point] = []
    domestic: list[Point] = []
    for snap in snapshots:
        if snap.applications is None:
            continue
        share = quick_share(snap.applications, snap.tenants)
        if share.total:
            province.append(Point(snap.at, share.province / share.total))
            domestic.append(Point(snap.at, share.domestic / share.total))
    series = AdoptionSeries(Source.GIT if len(province) > 1 else Source.NONE, tuple(province), tuple(domestic))
    return with_current_adoption(series, now, current)


def with_current_adoption(
    series: AdoptionSeries, now: datetime | None, current: tuple[float, float] | None
) -> AdoptionSeries:
    """The series with the current shares measured at `now` (when later than its last point)."""
    if current is None or now is None or (series.province and now <= series.province[-1].at):
        return series
    province = (*series.province, Point(now, current[0]))
    domestic = (*series.domestic, Point(now, current[1]))
    return AdoptionSeries(Source.GIT if len(province) > 1 else Source.NONE, province, domestic)


def demand_series(
    snapshots: Iterable[Snapshot], profiles: Mapping[str, Profile], now: datetime | None = None,
    current: Mapping[Resource, int] | None = None,
) -> DemandSeries:
    """Committed amounts per snapshot, then `current` measured at `now`."""
    points: dict[Resource, list[Point]] = {r: [] for r in Resource}
    for snap in snapshots:
        amounts = demand(snap.tenants, snap.profiles or profiles).amounts
        for resource, (used, reserved, _pending) in amounts.items():
            points[resource].append(Point(snap.at, used + reserved))
    series = DemandSeries(
        Source.GIT if len(points[Resource.VCPU]) > 1 else Source.NONE, {r: tuple(p) for r, p in points.items()}
    )
    return with_current_demand(series, now, current)


def with_current_demand(
    series: DemandSeries, now: datetime | None, current: Mapping[Resource, int] | None
) -> DemandSeries:
    """The series with the current amounts measured at `now` (when later than its last points)."""
    if current is None or now is None:
        return series
    points = {
        r: (*p, Point(now, current[r])) if r in current and (not p or now > p[-1].at) else p
        for r, p in series.points.items()
    }
    return DemandSeries(Source.GIT if len(points[Resource.VCPU]) > 1 else Source.NONE, points)


def _state_at(tenant: TenantRequest, when: datetime) -> TenantState | None:
    state = None
    for change in tenant.history:
        if _aware(change.at) <= when:
            state = change.state
    return state


def _change_times(tenants: Iterable[TenantRequest]) -> list[datetime]:
    return sorted({_aware(change.at) for t in tenants for change in t.history})


def demand_from_tenant_history(
    tenants: Sequence[TenantRequest], profiles: Mapping[str, Profile], now: datetime | None = None
) -> DemandSeries:
    """Committed amounts after every recorded state change of every tenant, and at `now`."""
    points: dict[Resource, list[Point]] = {r: [] for r in Resource}
    times = _change_times(tenants)
    if now is not None and times and now > times[-1]:
        times.append(now)
    for when in times:
        then = []
        for tenant in tenants:
            state = _state_at(tenant, when)
            if state is None:
                continue
            # a request had no allocation yet; later states keep the one the file holds
            allocation = tenant.allocation if state != TenantState.REQUESTED else None
            then.append(tenant.model_copy(update={"state": state, "allocation": allocation}))
        for resource, (used, reserved, _pending) in demand(then, profiles).amounts.items():
            points[resource].append(Point(when, used + reserved))
    source = Source.TENANT_HISTORY if points[Resource.VCPU] else Source.NONE
    return DemandSeries(source, {r: tuple(p) for r, p in points.items()})


def adoption_from_tenant_history(
    applications: Sequence[Application], tenants: Sequence[TenantRequest], now: datetime | None = None
) -> AdoptionSeries:
    """Estimated shares: each application on the cloud counts from its tenant's activation.

    Applications elsewhere count as they are now (their past is not recorded in the files).
    """
    total = len(applications)
    by_code = {t.code: t for t in tenants}
    providers = sum(1 for a in applications if a.hosting == Hosting.PROVIDER)
    live: list[datetime] = []
    for app in applications:
        tenant = by_code.get(app.tenant or "")
        if app.hosting != Hosting.CLOUD or tenant is None or tenant.state != TenantState.ACTIVE:
            continue
        activated = [_aware(c.at) for c in tenant.history if c.state == TenantState.ACTIVE]
        if activated:
            live.append(activated[-1])
    province: list[Point] = []
    domestic: list[Point] = []
    if not total:
        return AdoptionSeries(Source.NONE, (), ())
    times = sorted(set(live))
    if now is not None and times and now > times[-1]:
        times.append(now)
    for when in times:
        count = sum(1 for at in live if at <= when)
        province.append(Point(when, count / total))
        domestic.append(Point(when, (count + providers) / total))
    source = Source.TENANT_HISTORY if province else Source.NONE
    return AdoptionSeries(source, tuple(province), tuple(domestic))


def usable(series: AdoptionSeries | DemandSeries) -> bool:
    """True when the series spans enough time to show a pace."""
    if isinstance(series, AdoptionSeries):
        return _span_ok(series.province)
    return _span_ok(series.points[Resource.VCPU])
