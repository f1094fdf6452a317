"""An agency's progress toward the §II.3 target (plan 111/KH-UBND): its shared applications on cloud.

The figures are those of `hatang report adoption`, computed by the same function
(`infra.reports.adoption.adoption`, over the site folder as the report reads it) and picked for one
agency: its `Share` of `by_agency` and its applications of `apps`. Nothing is counted here. Numbers
and reasons are shown as the report shows them (its message catalogue, babel's percentages).

An agency's staff see their own agencies only; another agency's page is "not found", exactly like a
code that does not exist. Reviewers (the data center) see every agency.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from infra.portal._web import Portal, portal, render, signed_in
from infra.portal.auth import Identity
from infra.reports.adoption import AppStatus, Share, adoption
from infra.reports.i18n import messages
from infra.reports.rendering import REASON_LABELS
from infra.schema import Agency
from infra.site import Site

__all__ = ["AgencyProgress", "AppLine", "agencies_page", "agency_page", "agency_progress", "progress"]

LANGS = ("vi", "en")


@dataclass(frozen=True)
class AppLine:
    """One application of the agency as the page shows it (texts in Vietnamese and English)."""

    status: AppStatus
    tenant: str
    """The tenant it runs in on the province cloud ('' when not there)."""
    tenant_shown: bool
    """Whether the user may open that tenant's page (a link)."""
    reason: dict[str, str]
    """Why it is not on the province cloud, per language ('' when it is)."""


@dataclass(frozen=True)
class AgencyProgress:
    """One agency's figures: the report's `Share` of the agency and its applications."""

    agency: Agency
    share: Share
    on_cloud: tuple[AppLine, ...]
    """On a domestic cloud (the §II.3 figure): the province cloud (with its tenant) or another provider."""
    not_yet: tuple[AppLine, ...]
    """On no cloud yet, with the reason."""
    domestic_pct: dict[str, str]
    """The §II.3 percentage per language ('–' without applications)."""
    province_pct: dict[str, str]
    target_date: dict[str, str]
    """The plan's deadline per language ('' when the site does not say)."""


def _pct(value: float | None) -> dict[str, str]:
    return {lang: messages(lang).pct(value) for lang in LANGS}


def _line(status: AppStatus, me: Identity, owners: dict[str, str]) -> AppLine:
    tenant = status.detail if status.province else ""  # on the province cloud the detail is its tenant
    label = REASON_LABELS[status.reason] if status.reason is not None else ""
    return AppLine(
        status=status,
        tenant=tenant,
        tenant_shown=bool(tenant) and tenant in owners and me.sees(owners[tenant], tenant),
        reason={lang: messages(lang).gettext(label) if label else "" for lang in LANGS},
    )


def progress(site: Site, me: Identity) -> dict[str, AgencyProgress]:
    """Every agency of `agencies.yml` with its figures, from the adoption report's one computation."""
    figures = adoption(site.applications, site.tenants, site.agencies)
    owners = {t.code: t.agency for t in site.tenants}
    date = site.info.target_date
    deadline = {lang: messages(lang).date(date) if date else "" for lang in LANGS}
    out = {}
    for agency in site.agencies:
        share = figures.by_agency.get(agency.code, Share(0, 0, 0))
        lines = [_line(s, me, owners) for s in figures.apps if s.owner == agency.code]
        out[agency.code] = AgencyProgress(
            agency=agency,
            share=share,
            on_cloud=tuple(line for line in lines if line.status.domestic),
            not_yet=tuple(line for line in lines if not line.status.domestic),
            domestic_pct=_pct(share.domestic_share),
            province_pct=_pct(share.province_share),
            target_date=deadline,
        )
    return out


def agency_progress(site: Site, me: Identity, code: str) -> AgencyProgress | None:
    """Agency `code`'s figures, or None when it does not exist or `me` may not see it."""
    if not (me.reviewer or code in me.agencies):
        return None
    return progress(site, me).get(code)


@signed_in
async def agencies_page(request: Request, me: Identity) -> Response:
    """The agencies the user acts for (one: straight to its page); reviewers: every agency's figures."""
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    every = progress(found.site, me)
    shown = [p for code, p in sorted(every.items()) if me.reviewer or code in me.agencies]
    if len(shown) == 1 and not me.reviewer:
        return RedirectResponse(f"/agencies/{shown[0].agency.code}", status_code=303)
    return render(request, "agencies.html.j2", identity=me, agencies=shown)


@signed_in
async def agency_page(request: Request, me: Identity) -> Response:
    """One agency's progress toward the §II.3 target; another agency's is "not found" like a missing code."""
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    code = request.path_params["code"]
    figures = agency_progress(found.site, me, code)
    if figures is None:
        return render(request, "error.html.j2", 404, me, problems=[f"no agency {code[:60]!r} on this site"])
    return render(request, "agency.html.j2", identity=me, p=figures)
