"""The portal's web application: routes, templates (always escaped), sessions, CSRF guard, audit log."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from infra.portal import adoption_pages, change_pages, review, signin, views
from infra.portal._web import say
from infra.portal.auth import Authenticator
from infra.portal.csrf import CsrfGuard
from infra.portal.gitflow import SiteRepo
from infra.portal.session import AuditLog, Sessions, default_state_dir, load_key
from infra.portal.usage import UsageReader

__all__ = ["create_app"]


def _templates() -> Environment:
    """Jinja with autoescape on for every template: an agency's `<script>` renders as text."""
    env = Environment(
        loader=PackageLoader("infra.portal", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["say"] = say
    return env


def create_app(
    root: Path,
    authenticator: Authenticator,
    *,
    state_dir: Path | None = None,
    secure_cookies: bool = True,
    csrf_secret: bytes | None = None,
    main_branch: str | None = None,
    remote: str | None = None,
    usage: UsageReader | None = None,
) -> Starlette:
    """The portal for the site at `root`.

    Args:
        root: the site inventory folder (in a git repository: requests become branches, docs/portal.md).
        authenticator: who may sign in (`KeystoneAuthenticator`; `FixedUsers` for tests only).
        state_dir: session key and audit log; default `default_state_dir(root)` (outside git).
        secure_cookies: mark the session cookie Secure (off only for plain http on loopback).
        csrf_secret: key of the form tokens; random per process when None (tests pass one).
        main_branch: the branch requests start from and approvals are merged into; default: HEAD's.
        remote: where branches are pushed; default: the main branch's upstream remote, if any.
        usage: reads a tenant's quota and usage from the cloud (`CloudUsage`); None: not shown.

    Raises:
        HatangError: the state folder or key is not private, or the repository has no main branch.
    """
    folder = state_dir or default_state_dir(root)
    key = load_key(folder)
    app = Starlette(
        routes=[
            Route("/", views.home),
            Route("/lang/{choice}", views.choose_language),
            Route("/signin", signin.signin_page, methods=["GET"]),
            Route("/signin", signin.signin, methods=["POST"]),
            Route("/signout", signin.signout, methods=["POST"]),
            Route("/password", signin.password_page, methods=["GET"]),
            Route("/password", signin.change_password, methods=["POST"]),
            Route("/tenants", views.tenants_page),
            Route("/tenants/{code}", views.tenant_page),
            Route("/tenants/{code}/approve", review.approve, methods=["POST"]),
            Route("/tenants/{code}/reject", review.reject, methods=["POST"]),
            Route("/tenants/{code}/change", change_pages.change_page, methods=["GET"]),
            Route("/tenants/{code}/change", change_pages.submit_change, methods=["POST"]),
            Route("/tenants/{code}/change/approve", change_pages.approve_change, methods=["POST"]),
            Route("/tenants/{code}/change/reject", change_pages.reject_change, methods=["POST"]),
            Route("/review", review.pending_page),
            Route("/agencies", adoption_pages.agencies_page),
            Route("/agencies/{code}", adoption_pages.agency_page),
            Route("/request", views.form_page, methods=["GET"]),
            Route("/request", views.submit_request, methods=["POST"]),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        ]
    )
    app.state.root = Path(root)
    app.state.repo = SiteRepo.find(Path(root), main_branch, remote)
    app.state.templates = _templates()
    app.state.csrf = CsrfGuard(csrf_secret)
    app.state.sessions = Sessions(key, secure=secure_cookies)
    app.state.audit = AuditLog(folder / "audit.jsonl")
    app.state.authenticator = authenticator
    app.state.usage = usage
    app.state.throttle = signin.Throttle()
    app.state.site_name = Path(root).name
    return app
