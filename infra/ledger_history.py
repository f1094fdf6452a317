"""The ledger stays append-only: `hatang validate` compares it with the ledger committed at a base revision.

Approval only ever appends to `ledger.yml`. A merge request that deletes, edits or reorders an
entry (and the tenant file with it) would pass every other check and free the prefix for reuse.
So, with the site inside a git work tree, the entries committed at the base revision (`HEAD`, or
`--ledger-base REV` in CI) must be the first entries of the current ledger, unchanged and in
order; anything after them is new. Both versions are read with the strict ledger reader and
compared entry by entry, so a change of layout alone is not a change.

git is asked read-only questions (`rev-parse`, `ls-tree`, `show`), without a shell and with a
timeout. A site outside git, or no git installed, is not an error: nothing is compared and the
caller says so.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml as pyyaml
from pydantic import ValidationError

from infra import _yaml
from infra._ledgerfile import HEADER, read_fast
from infra._strictyaml import MAX_BYTES, SiteFileError, loads_strict, read_text, shorten
from infra.errors import HatangError, Problem
from infra.schema import LedgerEntry
from infra.site import LEDGER_FILE, display_path, parse_strict

__all__ = ["DEFAULT_BASE", "GIT_TIMEOUT", "AppendOnly", "check_append_only"]

DEFAULT_BASE = "HEAD"
"""The revision compared with when none is given: what the checkout last committed."""

GIT_TIMEOUT = 30.0
"""Seconds one git call may take (each is a local, read-only lookup)."""

_LOCATING_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_PREFIX")
"""Set by git for hooks; the repository is the one holding the site folder, found from the folder."""

_Key = tuple[str, str, str | None, str, str]
_VALUE = r'[a-z]+: "[^"\\\n]*(?:\\.[^"\\\n]*)*"\n'  # a JSON string, its loop unrolled: 40 ms for 25,000 entries
_LAYOUT = re.compile(rf"(?:  - {_VALUE}(?:    {_VALUE})*)*")
"""The entries as `hatang tenant approve` writes them (`infra._ledgerfile`): one `key: "json"` a line."""
_FIELDS = ("prefix", "tenant", "network", "at", "by")


@dataclass(frozen=True)
class AppendOnly:
    """What the comparison found: problems, or why it was not made (`skipped`)."""

    problems: tuple[Problem, ...] = ()
    skipped: str | None = None
    """Why nothing was compared (not in git, git missing, no commit yet); None when compared."""


class _Skip(Exception):
    """The comparison cannot be made here; the message says why."""


class _Unreadable(Exception):
    """A ledger text that the strict reader refuses."""


def check_append_only(root: Path | str, base: str | None = None) -> AppendOnly:
    """Compare the site's ledger with the one committed at `base` (default `HEAD`).

    Every entry of the committed ledger must still be there, unchanged and at the same position;
    new entries may only follow them. A ledger that did not exist at `base` has nothing to keep.

    Raises:
        HatangError: `base` was given and is not a commit of the site's repository, or git is
            missing or the site is not in a work tree although `base` was asked for, or git hung.
    """
    root = Path(root)
    rev = base if base is not None else DEFAULT_BASE
    if not root.is_dir():
        return AppendOnly()
    try:
        top, prefix = _work_tree(root)
        commit = _commit(top, rev)
    except _Skip as exc:
        if base is not None:
            raise HatangError(
                f"--ledger-base {_rev(rev)}: cannot compare the ledger with it: {exc} "
                "(fix: run validate in a git checkout that has the revision, with git installed)"
            ) from None
        return AppendOnly(skipped=str(exc))
    if commit is None:
        if base is not None:
            raise HatangError(
                f"--ledger-base {_rev(rev)}: no such commit in the git repository holding {display_path(root)} "
                "(fix: give a branch, tag or commit the checkout has; in CI fetch it first, e.g. "
                "`git fetch origin main` for origin/main, or pass the merge base)"
            )
        return AppendOnly(skipped=f"{rev} has no commit yet")
    repo_path = f"{prefix}{LEDGER_FILE}"
    try:
        committed = _committed_text(top, commit, repo_path, rev)
    except _Skip as exc:
        return AppendOnly(skipped=str(exc))
    if committed is None:
        return AppendOnly()  # a new site, or the ledger is new since `rev`: nothing to keep
    path = root / LEDGER_FILE
    try:
        current_text = read_text(path) if os.path.lexists(path) else None
    except SiteFileError:
        return AppendOnly()  # the site reader reports this file's problem, with its line
    if current_text is not None and _appended(committed, current_text):
        return AppendOnly()
    try:
        before = _entries(committed)
    except _Unreadable as exc:
        return AppendOnly(skipped=f"the ledger committed at {_rev(rev)} does not read ({exc})")
    if current_text is None:
        if not before:
            return AppendOnly()
        return AppendOnly(
            problems=(
                Problem(
                    display_path(path),
                    "",
                    f"deleted, but {_rev(rev)} records {len(before)} allocation(s) in it",
                    f"the ledger is never removed: restore it with `git checkout {_rev(rev)} -- {repo_path}` "
                    "and keep its entries",
                ),
            )
        )
    try:
        current = _entries(current_text)
    except _Unreadable:
        return AppendOnly()  # the site reader reports this file's problem, with its line
    show = f"git show {_rev(rev)}:{repo_path}"
    return AppendOnly(problems=tuple(_compare(before, committed, current, current_text, path, _rev(rev), show)))


# --------------------------------------------------------------------------- git


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {name: value for name, value in os.environ.items() if name not in _LOCATING_ENV}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # read-only: never refresh the index of someone's checkout
    try:
        return subprocess.run(
            ["git", "--literal-pathspecs", "-C", str(cwd), *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise _Skip("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise HatangError(
            f"git {args[0]} did not answer within {GIT_TIMEOUT:g} s while checking the ledger's history "
            "(fix: check the repository, e.g. run `git status` there)"
        ) from None
    except OSError as exc:
        raise _Skip(f"git cannot be run ({exc.strerror})") from None


def _said(result: subprocess.CompletedProcess[bytes]) -> str:
    """git's first line of complaint, cut short."""
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    return shorten(lines[0], 120).strip("'\"") if lines else f"exit {result.returncode}"


