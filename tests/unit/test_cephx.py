"""Ceph keys in the secrets folder (infra/cephx.py): made once, read back, refused when damaged."""

from __future__ import annotations

import base64
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra.cephx import CephxError, cephx_key, new_key


def test_new_key_has_cephs_layout() -> None:
    raw = base64.b64decode(new_key(now=1796592931.5))
    assert len(raw) == 28
    assert struct.unpack("<HIIH", raw[:12]) == (1, 1796592931, 500_000_000, 16)
    assert new_key() != new_key()


def test_cephx_key_is_made_once_privately_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "ceph-mon-key"
    first = cephx_key(path)
    assert cephx_key(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_cephx_key_parallel_forks_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "ceph-client-cinder-key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: cephx_key(path), range(32)))
    assert len(keys) == 1


@pytest.mark.parametrize(
    "content",
    ["", "yes\n", "AQCjBRZr+MzTDRAASjSyfEkQYKyMrRdaY26C\n", base64.b64encode(b"\x02" + bytes(27)).decode(), "é"],
    ids=["empty", "word", "truncated", "not-aes", "not-base64"],
)
def test_cephx_key_damaged_file_is_refused_with_the_fix(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ceph-client-admin-key"
    path.write_text(content, encoding="utf-8")
    expected = r"ceph-client-admin-key: not a cephx key .*fix: restore it from the secrets backup"
    with pytest.raises(CephxError, match=expected):
        cephx_key(path)
    assert path.read_text(encoding="utf-8") == content, "a damaged key is never replaced silently"


def test_cephx_key_in_an_unwritable_place_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(CephxError, match="cannot use the cephx key"):
        cephx_key(blocker / "ceph-mon-key")
