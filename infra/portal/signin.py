"""Sign-in and sign-out: the authenticator decides, the session cookie remembers, the audit log records."""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from infra.portal._web import audit, client, log, one, read_form, render, safe_next
from infra.portal.auth import (
    Authenticator,
    AuthUnavailableError,
    PasswordChangeError,
    PasswordChanger,
    PasswordExpiredError,
)
from infra.portal.session import Sessions

__all__ = ["Throttle", "change_password", "password_page", "signin", "signin_page", "signout"]

_WRONG = "wrong user name or password"

MAX_FAILURES = 10
"""Failed sign-ins (or password changes) per user name and client address within WINDOW seconds."""
WINDOW = 15 * 60


class Throttle:
    """Refuses a user name from a client address after MAX_FAILURES failures within WINDOW (in memory).

    Keystone's own lockout (`[security_compliance] lockout_failure_attempts`) counts per user across
    clients; this one stops one client guessing quickly without letting it lock others out."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW) -> None:
        self._limit, self._window = limit, window
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, who: str, username: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get((who, username), []) if now - t < self._window]
            self._failures[(who, username)] = recent
            if len(self._failures) > 10_000:  # bounded memory: forget the oldest keys
                for key in list(self._failures)[:5_000]:
                    del self._failures[key]
            return len(recent) >= self._limit

    def failed(self, who: str, username: str) -> None:
        with self._lock:
            self._failures.setdefault((who, username), []).append(time.monotonic())


def _blocked(request: Request, username: str, action: str, template: str, **context: Any) -> Response | None:
    throttle: Throttle = request.app.state.throttle
    if not throttle.blocked(client(request), username):
        return None
    audit(request, None, action, username, "throttled", f"{MAX_FAILURES} failures within {WINDOW // 60} min")
    return render(request, template, 429, username=username,
                  problem=f"too many failed attempts; wait {WINDOW // 60} minutes", **context)


async def signin_page(request: Request) -> Response:
    """The sign-in form (a signed-in user goes on to the tenants)."""
    sessions: Sessions = request.app.state.sessions
    target = safe_next(request.query_params.get("next", "/tenants"))
    if sessions.identity(request) is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "signin.html.j2", next=target, username="", problem="", notice=request.query_params.get(
        "changed") == "1")


async def signin(request: Request) -> Response:
    """Check the name and password with the authenticator; a new session on success."""
    fields = await read_form(request)
    if isinstance(fields, Response):
        return fields
    username, password = one(fields, "username").strip()[:200], one(fields, "password")[:1000]
    target = safe_next(one(fields, "next") or "/tenants")
    authenticator: Authenticator = request.app.state.authenticator
    blocked = _blocked(request, username, "sign-in", "signin.html.j2", next=target)
    if blocked is not None:
        return blocked
    try:
        identity = await run_in_threadpool(authenticator.authenticate, username, password)
    except AuthUnavailableError as exc:
        log.error("sign-in of %r from %s: %s", username, client(request), exc)
        audit(request, None, "sign-in", username, "unavailable", str(exc))
        return render(request, "signin.html.j2", 503, next=target, username=username,
                      problem="the identity service cannot be reached; try again later")
    except PasswordExpiredError as exc:
        log.info("refused sign-in of %r from %s: password expired", username, client(request))
        audit(request, None, "sign-in", username, "expired", str(exc))
        return render(request, "signin.html.j2", 401, next=target, username=username, problem=str(exc),
                      expired=True)
    if identity is None:
        request.app.state.throttle.failed(client(request), username)
        log.info("refused sign-in of %r from %s", username, client(request))
        audit(request, None, "sign-in", username, "refused", _WRONG)
        return render(request, "signin.html.j2", 401, next=target, username=username, problem=_WRONG)
    log.info("signed in %r from %s", identity.name, client(request))
    audit(request, identity, "sign-in", identity.name, "ok",
          f"agencies={sorted(identity.agencies)} reviewer={identity.reviewer}")
    response = RedirectResponse(target, status_code=303)
    sessions: Sessions = request.app.state.sessions
    sessions.issue(response, identity)
    return response


async def signout(request: Request) -> Response:
    """End the session (a post with the form token: a link elsewhere cannot sign anyone out)."""
    fields = await read_form(request)
    if isinstance(fields, Response):
        return fields
    sessions: Sessions = request.app.state.sessions
    identity = sessions.identity(request)
    audit(request, identity, "sign-out", identity.name if identity else "")
    response = RedirectResponse("/signin", status_code=303)
    sessions.end(request, response)
    return response


def _changer(request: Request) -> PasswordChanger | None:
    authenticator = request.app.state.authenticator
    return authenticator if callable(getattr(authenticator, "change_password", None)) else None


async def password_page(request: Request) -> Response:
    """The password change form (reached from an expired sign-in; no session needed)."""
    username = request.query_params.get("username", "")[:200]
    if _changer(request) is None:
        return render(request, "error.html.j2", 404, problems=["passwords are not changed here"])
    return render(request, "password.html.j2", username=username, problem="")


async def change_password(request: Request) -> Response:
    """Change the password with the identity service (current password required), then sign in again."""
    fields = await read_form(request)
    if isinstance(fields, Response):
        return fields
    changer = _changer(request)
    if changer is None:
        return render(request, "error.html.j2", 404, problems=["passwords are not changed here"])
    username = one(fields, "username").strip()[:200]
    current, new, again = one(fields, "current")[:1000], one(fields, "new")[:1000], one(fields, "again")[:1000]
    blocked = _blocked(request, username, "password", "password.html.j2")
    if blocked is not None:
        return blocked
    problem = ""
    if not new or new != again:
        problem = "the two new passwords differ"
    elif new == current:
        problem = "the new password must differ from the current one"
    if not problem:
        try:
            await run_in_threadpool(changer.change_password, username, current, new)
        except PasswordChangeError as exc:
            problem = str(exc)
            request.app.state.throttle.failed(client(request), username)
        except AuthUnavailableError:
            problem = "the identity service cannot be reached; try again later"
    if problem:
        audit(request, None, "password", username, "refused", problem)
        return render(request, "password.html.j2", 400, username=username, problem=problem)
    log.info("password of %r changed from %s", username, client(request))
    audit(request, None, "password", username, "ok")
    return RedirectResponse("/signin?changed=1", status_code=303)
