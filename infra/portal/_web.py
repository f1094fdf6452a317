"""What every page shares: rendering with the security headers and the form token, the signed-in
user, the site as the user may see it (its folder plus the requests on branches), the action logs."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, pass_context
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from infra.errors import HatangError, InventoryError
from infra.portal import gitflow, lifecycle
from infra.portal.auth import Identity
from infra.portal.changes import ChangeRequest, branch_changes
from infra.portal.csrf import FIELD, CsrfGuard
from infra.portal.session import AuditLog, Sessions
from infra.schema import TenantRequest
from infra.site import Site, load_site

log = logging.getLogger("hatang.portal")
"""One line per action on stderr (filed or refused, who, from where), besides the audit file."""

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

Endpoint = Callable[[Request, Identity], Awaitable[Response]]

LANG_COOKIE = "hatang_lang"
LANGUAGES = ("vi", "en")
"""Languages a page can be shown in alone; without the cookie it shows both (Vietnamese, English smaller)."""


def language(request: Request) -> str:
    """The language the browser chose ('vi', 'en'), or '' for both."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else ""


@pass_context
def say(context: Any, vietnamese: str, english: str) -> str:
    """Text in the chosen language, for places that cannot hold the `vi`/`en` spans (titles, options)."""
    chosen = context.get("lang", "")
    return vietnamese if chosen == "vi" else english if chosen == "en" else f"{vietnamese} ({english})"


def client(request: Request) -> str:
    return request.client.host if request.client else "?"


def render(
    request: Request, template: str, status: int = 200, identity: Identity | None = None, **context: Any
) -> HTMLResponse:
    """A page, with the security headers and a form token (every page has the sign-out form)."""
    env: Environment = request.app.state.templates
    guard: CsrfGuard = request.app.state.csrf
    nonce, token = guard.token(request)
    started = time.perf_counter()
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # the page answering a post: switching language goes back to the list
        here = "/tenants"
    body = env.get_template(template).render(
        site_name=request.app.state.site_name, me=identity, csrf_field=FIELD, csrf_token=token,
        lang=language(request), here=safe_next(here), **context
    )
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    guard.set_cookie(response, request, nonce)
    return response


def not_found(request: Request, identity: Identity | None, code: str) -> HTMLResponse:
    """The same page for a tenant that does not exist and one the user may not see: no existence leak."""
    return render(request, "error.html.j2", 404, identity, problems=[f"no tenant {code[:60]!r} on this site"])


def audit(request: Request, identity: Identity | None, action: str, target: str = "", outcome: str = "ok",
          detail: str = "") -> None:
    trail: AuditLog = request.app.state.audit
    trail.record(identity.name if identity else "-", action, target, outcome, client(request), detail)


_NEXT = re.compile(r"^/(?!/)[A-Za-z0-9/_.?=&%-]{0,200}$")


def safe_next(target: str) -> str:
    """Where to go after sign-in: a path of this portal only (no open redirect)."""
    return target if _NEXT.fullmatch(target) and "\\" not in target else "/tenants"


def signed_in(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Pages for signed-in users: the sign-in page otherwise (a post is refused, never acted on)."""

    @wraps(endpoint)
    async def page(request: Request) -> Response:
        sessions: Sessions = request.app.state.sessions
        identity = sessions.identity(request)
        if identity is None:
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/signin?next={quote(safe_next(target), safe='/')}", status_code=303)
            return render(request, "error.html.j2", 401, problems=["signed out: sign in again, then repeat"])
        return await endpoint(request, identity)

    return page


async def read_form(request: Request) -> dict[str, list[str]] | Response:
    """The posted fields, after the size limits and the CSRF check; or the refusal page."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_BODY:
        return render(request, "error.html.j2", 413, problems=[f"a form is at most {MAX_BODY} bytes"])
    async with request.form(max_files=0, max_fields=200, max_part_size=MAX_BODY) as data:
        fields = {key: [str(v) for v in data.getlist(key)] for key in data}
    guard: CsrfGuard = request.app.state.csrf
    refused = guard.check(request, (fields.get(FIELD) or [""])[0])
    if refused is not None:
        log.warning("refused a post from %s: %s", client(request), refused)
        audit(request, request.app.state.sessions.identity(request), "post", request.url.path, "refused", refused)
        return render(request, "error.html.j2", 403, problems=[refused])
    return fields


def one(fields: dict[str, list[str]], key: str) -> str:
    return (fields.get(key) or [""])[0]


@dataclass(frozen=True)
class Portal:
    """The site as the portal shows it: its folder, plus the requests waiting on branches."""

    site: Site
    tenants: dict[str, tuple[TenantRequest, str]]
    """Code -> (request, branch it is on, '' when in the site folder)."""
    changes: dict[str, tuple[ChangeRequest, ...]] = field(default_factory=dict)
    """Code -> its change requests on branches, oldest first (waiting or rejected)."""

    def waiting_change(self, code: str) -> ChangeRequest | None:
        """The change request waiting for review for tenant `code`, if any (there is at most one)."""
        return next((c for c in self.changes.get(code, ()) if c.pending), None)

    def rejected_change(self, code: str) -> ChangeRequest | None:
        """The last change request for `code` a reviewer rejected, if any: its reason is for the agency."""
        return next((c for c in reversed(self.changes.get(code, ())) if not c.pending), None)

    def view(self, code: str) -> lifecycle.TenantView:
        tenant, branch = self.tenants[code]
        return lifecycle.tenant_view(self.site, tenant, branch)

    def visible(self, identity: Identity) -> list[lifecycle.TenantView]:
        return [
            self.view(code) for code, (t, _) in sorted(self.tenants.items()) if identity.sees(t.agency, t.code)
        ]


def _read(root: Path, repo: gitflow.SiteRepo | None) -> Portal:
    site = load_site(root)
    tenants = {t.code: (t, "") for t in site.tenants}
    found: dict[str, list[ChangeRequest]] = {}
    if repo is not None:
        for pending in gitflow.branch_requests(repo):
            tenants.setdefault(pending.code, (pending.tenant, pending.branch))
        for change in branch_changes(repo):
            found.setdefault(change.code, []).append(change)
    return Portal(site, tenants, {code: tuple(listed) for code, listed in found.items()})


async def portal(request: Request, identity: Identity | None) -> Portal | HTMLResponse:
    """The site as on disk and on branches, or the page that says why it cannot be read."""
    try:
        found = await run_in_threadpool(_read, request.app.state.root, request.app.state.repo)
    except InventoryError as exc:
        return render(request, "error.html.j2", 503, identity, problems=[str(p) for p in exc.problems])
    except HatangError as exc:
        return render(request, "error.html.j2", 503, identity, problems=[str(exc)])
    request.app.state.site_name = found.site.info.title
    return found
