"""One writer at a time per site: an advisory lock around every command that writes site files.

Two `hatang tenant approve` at once would otherwise both read the same free prefix. The lock is
`flock(2)` on a hidden file in the site folder: the kernel drops it when its holder dies, so a
killed command never leaves the site locked.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from infra.errors import HatangError

__all__ = ["LOCK_NAME", "SiteLockedError", "lock_timeout", "site_lock"]

LOCK_NAME = ".hatang.lock"
"""Lock file in the site folder (git-ignored)."""

TEMP_SUFFIX = ".tmp"


class SiteLockedError(HatangError):
    """Another command holds the site's write lock, or the lock cannot be taken."""


def lock_timeout() -> float:
    """Seconds to wait for another writer: $HATANG_LOCK_TIMEOUT, default 30."""
    text = os.environ.get("HATANG_LOCK_TIMEOUT", "30")
    try:
        value = float(text)
    except ValueError:
        raise SiteLockedError(
            f"HATANG_LOCK_TIMEOUT={text[:20]!r} is not a number of seconds (fix: e.g. HATANG_LOCK_TIMEOUT=30)"
        ) from None
    if not value >= 0:
        raise SiteLockedError("HATANG_LOCK_TIMEOUT must be 0 or more seconds (fix: e.g. HATANG_LOCK_TIMEOUT=30)")
    return value


def _remove_stale_temporaries(root: Path) -> None:
    """Temporary files of writers that were killed before they could clean up (we hold the lock)."""
    for folder in (root, root / "tenants"):
        if folder.is_dir() and not folder.is_symlink():
            for entry in os.scandir(folder):
                ours = entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)
                if ours and entry.is_file(follow_symlinks=False):
                    Path(entry.path).unlink(missing_ok=True)


@contextmanager
def site_lock(root: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the site's write lock for the duration of the block.

    Raises:
        SiteLockedError: another writer kept it past `timeout` seconds, or the site is read-only.
    """
    wait = lock_timeout() if timeout is None else timeout
    path = root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise SiteLockedError(
            f"{path}: cannot take the site's write lock: {exc.strerror} "
            "(fix: run from a writable checkout of the site repository)"
        ) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another hatang command"
                    raise SiteLockedError(
                        f"{root}: another command is writing this site ({holder}); waited {wait:g} s "
                        "(fix: let it finish and run yours again, or raise HATANG_LOCK_TIMEOUT)"
                    ) from None
                time.sleep(0.05)
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200]
        os.ftruncate(fd, 0)
        holder = f"pid {os.getpid()}, {getpass.getuser()}, since {datetime.now():%H:%M:%S}: {command}\n"
        os.pwrite(fd, holder.encode("utf-8", "backslashreplace"), 0)
        _remove_stale_temporaries(root)
        yield
    finally:
        os.close(fd)
