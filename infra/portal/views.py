"""The portal's pages for a signed-in user: the tenants they may see, one tenant, the request form.

An agency's staff see their agency's tenants and requests only; a tenant of another agency is
"not found", exactly like a code that does not exist. Site files are read per request (the read
cache keeps that cheap), in a worker thread, so a page shows the site as it is on disk and on the
request branches, and a slow read never blocks the server's loop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from infra.portal import forms, gitflow, lifecycle
from infra.portal._web import (
    LANG_COOKIE,
    LANGUAGES,
    MAX_BODY,
    Portal,
    audit,
    client,
    log,
    not_found,
    portal,
    read_form,
    render,
    safe_next,
    signed_in,
)
from infra.portal.auth import Identity
from infra.portal.usage import ProjectUsage
from infra.quotas import ProfileError, resolve_profile
from infra.schema import NetworkAccess, TenantRequest, TenantState
from infra.site import Site
from infra.specs.cloud import agency_group
from infra.tenants import PROFILE_STATES

__all__ = [
    "MAX_BODY", "choose_language", "form_page", "home", "submit_request", "tenant_page", "tenant_shown",
    "tenants_page",
]


async def home(request: Request) -> Response:
    """The portal starts at the list of tenants."""
    return RedirectResponse("/tenants", status_code=303)


async def choose_language(request: Request) -> Response:
    """Show the pages in Vietnamese (`/lang/vi`), English (`/lang/en`) or both (`/lang/both`), then go back.

    A preference cookie, not a right: no sign-in, no form token; `next` must be a path of the portal.
    """
    response = RedirectResponse(safe_next(request.query_params.get("next", "/tenants")), status_code=303)
    choice = request.path_params["choice"]
    secure = request.url.scheme == "https"
    if choice in LANGUAGES:
        response.set_cookie(LANG_COOKIE, choice, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
                            secure=secure, path="/")
    else:
        response.delete_cookie(LANG_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    return response


@signed_in
async def tenants_page(request: Request, me: Identity) -> Response:
    """The tenants the user may see, with their lifecycle; `?state=requested`, `?agency=CODE`."""
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    state = request.query_params.get("state", "")
    agency = request.query_params.get("agency", "")
    visible = found.visible(me)
    shown = [t for t in visible if (not state or t.state == state) and (not agency or t.agency == agency)]
    return render(
        request, "tenants.html.j2", identity=me, tenants=shown, states=lifecycle.STATES, state=state, agency=agency,
        total=len(visible),
    )


TenantEndpoint = Callable[[Request, Identity, str, Portal], Awaitable[Response]]
"""A page of one tenant: (request, signed-in user, the tenant's code, the site as the user may see it)."""


def tenant_shown(endpoint: TenantEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """Pages of the path's tenant, for signed-in users who may see it; for the others, "not found".

    A tenant the user may not see is "not found", exactly like a code that does not exist.
    """

    @signed_in
    @wraps(endpoint)
    async def page(request: Request, me: Identity) -> Response:
        found = await portal(request, me)
        if not isinstance(found, Portal):
            return found
        code = request.path_params["code"]
        entry = found.tenants.get(code)
        if entry is None or not me.sees(entry[0].agency, code):
            return not_found(request, me, code)
        return await endpoint(request, me, code, found)

    return page


IN_CLOUD = (TenantState.APPROVED, TenantState.ACTIVE, TenantState.RETIRED)
"""States whose project the tenants program has created (until a retired one's grace ends)."""


async def _usage(request: Request, tenant: TenantRequest, site: Site, on_branch: bool) -> ProjectUsage | None:
    """The tenant's quota and usage from the cloud; None when not read (no reader, or no project yet)."""
    reader = request.app.state.usage
    if reader is None or on_branch or tenant.state not in IN_CLOUD:
        return None
    try:
        approved = resolve_profile(tenant.quota_profile, site.profiles).as_dict()
    except ProfileError:
        approved = {}
    return await run_in_threadpool(reader.usage, tenant.code, approved)


@tenant_shown
async def tenant_page(request: Request, me: Identity, code: str, found: Portal) -> Response:
    """One tenant: its request, quotas and usage, allocation, history and change requests; reviewers
    decide here."""
    tenant = found.tenants[code][0]
    done = request.query_params.get("done", "")
    view = found.view(code)
    waiting = found.waiting_change(code)
    return render(
        request, "tenant.html.j2", identity=me, t=view,
        usage=await _usage(request, tenant, found.site, bool(view.branch)),
        usage_read=request.app.state.usage is not None,
        done=done if done in _NOTICES else "",
        quota=lifecycle.profile_view(found.site, view.quota_profile),
        waiting=waiting,
        rejected_change=found.rejected_change(code),
        may_change=tenant.agency in me.agencies and tenant.state in PROFILE_STATES and not view.branch
        and waiting is None,
    )


_NOTICES = ("filed", "approved", "rejected", "change-filed", "change-approved", "change-rejected")
"""What `?done=` may announce on a tenant's page (anything else announces nothing)."""


def _form_context(site: Site, me: Identity, form: forms.RequestForm) -> dict[str, Any]:
    return {
        "form": form,
        "agencies": sorted((a for a in site.agencies if a.code in me.agencies), key=lambda a: a.name),
        "profiles": lifecycle.profiles(site),
        "applications": sorted(site.applications, key=lambda a: a.id),
        "access_choices": [a.value for a in NetworkAccess],
        "rows": range(forms.NETWORK_ROWS),
    }


def _form(request: Request, status: int, site: Site, me: Identity, form: forms.RequestForm,
          errors: forms.FieldErrors) -> Response:
    return render(
        request, "request.html.j2", status, me, errors=errors, general=errors.get(forms.GENERAL, ()),
        **_form_context(site, me, form),
    )


def _no_agency(request: Request, me: Identity) -> Response:
    return render(
        request, "error.html.j2", 403, me,
        problems=[f"your account {me.name!r} acts for no agency, so it cannot file requests (fix: ask the data "
                  f"center to add it to the Keystone group {agency_group('<agency code>')!r})"],
    )


@signed_in
async def form_page(request: Request, me: Identity) -> Response:
    """The empty request form, for the user's agency, with the user as contact."""
    if not me.agencies:
        return _no_agency(request, me)
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    only = sorted(me.agencies)[0] if len(me.agencies) == 1 else ""
    form = forms.RequestForm(agency=only, contact_name=me.name, contact_email=me.email)
    return _form(request, 200, found.site, me, form, {})


@signed_in
async def submit_request(request: Request, me: Identity) -> Response:
    """File a request: committed on its branch (or written) and shown, or the form again with every problem."""
    fields = await read_form(request)
    if isinstance(fields, Response):
        return fields
    form = forms.RequestForm.from_fields(fields)
    if form.agency not in me.agencies:  # a forged choice: the form only offers the user's agencies
        log.warning("refused %r by %r from %s: agency %r is not theirs", form.code[:60], me.name, client(request),
                    form.agency[:60])
        audit(request, me, "request", form.code[:60], "denied", f"agency {form.agency[:60]!r} is not the user's")
        if not me.agencies:
            return _no_agency(request, me)
        return render(request, "error.html.j2", 403, me,
                      problems=[f"you can file requests only for {', '.join(sorted(me.agencies))}"])
    started = time.perf_counter()
    outcome = await run_in_threadpool(
        gitflow.file_request, request.app.state.root, request.app.state.repo, form, me
    )
    elapsed = (time.perf_counter() - started) * 1000
    if outcome.change is not None:
        log.info("filed %r by %r from %s (%.0f ms)", form.code, me.by, client(request), elapsed)
        audit(request, me, "request", form.code, "ok", outcome.change.summary)
        response: Response = RedirectResponse(f"/tenants/{form.code}?done=filed", status_code=303)
    else:
        found = await portal(request, me)  # the choices as they are now, for the form shown again
        if not isinstance(found, Portal):
            return found
        count = sum(len(messages) for messages in outcome.errors.values())
        log.info("refused %r by %r from %s: %d problem(s)", form.code[:60], me.by[:60], client(request), count)
        audit(request, me, "request", form.code[:60], "refused", f"{count} problem(s)")
        response = _form(request, 400, found.site, me, form, outcome.errors)
    response.headers["Server-Timing"] = f"submit;dur={elapsed:.1f}"
    return response
