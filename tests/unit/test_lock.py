"""One writer at a time, atomic writes that keep the file's mode, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra import _yaml
from infra._lock import LOCK_NAME, SiteLockedError, site_lock
from infra.cli import app
from infra.tenants import create_tenant
from tests.helpers import snapshot
from tests.unit.test_tenants import _new

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, b"pid 4242, someone, since 09:00:00: hatang tenant approve x\\n", 0)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_lock(site: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(site / LOCK_NAME), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_second_writer_is_refused_with_exit_2_and_who_holds_it(
    site_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATANG_LOCK_TIMEOUT", "0.3")
    holder = _hold_lock(site_copy, 10)
    try:
        before = snapshot(site_copy)
        result = CliRunner().invoke(app, ["tenant", "approve", "hcc", "-i", str(site_copy), "--by", "a@example.org"])
        assert result.exit_code == 2
        assert "another command is writing this site" in result.stderr
        assert "pid 4242" in result.stderr and "HATANG_LOCK_TIMEOUT" in result.stderr
        assert snapshot(site_copy) == before
    finally:
        holder.kill()
        holder.wait()


def test_writer_waits_for_a_short_holder(site_copy: Path) -> None:
    holder = _hold_lock(site_copy, 0.5)
    start = time.monotonic()
    with site_lock(site_copy, timeout=10):
        waited = time.monotonic() - start
    holder.wait()
    assert 0.2 < waited < 5


def test_lock_is_released_when_its_holder_is_killed(site_copy: Path) -> None:
    holder = _hold_lock(site_copy, 60)
    holder.kill()
    holder.wait()
    with site_lock(site_copy, timeout=1):
        pass


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_bad_timeout_setting_is_a_clear_error(site_copy: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HATANG_LOCK_TIMEOUT", value)
    with pytest.raises(SiteLockedError, match="HATANG_LOCK_TIMEOUT"), site_lock(site_copy):
        pass


def test_stale_temporaries_of_a_killed_writer_are_removed(site_copy: Path) -> None:
    stale = [site_copy / "tenants" / ".hcc.yml.abc123.tmp", site_copy / ".ledger.yml.x1.tmp"]
    for path in stale:
        path.write_text("half a file", encoding="utf-8")
    keep = site_copy / "tenants" / ".hcc.yml.swp"
    keep.write_text("an editor's", encoding="utf-8")
    with site_lock(site_copy, timeout=1):
        pass
    assert not any(p.exists() for p in stale)
    assert keep.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_atomic_write_keeps_the_files_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "t.yml"
    path.write_text("a: 1\n", encoding="utf-8")
    path.chmod(mode)
    _yaml.write_atomic(path, "a: 2\n")
    assert path.stat().st_mode & 0o7777 == mode
    assert path.read_text(encoding="utf-8") == "a: 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.yml"]


def test_new_request_file_follows_the_umask(site_copy: Path) -> None:
    old = os.umask(0o022)
    try:
        create_tenant(site_copy, _new(), "a@example.org", "new")
    finally:
        os.umask(old)
    assert (site_copy / "tenants" / "so-xd.yml").stat().st_mode & 0o777 == 0o644
