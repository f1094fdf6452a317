"""The data center's reviewers: pending requests, approve (as `hatang tenant approve`) or reject with a reason."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from infra.errors import HatangError
from infra.portal import gitflow
from infra.portal._web import Portal, audit, client, log, not_found, one, portal, read_form, render, signed_in
from infra.portal.auth import Identity

__all__ = ["approve", "pending_page", "reject"]


@signed_in
async def pending_page(request: Request, me: Identity) -> Response:
    """Requests waiting for review (reviewers only; others get 'not found')."""
    if not me.reviewer:
        return render(request, "error.html.j2", 404, me, problems=["no such page"])
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    pending = [t for t in found.visible(me) if t.pending]
    return render(request, "review.html.j2", identity=me, tenants=pending)


async def _act(request: Request, me: Identity, action: str) -> Response:
    code = request.path_params["code"]
    fields = await read_form(request)
    if isinstance(fields, Response):
        return fields
    found = await portal(request, me)
    if not isinstance(found, Portal):
        return found
    entry = found.tenants.get(code)
    if not me.reviewer or entry is None or not me.sees(entry[0].agency, code):
        audit(request, me, action, code[:60], "denied", "not a reviewer" if not me.reviewer else "no such tenant")
        return not_found(request, me, code)
    if not found.view(code).pending:
        audit(request, me, action, code, "refused", "not pending")
        return render(request, "error.html.j2", 409, me, problems=[f"{code!r} is not waiting for review"])
    reason = one(fields, "reason").strip()
    repo, root = request.app.state.repo, request.app.state.root
    try:
        if action == "approve":
            summary = await run_in_threadpool(gitflow.approve_request, root, repo, code, me, reason or "approved")
        else:
            summary = await run_in_threadpool(gitflow.reject_request, root, repo, code, me, reason)
    except HatangError as exc:
        log.info("refused to %s %r by %r from %s: %s", action, code, me.by, client(request), exc)
        audit(request, me, action, code, "refused", str(exc))
        return render(request, "error.html.j2", 409, me, problems=[str(exc)])
    log.info("%sd %r by %r from %s: %s", action.removesuffix("e"), code, me.by, client(request), summary)
    audit(request, me, action, code, "ok", f"{summary}; reason: {reason}")
    return RedirectResponse(f"/tenants/{code}?done={action}d", status_code=303)


@signed_in
async def approve(request: Request, me: Identity) -> Response:
    """Approve: allocation and history by `approve_tenant`, merged into the main branch."""
    return await _act(request, me, "approve")


@signed_in
async def reject(request: Request, me: Identity) -> Response:
    """Reject with a reason the agency reads on its tenant page."""
    return await _act(request, me, "reject")
