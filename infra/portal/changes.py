"""Change requests for an agency's existing tenant: another quota profile, or retirement.

A change request is a commit that changes no file, on its own branch `change/<code>/<n>`, authored
by the signed-in requester; its trailers say what is asked (`Hatang-Change: profile|retire`,
`Hatang-Tenant`, `Hatang-Profile`, `Hatang-Reason`, `Hatang-Requested-By`, `Hatang-Filed`). Before
it is committed, the change is made once, in a temporary worktree of the main branch, by the very
function an approval runs (`set_profile` or `retire_tenant`, which validate the whole site as
`hatang validate` does), and thrown away: what an approval would refuse is refused now, every
problem at its field, and no branch is made.

An approval merges the branch into the main branch and runs that function again there, as the
reviewer, with the agency's reason (`gitflow.merge_into_main`). A rejection commits the reviewer's
reason on the branch (`Hatang-Decision: rejected`), which stays as the record the agency reads. A
tenant has at most one change request waiting: the site lock serialises filings, and each checks
the branches first. Without a git repository there is no place for a request to wait, so the
portal files none and says why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from infra import tenants as tenant_ops
from infra._lock import site_lock
from infra.errors import HatangError, InventoryError, Problem, RequestError
from infra.portal import forms
from infra.portal.auth import Identity
from infra.portal.gitflow import GitFlowError, SiteRepo, about_site, merge_into_main, run_git
from infra.site import display_path

__all__ = [
    "CHANGE_PREFIX",
    "NO_REPOSITORY",
    "ChangeForm",
    "ChangeKind",
    "ChangeRequest",
    "Filed",
    "approve_change",
    "branch_changes",
    "file_change",
    "recorded_reason",
    "reject_change",
]

CHANGE_PREFIX = "change/"

NO_REPOSITORY = (
    "change requests wait on a git branch until a reviewer decides, and this portal's site folder is in no git "
    "repository (fix: run the portal on a clone of the site repository; meanwhile the data center runs "
    "`hatang tenant set-profile` or `hatang tenant retire`)"
)

_TRAILER = "Hatang-"
_RECORD_END, _FIELD_END = "\x1e", "\x1f"
"""Separators of `for-each-ref`'s output: control characters no recorded text can hold."""


class ChangeKind(StrEnum):
    """What an agency may ask for an existing tenant."""

    PROFILE = "profile"
    RETIRE = "retire"


@dataclass(frozen=True)
class ChangeForm:
    """A change request as typed (text), before any validation."""

    kind: str = ""
    quota_profile: str = ""
    reason: str = ""

    @classmethod
    def from_fields(cls, data: Mapping[str, Sequence[str]]) -> ChangeForm:
        def one(key: str) -> str:
            return (data.get(key) or [""])[0]

        return cls(kind=one("kind"), quota_profile=one("quota_profile"), reason=one("reason"))


@dataclass(frozen=True)
class ChangeRequest:
    """A change request on its branch: waiting, or rejected with the reviewer's reason."""

    code: str
    kind: ChangeKind
    profile: str
    """The profile asked for ('' for a retirement)."""
    reason: str
    requester: str
    filed: str
    """When it was filed (ISO 8601)."""
    branch: str
    commit: str
    rejected: str = ""
    """The reviewer's reason, when rejected."""
    rejected_by: str = ""

    @property
    def pending(self) -> bool:
        return not self.rejected


@dataclass(frozen=True)
class Filed:
    """What came of a change request: the request on its branch, or every problem by form field."""

    request: ChangeRequest | None = None
    errors: forms.FieldErrors = field(default_factory=dict)


def recorded_reason(reason: str, requester: str) -> str:
    """The history reason of an approved change: the agency's words and who asked (the reviewer is `by`)."""
    return f"{reason.strip()} (requested by {requester})"


