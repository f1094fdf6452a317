"""CSRF protection for the portal's forms: a token bound to a per-browser cookie.

The browser gets a random cookie (HttpOnly, SameSite=Strict); each form carries an HMAC of it under
a secret of this process. Another site can make a browser post to the portal, but it can neither
read the cookie nor compute the token, so its post is refused. A post whose Origin names another
site is refused too. The secret lives only in memory: a restart makes open forms ask to reload.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["COOKIE", "FIELD", "CsrfGuard"]

COOKIE = "hatang_csrf"
FIELD = "csrf_token"


class CsrfGuard:
    """Issues and checks the tokens of one portal process."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode("ascii", "replace"), hashlib.sha256).hexdigest()

    def token(self, request: Request) -> tuple[str, str]:
        """The (cookie value, form token) pair for a page with a form; a new cookie if none."""
        nonce = request.cookies.get(COOKIE, "")
        if not (nonce.isascii() and 20 <= len(nonce) <= 100):
            nonce = secrets.token_urlsafe(32)
        return nonce, self._sign(nonce)

    def set_cookie(self, response: Response, request: Request, nonce: str) -> None:
        """Give the browser its cookie (Secure when the portal is reached over TLS)."""
        response.set_cookie(
            COOKIE, nonce, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )

    def check(self, request: Request, token: str) -> str | None:
        """Why a post is refused, or None when its token and origin are right."""
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is not None and origin.split("://", 1)[-1] != host:
            return "the form was posted from another site"
        nonce = request.cookies.get(COOKIE, "")
        if not nonce or not token or not hmac.compare_digest(self._sign(nonce), token):
            return "the form's security token is missing or expired (reload the form and submit again)"
        return None
