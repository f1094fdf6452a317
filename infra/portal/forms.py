"""The tenant request form: what an agency typed, turned into `hatang tenant new`'s request.

The form validates nothing itself. A submission goes through `create_tenant`, exactly as
`hatang tenant new` does, and that alone decides whether a file is written. When it refuses, the
same model (`TenantRequest`) and the same site rules (`validate_site`) are run once more on the
request as a whole, so that every problem is shown at once, each next to its field, not only the
first stage's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.errors import HatangError, InventoryError, Problem, RequestError
from infra.ledger import owners
from infra.schema import SLUG_PATTERN, TenantRequest, TenantState
from infra.site import Site, describe, display_path, load_site, parse_strict
from infra.tenants import Change, NewTenant, create_tenant
from infra.validate import validate_site

__all__ = ["NETWORK_ROWS", "FieldErrors", "RequestForm", "Submission", "slug", "submit"]

NETWORK_ROWS = 3
"""Network rows on the form; blank rows are left out of the request."""

GENERAL = "_general"
"""Errors that belong to no field (the site itself, the lock)."""

FieldErrors = Mapping[str, tuple[str, ...]]

_SLUG = re.compile(SLUG_PATTERN)
_FLAG = re.compile(r"^--([a-z-]+): (.*)$")
_TENANT_FIELD = re.compile(r": (code): (.*)$")


@dataclass(frozen=True)
class RequestForm:
    """The form's values as typed (text), before any validation."""

    code: str = ""
    agency: str = ""
    name: str = ""
    security_level: str = ""
    quota_profile: str = ""
    contact_name: str = ""
    contact_email: str = ""
    reason: str = ""
    applications: tuple[str, ...] = ()
    network_names: tuple[str, ...] = ("",) * NETWORK_ROWS
    network_access: tuple[tuple[str, ...], ...] = ((),) * NETWORK_ROWS

    @classmethod
    def from_fields(cls, data: Mapping[str, Sequence[str]]) -> RequestForm:
        """Build from the posted fields (every value a list, as multi-valued forms give them)."""

        def one(key: str) -> str:
            values = data.get(key) or [""]
            return values[0]

        return cls(
            code=one("code"),
            agency=one("agency"),
            name=one("name"),
            security_level=one("security_level"),
            quota_profile=one("quota_profile"),
            contact_name=one("contact_name"),
            contact_email=one("contact_email"),
            reason=one("reason"),
            applications=tuple(data.get("applications") or ()),
            network_names=tuple(one(f"network_{i}") for i in range(NETWORK_ROWS)),
            network_access=tuple(tuple(data.get(f"network_{i}_access") or ()) for i in range(NETWORK_ROWS)),
        )

    def rows(self) -> list[int]:
        """Indices of the network rows the agency filled in (a name or an access)."""
        return [i for i in range(NETWORK_ROWS) if self.network_names[i].strip() or self.network_access[i]]

    @property
    def requester(self) -> str:
        """Who the history records as filing it: the contact's address (no sign-in yet)."""
        return self.contact_email.strip() or "portal"

    def level(self) -> int | str:
        """The level as a number when it is one; otherwise the text, for the model to refuse."""
        text = self.security_level.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 2 else text

    def request(self) -> NewTenant:
        """The request `hatang tenant new` would build from the same answers."""
        return NewTenant(
            code=self.code,
            agency=self.agency,
            name=self.name,
            security_level=self.level(),  # type: ignore[arg-type]  # a wrong type is the model's to refuse
            quota_profile=self.quota_profile,
            contacts=({"name": self.contact_name, "email": self.contact_email, "role": "requester"},),
            networks=tuple(
                {"name": self.network_names[i].strip(), "access": list(self.network_access[i])} for i in self.rows()
            ),
            applications=self.applications,
        )


@dataclass(frozen=True)
class Submission:
    """What came of a submission: the change written, or every problem by form field."""

    change: Change | None = None
    errors: FieldErrors = field(default_factory=dict)


def slug(text: str) -> bool:
    """Whether `text` is a well-formed code (safe in a path or a branch name)."""
    return _SLUG.fullmatch(text) is not None


def submit(root: Path, form: RequestForm, by: str | None = None) -> Submission:
    """File the request through `create_tenant`; on refusal, collect every problem by field.

    Args:
        root: the site folder.
        form: what the agency typed.
        by: who the history records as filing it (the signed-in user); default the contact's e-mail.
    """
    request = form.request()
    by = by or form.requester
    try:
        return Submission(change=create_tenant(root, request, by, form.reason))
    except InventoryError as exc:
        mine = display_path(Path(root) / "tenants" / f"{request.code}.yml")
        first = [_located(p, form) if p.file == mine else (GENERAL, str(p)) for p in _items_first(exc.problems)]
    except RequestError as exc:
        first = [_flagged(line) for line in str(exc).splitlines()]
    except HatangError as exc:  # the lock, an unreadable site: nothing was written
        first = [(GENERAL, str(exc))]
    try:
        more = _all_problems(load_site(root), form, by)
    except HatangError as exc:
        more = [(GENERAL, str(exc))]
    errors: defaultdict[str, list[str]] = defaultdict(list)
    for key, message in [*first, *more]:
        if message not in errors[key]:
            errors[key].append(message)
    return Submission(errors={key: tuple(messages) for key, messages in errors.items()})


_TOO_SHORT = ("Tuple should have at least", "List should have at least")
"""Pydantic's 'too short' on a list whose items were all refused: it only echoes their problems."""