def _apply(site: Path, code: str, kind: ChangeKind, profile: str, by: str, reason: str) -> tenant_ops.Change:
    """Make the change as the CLI would: `hatang tenant set-profile` or `hatang tenant retire`."""
    if kind == ChangeKind.PROFILE:
        return tenant_ops.set_profile(site, code, profile, by, reason)
    return tenant_ops.retire_tenant(site, code, by, reason)


def branch_changes(repo: SiteRepo) -> list[ChangeRequest]:
    """The change requests on `change/*` branches, oldest first; a branch that does not read as one is left out."""
    listing = run_git(
        repo.top, "for-each-ref", "--sort=authordate",
        f"--format=%(refname:strip=2){_FIELD_END}%(objectname){_FIELD_END}%(authoremail){_FIELD_END}"
        f"%(contents){_RECORD_END}",
        f"refs/heads/{CHANGE_PREFIX}",
    )
    out = []
    for record in listing.split(_RECORD_END):
        parts = record.lstrip("\n").split(_FIELD_END)
        if len(parts) == 4:
            found = _parse(*parts)
            if found is not None:
                out.append(found)
    return out


def _parse(branch: str, commit: str, author: str, message: str) -> ChangeRequest | None:
    """A change request from its branch tip's trailers; the first value of each key counts."""
    trailers: dict[str, str] = {}
    for line in message.splitlines():
        key, colon, value = line.partition(": ")
        if colon and key.startswith(_TRAILER):
            trailers.setdefault(key.removeprefix(_TRAILER), value.strip())
    code = trailers.get("Tenant", "")
    kind = trailers.get("Change", "")
    if kind not in tuple(ChangeKind) or not forms.slug(code) or not branch.startswith(f"{CHANGE_PREFIX}{code}/"):
        return None
    rejected = trailers.get("Decision") == "rejected"
    return ChangeRequest(
        code=code,
        kind=ChangeKind(kind),
        profile=trailers.get("Profile", ""),
        reason=trailers.get("Reason", ""),
        requester=trailers.get("Requested-By", ""),
        filed=trailers.get("Filed", ""),
        branch=branch,
        commit=commit,
        rejected=trailers.get("Rejected-Because", "") if rejected else "",
        rejected_by=author.strip("<>") if rejected else "",
    )


def _message(subject: str, trailers: Mapping[str, str]) -> str:
    return subject + "\n\n" + "".join(f"{_TRAILER}{key}: {value}\n" for key, value in trailers.items())


def _request_trailers(request: ChangeRequest) -> dict[str, str]:
    out = {"Change": request.kind.value, "Tenant": request.code}
    if request.kind == ChangeKind.PROFILE:
        out["Profile"] = request.profile
    return {**out, "Reason": request.reason, "Requested-By": request.requester, "Filed": request.filed}


def _subject(request: ChangeRequest) -> str:
    if request.kind == ChangeKind.PROFILE:
        return f"quota profile {request.profile} for tenant {request.code}"
    return f"retirement of tenant {request.code}"


def file_change(root: Path, repo: SiteRepo | None, code: str, form: ChangeForm, identity: Identity) -> Filed:
    """File a change request for tenant `code` as `identity`, on a new branch (pushed).

    The caller has checked that the tenant belongs to one of the user's agencies.
    """
    if repo is None:
        return Filed(errors={forms.GENERAL: (NO_REPOSITORY,)})
    try:
        with site_lock(root):
            return _file(root, repo, code, form, identity)
    except HatangError as exc:
        return Filed(errors={forms.GENERAL: (about_site(str(exc), repo.top, root),)})


