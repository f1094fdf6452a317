"""Change requests in the portal: an agency asks for another quota profile or a retirement of one of
its tenants; a reviewer approves (as `hatang tenant set-profile` / `retire`) or rejects with a reason.

Only the tenant's agency's staff may ask. Another agency's tenant is "not found" at the form's
address, like a code that does not exist; a post for it (never offered, so forged) is refused with
403 and audited, the same for a code that does not exist.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from infra.portal import changes, forms, lifecycle
from infra.portal._web import Portal, audit, client, log, portal, render, signed_in
from infra.portal.auth import Identity
from infra.portal.review import decide, posted
from infra.portal.views import tenant_shown
from infra.tenants import PROFILE_STATES

__all__ = ["approve_change", "change_page", "reject_change", "submit_change"]


def _refusal(found: Portal, me: Identity, code: str) -> tuple[int, str] | None:
    """Why this user cannot ask for a change of `code` now (status, message); None when they can."""
    tenant = found.tenants[code][0]
    if tenant.agency not in me.agencies:
        return 403, (f"only the staff of agency {tenant.agency!r} can request changes of {code!r}"
                     if me.agencies else f"your account {me.name!r} acts for no agency, so it cannot request changes")
    if tenant.state not in PROFILE_STATES or found.tenants[code][1]:
        return 409, (f"tenant {code!r} is {tenant.state.value}; only an approved or active tenant can change")
    waiting = found.waiting_change(code)
    if waiting is not None:
        return 409, (f"a change request for {code!r} is waiting for review already (branch {waiting.branch}); a "
                     "tenant has one at a time (fix: wait for the data center's decision)")
    return None


def _form(request: Request, status: int, found: Portal, me: Identity, code: str, form: changes.ChangeForm,
          errors: forms.FieldErrors) -> Response:
    view = found.view(code)
    return render(
        request, "change.html.j2", status, me, t=view, form=form, errors=errors,
        general=errors.get(forms.GENERAL, ()), profiles=lifecycle.profiles(found.site),
        quota=lifecycle.profile_view(found.site, view.quota_profile),
    )


@tenant_shown
async def change_page(request: Request, me: Identity, code: str, found: Portal) -> Response:
    """The change request forms (another quota profile, retirement) for one of the agency's tenants."""
    refused = _refusal(found, me, code)
    if refused is not None:
        return render(request, "error.html.j2", refused[0], me, problems=[refused[1]])
    return _form(request, 200, found, me, code, changes.ChangeForm(), {})


@signed_in
async def submit_change(request: Request, me: Identity) -> Response:
    """File a change request on its branch, or the form again with every problem at its field."""
    got = await posted(request, me)
    if isinstance(got, Response):
        return got
    code, fields, found = got
    entry = found.tenants.get(code)
    if entry is None or entry[0].agency not in me.agencies:  # never offered: a forged post
        log.warning("refused a change of %r by %r from %s: not a tenant of their agency", code[:60], me.name,
                    client(request))
        audit(request, me, "change", code[:60], "denied", "not a tenant of the user's agency")
        return render(request, "error.html.j2", 403, me,
                      problems=[f"you can request changes only for the tenants of "
                                f"{', '.join(sorted(me.agencies)) or 'your agency'}"])
    refused = _refusal(found, me, code)
    if refused is not None:
        audit(request, me, "change", code, "refused", refused[1])
        return render(request, "error.html.j2", refused[0], me, problems=[refused[1]])
    form = changes.ChangeForm.from_fields(fields)
    started = time.perf_counter()
    filed = await run_in_threadpool(
        changes.file_change, request.app.state.root, request.app.state.repo, code, form, me
    )
    elapsed = (time.perf_counter() - started) * 1000
    if filed.request is not None:
        log.info("filed a change of %r by %r from %s (%.0f ms)", code, me.by, client(request), elapsed)
        audit(request, me, "change", code, "ok", f"{form.kind} {form.quota_profile}; branch {filed.request.branch}")
        return RedirectResponse(f"/tenants/{code}?done=change-filed", status_code=303)
    count = sum(len(messages) for messages in filed.errors.values())
    log.info("refused a change of %r by %r from %s: %d problem(s)", code, me.by, client(request), count)
    audit(request, me, "change", code, "refused", f"{count} problem(s)")
    now = await portal(request, me)  # as it is now, for the form shown again
    if not isinstance(now, Portal):
        return now
    return _form(request, 400, now, me, code, form, filed.errors)


def _not_waiting(found: Portal, code: str) -> tuple[str, str] | None:
    if found.waiting_change(code) is None:
        return "no change waiting", f"no change request for {code!r} is waiting"
    return None


@signed_in
async def approve_change(request: Request, me: Identity) -> Response:
    """Approve the waiting change: merged into main, made by `set_profile` or `retire_tenant`."""
    return await decide(request, me, "approve", changes.approve_change, _not_waiting, kind="change")


@signed_in
async def reject_change(request: Request, me: Identity) -> Response:
    """Reject the waiting change with a reason the agency reads on the tenant's page."""
    return await decide(request, me, "reject", changes.reject_change, _not_waiting, kind="change")