def _items_first(problems: Sequence[Problem]) -> list[Problem]:
    """Leave out a list's 'too short' when its items have problems of their own."""
    fields = {p.field for p in problems}
    return [
        p
        for p in problems
        if not (p.message.startswith(_TOO_SHORT) and any(f.startswith(f"{p.field}.") for f in fields))
    ]


def _flagged(line: str) -> tuple[str, str]:
    """A `create_tenant` argument error (`--flag: message (fix: …)`, or `…: code: …`) by field."""
    match = _FLAG.match(line)
    if match:
        flag = match.group(1).replace("-", "_")
        key = {"by": "contact_email", "contact_role": GENERAL}.get(flag, flag)
        return key, match.group(2)
    match = _TENANT_FIELD.search(line)
    if match:
        return match.group(1), match.group(2)
    return GENERAL, line


_NOW = "2026-01-01T00:00:00+00:00"
"""A stand-in time for the check's history entry (the rules only compare times within one file)."""

_PLACEHOLDER: dict[str, Any] = {
    "code": "portal-check",
    "agency": "portal-check",
    "name": "portal check",
    "security_level": 1,
    "quota_profile": "portal-check",
}
"""Well-formed stand-ins for fields the model refused, so the site rules still see the rest."""


def _document(form: RequestForm, by: str) -> dict[str, Any]:
    """The request as `create_tenant` writes it, as plain data for the model."""
    request = form.request()
    return {
        "code": request.code,
        "agency": request.agency,
        "name": request.name,
        "security_level": request.security_level,
        "quota_profile": request.quota_profile,
        "contacts": [dict(c) for c in request.contacts],
        "networks": [dict(n) for n in request.networks],
        "applications": list(request.applications),
        "state": TenantState.REQUESTED.value,
        "history": [{"state": "requested", "at": _NOW, "by": by, "reason": form.reason}],
    }


def _all_problems(site: Site, form: RequestForm, by: str) -> list[tuple[str, str]]:
    """Every problem of the request: the model's on each field, then the site rules' on the rest
    (`site` read after `create_tenant` refused, so a request filed meanwhile counts)."""
    document = _document(form, by)
    found: list[tuple[str, str]] = []
    refused: set[str] = set()
    if _taken(site, str(document["code"])):  # `create_tenant` said so; check the rest as a new code
        document["code"] = _PLACEHOLDER["code"]
        refused.add("code")
    try:
        request = parse_strict(TenantRequest, document)
    except ValidationError as exc:
        errors = exc.errors()
        located = [Problem("", ".".join(map(str, e["loc"])), *describe(e)) for e in errors]
        for error, problem in zip(errors, located, strict=True):
            _stand_in(document, tuple(error["loc"]))
            refused.add(problem.field)
        found.extend(_located(p, form) for p in _items_first(located))
        try:
            request = parse_strict(TenantRequest, document)
        except ValidationError:
            return found
    path = site.root / "tenants" / f"{request.code}.yml"
    candidate = replace(
        site,
        tenants=(*(t for t in site.tenants if t.code != request.code), request),
        tenant_files={**site.tenant_files, request.code: path},
    )
    mine = display_path(path)
    for problem in validate_site(candidate):
        if problem.file != mine:
            found.append((GENERAL, str(problem)))
        elif not any(problem.field == r or problem.field.startswith(f"{r}.") for r in refused):
            found.append(_located(problem, form))
    return found


def _taken(site: Site, code: str) -> bool:
    """Whether a tenant file or the ledger already holds `code` (its checks would be against itself)."""
    return site.tenant(code) is not None or any(owner == code for owner, _ in owners(site).values())


def _stand_in(document: dict[str, Any], loc: tuple[Any, ...]) -> None:
    """Replace the part of `document` at `loc` the model refused by a well-formed stand-in."""
    top = loc[0]
    if top in _PLACEHOLDER:
        document[top] = _PLACEHOLDER[top]
    elif top == "contacts":
        document["contacts"] = [{"name": "portal check", "email": "check@portal.invalid", "role": "requester"}]
    elif top == "networks" and len(loc) >= 3 and isinstance(loc[1], int):
        network = document["networks"][loc[1]]
        if loc[2] == "name":
            network["name"] = f"portal-check-{loc[1]}"
        else:
            network["access"] = []
    elif top == "networks":
        document["networks"] = [{"name": "portal-check", "access": []}]
    elif top == "applications" and len(loc) == 2 and isinstance(loc[1], int):
        document["applications"][loc[1]] = "portal-check"
    elif top == "applications":
        document["applications"] = []
    elif top == "history":
        document["history"][0].update(by="portal", reason="portal check")


def _located(problem: Problem, form: RequestForm) -> tuple[str, str]:
    """A site-rule problem on the request's file, by form field ('field: message (fix: …)')."""
    text = problem.message + (f" (fix: {problem.hint})" if problem.hint else "")
    if not problem.field:
        return GENERAL, str(problem)
    return _field(tuple(int(p) if p.isdigit() else p for p in problem.field.split(".")), form), text


def _field(loc: tuple[Any, ...], form: RequestForm) -> str:
    """The form field a model location belongs to."""
    top = loc[0]
    if top in ("code", "agency", "name", "security_level", "quota_profile", "applications"):
        return str(top)
    if top == "contacts":
        return "contact_email" if len(loc) > 2 and loc[2] == "email" else "contact_name"
    if top == "networks":
        rows = form.rows()
        if len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(rows):
            return f"network_{rows[loc[1]]}"
        return "networks"
    if top == "history":
        return "reason" if len(loc) > 2 and loc[2] == "reason" else "contact_email"
    return GENERAL