def _file(root: Path, repo: SiteRepo, code: str, form: ChangeForm, identity: Identity) -> Filed:
    if form.kind not in tuple(ChangeKind):
        return Filed(errors={"kind": (f"{form.kind[:60]!r} is not a change the portal files (fix: choose "
                                      f"one of: {', '.join(sorted(ChangeKind))})",)})
    kind = ChangeKind(form.kind)
    earlier = [c for c in branch_changes(repo) if c.code == code]
    waiting = [c for c in earlier if c.pending]
    if waiting:
        return Filed(errors={forms.GENERAL: (
            f"a change request for {code!r} is waiting for review already (branch {waiting[0].branch}, filed "
            f"{waiting[0].filed} by {waiting[0].requester}); a tenant has one at a time (fix: wait for the data "
            "center's decision)",
        )})
    base = repo.ref(f"refs/heads/{repo.main}")
    if base is None:
        raise GitFlowError(f"{repo.top}: no branch {repo.main!r} (fix: pass --main-branch)")
    with repo.worktree(base) as (_, site):
        if not (site / "tenants" / f"{code}.yml").is_file():  # a request on its branch: nothing to change yet
            return Filed(errors={forms.GENERAL: (
                f"tenant {code!r} is not approved yet; only an approved or active tenant can change (fix: wait "
                "for the data center's review of the request)",
            )})
        errors = _trial(site, code, kind, form, identity.by)
    if errors:
        return Filed(errors={key: tuple(about_site(m, site, root) for m in found) for key, found in errors.items()})
    number = _next_number(repo, code)
    request = ChangeRequest(
        code=code, kind=kind, profile=form.quota_profile if kind == ChangeKind.PROFILE else "",
        reason=form.reason.strip(), requester=identity.by,
        filed=datetime.now(UTC).replace(microsecond=0).isoformat(),
        branch=f"{CHANGE_PREFIX}{code}/{number}", commit="",
    )
    commit = repo.record(base, _message(f"Request {_subject(request)}", _request_trailers(request)), identity)
    ref = f"refs/heads/{request.branch}"
    try:
        run_git(repo.top, "update-ref", ref, commit, "")  # '' : only if it does not exist
    except GitFlowError:
        raise GitFlowError(f"branch {request.branch} exists already (fix: file the request again)") from None
    try:
        repo.push(f"{ref}:{ref}")
    except GitFlowError as exc:
        run_git(repo.top, "update-ref", "-d", ref, commit)
        raise GitFlowError(
            f"the change request could not be pushed to {repo.remote!r}, so it was not filed ({exc}; fix: ask the "
            "data center)"
        ) from None
    return Filed(request=replace(request, commit=commit))


def _next_number(repo: SiteRepo, code: str) -> int:
    """The number of the tenant's next change branch: after every branch `change/<code>/<n>`, readable or not."""
    listing = run_git(repo.top, "for-each-ref", "--format=%(refname)", f"refs/heads/{CHANGE_PREFIX}{code}/")
    numbers = [int(ref.rsplit("/", 1)[1]) for ref in listing.split() if ref.rsplit("/", 1)[1].isdigit()]
    return 1 + max(numbers, default=0)


_PLACEHOLDER_REASON = "portal check"
"""A well-formed reason, to find the problems a refused reason hid (the functions stop at the first stage)."""


def _trial(site: Path, code: str, kind: ChangeKind, form: ChangeForm, by: str) -> dict[str, list[str]]:
    """Every problem the change would meet at approval, by form field: it is made here, in a worktree
    that is thrown away; again with a stand-in reason when the reason alone stopped it (the
    functions check their arguments before the site)."""
    errors: defaultdict[str, list[str]] = defaultdict(list)
    typed = form.reason.strip()
    if not typed:
        errors["reason"].append("a change request needs a reason the data center will read (fix: say why)")
    for reason in (typed, _PLACEHOLDER_REASON) if typed else (_PLACEHOLDER_REASON,):
        stopped = _attempt(site, code, kind, form.quota_profile, by, recorded_reason(reason, by), errors)
        if not stopped:
            break
    if typed and errors.get("reason"):  # say what is wrong with what was typed, not with the recorded text
        alone: defaultdict[str, list[str]] = defaultdict(list)
        _attempt(site, code, kind, form.quota_profile, by, typed, alone)
        errors["reason"] = alone.get("reason") or [
            f"too long once the history adds ' (requested by {by})'"
            + (" and both profiles" if kind == ChangeKind.PROFILE else "") + " (fix: shorten it)"
        ]
    return {key: list(dict.fromkeys(found)) for key, found in errors.items()}


