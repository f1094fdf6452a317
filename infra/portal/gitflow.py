"""Requests as git branches, approvals merged into the main branch, rejections recorded on the branch.

When the site folder is inside a git repository, the portal never edits its checked-out files to
file a request: it checks the main branch out in a temporary worktree, runs `create_tenant` there
(the same validation as `hatang tenant new` and `hatang validate`), commits `tenants/<code>.yml`
with the signed-in requester as author, points the new branch `request/<code>` at it and pushes
the branch to the configured remote. An approval merges that branch into the main branch in a
temporary worktree, runs `approve_tenant` there (allocation and ledger against the main branch as
it is now) and commits; the main branch then moves to that commit (`git merge --ff-only` when it
is checked out in the portal's clone, which also updates its files; `update-ref` otherwise) and is
pushed. A rejection runs `reject_tenant` on the request's branch (state `rejected`, committed
there; the branch stays, unmerged, as the record, so the code stays taken).

Approving an agency's change request (`changes.py`) goes through the same merge
(`merge_into_main`), with `set_profile` or `retire_tenant` in place of `approve_tenant`.

Every operation holds the site's write lock (`.hatang.lock`, the lock of every writer), so two at
once are serialised; git hooks are not run (the portal's checks are `hatang validate`'s).
When the site is not in a git repository, the same operations edit the site folder in place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from infra import tenants as tenant_ops
from infra._lock import site_lock
from infra._strictyaml import SiteFileError, loads_strict
from infra.errors import HatangError, RequestError
from infra.portal import forms
from infra.portal.auth import Identity
from infra.schema import TenantRequest
from infra.site import LEDGER_FILE, display_path, parse_strict

__all__ = [
    "BRANCH_PREFIX",
    "BranchRequest",
    "GitFlowError",
    "SiteRepo",
    "about_site",
    "approve_request",
    "author_env",
    "branch_requests",
    "file_request",
    "merge_into_main",
    "reject_request",
    "run_git",
]

BRANCH_PREFIX = "request/"

_NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")


class GitFlowError(HatangError):
    """A git step failed (branch exists, push refused, main moved): nothing was changed in the site."""


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git without hooks or prompts; its output, or GitFlowError with git's last lines."""
    try:
        done = subprocess.run(
            ["git", *_NO_HOOKS, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitFlowError(f"git {args[0]}: cannot run: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise GitFlowError(f"git {args[0]} failed: {' '.join(detail[-3:])[:400]}")
    return done.stdout


def author_env(identity: Identity) -> dict[str, str]:
    """Git's environment for a commit authored by the signed-in user and committed by the portal."""
    email = identity.email or f"{identity.user_id}@keystone.invalid"
    return {
        "GIT_AUTHOR_NAME": identity.name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": "hatang portal",
        "GIT_COMMITTER_EMAIL": "portal@hatang.invalid",
    }


@dataclass(frozen=True)
class SiteRepo:
    """The git repository around a site folder: where the site is in it, the main branch, the remote."""

    top: Path
    site: str
    """The site folder relative to `top`, POSIX ('' when the site is the repository's root)."""
    main: str
    remote: str | None

    @classmethod
    def find(cls, root: Path, main: str | None = None, remote: str | None = None) -> SiteRepo | None:
        """The repository holding `root`, or None when it is in none.

        Args:
            root: the site folder.
            main: the branch requests start from and approvals go to; default: the one checked out.
            remote: where branches are pushed; default: the main branch's upstream remote, if any.

        Raises:
            GitFlowError: in a repository whose main branch cannot be told (detached HEAD, no `main`).
        """
        try:
            top = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if top.returncode != 0 or not top.stdout.strip():
            return None
        top_path = Path(top.stdout.strip())
        site = Path(os.path.realpath(root)).relative_to(os.path.realpath(top_path)).as_posix()
        if main is None:
            try:
                main = run_git(top_path, "symbolic-ref", "--quiet", "--short", "HEAD").strip()
            except GitFlowError:
                raise GitFlowError(
                    f"{top_path}: HEAD is detached: the portal cannot tell the main branch (fix: check the main "
                    "branch out, or pass --main-branch)"
                ) from None
        run_git(top_path, "rev-parse", "--verify", "--quiet", f"refs/heads/{main}")
        if remote is None:
            try:
                remote = run_git(top_path, "config", f"branch.{main}.remote").strip() or None
            except GitFlowError:
                remote = None
        return cls(top_path, "" if site == "." else site, main, remote)

    def path(self, *parts: str) -> str:
        """A path in the repository, POSIX."""
        return "/".join(p for p in (self.site, *parts) if p)

    def ref(self, name: str) -> str | None:
        """The commit a ref points at, or None."""
        try:
            return run_git(self.top, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}").strip()
        except GitFlowError:
            return None

    @contextmanager
    def worktree(self, commit: str) -> Iterator[tuple[Path, Path]]:
        """A temporary worktree at `commit` (detached); yields it and the site folder in it."""
        where = Path(tempfile.mkdtemp(prefix="hatang-portal-"))
        checkout = where / "wt"
        run_git(self.top, "worktree", "add", "--detach", "--quiet", str(checkout), commit)
        try:
            yield checkout, checkout / self.site if self.site else checkout
        finally:
            try:
                run_git(self.top, "worktree", "remove", "--force", str(checkout))
            except GitFlowError:
                shutil.rmtree(checkout, ignore_errors=True)
                run_git(self.top, "worktree", "prune")
            shutil.rmtree(where, ignore_errors=True)

    def record(self, parent: str, message: str, identity: Identity) -> str:
        """A commit on `parent` that changes no file, authored by `identity`: a request or a decision
        whose content is its message (no worktree needed)."""
        return run_git(
            self.top, "commit-tree", f"{parent}^{{tree}}", "-p", parent, "-m", message, env=author_env(identity)
        ).strip()

    def push(self, *refspecs: str) -> None:
        """Push to the remote, when there is one.

        Raises:
            GitFlowError: the remote refused (a branch that exists there, main moved on).
        """
        if self.remote is not None:
            run_git(self.top, "push", "--quiet", "--porcelain", self.remote, *refspecs)


@dataclass(frozen=True)
class BranchRequest:
    """A request waiting on its branch (or rejected there)."""

    code: str
    branch: str
    commit: str
    tenant: TenantRequest


def branch_requests(repo: SiteRepo) -> list[BranchRequest]:
    """The requests on `request/*` branches, by code; a branch whose file cannot be read is left out."""
    listing = run_git(
        repo.top, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", f"refs/heads/{BRANCH_PREFIX}"
    )
    branches = [line.split(" ", 1) for line in listing.splitlines() if " " in line]
    specs = [f"{commit}:{repo.path('tenants', f'{branch[len(BRANCH_PREFIX):]}.yml')}" for branch, commit in branches]
    out = []
    for (branch, commit), text in zip(branches, _blobs(repo.top, specs), strict=True):
        if text is None:
            continue
        try:
            tenant = parse_strict(TenantRequest, loads_strict(text))
        except (SiteFileError, ValidationError):
            continue
        out.append(BranchRequest(branch[len(BRANCH_PREFIX) :], branch, commit, tenant))
    return sorted(out, key=lambda r: r.code)


def _blobs(top: Path, specs: list[str]) -> list[str | None]:
    """The text of each `<commit>:<path>`, None when missing or not UTF-8: one `git cat-file --batch`."""
    if not specs:
        return []
    try:
        done = subprocess.run(
            ["git", "cat-file", "--batch"], cwd=top, input="\n".join(specs).encode() + b"\n", capture_output=True,
            timeout=60, check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitFlowError(f"git cat-file: {exc}") from None
    data, at = done.stdout, 0
    out: list[str | None] = []
    for _ in specs:
        end = data.index(b"\n", at)
        header = data[at:end].split()
        at = end + 1
        if len(header) != 3 or header[1] != b"blob":
            out.append(None)  # '<spec> missing', or not a file
            if len(header) == 3:
                at += int(header[2]) + 1
            continue
        size = int(header[2])
        try:
            out.append(data[at : at + size].decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
        at += size + 1
    return out


def about_site(text: str, inside: Path, root: Path) -> str:
    """A message about the temporary worktree, about the site folder instead."""
    return text.replace(display_path(inside), display_path(root)).replace(str(inside), display_path(root))


def file_request(root: Path, repo: SiteRepo | None, form: forms.RequestForm, identity: Identity) -> forms.Submission:
    """File `form` as `identity`: on a new branch `request/<code>` (pushed) in a repository, else in place."""
    if repo is None:
        return forms.submit(root, form, identity.by)
    code = form.code
    try:
        with site_lock(root):
            return _file_on_branch(root, repo, form, code, identity)
    except HatangError as exc:
        return forms.Submission(errors={forms.GENERAL: (about_site(str(exc), repo.top, root),)})


def _file_on_branch(
    root: Path, repo: SiteRepo, form: forms.RequestForm, code: str, identity: Identity
) -> forms.Submission:
    branch = f"{BRANCH_PREFIX}{code}"
    if forms.slug(code) and repo.ref(f"refs/heads/{branch}") is not None:
        return forms.Submission(
            errors={"code": (f"a request {code!r} exists already, on branch {branch} (fix: choose another code)",)}
        )
    base = repo.ref(f"refs/heads/{repo.main}")
    if base is None:
        raise GitFlowError(f"{repo.top}: no branch {repo.main!r} (fix: pass --main-branch)")
    with repo.worktree(base) as (checkout, site):
        outcome = forms.submit(site, form, identity.by)
        if outcome.change is None:
            errors = {key: tuple(about_site(m, site, root) for m in messages)
                      for key, messages in outcome.errors.items()}
            return forms.Submission(errors=errors)
        run_git(checkout, "add", "--", repo.path("tenants", f"{code}.yml"))
        run_git(checkout, "commit", "--quiet", "-m", f"Request tenant {code}: {form.name.strip()}\n\n{form.reason}",
             env=author_env(identity))
        commit = run_git(checkout, "rev-parse", "HEAD").strip()
    try:
        run_git(repo.top, "update-ref", f"refs/heads/{branch}", commit, "")  # '' : only if it does not exist
    except GitFlowError:
        raise GitFlowError(f"branch {branch} exists already (fix: choose another code)") from None
    try:
        repo.push(f"refs/heads/{branch}:refs/heads/{branch}")
    except GitFlowError as exc:
        run_git(repo.top, "update-ref", "-d", f"refs/heads/{branch}", commit)
        raise GitFlowError(
            f"the request could not be pushed to {repo.remote!r}, so it was not filed ({exc}; fix: a branch "
            f"{branch} may exist there already: choose another code, or ask the data center)"
        ) from None
    return forms.Submission(change=tenant_ops.Change(root / "tenants" / f"{code}.yml", True, f"{code}: {branch}"))


def approve_request(root: Path, repo: SiteRepo | None, code: str, identity: Identity, reason: str = "approved") -> str:
    """Approve a pending request as `hatang tenant approve` does; merged into the main branch in a repository.

    Returns:
        The summary of `approve_tenant` (prefix and subnets).

    Raises:
        HatangError: not pending, `approve_tenant` refused, or git refused; the site is as before.
    """
    if not forms.slug(code):
        raise RequestError(f"no request {code[:60]!r} waiting for review")
    if repo is None:
        return tenant_ops.approve_tenant(root, code, identity.by, reason).summary
    with site_lock(root):
        branch = f"{BRANCH_PREFIX}{code}"
        tip = repo.ref(f"refs/heads/{branch}")
        if tip is None:
            raise RequestError(f"no request {code!r} waiting for review")
        change = merge_into_main(
            root, repo, branch, tip, identity, lambda site: tenant_ops.approve_tenant(site, code, identity.by, reason),
            f"Approve tenant {code}", [repo.path("tenants", f"{code}.yml"), repo.path(LEDGER_FILE)],
        )
        return change.summary


def merge_into_main(
    root: Path, repo: SiteRepo, branch: str, tip: str, identity: Identity,
    apply: Callable[[Path], tenant_ops.Change], subject: str, paths: Sequence[str],
) -> tenant_ops.Change:
    """Merge `branch` (at `tip`) into the main branch and run `apply` on the merged site, as `identity`.

    In a temporary worktree at the main branch: `git merge --no-ff`, `apply` (an `infra.tenants`
    function, so the CLI's checks and history), one commit; then main is pushed, moved here, and
    the branch deleted here and on the remote. The caller holds the site lock.

    Args:
        root: the site folder, for messages.
        repo: its repository.
        branch: the branch to merge, without `refs/heads/`.
        tip: the commit the branch was read at.
        identity: the reviewer, author of the merge and the commit.
        apply: the change to make on the site folder of the worktree.
        subject: the commit's first line.
        paths: files `apply` changes, which the checkout must not have uncommitted changes to.

    Raises:
        HatangError: `apply` refused or changed nothing, or git refused; the site is as before.
    """
    base = repo.ref(f"refs/heads/{repo.main}")
    if base is None:
        raise GitFlowError(f"{repo.top}: no branch {repo.main!r} (fix: pass --main-branch)")
    _check_checkout(repo, paths)
    with repo.worktree(base) as (checkout, site):
        env = author_env(identity)
        run_git(checkout, "merge", "--no-ff", "--quiet", "-m", f"Merge {branch}", tip, env=env)
        try:
            change = apply(site)
        except HatangError as exc:
            raise HatangError(about_site(str(exc), site, root)) from None
        if not change.changed:
            raise RequestError(f"nothing to do: {change.summary}")
        run_git(checkout, "add", "--update", "--", repo.site or ".")
        run_git(checkout, "commit", "--quiet", "-m", f"{subject}\n\n{change.summary}", env=env)
        merged = run_git(checkout, "rev-parse", "HEAD").strip()
    repo.push(f"{merged}:refs/heads/{repo.main}")
    _advance_main(repo, base, merged)
    run_git(repo.top, "update-ref", "-d", f"refs/heads/{branch}", tip)
    if repo.remote is not None:
        with suppress(GitFlowError):  # already gone there: the merge is what matters
            repo.push(f":refs/heads/{branch}")
    return change


def _main_checked_out(repo: SiteRepo) -> bool:
    try:
        return run_git(repo.top, "symbolic-ref", "--quiet", "HEAD").strip() == f"refs/heads/{repo.main}"
    except GitFlowError:
        return False


def _check_checkout(repo: SiteRepo, paths: Sequence[str]) -> None:
    """Refuse before anything when the checkout's own changes would stop main from moving forward."""
    if not _main_checked_out(repo):
        return
    changed = run_git(repo.top, "status", "--porcelain", "--untracked-files=all", "--", *paths).strip()
    if changed:
        raise GitFlowError(
            f"{repo.top}: the checkout has uncommitted changes to {', '.join(paths)}, which the approval "
            "changes (fix: commit or discard them, then approve again)"
        )


def _advance_main(repo: SiteRepo, base: str, merged: str) -> None:
    """Move the main branch from `base` to `merged`: with the files when it is checked out here."""
    if _main_checked_out(repo):
        run_git(repo.top, "merge", "--ff-only", "--quiet", merged)
    else:
        run_git(repo.top, "update-ref", f"refs/heads/{repo.main}", merged, base)


def reject_request(root: Path, repo: SiteRepo | None, code: str, identity: Identity, reason: str) -> str:
    """Reject a pending request as `hatang tenant reject` does; on its branch in a repository.

    Returns:
        The summary of `reject_tenant`.

    Raises:
        HatangError: not pending, no reason, `reject_tenant` refused, or git refused; nothing changed.
    """
    if not forms.slug(code):
        raise RequestError(f"no request {code[:60]!r} waiting for review")
    if repo is None:
        return _rejected(tenant_ops.reject_tenant(root, code, identity.by, reason), code)
    with site_lock(root):
        branch = f"refs/heads/{BRANCH_PREFIX}{code}"
        tip = repo.ref(branch)
        if tip is None:
            raise RequestError(f"no request {code!r} waiting for review")
        with repo.worktree(tip) as (checkout, site):
            try:
                change = tenant_ops.reject_tenant(site, code, identity.by, reason)
            except HatangError as exc:
                raise HatangError(about_site(str(exc), site, root)) from None
            summary = _rejected(change, code)
            run_git(checkout, "add", "--update", "--", repo.site or ".")
            run_git(checkout, "commit", "--quiet", "-m", f"Reject tenant {code}\n\n{reason.strip()}",
                 env=author_env(identity))
            commit = run_git(checkout, "rev-parse", "HEAD").strip()
        repo.push(f"{commit}:{branch}")
        run_git(repo.top, "update-ref", branch, commit, tip)
    return summary


def _rejected(change: tenant_ops.Change, code: str) -> str:
    """The summary of a rejection that changed the request; a second one is refused, not repeated."""
    if not change.changed:
        raise RequestError(f"request {code!r} was rejected already")
    return change.summary
