"""The data center's reviewers: pending requests, approve (as `hatang tenant approve`) or reject with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from infra.errors import HatangError
from infra.portal import gitflow
from infra.portal._web import Portal, audit, client, log, not_found, one, portal, read_form, render, signed_in
from infra.portal.auth import Identity
from infra.portal.gitflow import SiteRepo

__all__ = ["Decide", "approve", "decide", "pending_page", "posted", "reject"]


@signed_in
async def pending_page(request: Request, me: Identity) -> Response:
    """Requests and change requests waiting for review (reviewers only; others get 'not found')."""
    if not me.reviewer:
        return render(request, "error.html.j2", 404, me, problems=["no such page"])
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    pending = [t for t in found.visible(me) if t.pending]
    waiting = [c for code in sorted(found.changes) if (c := found.waiting_change(code)) is not None]
    return render(request, "review.html.j2", identity=me, tenants=pending, changes=waiting)


Decide = Callable[[Path, SiteRepo | None, str, Identity, str], str]
"""A decision as the CLI makes it: (site, repository, tenant code, reviewer, reason) -> its summary."""


async def posted(request: Request, me: Identity) -> tuple[str, dict[str, list[str]], Portal] | Response:
    """A post about tenant `code` of the path: (code, the posted fields, the site); or the refusal page."""
    code = request.path_params["code"]
    fields = await read_form(request)
    if isinstance(fields, Response):
        return fields
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    return code, fields, found


async def decide(request: Request, me: Identity, action: str, run: Decide,
                 not_waiting: Callable[[Portal, str], tuple[str, str] | None], kind: str = "") -> Response:
    """A reviewer's decision (`action`: approve or reject) on a request, or on a `kind` of request of a tenant.

    Args:
        request: the post, with the tenant's code in its path and the reviewer's reason in its form.
        me: the signed-in user; anyone but a reviewer gets "not found".
        action: "approve" or "reject", as audited and announced (`?done=<action>d`).
        run: what makes the decision, in a worker thread.
        not_waiting: (audit detail, message) when there is nothing to decide for the tenant; None otherwise.
        kind: "" for a tenant's request; "change" for its change request (audited as `<action>-change`).

    Returns:
        The tenant's page announcing the decision, or the page that says why there was none.
    """
    got = await posted(request, me)
    if isinstance(got, Response):
        return got
    code, fields, found = got
    audited, subject = (f"{action}-{kind}", f"a {kind} of {code!r}") if kind else (action, repr(code))
    if not me.reviewer or code not in found.tenants:  # reviewers see every tenant
        audit(request, me, audited, code[:60], "denied", "not a reviewer" if not me.reviewer else "no such tenant")
        return not_found(request, me, code)
    refused = not_waiting(found, code)
    if refused is not None:
        audit(request, me, audited, code, "refused", refused[0])
        return render(request, "error.html.j2", 409, me, problems=[refused[1]])
    reason = one(fields, "reason")
    try:
        summary = await run_in_threadpool(run, request.app.state.root, request.app.state.repo, code, me, reason)
    except HatangError as exc:
        log.info("refused to %s %s by %r from %s: %s", action, subject, me.by, client(request), exc)
        audit(request, me, audited, code, "refused", str(exc))
        return render(request, "error.html.j2", 409, me, problems=[str(exc)])
    past = f"{action}d" if action.endswith("e") else f"{action}ed"  # approved, rejected
    log.info("%s %s by %r from %s: %s", past, subject, me.by, client(request), summary)
    audit(request, me, audited, code, "ok", f"{summary}; reason: {reason.strip()}")
    done = f"{kind}-{action}d" if kind else f"{action}d"
    return RedirectResponse(f"/tenants/{code}?done={done}", status_code=303)


def _not_pending(found: Portal, code: str) -> tuple[str, str] | None:
    return None if found.view(code).pending else ("not pending", f"{code!r} is not waiting for review")


def _approve(root: Path, repo: SiteRepo | None, code: str, me: Identity, reason: str) -> str:
    return gitflow.approve_request(root, repo, code, me, reason.strip() or "approved")


def _reject(root: Path, repo: SiteRepo | None, code: str, me: Identity, reason: str) -> str:
    return gitflow.reject_request(root, repo, code, me, reason.strip())


@signed_in
async def approve(request: Request, me: Identity) -> Response:
    """Approve: allocation and history by `approve_tenant`, merged into the main branch."""
    return await decide(request, me, "approve", _approve, _not_pending)


@signed_in
async def reject(request: Request, me: Identity) -> Response:
    """Reject with a reason the agency reads on its tenant page."""
    return await decide(request, me, "reject", _reject, _not_pending)
