"""Gather every figure a report shows into one `Report`: the site now, its history, the audit.

Rendering (HTML, Markdown, JSON) only formats a `Report`; nothing here formats text. Data
problems (validation findings, a bad file in an old commit, an unknown evidence format) are
collected in `Report.problems` and never stop the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from infra.errors import Problem
from infra.reports.adoption import Adoption, adoption
from infra.reports.capacity import Resource, Usage, demand, hardware, usage
from infra.reports.compliance import Compliance, read_evidence
from infra.reports.forecast import Outlook, outlook, reach_date, slope_per_day
from infra.reports.i18n import N_, Text
from infra.reports.kinds import Kind
from infra.reports.record import NO_RECORD, Record, start_record
from infra.reports.series import (
    MIN_SPAN_DAYS,
    AdoptionSeries,
    DemandSeries,
    adoption_from_tenant_history,
    demand_from_tenant_history,
    usable,
    with_current_adoption,
    with_current_demand,
)
from infra.site import Site, load_site
from infra.validate import validate_site

__all__ = ["Kind", "Report", "Runout", "build_report"]


@dataclass(frozen=True)
class Runout:
    """When a resource runs out at the pace of its committed demand."""

    resource: Resource
    exhausted: bool
    date: datetime | None
    pace_per_year: float | None
    pending_exceeds: bool


@dataclass(frozen=True)
class Report:
    """Every figure of one report; the renderers format it, nothing else."""

    kind: Kind
    site: Site
    generated: datetime
    adoption: Adoption
    adoption_series: AdoptionSeries
    province_outlook: Outlook
    domestic_outlook: Outlook
    usages: tuple[Usage, ...]
    demand_series: DemandSeries
    runouts: Mapping[Resource, Runout]
    history: Record
    compliance: Compliance | None = None
    problems: tuple[Problem, ...] = field(default=())

    @property
    def deadline(self) -> datetime | None:
        return _aware(self.site.info.target_date) if self.site.info.target_date else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _runouts(usages: tuple[Usage, ...], series: DemandSeries) -> dict[Resource, Runout]:
    out = {}
    for item in usages:
        points = series.points.get(item.resource, ())
        slope = slope_per_day(points, MIN_SPAN_DAYS)
        exhausted = item.committed >= item.capacity
        out[item.resource] = Runout(
            resource=item.resource,
            exhausted=exhausted,
            date=None if exhausted else reach_date(points, item.capacity, MIN_SPAN_DAYS),
            pace_per_year=None if slope is None else slope * 365,
            pending_exceeds=item.after_pending < 0,
        )
    return out


def build_report(
    root: Path | str,
    kind: Kind = Kind.SITE,
    *,
    evidence: Path | None = None,
    now: datetime | None = None,
    with_history: bool = True,
    meanwhile: Callable[[], object] | None = None,
) -> Report:
    """Load the site at `root`, read its git history and compute every figure of the report.

    The history is read in a worker process while the current site is loaded and checked, and
    then while `meanwhile` runs (e.g. `rendering.prepare`: this process would only wait).

    Args:
        root: the site inventory folder.
        kind: which report (the site report holds everything).
        evidence: an audit evidence JSON for the compliance section (site report).
        now: the time of the report (default: the clock); the current state counts as one
            more measurement at `now` (when later than the last commit).
        with_history: read the git history (off: only the current state and the tenants'
            own lifecycle dates).
        meanwhile: work for this process before it waits for the history.

    Raises:
        SiteNotFoundError, InventoryError: the site cannot be loaded at all.
    """
    now = _aware(now) if now is not None else datetime.now(UTC)
    join = start_record(Path(root)) if with_history else (lambda: NO_RECORD)
    try:
        site = load_site(root)
        problems = list(validate_site(site))
        figures = adoption(site.applications, site.tenants, site.agencies)
        tenant_demand = demand(site.tenants, site.profiles)
        usages = tuple(usage(hardware(site.capacity, site.host_specs, site.zones, site.pools), tenant_demand))
        if meanwhile is not None:
            meanwhile()
    finally:
        history = join()
    problems.extend(history.problems)

    current = (
        figures.overall.province_share or 0.0,
        figures.overall.domestic_share or 0.0,
    )
    a_series = with_current_adoption(history.adoption, now, current)
    if not usable(a_series):
        estimate = adoption_from_tenant_history(site.applications, site.tenants, now)
        if usable(estimate):
            a_series = estimate
    deadline = _aware(site.info.target_date) if site.info.target_date else None
    province = outlook(a_series.province, 1.0, deadline, MIN_SPAN_DAYS)
    domestic = outlook(a_series.domestic, 1.0, deadline, MIN_SPAN_DAYS)

    unresolved = Text(N_("profile does not resolve; its tenants are left out of the capacity figures"))
    for name in tenant_demand.bad_profiles:
        problems.append(Problem("profiles.yml", f"profiles.{name}", unresolved))
    committed = {u.resource: u.committed for u in usages}
    d_series = with_current_demand(history.demand, now, committed)
    if not usable(d_series):
        recorded = demand_from_tenant_history(site.tenants, site.profiles, now)
        if usable(recorded):
            d_series = recorded

    compliance = None
    if evidence is not None:
        compliance, evidence_problems = read_evidence(evidence)
        problems.extend(evidence_problems)

    return Report(
        kind=kind,
        site=site,
        generated=now,
        adoption=figures,
        adoption_series=a_series,
        province_outlook=province,
        domestic_outlook=domestic,
        usages=usages,
        demand_series=d_series,
        runouts=_runouts(usages, d_series),
        history=history,
        compliance=compliance,
        problems=tuple(problems),
    )