def _attempt(site: Path, code: str, kind: ChangeKind, profile: str, by: str, reason: str,
             errors: defaultdict[str, list[str]]) -> bool:
    """Make the change, adding its problems to `errors`; whether the reason stopped it before the site was checked."""
    try:
        change = _apply(site, code, kind, profile, by, reason)
    except InventoryError as exc:
        for problem in exc.problems:
            key, text = _located(problem, site, code, kind)
            errors[key].append(text)
    except RequestError as exc:
        lines = str(exc).splitlines()
        for line in lines:
            flag, _, rest = line.partition(": ")
            if flag == "--reason":
                errors["reason"].append(rest)
            else:
                errors[forms.GENERAL].append(line)
        return any(line.startswith("--reason: ") for line in lines)
    else:
        if not change.changed:
            errors["quota_profile" if kind == ChangeKind.PROFILE else forms.GENERAL].append(
                f"nothing to change: {change.summary}"
            )
    return False


def _located(problem: Problem, site: Path, code: str, kind: ChangeKind) -> tuple[str, str]:
    """A problem of the changed site by form field: the profile, the reason, or the page's top."""
    text = problem.message + (f" (fix: {problem.hint})" if problem.hint else "")
    if problem.file == display_path(site / "tenants" / f"{code}.yml"):
        if problem.field == "quota_profile":
            return "quota_profile", text
        if problem.field.startswith("history.") and problem.field.endswith(".reason"):
            return "reason", text
    if problem.file == display_path(site / "capacity.yml") and kind == ChangeKind.PROFILE:  # the new quotas do not fit
        return "quota_profile", text
    return forms.GENERAL, str(problem)


def _waiting(repo: SiteRepo, code: str) -> ChangeRequest:
    for change in branch_changes(repo):
        if change.code == code and change.pending:
            return change
    raise RequestError(f"no change request for {code!r} waiting for review")


def approve_change(root: Path, repo: SiteRepo | None, code: str, identity: Identity, note: str = "") -> str:
    """Approve the change waiting for tenant `code`: merged into the main branch, made by the CLI's function.

    Returns:
        The summary of `set_profile` or `retire_tenant`.

    Raises:
        HatangError: nothing waiting, the function refused (the site changed meanwhile), or git refused.
    """
    if repo is None:
        raise RequestError(NO_REPOSITORY)
    with site_lock(root):
        change = _waiting(repo, code)
        subject = f"Approve {_subject(change)}" + (f"\n\n{note.strip()}" if note.strip() else "")
        done = merge_into_main(
            root, repo, change.branch, change.commit, identity,
            lambda site: _apply(site, code, change.kind, change.profile, identity.by,
                                recorded_reason(change.reason, change.requester)),
            subject, [repo.path("tenants", f"{code}.yml")],
        )
        return done.summary


def reject_change(root: Path, repo: SiteRepo | None, code: str, identity: Identity, reason: str) -> str:
    """Reject the change waiting for tenant `code`: the reason is committed on its branch, which stays.

    Raises:
        HatangError: no reason, nothing waiting, or git refused; nothing changed.
    """
    if repo is None:
        raise RequestError(NO_REPOSITORY)
    text = reason.strip()
    if not text:
        raise RequestError("a rejection needs a reason the agency will read (fix: say why)")
    if not text.isprintable() or len(text) > 255:
        raise RequestError("the reason must be one line of at most 255 printable characters (fix: shorten it)")
    with site_lock(root):
        change = _waiting(repo, code)
        trailers = {**_request_trailers(change), "Decision": "rejected", "Rejected-Because": text}
        commit = repo.record(change.commit, _message(f"Reject {_subject(change)}", trailers), identity)
        ref = f"refs/heads/{change.branch}"
        repo.push(f"{commit}:{ref}")
        run_git(repo.top, "update-ref", ref, commit, change.commit)
    return f"{code}: change request {change.branch} rejected"
