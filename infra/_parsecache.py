"""A cache of strict reads, so that a site of thousands of files is not parsed again by every command.

Reading 5,000 tenant files strictly costs seconds; an approver runs one command after another on a
checkout where almost nothing changed. The cache maps each site file to the JSON text its strict
read produced — exactly what `infra.site.parse_strict` then validates, so a hit goes through the
same schema check as a miss — and it is built so that it can never answer for content it did not
read:

- an entry is keyed by the file's name and identity `(device, inode, size, mtime_ns, ctime_ns)`.
  Any write, `touch`, `chmod`, rename or replacement changes the ctime or the inode, and the ctime
  cannot be set back by anyone (`os.utime` sets only mtime and atime, and itself moves the ctime);
- only files whose last change is older than `SETTLED_NS` are stored: a file changed within the
  same clock tick as our read (the kernel stamps times with a coarse clock) could otherwise keep
  its identity while its content changes ("racy git" has the same rule);
- only successful reads are stored; a file with any problem is read again, so its errors come
  from the strict reader with their file:line, exactly as without the cache;
- the cache file is written atomically (temporary file, fsync, rename) and carries a SHA-256 of
  its body; it is trusted only when it is a regular file owned by the user, writable by nobody
  else, of the expected shape, and written by this same reader code (a hash of its source).
  Anything else — truncated, corrupt, foreign, another version — is ignored and rebuilt.

It lives in `<site>/.hatang-cache/` (git-ignored, like the lock). A read-only checkout simply
runs without it; `HATANG_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml as pyyaml

__all__ = ["CACHE_DIR", "CACHE_FILE", "SETTLED_NS", "Identity", "ReadCache", "identity"]

CACHE_DIR = ".hatang-cache"
"""Folder in the site (git-ignored)."""

CACHE_FILE = "reads.json"

SETTLED_NS = 2_000_000_000
"""A file is stored only when its mtime and ctime are this much older than the moment it was read."""

MAX_CACHE_BYTES = 512 * 1024 * 1024
_MAGIC = "hatang-read-cache 1"

Identity = tuple[int, int, int, int, int]
"""(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of a site file."""


def identity(info: os.stat_result) -> Identity:
    """What must be unchanged for a cached read to stand for the file's content."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _fingerprint() -> str | None:
    """A hash of the code that turns a file into the cached text; None (no cache) if it cannot be read."""
    from infra import _ledgerfile, _strictyaml, _yaml, site

    digest = hashlib.sha256(f"{sys.version_info[:2]} {pyyaml.__version__}".encode())
    for module in (sys.modules[__name__], _ledgerfile, _strictyaml, _yaml, site):
        try:
            digest.update(Path(str(module.__file__)).read_bytes())
        except (OSError, TypeError):
            return None
    return digest.hexdigest()


def _entry(value: Any) -> tuple[Identity, str] | None:
    """A stored entry `[[dev, ino, size, mtime_ns, ctime_ns], text]`, or None when it has another shape."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], str)):
        return None
    ident = value[0]
    if not (isinstance(ident, list) and len(ident) == 5 and all(type(n) is int for n in ident)):
        return None  # type(n) is int: a bool or a float is not an identity field
    return (ident[0], ident[1], ident[2], ident[3], ident[4]), value[1]


class ReadCache:
    """The cached reads of one site; `get` before reading a file, `put` after a successful read."""

    def __init__(self, root: Path) -> None:
        self.folder = root / CACHE_DIR
        self.enabled = os.environ.get("HATANG_NO_CACHE", "") in ("", "0")
        self.fingerprint = _fingerprint() if self.enabled else None
        self.enabled = self.fingerprint is not None
        self._old: dict[str, Any] = self._load() if self.enabled else {}
        self._new: dict[str, list[Any]] = {}
        self._changed = False

    def _load(self) -> dict[str, Any]:
        """The stored entries, or nothing when the file is missing or cannot be trusted."""
        try:
            if not stat.S_ISDIR(os.lstat(self.folder).st_mode):
                return {}
            fd = os.open(self.folder / CACHE_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return {}
        try:
            with os.fdopen(fd, "rb") as stream:
                info = os.fstat(stream.fileno())
                trusted = (
                    stat.S_ISREG(info.st_mode)
                    and info.st_uid == os.geteuid()
                    and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                    and info.st_size <= MAX_CACHE_BYTES
                )
                data = stream.read(MAX_CACHE_BYTES + 1) if trusted else b""
        except OSError:
            return {}
        header, _, body = data.partition(b"\n")
        if header != f"{_MAGIC} {hashlib.sha256(body).hexdigest()}".encode():
            return {}
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return {}
        if not (isinstance(document, dict) and document.get("reader") == self.fingerprint):
            return {}
        entries = document.get("entries")
        return entries if isinstance(entries, dict) else {}

    @staticmethod
    def key(root: Path, path: Path, part: str) -> str:
        """The entry name of one section (`part`) of one file: its path in the site, NUL, the part."""
        base, text = str(root), str(path)
        if os.sep == "/" and text.startswith(base) and text[len(base) : len(base) + 1] == "/" and base != ".":
            return f"{text[len(base) + 1 :]}\0{part}"  # what relative_to gives, without its cost (5,000 files)
        try:
            name = path.relative_to(root).as_posix()
        except ValueError:
            name = str(path)
        return f"{name}\0{part}"

    def get(self, key: str, path: Path) -> str | None:
        """The cached JSON text of `key` when `path` is, unchanged, the regular file that was read."""
        if not self.enabled:
            return None
        entry = _entry(self._old.get(key))
        if entry is None:
            return None
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or entry[0] != identity(info):
            return None
        self._new[key] = [list(entry[0]), entry[1]]
        return entry[1]

    def put(self, key: str, info: os.stat_result, read_at_ns: int, text: str) -> None:
        """Remember a successful read of a file whose identity `info` was taken after `read_at_ns`."""
        if not self.enabled:
            return
        if max(info.st_mtime_ns, info.st_ctime_ns) >= read_at_ns - SETTLED_NS:
            return  # changed too recently: a change in the same clock tick would keep its identity
        self._new[key] = [list(identity(info)), text]
        self._changed = True

    def save(self) -> None:
        """Write the entries used or made by this run, when there is something new; errors are ignored."""
        if not self.enabled or not self._changed:
            return
        body = json.dumps({"reader": self.fingerprint, "entries": self._new}, ensure_ascii=False).encode()
        data = f"{_MAGIC} {hashlib.sha256(body).hexdigest()}\n".encode() + body
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            if not stat.S_ISDIR(os.lstat(self.folder).st_mode):
                return
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{CACHE_FILE}.", suffix=".tmp")
        except OSError:
            return  # a read-only checkout: run without the cache
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.folder / CACHE_FILE)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
        self._changed = False
        self._remove_old_temporaries()

    def _remove_old_temporaries(self) -> None:
        """Temporary files of runs killed while saving (an hour old: not another run's, in progress)."""
        limit = time.time() - 3600
        try:
            for entry in os.scandir(self.folder):
                if entry.name.endswith(".tmp") and entry.stat(follow_symlinks=False).st_mtime < limit:
                    Path(entry.path).unlink(missing_ok=True)
        except OSError:
            pass
