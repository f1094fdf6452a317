"""The site's history from git: one snapshot of the adoption and tenant files per commit.

The git history of `applications.yml` and the tenant files is the record of progress; nobody
keeps a second log. Reading is two processes whatever the length of the history: one `git log`
lists every commit with the blobs it changed, one `git cat-file --batch` returns every distinct
blob, and each blob is parsed once with the site's own schema models. A blob that does not parse
is a data problem of that commit, never a crash: the snapshot goes on without that file.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from infra.errors import Problem
from infra.reports._fastyaml import load as _parse_yaml
from infra.reports.i18n import N_, Text
from infra.schema import Application, Profile, TenantRequest

__all__ = ["TRACKED", "History", "Snapshot", "read_history", "split_items"]

TRACKED = ("applications.yml", "profiles.yml", "tenants/")
"""Site files whose history the reports follow."""

_ZERO = "0" * 40
_APPS = TypeAdapter(tuple[Application, ...])
_PROFILES = TypeAdapter(dict[str, Profile])
_SECTIONS: dict[str, tuple[str, TypeAdapter[Any]]] = {
    "applications.yml": ("applications", _APPS),
    "profiles.yml": ("profiles", _PROFILES),
}


@dataclass(frozen=True)
class Snapshot:
    """The tracked files as they were after one commit (None: missing or invalid then)."""

    commit: str
    at: datetime
    applications: tuple[Application, ...] | None
    profiles: Mapping[str, Profile] | None
    tenants: tuple[TenantRequest, ...]


@dataclass(frozen=True)
class History:
    """Snapshots oldest first, the data problems met, and why there is none when empty."""

    snapshots: tuple[Snapshot, ...]
    problems: tuple[Problem, ...]
    note: str = ""


@dataclass(frozen=True)
class _Commit:
    sha: str
    at: datetime
    changes: tuple[tuple[str, str | None], ...]  # (path inside the site, blob or None: deleted)


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "-c", "core.quotepath=off", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=True,
    )
    return result.stdout


def _commits(top: Path, prefix: str) -> list[_Commit]:
    paths = [f"{prefix}{name}" for name in TRACKED]
    out = _git(
        top, "log", "--reverse", "--first-parent", "--diff-merges=first-parent", "--raw",
        "--no-renames", "--no-abbrev", "--format=%x1e%H %cI", "--", *paths,
    ).decode("utf-8", "replace")
    commits = []
    for record in out.split("\x1e")[1:]:
        lines = record.splitlines()
        sha, at = lines[0].split(" ", 1)
        changes = []
        for line in lines[1:]:
            if not line.startswith(":") or "\t" not in line:
                continue
            meta, path = line.split("\t", 1)
            fields = meta.split()
            blob = fields[3]
            if path.startswith(prefix):
                changes.append((path[len(prefix):], None if blob == _ZERO else blob))
        commits.append(_Commit(sha, datetime.fromisoformat(at), tuple(changes)))
    return commits


def _blobs(top: Path, shas: list[str]) -> dict[str, bytes]:
    if not shas:
        return {}
    out = _git(top, "cat-file", "--batch", stdin="".join(f"{s}\n" for s in shas).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        pos = end + 1
        if len(header) < 3 or header[1] != "blob":  # "<sha> missing"
            continue
        size = int(header[2])
        blobs[header[0]] = out[pos : pos + size]
        pos += size + 1
    return blobs


def split_items(text: str, key: str) -> list[str] | None:
    """The items of a file that is one top-level `key:` holding a block sequence, as texts.

    Each item keeps its own lines, so that an unchanged item has an unchanged text from one
    commit to the next and is parsed once for the whole history. None when the file has any
    other shape (then it is parsed whole); an item that does not parse on its own sends the
    file to the whole-file parser too.
    """
    head = re.search(rf"(?m)^{re.escape(key)}:[ \t]*(#.*)?$", text)
    if head is None or re.search(r"(?m)^[^\s#]", text[: head.start()]):
        return None
    body = text[head.end() :]  # keeps the newline: r"\n..." finds line starts far faster than (?m)^
    if re.search(r"\n[^\s#]", body):
        return None
    first = re.search(r"\n( +)-(?:[ \n]|\Z)", body)
    if first is None or body[: first.start()].strip():
        return None
    return re.split(rf"\n(?={first.group(1)}-(?:[ \n]|\Z))", body[first.start() + 1 :])


class _Invalid(ValueError):
    """What is wrong with a file, located by its field path in the file ('' for the whole file)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def _invalid(exc: ValidationError, prefix: tuple[Any, ...]) -> _Invalid:
    """The first schema error (the model's English message), and how many more there are."""
    error = exc.errors()[0]
    field = ".".join(str(p) for p in (*prefix, *error["loc"]))
    if exc.error_count() == 1:
        return _Invalid(field, error["msg"])
    return _Invalid(field, Text(N_("%(message)s (and %(count)s more)"), message=error["msg"],
                                count=exc.error_count() - 1))


