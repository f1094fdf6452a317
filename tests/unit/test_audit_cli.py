"""`hatang audit hosts` input errors: exit 2 with a clear message, before any host is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app

runner = CliRunner()


def _audit(aio: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "hosts", "-i", str(aio), "--connection", "podman", *extra])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--profile", "level3"],
            "error: unknown profile 'level3'; known profiles: new-level1, new-level2, new-level3, new-level4, "
            "new-level5, old-level1, old-level2, old-level3, old-level4, old-level5",
        ),
        (
            ["--profile", "old-level3", "--limit", "nope"],
            "error: --limit: 'nope' is neither a host nor a group; known: aio1, compute, controllers, network, storage",
        ),
        (
            ["--profile", "old-level1", "--only", "HT-SSH-03"],
            "error: not host controls of profile old-level1: HT-SSH-03",
        ),
    ],
)
def test_audit_hosts_bad_input_exit_2(aio_copy: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    code, output = _audit(aio_copy, *extra, "--out", str(tmp_path / "out"))
    assert code == 2
    assert message in " ".join(output.split())
    assert not (tmp_path / "out").exists()


def test_audit_hosts_bad_waivers_exit_2(aio_copy: Path, tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yml"
    waivers.write_text("waivers:\n  HT-NOPE-01: {run: false, justification: x}\n", encoding="utf-8")
    code, output = _audit(aio_copy, "--profile", "old-level3", "--waivers", str(waivers), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "waivers.yml:2: waivers.HT-NOPE-01: unknown control HT-NOPE-01" in output


def test_audit_hosts_unreachable_host_exit_2(aio_copy: Path, tmp_path: Path) -> None:
    # the AIO copy's container (hatang-aio-aio1) is not started by this test; if the AIO happens to
    # run on this machine, name the site differently so that no real container answers
    site = aio_copy / "site.yml"
    site.write_text(site.read_text(encoding="utf-8").replace("name: aio\n", "name: auditnone\n"), encoding="utf-8")
    code, output = _audit(aio_copy, "--profile", "old-level1", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "aio1: error" in output and "hatang-auditnone-aio1" in output
    assert (tmp_path / "out" / "evidence.json").is_file()  # the error is evidence too
