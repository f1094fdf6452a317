"""The read cache never answers for content it did not read, and a bad cache file is never trusted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from infra import _parsecache, site
from infra._parsecache import CACHE_DIR, CACHE_FILE, ReadCache
from infra.errors import InventoryError
from infra.site import load_site

HATANG = Path(sys.executable).with_name("hatang")
BY = "reviewer@example.org"
TENANT = "tenants/phuong-duc-xuan.yml"
SETTLE_NS = 50_000_000


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files `load_site` actually opens (a cache hit opens nothing)."""
    opened: list[str] = []
    real = site.read_file

    def spy(path: Path) -> Any:
        opened.append(path.name)
        return real(path)

    monkeypatch.setattr(site, "read_file", spy)
    return opened


@pytest.fixture
def cached(site_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site whose files are all in the cache (files count as settled after 50 ms, not 2 s)."""
    monkeypatch.setattr(_parsecache, "SETTLED_NS", SETTLE_NS)
    monkeypatch.delenv("HATANG_NO_CACHE", raising=False)
    time.sleep(2 * SETTLE_NS / 1e9)
    load_site(site_copy)
    assert (site_copy / CACHE_DIR / CACHE_FILE).is_file()
    return site_copy


def _uncached(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What `load_site` gives without the cache: the site, or the problems as text."""
    with monkeypatch.context() as patch:
        patch.setenv("HATANG_NO_CACHE", "1")
        try:
            return load_site(root)
        except InventoryError as exc:
            return str(exc)


def _cached_load(root: Path) -> Any:
    try:
        return load_site(root)
    except InventoryError as exc:
        return str(exc)


def _edit_in_place(path: Path, old: str, new: str) -> None:
    """Rewrite the file through the same inode, then set its mtime back: only the ctime moves."""
    assert len(old.encode()) == len(new.encode())
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text
    with path.open("r+", encoding="utf-8") as stream:
        stream.write(text.replace(old, new, 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def _write_cache(root: Path, document: Any, mode: int = 0o600) -> Path:
    """A cache file with a correct header around `document` (so only its content is judged)."""
    body = json.dumps(document).encode()
    path = root / CACHE_DIR / CACHE_FILE
    path.write_bytes(f"hatang-read-cache 1 {hashlib.sha256(body).hexdigest()}\n".encode() + body)
    path.chmod(mode)
    return path


def test_cache_unchanged_files_are_not_opened_again(cached: Path, reads: list[str]) -> None:
    load_site(cached)
    assert reads == []


def test_cache_is_a_folder_next_to_the_lock_and_private(cached: Path) -> None:
    folder = cached / CACHE_DIR
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    assert oct((folder / CACHE_FILE).stat().st_mode & 0o077) == oct(0)
    assert [p.name for p in folder.iterdir()] == [CACHE_FILE], "no temporary file is left behind"


def test_cache_edit_keeping_size_and_mtime_is_seen(cached: Path, reads: list[str]) -> None:
    _edit_in_place(cached / TENANT, "name: UBND phường Đức Xuân", "name: UBND phường Đức Xuâm")
    tenant = load_site(cached).tenant("phuong-duc-xuan")
    assert tenant is not None and tenant.name == "UBND phường Đức Xuâm"
    assert reads == ["phuong-duc-xuan.yml"]


def test_cache_edit_that_breaks_the_file_is_reported_as_without_cache(
    cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit_in_place(cached / TENANT, "security_level: 2", "security_level: x")
    expected = _uncached(cached, monkeypatch)
    assert isinstance(expected, str) and "phuong-duc-xuan.yml:6: security_level:" in expected
    assert _cached_load(cached) == expected


def test_cache_duplicate_key_written_over_a_cached_file_is_located(
    cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit_in_place(cached / TENANT, "agency: phuong-duc-xuan", "code:   phuong-duc-xuan")
    found = _cached_load(cached)
    assert "phuong-duc-xuan.yml:4: duplicate key 'code' (first at line 3)" in found
    assert found == _uncached(cached, monkeypatch)


def test_cache_file_replaced_by_another_inode_is_seen(cached: Path) -> None:
    path = cached / TENANT
    replacement = path.with_name(".replacement")
    replacement.write_text(path.read_text(encoding="utf-8").replace("security_level: 2", "security_level: 3"))
    shutil.copystat(path, replacement)  # same mtime, same size, another inode
    os.replace(replacement, path)
    tenant = load_site(cached).tenant("phuong-duc-xuan")
    assert tenant is not None and tenant.security_level == 3


def test_cache_file_replaced_by_a_link_is_refused(cached: Path, tmp_path: Path) -> None:
    path = cached / TENANT
    target = tmp_path / "elsewhere.yml"
    shutil.copy2(path, target)
    path.unlink()
    path.symlink_to(target)
    with pytest.raises(InventoryError, match=r"phuong-duc-xuan.yml: is a symbolic link"):
        load_site(cached)


def test_cache_ledger_appended_by_approval_is_seen(cached: Path) -> None:
    before = len(load_site(cached).ledger or ())
    result = subprocess.run(
        [str(HATANG), "tenant", "approve", "phuong-duc-xuan", "-i", str(cached), "--by", BY],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    after = load_site(cached)
    assert len(after.ledger or ()) == before + 3
    assert after.tenant("phuong-duc-xuan").allocation is not None  # type: ignore[union-attr]


def test_cache_recent_files_are_not_stored(site_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HATANG_NO_CACHE", raising=False)
    (site_copy / TENANT).write_text((site_copy / TENANT).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(_parsecache, "SETTLED_NS", 3_600 * 10**9)  # nothing is an hour old
    load_site(site_copy)
    assert not (site_copy / CACHE_DIR / CACHE_FILE).exists()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: os.urandom(4096), id="garbage"),
        pytest.param(lambda data: data.replace(b'"entries"', b'"entriez"'), id="body-changed-under-its-hash"),
        pytest.param(lambda data: data[:-1] + b"}", id="one-byte-flipped"),
    ],
)
def test_cache_damaged_file_is_ignored_and_rebuilt(
    cached: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch, damage: Any
) -> None:
    path = cached / CACHE_DIR / CACHE_FILE
    path.write_bytes(damage(path.read_bytes()))
    assert _cached_load(cached) == _cached_load_reference(cached, monkeypatch)
    assert "phuong-duc-xuan.yml" in reads, "nothing came from the damaged cache"
    reads.clear()
    load_site(cached)
    assert reads == [], "the cache was rebuilt"


def test_cache_body_changed_under_its_hash_is_ignored(cached: Path) -> None:
    path = cached / CACHE_DIR / CACHE_FILE
    data = path.read_bytes()
    changed = data.replace("Đức Xuân".encode(), "Đức Xuâm".encode())
    assert changed != data and json.loads(changed.partition(b"\n")[2])  # still JSON of the right shape
    path.write_bytes(changed)
    assert load_site(cached).tenant("phuong-duc-xuan").name == "UBND phường Đức Xuân"  # type: ignore[union-attr]


def _cached_load_reference(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    reference = _uncached(root, monkeypatch)
    return reference if isinstance(reference, str) else _cached_load(root)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="a-list"),
        pytest.param({"reader": "another-version", "entries": {}}, id="another-reader"),
        pytest.param({"entries": {}}, id="no-reader"),
        pytest.param(None, id="null"),
    ],
)
def test_cache_of_the_wrong_shape_is_ignored(cached: Path, reads: list[str], document: Any) -> None:
    _write_cache(cached, document)
    load_site(cached)
    assert "phuong-duc-xuan.yml" in reads


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(lambda ident, text: [ident, text, "extra"], id="three-items"),
        pytest.param(lambda ident, text: {"identity": ident, "text": text}, id="a-mapping"),
        pytest.param(lambda ident, text: [ident[:4], text], id="short-identity"),
        pytest.param(lambda ident, text: [[True, *ident[1:]], text], id="bool-in-identity"),
        pytest.param(lambda ident, text: [[float(ident[0]), *ident[1:]], text], id="float-in-identity"),
        pytest.param(lambda ident, text: [ident, {"code": "x"}], id="data-not-text"),
        pytest.param(lambda ident, text: [ident, "{not json"], id="text-not-json"),
    ],
)
def test_cache_entry_of_the_wrong_shape_is_a_miss(cached: Path, reads: list[str], entry: Any) -> None:
    document = json.loads((cached / CACHE_DIR / CACHE_FILE).read_bytes().partition(b"\n")[2])
    key = ReadCache.key(cached, cached / TENANT, "")
    ident, text = document["entries"][key]
    document["entries"][key] = entry(ident, text)
    _write_cache(cached, document)
    tenant = load_site(cached).tenant("phuong-duc-xuan")
    assert tenant is not None and tenant.name == "UBND phường Đức Xuân"
    assert "phuong-duc-xuan.yml" in reads


@pytest.mark.parametrize(
    ("mode", "reader"),
    [pytest.param(0o666, None, id="writable-by-others"), pytest.param(0o600, "0" * 64, id="another-reader")],
)
def test_cache_foreign_file_is_not_trusted(cached: Path, mode: int, reader: str | None) -> None:
    document = json.loads((cached / CACHE_DIR / CACHE_FILE).read_bytes().partition(b"\n")[2])
    key = ReadCache.key(cached, cached / TENANT, "")
    ident, text = document["entries"][key]
    document["entries"][key] = [ident, json.dumps({**json.loads(text), "name": "Forged"}, ensure_ascii=False)]
    _write_cache(cached, {**document, "reader": reader or document["reader"]}, mode)
    assert load_site(cached).tenant("phuong-duc-xuan").name == "UBND phường Đức Xuân"  # type: ignore[union-attr]


def test_cache_file_that_is_a_link_is_ignored(cached: Path, reads: list[str], tmp_path: Path) -> None:
    path = cached / CACHE_DIR / CACHE_FILE
    target = tmp_path / "elsewhere.json"
    shutil.copy2(path, target)
    path.unlink()
    path.symlink_to(target)
    load_site(cached)
    assert "phuong-duc-xuan.yml" in reads


def test_cache_file_of_another_user_is_ignored(cached: Path, reads: list[str]) -> None:
    os.chown(cached / CACHE_DIR / CACHE_FILE, 65534, 65534)  # the project's tests run as root (CI)
    load_site(cached)
    assert "phuong-duc-xuan.yml" in reads


def test_cache_folder_that_cannot_be_written_is_not_an_error(
    site_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parsecache, "SETTLED_NS", SETTLE_NS)
    monkeypatch.delenv("HATANG_NO_CACHE", raising=False)
    (site_copy / CACHE_DIR).write_text("a file where the folder goes\n", encoding="utf-8")
    time.sleep(2 * SETTLE_NS / 1e9)
    assert load_site(site_copy).tenant("phuong-duc-xuan") is not None
    assert load_site(site_copy).tenant("phuong-duc-xuan") is not None


def test_cache_off_with_environment(site_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parsecache, "SETTLED_NS", SETTLE_NS)
    monkeypatch.setenv("HATANG_NO_CACHE", "1")
    time.sleep(2 * SETTLE_NS / 1e9)
    load_site(site_copy)
    assert not (site_copy / CACHE_DIR).exists()


def test_cache_two_approvals_at_once_get_distinct_prefixes(cached: Path) -> None:
    codes = ["phuong-duc-xuan", "phuong-phan-dinh-phung"]
    processes = [
        subprocess.Popen(
            [str(HATANG), "tenant", "approve", code, "-i", str(cached), "--by", BY],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for code in codes
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    loaded = load_site(cached)
    prefixes = {loaded.tenant(code).allocation.ipv4 for code in codes}  # type: ignore[union-attr]
    assert len(prefixes) == 2
    assert len({entry.prefix for entry in loaded.ledger or ()}) == len(loaded.ledger or ())