def _work_tree(root: Path) -> tuple[Path, str]:
    """The top of the work tree holding `root`, and `root`'s path inside it ('' or 'a/b/')."""
    result = _git(root, "rev-parse", "--show-toplevel", "--show-prefix")
    lines = os.fsdecode(result.stdout).splitlines()
    if result.returncode != 0 or not lines:
        raise _Skip(f"not in a git work tree (git: {_said(result)})")
    return Path(lines[0]), (lines[1] if len(lines) > 1 else "")


def _commit(top: Path, rev: str) -> str | None:
    """The commit `rev` names, or None (unknown, or an unborn HEAD)."""
    if not rev or rev.startswith("-") or "\n" in rev or "\0" in rev:
        return None  # never an option of git's, whatever is typed
    result = _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    sha = result.stdout.decode("ascii", "replace").strip()
    return sha if result.returncode == 0 and sha else None


def _committed_text(top: Path, commit: str, repo_path: str, rev: str) -> str | None:
    """The ledger's text at `commit`; None when the commit has no such file."""
    listed = _git(top, "ls-tree", "-z", "-l", "--full-tree", commit, "--", repo_path)
    if listed.returncode != 0:
        raise _Skip(f"git ls-tree failed at {_rev(rev)} (git: {_said(listed)})")
    item = listed.stdout.split(b"\0", 1)[0]
    if not item:
        return None
    meta = item.split(b"\t", 1)[0].split()
    if len(meta) != 4 or meta[1] != b"blob" or meta[0] not in (b"100644", b"100755"):
        raise _Skip(f"at {_rev(rev)}, {repo_path} is not a regular file")
    if meta[3].isdigit() and int(meta[3]) > MAX_BYTES:
        raise _Skip(f"at {_rev(rev)}, {repo_path} is over {MAX_BYTES // (1024 * 1024)} MiB")
    shown = _git(top, "show", "--no-textconv", f"{commit}:{repo_path}")
    if shown.returncode != 0:
        raise _Skip(f"git show failed at {_rev(rev)} (git: {_said(shown)})")
    try:
        return shown.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise _Skip(f"at {_rev(rev)}, {repo_path} is not UTF-8 text") from None


def _rev(rev: str) -> str:
    """A revision as typed, cut short for messages."""
    return rev if rev and len(rev) <= 60 and rev.isprintable() else shorten(rev)


# --------------------------------------------------------------------------- reading and comparing


def _entries(text: str) -> tuple[LedgerEntry, ...]:
    """The entries of a ledger text, read as the site reader reads ledger.yml."""
    document = read_fast(text)
    plain = document is not None
    try:
        if document is None:
            document = loads_strict(text)
    except SiteFileError as exc:
        message = shorten(" ".join(str(exc).split()), 200).strip("'\"")  # one line in the note
        raise _Unreadable(f"line {exc.line}: {message}" if exc.line else message) from None
    if not isinstance(document, dict) or "allocations" not in document:
        raise _Unreadable("no top-level 'allocations:'")
    data: Any = document["allocations"] if document["allocations"] is not None else []
    try:
        entries: tuple[LedgerEntry, ...] = parse_strict(tuple[LedgerEntry, ...], data if plain else _yaml.plain(data))
    except ValidationError as exc:
        raise _Unreadable(f"{exc.error_count()} schema error(s)") from None
    return entries


