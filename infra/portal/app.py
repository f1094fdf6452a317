"""The portal's web application: routes, templates (always escaped) and the CSRF guard."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from infra.portal import views
from infra.portal.csrf import CsrfGuard

__all__ = ["create_app"]


def _templates() -> Environment:
    """Jinja with autoescape on for every template: an agency's `<script>` renders as text."""
    return Environment(
        loader=PackageLoader("infra.portal", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def create_app(root: Path, csrf_secret: bytes | None = None) -> Starlette:
    """The portal for the site at `root` (read on every page, written only through `create_tenant`).

    Args:
        root: the site inventory folder.
        csrf_secret: key of the form tokens; random per process when None (tests pass one).
    """
    app = Starlette(
        routes=[
            Route("/", views.home),
            Route("/tenants", views.tenants_page),
            Route("/tenants/{code}", views.tenant_page),
            Route("/request", views.form_page, methods=["GET"]),
            Route("/request", views.submit_request, methods=["POST"]),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        ]
    )
    app.state.root = Path(root)
    app.state.templates = _templates()
    app.state.csrf = CsrfGuard(csrf_secret)
    app.state.site_name = Path(root).name
    return app
