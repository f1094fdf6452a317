"""Sign-in sessions: a signed, expiring cookie, its key kept outside git, and the audit log.

The cookie (`hatang_session`: HttpOnly, SameSite=Lax, Secure unless the portal serves plain http
on loopback) holds the identity, the sign-in time and a random session id, signed with HMAC-SHA256
under a key in the portal's state folder. The portal checks the signature and the age on every
request: a session ends `max_age` after sign-in however active it is. Sign-out clears the cookie
and revokes its id in this process (a copied cookie stops working too, until a restart).

The state folder (`$XDG_STATE_HOME/hatang/portal/<site>-<hash>/`, 0700, or `--state-dir`) is
outside any site repository: the key (`session.key`, 0600) is created once and never committed,
and `audit.jsonl` (0600) gets one JSON line per action, appended.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from infra.errors import HatangError
from infra.portal.auth import Identity

__all__ = ["COOKIE", "AuditLog", "Sessions", "default_state_dir", "load_key"]

COOKIE = "hatang_session"
MAX_AGE = 8 * 3600
"""Seconds a session lasts after sign-in (a working day)."""


def default_state_dir(root: Path) -> Path:
    """`$XDG_STATE_HOME/hatang/portal/<site folder name>-<hash of its path>` (outside git)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    absolute = Path(os.path.abspath(root))
    digest = hashlib.sha256(str(absolute).encode()).hexdigest()[:12]
    return base / "hatang" / "portal" / f"{absolute.name}-{digest}"


def _private_dir(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise HatangError(f"{folder}: cannot create the portal's state folder: {exc.strerror}") from None
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise HatangError(
            f"{folder}: the portal's state folder is readable by others or not ours (fix: chmod 700 {folder})"
        )


def load_key(folder: Path) -> bytes:
    """The session key in `folder/session.key`: created (0600, 32 random bytes) when missing.

    Raises:
        HatangError: the folder or key is readable by other users, not ours, or malformed.
    """
    _private_dir(folder)
    path = folder / "session.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise HatangError(f"{path}: the session key must be a file of ours, mode 0600 (fix: chmod 600 {path})")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        key = b""
    if len(key) < 32:
        raise HatangError(f"{path}: not a session key (fix: delete it; the portal makes a new one)")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues, reads and ends the signed session cookies of one portal."""

    def __init__(self, key: bytes, secure: bool = True, max_age: int = MAX_AGE) -> None:
        self._key = hashlib.sha256(b"hatang-portal-session\0" + key).digest()
        self.secure = secure
        self.max_age = max_age
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def issue(self, response: Response, identity: Identity) -> None:
        """Sign `identity` in: a new session id, so a cookie planted before sign-in is worthless."""
        payload = json.dumps(
            {"sid": secrets.token_urlsafe(16), "iat": int(time.time()), "user": identity.to_json()},
            separators=(",", ":"),
        ).encode()
        value = f"{_b64(payload)}.{self._sign(payload)}"
        response.set_cookie(
            COOKIE, value, max_age=self.max_age, httponly=True, samesite="lax", secure=self.secure, path="/"
        )

    def _payload(self, request: Request) -> dict[str, Any] | None:
        value = request.cookies.get(COOKIE, "")
        data, _, signature = value.partition(".")
        if not data or not signature or len(value) > 8192:
            return None
        try:
            payload = _unb64(data)
            if not hmac.compare_digest(self._sign(payload), signature):
                return None
            content = json.loads(payload)
        except (binascii.Error, ValueError):
            return None
        if not isinstance(content, dict) or not isinstance(content.get("iat"), int):
            return None
        if not 0 <= time.time() - content["iat"] < self.max_age:
            return None
        with self._lock:
            if content.get("sid") in self._revoked:
                return None
        return content

    def identity(self, request: Request) -> Identity | None:
        """Who the request's session belongs to; None when absent, forged, expired or signed out."""
        content = self._payload(request)
        if content is None:
            return None
        try:
            return Identity.from_json(content["user"])
        except (KeyError, TypeError):
            return None

    def end(self, request: Request, response: Response) -> None:
        """Sign out: revoke the session id here, and clear the cookie."""
        content = self._payload(request)
        now = time.time()
        with self._lock:
            self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
            if content is not None:
                self._revoked[str(content.get("sid"))] = content["iat"] + self.max_age
        response.delete_cookie(COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax")


class AuditLog:
    """Append-only JSON lines: when, who, what, on which tenant, the outcome, from where."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, who: str, action: str, target: str = "", outcome: str = "ok", client: str = "",
               detail: str = "") -> None:
        """Append one line (`O_APPEND`: lines of concurrent writers never interleave)."""
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "who": who,
                "action": action,
                "target": target,
                "outcome": outcome,
                "from": client,
                "detail": detail[:500],
            },
            ensure_ascii=False,
        )
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)

    def lines(self) -> list[dict[str, Any]]:
        """Every line so far (tests, and the reviewers' view later)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
