"""Ceph's cephx keys, made on first use in the secrets folder like the services' passwords.

A key is what `ceph-authtool --gen-print-key` prints: base64 of a little-endian header (key
type 1 = AES, creation time in seconds and nanoseconds, secret length 16) and a 16-byte secret.
Written once in the secrets folder, the same key reaches every host that needs it (monitors,
OSDs, cinder-volume, the compute hosts' libvirt) without fetching it from a monitor.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import secrets
import struct
import time
from pathlib import Path

from infra.errors import HatangError

__all__ = ["CephxError", "cephx_key", "new_key"]

_HEADER = struct.Struct("<HIIH")
_AES, _SECRET_BYTES = 1, 16


class CephxError(HatangError):
    """A cephx key file in the secrets folder cannot be made or read."""


def new_key(now: float | None = None) -> str:
    """A new random cephx key."""
    moment = time.time() if now is None else now
    seconds, nanoseconds = int(moment), int((moment % 1) * 1e9)
    header = _HEADER.pack(_AES, seconds, nanoseconds, _SECRET_BYTES)
    return base64.b64encode(header + secrets.token_bytes(_SECRET_BYTES)).decode()


def _check(path: Path, text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    kind, length = (_HEADER.unpack(raw[: _HEADER.size])[::3] if len(raw) >= _HEADER.size else (0, 0))
    if kind != _AES or length != _SECRET_BYTES or len(raw) != _HEADER.size + _SECRET_BYTES:
        raise CephxError(
            f"{path}: not a cephx key (base64 of a 12-byte AES header and a 16-byte secret); fix: restore it "
            "from the secrets backup, or remove it to make a new one (then every daemon and client using it "
            "needs the new key: run the playbook again)"
        )
    return text


def cephx_key(path: Path) -> str:
    """The key in `path`, made on first use (a lock keeps parallel Ansible forks to one key).

    Raises:
        CephxError: the file cannot be made, or holds something that is not a cephx key.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with path.with_name(f".{path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                tmp = path.with_name(f".{path.name}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(new_key() + "\n")
                tmp.replace(path)
            text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CephxError(
            f"{path}: cannot use the cephx key ({exc}); fix: check the secrets folder's owner and mode"
        ) from exc
    return _check(path, text)
