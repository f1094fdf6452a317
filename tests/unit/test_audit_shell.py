"""The audit's kept-open shell (`infra.audit._shell`): what a command gets back is what it wrote,
whatever it writes or does, and a shell that dies or hangs costs one command, not the audit.

The transport here is a local `/bin/sh` (the framing is the same over `podman exec -i` and SSH;
those run in the audit's live tests: tests/audit, tests/vm)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from testinfra.backend import get_backend

import infra.audit.plugin  # noqa: F401  (registers the hatang-* URL schemes)
from infra.audit import Connection, targets
from infra.audit._runner import _shell_url
from infra.audit._shell import PodmanShellBackend, ShellError, SshShellBackend, _ShellBackend


class LocalShell(_ShellBackend):
    """The shell backend over a local transport."""

    NAME = "test-local"

    def __init__(self, argv: list[str] | None = None, **kwargs: Any) -> None:
        self.argv = argv or ["/bin/sh"]
        super().__init__("local", **kwargs)

    def transport(self) -> list[str]:
        return self.argv


@pytest.fixture
def shell() -> Any:
    backend = LocalShell()
    yield backend
    backend.close()


def test_outputs_come_back_byte_for_byte(shell: LocalShell) -> None:
    """NUL bytes, no final newline, a line that looks like the framing, text on stderr, a big
    output: each side comes back exactly, with the exit status."""
    done = shell.run(r"printf 'a\000b\nc'; printf 'err\n' >&2; exit 3")
    assert (done.rc, done.stdout_bytes, done.stderr_bytes) == (3, b"a\x00b\nc", b"err\n")
    mimic = shell.run(f"echo {shell._token} 0 0 0; echo after")
    assert mimic.stdout == f"{shell._token} 0 0 0\nafter\n" and mimic.rc == 0
    big = shell.run("head -c 3000000 /dev/urandom | od -An -tx1 | head -c 5000000")
    assert len(big.stdout_bytes) == 5_000_000 and big.stderr_bytes == b""
    missing = shell.run("no-such-command-here")
    assert missing.rc == 127 and b"not found" in missing.stderr_bytes


def test_a_command_changes_nothing_for_the_next(shell: LocalShell, tmp_path: Path) -> None:
    """Each command is its own `sh -c` with stdin at end of file: `cd`, `export`, `exit`, reading
    stdin and a background job left writing change nothing for the commands after it."""
    assert shell.run("cat").stdout == ""  # stdin: end of file, not the framing
    shell.run(f"cd {tmp_path}; export HATANG_X=1; set -e; false")
    shell.run("exit 0")
    started = time.monotonic()
    shell.run("sleep 30 &")
    assert time.monotonic() - started < 5
    after = shell.run("pwd; echo ${HATANG_X:-unset}")
    assert after.stdout == f"{os.getcwd()}\nunset\n" and after.rc == 0


def test_a_command_that_hangs_ends_only_itself() -> None:
    backend = LocalShell(command_timeout=1.0)
    try:
        with pytest.raises(ShellError, match="no answer in time"):
            backend.run("sleep 20")
        assert backend.run("echo again").stdout == "again\n"  # a new shell
    finally:
        backend.close()


def test_a_shell_that_dies_is_started_again(shell: LocalShell) -> None:
    assert shell.run("echo one").stdout == "one\n"
    assert shell._proc is not None
    shell._proc.kill()
    shell._proc.wait()
    assert shell.run("echo two").stdout == "two\n"
    with pytest.raises(ShellError, match="the shell ended"):
        shell.run("kill -9 $PPID")  # the kept-open shell itself, mid-command
    assert shell.run("echo three").stdout == "three\n"


def test_a_transport_that_fails_says_why() -> None:
    backend = LocalShell(["/bin/sh", "-c", "echo 'Error: no container with name or ID \"x\" found' >&2; exit 125"])
    with pytest.raises(ShellError, match=r'the shell ended: Error: no container with name or ID "x" found'):
        backend.run("true")


def test_chatter_before_the_shell_is_skipped() -> None:
    """A login script that prints on stdout (a .bashrc echo) does not shift the framing."""
    backend = LocalShell(["/bin/sh", "-c", "echo Welcome; printf 'no newline'; exec /bin/sh"])
    try:
        assert backend.run("echo ok").stdout == "ok\n"
    finally:
        backend.close()


def test_the_shell_removes_its_folder_when_closed(tmp_path: Path) -> None:
    backend = LocalShell(["env", f"TMPDIR={tmp_path}", "/bin/sh"])
    backend.run("true")
    assert len(list(tmp_path.iterdir())) == 1
    backend.close()
    assert not list(tmp_path.iterdir())


def test_urls_and_transports(aio_copy: Path) -> None:
    """`hatang audit hosts` hands the checks the same host under the kept-open shell's scheme;
    testinfra builds the backend from it, with sudo (SSH as a non-root user) in the transport."""
    from infra.validate import load_valid_site

    site = load_valid_site(aio_copy)
    config = aio_copy / "ssh config"
    (ssh,) = targets(site, ["aio1"], Connection.SSH, ssh_user="ops", ssh_config=config)
    (podman,) = targets(site, ["aio1"], Connection.PODMAN, containers={"aio1": "hatang-aio-aio1"})
    assert _shell_url(podman) == "hatang-podman://hatang-aio-aio1"
    assert _shell_url(ssh) == "hatang-" + ssh.url
    over_ssh = get_backend(_shell_url(ssh), sudo=True)
    assert isinstance(over_ssh, SshShellBackend)
    assert over_ssh.transport() == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-F", str(config),
        "-o", "User=ops", "10.99.1.10", "sudo -n /bin/sh",
    ]  # fmt: skip
    assert over_ssh.get_command("id -u") == "id -u"  # sudo once, for the shell, not per command
    in_container = get_backend(_shell_url(podman))
    assert isinstance(in_container, PodmanShellBackend)
    assert in_container.transport() == ["podman", "exec", "-i", "hatang-aio-aio1", "/bin/sh"]
    as_user = get_backend("hatang-podman://nobody@c1", sudo=True, sudo_user="root")
    assert as_user.transport() == ["podman", "exec", "-i", "-u", "nobody", "c1", "sudo", "-n", "-u", "root", "/bin/sh"]


def test_real_podman_missing_container_is_an_error_not_a_hang() -> None:
    """The real transport against a container that does not exist: podman's own words."""
    subprocess.run(["podman", "rm", "-f", "hatang-no-such-container"], capture_output=True, check=False)
    backend = get_backend("hatang-podman://hatang-no-such-container")
    with pytest.raises(ShellError, match="hatang-no-such-container"):
        backend.run("true")
