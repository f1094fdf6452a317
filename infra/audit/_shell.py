"""testinfra backends that keep one shell open on the audited host and run every command in it.

A check's command through testinfra's own backends is a `podman exec` (~0.16 s of client, conmon
and runtime start-up) or an SSH channel with a login session and a sudo, each written to the
host's logs; an audit runs about a hundred. Here the transport starts once (`podman exec -i NAME
/bin/sh`, `ssh HOST sudo -n /bin/sh`) and each command is sent framed: `/bin/sh -c COMMAND` with
stdin from /dev/null (as a fresh exec has it) and its outputs in files, then a header with its
exit status and both sizes, then both outputs, read back by size, so that any byte they hold
comes back as it is. A command that outlives `command_timeout` ends the shell (the check errors);
the next command starts a new one.
"""

from __future__ import annotations

import atexit
import os
import secrets
import select
import shlex
import subprocess
import tempfile
import threading
import time
from typing import IO, Any

from testinfra.backend import base

__all__ = ["BACKENDS", "PodmanShellBackend", "ShellError", "SshShellBackend"]

COMMAND_TIMEOUT = 300.0
"""Seconds one command may run (a slow host's `aide --dry-init` takes tens of seconds)."""

START_TIMEOUT = 60.0


class ShellError(RuntimeError):
    """The host's shell could not be started, ended, or a command outlived its time."""


class _ShellBackend(base.BaseBackend):  # type: ignore[misc]  # testinfra ships no type information
    """One `/bin/sh` on the host, started at the first command, ended when the process exits."""

    def __init__(self, hostname: str, *args: Any, command_timeout: float = COMMAND_TIMEOUT, **kwargs: Any) -> None:
        self._as_root = bool(kwargs.pop("sudo", False))
        self._root_user = kwargs.pop("sudo_user", None)
        super().__init__(hostname, *args, **kwargs)
        self.command_timeout = float(command_timeout)
        self._token = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None
        self._buffer = b""
        atexit.register(self.close)

    def transport(self) -> list[str]:
        """argv that gives a shell on the host reading commands from its stdin."""
        raise NotImplementedError

    def shell(self) -> str:
        """The remote command: the shell, as root through sudo when asked."""
        if not self._as_root:
            return "/bin/sh"
        user = f" -u {shlex.quote(self._root_user)}" if self._root_user else ""
        return f"sudo -n{user} /bin/sh"

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        with self._lock:
            rc, out, err = self._exchange(cmd)
        return self.result(rc, self.encode(cmd), out, err)

    def close(self) -> None:
        """End the shell: its stdin closed, it removes its folder and exits."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if self._errors:
            self._errors.close()
            self._errors = None

    def _start(self) -> subprocess.Popen[bytes]:
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the shell runs)
        self._buffer = b""
        proc = subprocess.Popen(
            self.transport(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors
        )  # fmt: skip
        self._proc = proc
        self._send(
            "hatang_d=$(mktemp -d) || exit 97\n"
            "trap 'rm -rf \"$hatang_d\"' EXIT\n"
            f"echo {self._token} ready\n"
        )
        self._header(START_TIMEOUT, f"starting a shell ({shlex.join(self.transport())})")
        return proc

    def _exchange(self, command: str) -> tuple[int, bytes, bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self._start()
        self._send(
            f"/bin/sh -c {shlex.quote(command)} </dev/null >\"$hatang_d/o\" 2>\"$hatang_d/e\"; hatang_r=$?\n"
            f"echo {self._token} $hatang_r $(wc -c <\"$hatang_d/o\") $(wc -c <\"$hatang_d/e\")\n"
            "cat \"$hatang_d/o\" \"$hatang_d/e\"\n"
        )
        deadline = time.monotonic() + self.command_timeout
        fields = self._header(self.command_timeout, repr(command))
        try:
            rc, out_size, err_size = (int(f) for f in fields)
        except ValueError:
            self.close()
            raise ShellError(f"{self.hostname}: unexpected answer {' '.join(fields)!r} to {command!r}") from None
        data = self._take(out_size + err_size, deadline, f"the output of {command!r}")
        return rc, data[:out_size], data[out_size:]

    def _send(self, text: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(text.encode())
            self._proc.stdin.flush()
        except OSError:
            self._fail("the shell ended")

    def _header(self, timeout: float, what: str) -> list[str]:
        """The fields after the token on the next line that holds it; what comes before it (a
        login script's echo) is dropped."""
        deadline = time.monotonic() + timeout
        what = f"{what} (limit {timeout:.0f} s)"
        marker = self._token.encode() + b" "
        while True:
            _, found, fields = self._take_line(deadline, what).rpartition(marker)
            if found:
                return fields.decode().split()

    def _take_line(self, deadline: float, what: str) -> bytes:
        while b"\n" not in self._buffer:
            self._fill(deadline, what)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _take(self, size: int, deadline: float, what: str) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline, what)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _fill(self, deadline: float, what: str) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            self._fail(f"{what}: no answer in time")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            self._fail("the shell ended")
        self._buffer += chunk

    def _fail(self, why: str) -> None:
        errors = b""
        if self._errors:
            self._errors.seek(0)
            errors = self._errors.read()[-2000:]
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.close()
        detail = errors.decode(errors="replace").strip().splitlines()
        raise ShellError(f"{self.hostname}: {why}" + (f": {detail[-1]}" if detail else ""))


class PodmanShellBackend(_ShellBackend):
    NAME = "hatang-podman"

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name, self.user = self.parse_containerspec(name)
        super().__init__(self.name, *args, **kwargs)

    def transport(self) -> list[str]:
        user = ["-u", self.user] if self.user else []
        return ["podman", "exec", "-i", *user, self.name, *shlex.split(self.shell())]


class SshShellBackend(_ShellBackend):
    NAME = "hatang-ssh"

    def __init__(
        self,
        hostspec: str,
        *args: Any,
        ssh_config: str | None = None,
        ssh_identity_file: str | None = None,
        timeout: int = 10,
        **kwargs: Any,
    ) -> None:
        self.host = self.parse_hostspec(hostspec)
        self.ssh_config = ssh_config
        self.ssh_identity_file = ssh_identity_file
        self.timeout = int(timeout)
        super().__init__(self.host.name, *args, **kwargs)

    def transport(self) -> list[str]:
        argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.timeout}"]
        if self.ssh_config:
            argv += ["-F", self.ssh_config]
        if self.host.user:
            argv += ["-o", f"User={self.host.user}"]
        if self.host.port:
            argv += ["-o", f"Port={self.host.port}"]
        if self.ssh_identity_file:
            argv += ["-i", self.ssh_identity_file]
        return [*argv, self.host.name, self.shell()]


BACKENDS = {
    PodmanShellBackend.NAME: f"{__name__}.PodmanShellBackend",
    SshShellBackend.NAME: f"{__name__}.SshShellBackend",
}
"""URL schemes for testinfra's table of backends (`hatang-podman://NAME`, `hatang-ssh://HOST`)."""
