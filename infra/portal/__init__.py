"""The agencies' portal: request a tenant and follow it, on the web (`hatang portal`, docs/portal.md)."""

from __future__ import annotations

from infra.portal.app import create_app

__all__ = ["create_app"]
