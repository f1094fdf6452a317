"""`hatang audit hosts` input errors: exit 2 with a clear message, before any host is touched."""

from __future__ import annotations

import subprocess
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


def test_audit_targets_carry_the_lab_mirror_to_test_hosts_only(aio_copy: Path) -> None:
    """A test host is held to the lab's mirror (the site's own is out of its reach); a host reached
    over SSH is a real one, held to the site's mirror whatever the caller passes."""
    from infra.audit import Connection, targets
    from infra.validate import load_valid_site

    site = load_valid_site(aio_copy)
    (lab,) = targets(site, ["aio1"], Connection.PODMAN, containers={"aio1": "c"}, lab_apt_mirror="http://lab/debian")
    (real,) = targets(site, ["aio1"], Connection.SSH, lab_apt_mirror="http://lab/debian")
    assert (lab.url, lab.apt_mirror) == ("podman://c", "http://lab/debian")
    assert (real.url, real.apt_mirror) == ("ssh://10.99.1.10", None)


def test_audit_hosts_plugin_expects_the_lab_mirror_only_when_given(aio_copy: Path, tmp_path: Path) -> None:
    """The check process's facts: the site's apt_mirror, replaced only by --hatang-lab-apt-mirror."""
    import sys

    (tmp_path / "test_facts.py").write_text(
        "def test_mirror(hatang_host_facts):\n    print('MIRROR=' + hatang_host_facts.apt_mirror)\n"
    )
    base = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "infra.audit.plugin",
            "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path / "test_facts.py"),
            "--hatang-site", str(aio_copy), "--hatang-host", "aio1"]

    def mirror(*extra: str) -> str:
        done = subprocess.run([*base, *extra], capture_output=True, text=True, check=False, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return next(line for line in done.stdout.splitlines() if "MIRROR=" in line).split("MIRROR=")[1]

    assert mirror() == "http://deb.debian.org/debian"
    assert mirror("--hatang-lab-apt-mirror", "http://lab/debian") == "http://lab/debian"


def test_audit_hosts_ssh_config_is_for_ssh_only(aio_copy: Path, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  Port 2222\n", encoding="utf-8")
    code, output = _audit(aio_copy, "-p", "old-level1", "--ssh-config", str(config), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "--ssh-config says how SSH reaches the hosts: use it with --connection ssh, not podman" in output
    assert not (tmp_path / "o").exists()


def test_audit_hosts_missing_ssh_config_exit_2(aio_copy: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "hosts", "-i", str(aio_copy), "-p", "old-level1", "-c", "ssh",
                                 "--ssh-config", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 2
    # the error panel wraps the message where the temporary path's length puts it: compare words
    words = " ".join(result.output.replace("│", " ").split())
    assert "--ssh-config" in words and "does not exist" in words, result.output
    assert not (tmp_path / "o").exists()


def test_ssh_config_reaches_testinfra_and_the_probe(
    aio_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is in the testinfra URL (its own parser reads it back) and in the `ssh -F` the
    audit's own commands run; the host part stays the mgmt address."""
    from testinfra.backend import parse_hostspec

    from infra.audit import Connection, remote_command, targets
    from infra.validate import load_valid_site

    config = tmp_path / "my ssh" / "config"
    (target,) = targets(load_valid_site(aio_copy), ["aio1"], Connection.SSH, ssh_user="ops", ssh_config=config)
    host, options = parse_hostspec(target.url)
    assert (host, options["connection"], options["ssh_config"]) == ("ops@10.99.1.10", "ssh", str(config))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n', encoding="utf-8")
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    argv = remote_command(target)("true").splitlines()
    assert argv[:2] == ["-F", str(config)] and argv[-2:] == ["ops@10.99.1.10", "true"]


