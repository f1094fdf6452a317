"""The portal's pages: the tenant list, one tenant, and the request form.

Site files are read per request (the read cache keeps that cheap), in a worker thread, so a page
always shows the site as it is on disk and a slow read never blocks the server's loop.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from infra.errors import HatangError, InventoryError
from infra.portal import forms, lifecycle
from infra.portal.csrf import FIELD, CsrfGuard
from infra.schema import NetworkAccess
from infra.site import Site, load_site

__all__ = ["MAX_BODY", "form_page", "home", "submit_request", "tenant_page", "tenants_page"]

log = logging.getLogger("hatang.portal")
"""One line per submission (filed or refused, who, from where): the portal's action log."""

MAX_BODY = 64 * 1024
"""Largest form post accepted (bytes): a request is a few hundred."""

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env: Environment = request.app.state.templates
    started = time.perf_counter()
    body = env.get_template(template).render(site_name=request.app.state.site_name, **context)
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def _site(request: Request) -> Site | HTMLResponse:
    """The site as on disk, or the page that says why it cannot be read (nothing is served from it)."""
    root: Path = request.app.state.root
    try:
        site = await run_in_threadpool(load_site, root)
    except InventoryError as exc:
        return _render(request, "error.html.j2", 503, problems=[str(p) for p in exc.problems])
    except HatangError as exc:
        return _render(request, "error.html.j2", 503, problems=[str(exc)])
    request.app.state.site_name = site.info.title
    return site


async def home(request: Request) -> Response:
    """The portal starts at the list of tenants."""
    return RedirectResponse("/tenants", status_code=303)


async def tenants_page(request: Request) -> Response:
    """The site's tenants with their lifecycle; `?state=requested` (pending review), `?agency=CODE`."""
    site = await _site(request)
    if isinstance(site, Response):
        return site
    state = request.query_params.get("state", "")
    agency = request.query_params.get("agency", "")
    shown = [
        t
        for t in lifecycle.tenant_views(site)
        if (not state or t.state == state) and (not agency or t.agency == agency)
    ]
    return _render(
        request, "tenants.html.j2", tenants=shown, states=lifecycle.STATES, state=state, agency=agency,
        total=len(site.tenants),
    )


async def tenant_page(request: Request) -> Response:
    """One tenant: its request, allocation and history."""
    site = await _site(request)
    if isinstance(site, Response):
        return site
    code = request.path_params["code"]
    tenant = site.tenant(code)
    if tenant is None:
        return _render(request, "error.html.j2", 404, problems=[f"no tenant {code[:60]!r} on this site"])
    filed = request.query_params.get("filed") == "1"
    return _render(
        request, "tenant.html.j2", t=lifecycle.tenant_view(site, tenant), states=lifecycle.STATES, filed=filed
    )


def _form_context(site: Site, form: forms.RequestForm) -> dict[str, Any]:
    return {
        "form": form,
        "agencies": sorted(site.agencies, key=lambda a: a.name),
        "profiles": lifecycle.profiles(site),
        "applications": sorted(site.applications, key=lambda a: a.id),
        "access_choices": [a.value for a in NetworkAccess],
        "rows": range(forms.NETWORK_ROWS),
    }


def _with_csrf(
    request: Request, status: int, site: Site, form: forms.RequestForm, errors: forms.FieldErrors
) -> Response:
    guard: CsrfGuard = request.app.state.csrf
    nonce, token = guard.token(request)
    response = _render(
        request, "request.html.j2", status, csrf_field=FIELD, csrf_token=token, errors=errors,
        general=errors.get(forms.GENERAL, ()), **_form_context(site, form),
    )
    guard.set_cookie(response, request, nonce)
    return response


async def form_page(request: Request) -> Response:
    """The empty request form."""
    site = await _site(request)
    if isinstance(site, Response):
        return site
    return _with_csrf(request, 200, site, forms.RequestForm(), {})


async def submit_request(request: Request) -> Response:
    """File a request: written and shown, or the form again with every problem at its field."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_BODY:
        return _render(request, "error.html.j2", 413, problems=[f"a request form is at most {MAX_BODY} bytes"])
    async with request.form(max_files=0, max_fields=200, max_part_size=MAX_BODY) as data:
        fields = {key: [str(v) for v in data.getlist(key)] for key in data}
    guard: CsrfGuard = request.app.state.csrf
    refused = guard.check(request, (fields.get(FIELD) or [""])[0])
    if refused is not None:
        log.warning("refused a post from %s: %s", request.client.host if request.client else "?", refused)
        return _render(request, "error.html.j2", 403, problems=[refused])
    form = forms.RequestForm.from_fields(fields)
    started = time.perf_counter()
    outcome = await run_in_threadpool(forms.submit, request.app.state.root, form)
    elapsed = (time.perf_counter() - started) * 1000
    client = request.client.host if request.client else "?"
    if outcome.change is not None:
        log.info("filed %r by %r from %s (%.0f ms)", form.code, form.requester, client, elapsed)
        response: Response = RedirectResponse(f"/tenants/{form.code}?filed=1", status_code=303)
    else:
        site = await _site(request)  # the choices as they are now, for the form shown again
        if isinstance(site, Response):
            return site
        count = sum(len(messages) for messages in outcome.errors.values())
        log.info("refused %r by %r from %s: %d problem(s)", form.code[:60], form.requester[:60], client, count)
        response = _with_csrf(request, 400, site, form, outcome.errors)
    response.headers["Server-Timing"] = f"submit;dur={elapsed:.1f}"
    return response
