"""Adoption figures (plan 111/KH-UBND §II.3): which shared applications run on a cloud, and why not.

Two shares are counted, because §II.3 accepts "cloud services of the state, the province or
domestic providers" while the province also wants to know what runs on its own cloud:

- **province cloud**: `hosting: cloud` and the tenant named is active (an application whose tenant
  is only requested or approved is not running there yet);
- **domestic cloud** (the §II.3 figure): the province cloud plus `hosting: provider`, which the
  schema defines as another domestic cloud provider.

Each application that is not on the province cloud gets one reason, the first rule that matches:
provider, then a blocker about the security level (dossier, level), then a tenant request that is
filed but not active (or a blocker that waits for one), then another blocker, then a migration
wave, otherwise unplanned. Pure functions over the site's records: no files, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from infra.schema import Agency, Application, Hosting, TenantRequest, TenantState

__all__ = [
    "UNKNOWN_KIND",
    "Adoption",
    "AppStatus",
    "Reason",
    "Share",
    "adoption",
    "app_statuses",
    "count_shares",
    "quick_share",
]

UNKNOWN_KIND = "unknown"
"""The kind given to an owner that agencies.yml does not list (a data problem)."""

_SECURITY = re.compile(r"\b(level|cấp độ|security|an toàn|dossier|hồ sơ)", re.IGNORECASE)
_TENANT = re.compile(r"\b(tenant|yêu cầu cấp|đề nghị cấp)", re.IGNORECASE)
PENDING_STATES = (TenantState.REQUESTED, TenantState.APPROVED)


class Reason(StrEnum):
    """Why an application is not on the province cloud (one per application)."""

    PROVIDER = "provider"
    SECURITY = "security"
    TENANT = "tenant"
    BLOCKED = "blocked"
    WAVE = "wave"
    UNPLANNED = "unplanned"


@dataclass(frozen=True)
class AppStatus:
    """One application with where it runs and, when not on the province cloud, why."""

    id: str
    name: str
    name_en: str
    owner: str
    owner_kind: str
    security_level: int
    hosting: Hosting
    province: bool
    domestic: bool
    reason: Reason | None
    detail: str
    wave: str | None


@dataclass(frozen=True)
class Share:
    """How many of `total` applications run on the province cloud and on any domestic cloud."""

    total: int
    province: int
    domestic: int

    @property
    def province_share(self) -> float | None:
        return self.province / self.total if self.total else None

    @property
    def domestic_share(self) -> float | None:
        return self.domestic / self.total if self.total else None


@dataclass(frozen=True)
class Adoption:
    """The adoption figures of one snapshot of the site."""

    overall: Share
    by_kind: Mapping[str, Share]
    by_agency: Mapping[str, Share]
    by_hosting: Mapping[str, int]
    by_reason: Mapping[str, int]
    apps: tuple[AppStatus, ...]
    unknown_owners: tuple[str, ...]


def _reason(
    app: Application, tenants: Mapping[str, TenantRequest], pending: Mapping[str, list[TenantRequest]]
) -> tuple[Reason, str]:
    if app.hosting == Hosting.PROVIDER:
        return Reason.PROVIDER, app.provider or ""
    blocker = app.blocker or ""
    if blocker and _SECURITY.search(blocker):
        return Reason.SECURITY, blocker
    tenant = tenants.get(app.tenant or "")
    if app.hosting == Hosting.CLOUD:
        state = tenant.state.value if tenant else "missing"
        return Reason.TENANT, f"{app.tenant}: {state}"
    waiting = [t for t in pending.get(app.owner, []) if not t.applications or app.id in t.applications]
    waiting += [t for t in pending.get("*", []) if app.id in t.applications and t not in waiting]
    if waiting:
        return Reason.TENANT, ", ".join(f"{t.code}: {t.state.value}" for t in waiting)
    if blocker and _TENANT.search(blocker):
        return Reason.TENANT, blocker
    if blocker:
        return Reason.BLOCKED, blocker
    if app.wave:
        return Reason.WAVE, app.wave
    return Reason.UNPLANNED, ""


def app_statuses(
    applications: Iterable[Application],
    tenants: Iterable[TenantRequest],
    agencies: Iterable[Agency],
) -> list[AppStatus]:
    """Each application with its place and, when not on the province cloud, its reason."""
    kinds = {a.code: a.kind.value for a in agencies}
    by_code = {t.code: t for t in tenants}
    pending: dict[str, list[TenantRequest]] = {}
    for request in by_code.values():
        if request.state in PENDING_STATES:
            pending.setdefault(request.agency, []).append(request)
            pending.setdefault("*", []).append(request)
    out = []
    for app in applications:
        tenant = by_code.get(app.tenant or "")
        province = (
            app.hosting == Hosting.CLOUD and tenant is not None and tenant.state == TenantState.ACTIVE
        )
        domestic = province or app.hosting == Hosting.PROVIDER
        reason: Reason | None = None
        detail = app.tenant or ""
        if not province:
            reason, detail = _reason(app, by_code, pending)
        out.append(
            AppStatus(
                id=app.id,
                name=app.name,
                name_en=app.name_en,
                owner=app.owner,
                owner_kind=kinds.get(app.owner, UNKNOWN_KIND),
                security_level=app.security_level,
                hosting=app.hosting,
                province=province,
                domestic=domestic,
                reason=reason,
                detail=detail,
                wave=app.wave,
            )
        )
    return out


def count_shares(statuses: Iterable[AppStatus]) -> Share:
    """Totals of a group of applications."""
    total = province = domestic = 0
    for status in statuses:
        total += 1
        province += status.province
        domestic += status.domestic
    return Share(total, province, domestic)


def quick_share(applications: Iterable[Application], tenants: Iterable[TenantRequest]) -> Share:
    """The overall `Share` alone, without reasons: what a history of hundreds of snapshots needs.

    Same rule as `app_statuses` (a test holds them equal).
    """
    active = {t.code for t in tenants if t.state == TenantState.ACTIVE}
    total = province = provider = 0
    for app in applications:
        total += 1
        if app.hosting == Hosting.CLOUD and app.tenant in active:
            province += 1
        elif app.hosting == Hosting.PROVIDER:
            provider += 1
    return Share(total, province, province + provider)


def _grouped(statuses: Sequence[AppStatus], key: str) -> dict[str, Share]:
    groups: dict[str, list[AppStatus]] = {}
    for status in statuses:
        groups.setdefault(getattr(status, key), []).append(status)
    return {name: count_shares(groups[name]) for name in sorted(groups)}


def adoption(
    applications: Iterable[Application],
    tenants: Iterable[TenantRequest],
    agencies: Iterable[Agency],
) -> Adoption:
    """The adoption figures: overall, per kind of agency, per owner agency, per reason."""
    statuses = app_statuses(applications, tenants, agencies)
    hosting: dict[str, int] = {h.value: 0 for h in Hosting}
    reasons: dict[str, int] = {r.value: 0 for r in Reason}
    for status in statuses:
        hosting[status.hosting.value] += 1
        if status.reason is not None:
            reasons[status.reason.value] += 1
    unknown = sorted({s.owner for s in statuses if s.owner_kind == UNKNOWN_KIND})
    return Adoption(
        overall=count_shares(statuses),
        by_kind=_grouped(statuses, "owner_kind"),
        by_agency=_grouped(statuses, "owner"),
        by_hosting=hosting,
        by_reason=reasons,
        apps=tuple(statuses),
        unknown_owners=tuple(unknown),
    )