def _section(document: Any, key: str, adapter: TypeAdapter[Any]) -> Any:
    """The models under the top-level `key` of a whole-file document."""
    if not isinstance(document, dict) or key not in document:
        raise _Invalid("", Text(N_("expected a mapping with a top-level '%(key)s' key"), key=key))
    try:
        return adapter.validate_python(document[key])
    except ValidationError as exc:
        raise _invalid(exc, (key,)) from exc


class _ListParser:
    """Parses list files item by item, each distinct item text once for the whole history."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.items: dict[str, Any] = {}  # a model, its ValidationError, or _WHOLE: parse the file whole

    def _item(self, chunk: str) -> Any:
        try:
            document = _parse_yaml(chunk)
        except yaml.YAMLError:
            document = None
        if not isinstance(document, list) or len(document) != 1:
            value: Any = _WHOLE
        else:
            try:
                value = self.model.model_validate(document[0])
            except ValidationError as exc:
                value = exc
        self.items[chunk] = value
        return value

    def parse(self, text: str, key: str, adapter: TypeAdapter[Any]) -> Any:
        chunks = split_items(text, key)
        if chunks is not None:
            known = self.items.get
            parsed = [known(c) or self._item(c) for c in chunks]  # values are models, errors or _WHOLE
            if all(isinstance(p, self.model) for p in parsed):
                return tuple(parsed)
            if not any(p is _WHOLE for p in parsed):
                for index, value in enumerate(parsed):
                    if isinstance(value, ValidationError):
                        raise _invalid(value, (key, index))
        return _section(_load(text), key, adapter)


_WHOLE = object()
"""Marks an item that does not parse on its own (an alias, a flow sequence): parse the file whole."""


def _tracked(path: str) -> bool:
    if path in _SECTIONS:
        return True
    return path.startswith("tenants/") and path.endswith(".yml") and path.count("/") == 1


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _syntax(exc) from exc


def _load(text: str) -> Any:
    try:
        return _parse_yaml(text)
    except yaml.YAMLError as exc:
        raise _syntax(exc) from exc


def _syntax(exc: Exception) -> _Invalid:
    return _Invalid("", Text(N_("YAML syntax error: %(error)s"), error=str(exc).splitlines()[0]))


def _parse(path: str, data: bytes, lists: Mapping[str, _ListParser]) -> Any:
    """The model(s) a blob holds; raises _Invalid saying what is wrong."""
    text = _text(data)
    if path in lists:
        return lists[path].parse(text, *_SECTIONS[path])
    document = _load(text)
    if path in _SECTIONS:
        return _section(document, *_SECTIONS[path])
    if not isinstance(document, dict):
        raise _Invalid("", Text(N_("expected a mapping (a tenant request)")))
    try:
        return TenantRequest.model_validate(document)
    except ValidationError as exc:
        raise _invalid(exc, ()) from exc


def read_history(root: Path) -> History:
    """Every commit that changed the tracked files of the site at `root`, as snapshots."""
    root = Path(root).resolve()
    try:
        top_prefix = _git(root, "rev-parse", "--show-toplevel", "--show-prefix").decode().splitlines()
    except (OSError, subprocess.CalledProcessError):
        return History((), (), Text(N_("the inventory is not in a git repository: no history")))
    top = Path(top_prefix[0])
    prefix = top_prefix[1] if len(top_prefix) > 1 else ""
    try:
        commits = _commits(top, prefix)
    except subprocess.CalledProcessError as exc:  # e.g. a repository without commits
        message = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        return History((), (), Text(N_("git log failed: %(error)s"), error=message[-1] if message else str(exc)))
    wanted = sorted({blob for c in commits for p, blob in c.changes if blob and _tracked(p)})
    contents = _blobs(top, wanted)

    parsed: dict[str, Any] = {}
    lists = {"applications.yml": _ListParser(Application)}
    problems: list[Problem] = []
    state: dict[str, str] = {}
    snapshots = []
    for commit in commits:
        for path, blob in commit.changes:
            if not _tracked(path):
                continue
            if blob is None:
                state.pop(path, None)
                continue
            state[path] = blob
            if blob in parsed:
                continue
            try:
                parsed[blob] = _parse(path, contents.get(blob, b""), lists)
            except _Invalid as exc:
                parsed[blob] = None
                where = Text(N_("%(path)s (commit %(commit)s, %(date)s)"), path=f"{prefix}{path}",
                             commit=commit.sha[:10], date=commit.at.date().isoformat())
                hint = Text(N_("history: the snapshot skips this file"))
                problems.append(Problem(where, exc.field, exc.message, hint))
        values = {path: parsed[blob] for path, blob in state.items()}
        snapshots.append(
            Snapshot(
                commit=commit.sha,
                at=commit.at,
                applications=values.get("applications.yml"),
                profiles=values.get("profiles.yml"),
                tenants=tuple(
                    v for p, v in sorted(values.items()) if p.startswith("tenants/") and v is not None
                ),
            )
        )
    note = "" if snapshots else Text(N_("no commit touches the site's applications or tenants yet"))
    return History(tuple(snapshots), tuple(problems), note)
