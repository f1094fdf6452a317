"""Who is signed in: pluggable authenticators, and the one place where groups map to agencies.

An authenticator turns a user name and a password into an `Identity`, or None when they are wrong.
`KeystoneAuthenticator` asks the cloud's Keystone (password auth in the site's agencies domain,
with the user's own unscoped token: the portal holds no service credentials). `FixedUsers` reads
users from a file of salted PBKDF2 hashes: for offline tests and demonstrations only, used only
when `hatang portal --users FILE` names one. The provincial identity federation will be a third
class with the same `authenticate` method.

Groups, all in the agencies domain, give what a user may do (`identity_from_groups`); their names
come from `infra.specs.cloud`, from which the platform program creates the agency and reviewer
groups and the tenants program the tenant groups:

- `agency-<agency code>` (`agency_group`): staff of that agency: they see its tenants and file
  requests for it;
- `<tenant code>-admins|members|auditors` (`GROUPS`): they see that tenant;
- `dc-reviewers` (`REVIEWERS_GROUP`): the data center's reviewers: they see every tenant and
  approve or reject requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infra.errors import HatangError
from infra.specs.cloud import AGENCY_GROUP_PREFIX, GROUPS, REVIEWERS_GROUP

__all__ = [
    "AuthUnavailableError",
    "Authenticator",
    "FixedUsers",
    "Identity",
    "KeystoneAuthenticator",
    "PasswordChangeError",
    "PasswordChanger",
    "PasswordExpiredError",
    "hash_password",
    "identity_from_groups",
]

class AuthUnavailableError(HatangError):
    """The identity service cannot be asked (down, misconfigured): nobody can sign in, say why."""


class PasswordExpiredError(HatangError):
    """The password was right but has expired (Keystone's first-use or expiry rules): it must be changed."""

    def __init__(self, message: str, user_id: str = "") -> None:
        super().__init__(message)
        self.user_id = user_id


class PasswordChangeError(HatangError):
    """A password change refused: wrong current password, or a new one the identity service's rules refuse."""


@dataclass(frozen=True)
class Identity:
    """A signed-in user: who, and what the groups allow."""

    user_id: str
    name: str
    email: str
    agencies: frozenset[str] = field(default_factory=frozenset)
    """Agency codes the user acts for (sees their tenants, files requests)."""
    tenants: frozenset[str] = field(default_factory=frozenset)
    """Tenant codes the user is a member of (sees them)."""
    reviewer: bool = False

    @property
    def by(self) -> str:
        """What the history records as the actor: the e-mail, else the user name."""
        return self.email or self.name

    def sees(self, agency: str, code: str) -> bool:
        """Whether this user may see tenant `code` of `agency` (reviewers see all)."""
        return self.reviewer or agency in self.agencies or code in self.tenants

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["agencies"] = sorted(self.agencies)
        data["tenants"] = sorted(self.tenants)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identity:
        return cls(
            user_id=str(data["user_id"]),
            name=str(data["name"]),
            email=str(data["email"]),
            agencies=frozenset(map(str, data["agencies"])),
            tenants=frozenset(map(str, data["tenants"])),
            reviewer=bool(data["reviewer"]),
        )


def identity_from_groups(user_id: str, name: str, email: str, groups: Iterable[str]) -> Identity:
    """The identity a user's group names (in the agencies domain) give."""
    agencies, tenants = set(), set()
    suffixes = tuple(f"-{suffix}" for suffix in GROUPS)
    for group in groups:
        if group.startswith(AGENCY_GROUP_PREFIX) and len(group) > len(AGENCY_GROUP_PREFIX):
            agencies.add(group[len(AGENCY_GROUP_PREFIX) :])
        for suffix in suffixes:
            if group.endswith(suffix) and len(group) > len(suffix):
                tenants.add(group[: -len(suffix)])
    return Identity(
        user_id=user_id,
        name=name,
        email=email,
        agencies=frozenset(agencies),
        tenants=frozenset(tenants),
        reviewer=REVIEWERS_GROUP in set(groups),
    )


class Authenticator(Protocol):
    """Checks a user name and password; the provincial federation will implement the same."""

    def authenticate(self, username: str, password: str) -> Identity | None:
        """The user's identity, or None when the name or password is wrong.

        Raises:
            AuthUnavailableError: the identity service cannot be asked.
            PasswordExpiredError: the password is right but must be changed first.
        """
        ...


class PasswordChanger(Protocol):
    """An authenticator that can also change a user's password (Keystone can; fixed users cannot)."""

    def change_password(self, username: str, current: str, new: str) -> None:
        """Change the password of `username`, expired or not.

        Raises:
            PasswordChangeError: the current password is wrong, or the new one is refused (says why).
            AuthUnavailableError: the identity service cannot be asked.
        """
        ...


# --------------------------------------------------------------------------- fixed users (tests)

_EXPIRED = re.compile(r"password is expired and needs to be changed for user: ([0-9a-f]{32})")
"""Keystone's 401 for a right but expired password (keystone.exception.PasswordExpired), naming the user id."""

_ITERATIONS = 310_000
"""PBKDF2-SHA256 iterations of a new hash (OWASP's 2023 figure)."""


def hash_password(password: str, iterations: int = _ITERATIONS, salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$<iterations>$<salt>$<hash>` (base64) for a fixed-users file."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "$".join(
        ("pbkdf2_sha256", str(iterations), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def _verify(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, digest = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations))
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(expected, got)


@dataclass(frozen=True)
class _FixedUser:
    password: str
    email: str
    groups: tuple[str, ...]


class FixedUsers:
    """Users from a file (test and offline demonstration only): `users: {name: {password: <hash from
    hash_password>, email, groups: [...]}}`. Never the default: `hatang portal` uses it only when
    `--users FILE` is given, and says so."""

    def __init__(self, users: Mapping[str, Mapping[str, Any]]) -> None:
        self._users = {
            name: _FixedUser(str(u["password"]), str(u.get("email", "")), tuple(map(str, u.get("groups", ()))))
            for name, u in users.items()
        }
        self._dummy = hash_password(secrets.token_hex(8), iterations=1000)

    @classmethod
    def from_file(cls, path: Path) -> FixedUsers:
        """Read a users file (YAML).

        Raises:
            HatangError: unreadable, or not `users:` with a password hash for each.
        """
        from infra._strictyaml import SiteFileError, loads_strict

        try:
            data = loads_strict(Path(path).read_text(encoding="utf-8"))
        except (OSError, SiteFileError, UnicodeDecodeError) as exc:
            raise HatangError(f"{path}: cannot read the portal's users file: {exc}") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict) or not all(
            isinstance(u, dict) and str(u.get("password", "")).startswith("pbkdf2_sha256$") for u in users.values()
        ):
            raise HatangError(
                f"{path}: expected `users: {{NAME: {{password: pbkdf2_sha256$..., email: ..., groups: [...]}}}}` "
                "(fix: make each hash with infra.portal.auth.hash_password)"
            )
        return cls(users)

    def authenticate(self, username: str, password: str) -> Identity | None:
        user = self._users.get(username)
        if user is None:
            _verify(password, self._dummy)  # same work for an unknown name: no user enumeration by timing
            return None
        if not _verify(password, user.password):
            return None
        return identity_from_groups(f"fixed:{username}", username, user.email, user.groups)


# --------------------------------------------------------------------------- Keystone

_REVOCATION_GRAIN = 1.1
"""Keystone revokes a user's tokens "issued before" a password change with one-second precision, so
a token issued in the second of the change is refused once: sign-in asks again after this long."""


class _RevokedAtIssue(Exception):
    """Keystone issued a token and refused it at once (see `_REVOCATION_GRAIN`)."""


class KeystoneAuthenticator:
    """Password auth against Keystone in the agencies domain; groups read with the user's own token."""

    def __init__(self, auth_url: str, domain: str, verify: bool | str = True, timeout: float = 15) -> None:
        base = auth_url.rstrip("/")
        self._auth_url = base
        self._api = base if base.endswith("/v3") else f"{base}/v3"
        self._domain = domain
        self._verify = verify
        self._timeout = timeout

    def authenticate(self, username: str, password: str) -> Identity | None:
        from keystoneauth1 import exceptions

        if not username or not password:
            return None
        try:
            try:
                user_id, user, groups = self._read_self(username, password)
            except _RevokedAtIssue:
                time.sleep(_REVOCATION_GRAIN)
                user_id, user, groups = self._read_self(username, password)
        except _RevokedAtIssue:
            return None
        except exceptions.Unauthorized as exc:
            expired = _EXPIRED.search(str(exc))
            if expired:
                raise PasswordExpiredError(
                    "your password has expired and must be changed before you sign in (fix: change it here)",
                    expired.group(1),
                ) from None
            return None
        except exceptions.ClientException as exc:
            raise AuthUnavailableError(
                f"Keystone at {self._auth_url} cannot be asked: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        domain_id = user.get("domain_id")
        names = [g["name"] for g in groups if g.get("domain_id") == domain_id]
        return identity_from_groups(str(user_id), str(user.get("name", username)), str(user.get("email") or ""), names)

    def _read_self(self, username: str, password: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """A token for the user, then the user and its groups read with it.

        Raises:
            _RevokedAtIssue: the token was issued but refused at once (revoked in the second it was issued).
        """
        from keystoneauth1 import exceptions, session
        from keystoneauth1.identity import v3

        auth = v3.Password(
            auth_url=self._auth_url, username=username, password=password, user_domain_name=self._domain,
            unscoped=True,
        )
        sess = session.Session(auth=auth, verify=self._verify, timeout=self._timeout)
        user_id = str(sess.get_user_id())
        try:
            user = sess.get(f"{self._api}/users/{user_id}").json()["user"]
            groups = sess.get(f"{self._api}/users/{user_id}/groups").json()["groups"]
        except exceptions.Unauthorized:
            raise _RevokedAtIssue from None
        return user_id, user, groups

    def change_password(self, username: str, current: str, new: str) -> None:
        """Keystone's own password change (`POST /v3/users/<id>/password`, no token: it works when expired)."""
        from keystoneauth1 import exceptions, session

        try:
            identity = self.authenticate(username, current)
        except PasswordExpiredError as exc:
            user_id = exc.user_id
        else:
            if identity is None:
                raise PasswordChangeError("wrong user name or current password")
            user_id = identity.user_id
        try:
            answer = session.Session(verify=self._verify, timeout=self._timeout).post(
                f"{self._api}/users/{user_id}/password",
                json={"user": {"original_password": current, "password": new}},
                raise_exc=False,
            )
        except exceptions.ClientException as exc:
            raise AuthUnavailableError(f"Keystone at {self._auth_url} cannot be asked: {type(exc).__name__}") from None
        if answer.status_code in (200, 204):
            return
        if answer.status_code == 401:
            raise PasswordChangeError("wrong user name or current password")
        try:
            why = str(answer.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            why = f"HTTP {answer.status_code}"
        raise PasswordChangeError(f"Keystone refused the new password: {why[:300]}")