def _in_layout(text: str) -> bool:
    return text.startswith(HEADER) and _LAYOUT.fullmatch(text, len(HEADER)) is not None


def _appended(before: str, now: str) -> bool:
    """Whether `now` is `before` with whole entries appended, decided on the text (no parse).

    In hatang's layout every line is one complete `key: "value"` and a line starting `  - ` opens
    a new entry, so text added after a final newline, starting with such a line, cannot change
    an entry before it. This is the common case (approval appends), and costs one regular
    expression instead of reading 25,000 entries twice.
    """
    if now == before:
        return True
    return now.startswith(before) and now[len(before) :].startswith("  - ") and _in_layout(before)


def _key(entry: LedgerEntry) -> _Key:
    """What an entry says, as written: the same instant in another time zone is another value."""
    return (str(entry.prefix), entry.tenant, entry.network, entry.at.isoformat(), entry.by)


def _item_lines(text: str) -> list[int]:
    """1-based line of each entry under `allocations:` (empty when the text cannot say)."""
    if _in_layout(text):
        return [number for number, line in enumerate(text.split("\n"), 1) if line.startswith("  - ")]
    try:
        node = pyyaml.compose(text, Loader=pyyaml.CSafeLoader)
    except pyyaml.YAMLError:
        return []
    if isinstance(node, pyyaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "allocations" and isinstance(value, pyyaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def _what(entry: LedgerEntry) -> str:
    network = f" network {shorten(entry.network)}" if entry.network else ""
    return f"{entry.prefix} for tenant {shorten(entry.tenant)}{network}"


def _changes(was: _Key, now: _Key) -> str:
    return "; ".join(
        f"{name} was {shorten(old)}, now {shorten(new)}"
        for name, old, new in zip(_FIELDS, was, now, strict=True)
        if old != new
    )


def _compare(
    before: tuple[LedgerEntry, ...],
    before_text: str,
    current: tuple[LedgerEntry, ...],
    current_text: str,
    path: Path,
    rev: str,
    show: str,
) -> list[Problem]:
    """Problems for every committed entry removed, edited or moved, and every entry put before one."""
    old = [_key(e) for e in before]
    new = [_key(e) for e in current]
    if new[: len(old)] == old:
        return []
    file = display_path(path)
    old_lines, new_lines = _item_lines(before_text), _item_lines(current_text)
    end_line = current_text.count("\n") or 1
    where_now: dict[_Key, int] = {}
    for index, key in enumerate(new):
        where_now.setdefault(key, index)
    known = set(old)
    restore = f"the ledger is append-only: put the entry back as it was ({show} prints it)"
    problems: list[Problem] = []

    def add(line: int | None, index: int, message: str, hint: str) -> None:
        problems.append(Problem(file, f"allocations.{index}", message, hint, line))

    def line_now(index: int) -> int:
        return new_lines[index] if index < len(new_lines) else end_line

    def line_then(index: int) -> str:
        return f", line {old_lines[index]}" if index < len(old_lines) else ""

    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for offset, index in enumerate(range(i1, i2)):
            then = f"entry {index} at {rev}{line_then(index)}"
            moved_to = where_now.get(old[index])
            paired = j1 + offset if tag == "replace" and j1 + offset < j2 else None
            if moved_to is not None:
                add(
                    line_now(moved_to),
                    moved_to,
                    f"{_what(before[index])} is entry {moved_to} but was {then}: entries are never reordered",
                    f"put it back at position {index}; new entries go after the last committed one",
                )
            elif paired is not None and new[paired] not in known:
                add(
                    line_now(paired),
                    paired,
                    f"{then} ({_what(before[index])}) was edited: {_changes(old[index], new[paired])}",
                    f"entries are never edited; {restore}",
                )
            else:
                add(
                    line_now(j1),
                    index,
                    f"{then} ({_what(before[index])}) was removed",
                    f"a prefix once handed out stays recorded; {restore}",
                )
        first_new = j1 + (i2 - i1 if tag == "replace" else 0)
        for index in range(first_new, j2):
            if i1 < len(old) and new[index] not in known:
                add(
                    line_now(index),
                    index,
                    f"{_what(current[index])} is added before entry {i1} at {rev}: new entries only follow the "
                    "committed ones",
                    "move it after the last entry (hatang tenant approve appends there)",
                )
    return problems
