"""Two cores on one list of reads: a forked helper works from the end while the caller works from the start.

Reading 5,000 files strictly is CPU work in one process. When there are many files to read and a
second core to read them on, `Helper` forks once: the child reads the files from the last one
backwards and sends what each read gave; the caller reads from the first one forwards, in its usual
order, and asks the helper before each file. They meet in the middle, wherever that is on a busy
machine, and the caller then takes the rest from the helper. So:

- the results are the caller's own: it processes every file in the same order as without a helper,
  and a result of the helper is what the same function gave for the same file in a copy of the
  same process (`work` must depend on nothing else: reading a file is such a function);
- a helper that is slow, dies or cannot start costs nothing but its share: the caller asks, gets
  None, and does the work itself;
- the helper runs at the lowest priority (nice 19), so it uses a core only when that core would
  otherwise idle and never takes CPU time from the caller;
- the child is killed once the two meet and reaped when the caller is done (a `with` block), also
  on an exception or Ctrl-C, without waiting for it (a thread reaps a child still dying). It never
  runs the caller's cleanup code (it ends with `os._exit`), never writes a file, and never blocks
  on the pipe while it still has work, so a caller busy with something else does not stall it.

Only a fork shares the loaded code and the caller's state for free; it is used only where it is
safe and pays (`can_fork`): a POSIX system, one thread, two usable CPUs or more, half a core idle.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, NoReturn, TypeVar

__all__ = ["Helper", "can_fork"]

T = TypeVar("T")
R = TypeVar("R")

_FRAME = struct.Struct("<iI")
"""Header of one result on the pipe: the item's index and the length of its pickle."""

_CHUNK = 1 << 20
_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}
"""Held back while forking, and in the child reset to their defaults (end the process)."""


def can_fork() -> bool:
    """Whether a helper process may be forked here and would likely get a core of its own.

    A process with threads is never forked (a lock held by another thread would stay locked in the
    child forever), counting the threads of C libraries too (gRPC, in a Pulumi program).
    `sched_getaffinity` counts the CPUs this process may use (`taskset`, cgroups); the load average
    must leave half of one of them idle: on a saturated machine the helper gets no core (it runs at
    nice 19), and its mere presence slowed the caller in measurements.
    """
    if not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity"):
        return False
    if threading.active_count() != 1 or _os_threads() > 1:
        return False
    cpus = len(os.sched_getaffinity(0))
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return cpus >= 2 and load < cpus - 0.5


class Helper(Generic[T, R]):
    """A forked process computing `work(items[i])` for i from the last index down.

    Use as a context manager; inside, `get(i)` is the helper's result for item i, or None when the
    helper has not sent it (yet, or ever): then the caller computes it itself.
    """

    def __init__(self, items: Sequence[T], work: Callable[[T], R]) -> None:
        self.items = items
        self.work = work
        self.pid: int | None = None
        """The child's process id while it may be running (None: none started, or reaped)."""
        self.received = 0
        """How many results the caller took from the helper (for tests and benchmarks)."""
        self.reaper: threading.Thread | None = None
        """The thread that reaps a child still dying when `close` returned."""
        self._fd: int | None = None
        self._killed = False
        self._buffer = bytearray()
        self._frames: dict[int, bytes] = {}

    def __enter__(self) -> Helper[T, R]:
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return self  # no helper: the caller does everything
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)  # until the child has its own handlers
        try:
            pid = os.fork()
            if pid == 0:
                self._child(read_fd, write_fd, blocked)
            self.pid, self._fd = pid, read_fd
            os.close(write_fd)
            os.set_blocking(read_fd, False)
        except OSError:  # fork refused (no memory, process limit): no helper
            os.close(read_fd)
            os.close(write_fd)
        finally:
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a Ctrl-C held back lands here
            except BaseException:
                self.close()  # __exit__ does not run when __enter__ raises
                raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def ready(self, index: int) -> bool:
        """Whether the helper's result for `items[index]` is here (`get` would return it)."""
        self._drain()
        return index in self._frames

    def get(self, index: int, meet: bool = True) -> R | None:
        """The helper's result for `items[index]`, or None: compute it yourself.

        Ask in increasing order of index: the first result taken (with `meet`) means the two have
        met, and the helper is stopped (a later index is then there, an earlier one is not).
        Without `meet`, a result taken ahead of that order leaves the helper working.
        """
        self._drain()
        frame = self._frames.pop(index, None)
        if frame is None:
            return None
        if meet:
            # We met. The child sends its results from the last index down, in order, so every
            # index from here to the end has been received: it has nothing left that we need.
            self._stop()
        self.received += 1
        result: R = pickle.loads(frame)
        return result

    def close(self) -> None:
        """Stop the child and see that it is reaped (idempotent); results received stay available.

        The caller does not wait for a child that has not died yet (on a saturated machine its
        low priority can keep it waiting for a core to die on): a thread reaps it when it does.
        """
        self._stop()
        if self.pid is not None:
            pid, self.pid = self.pid, None
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    self.reaper = threading.Thread(target=_reap, args=(pid,), name=f"reap-{pid}", daemon=True)
                    self.reaper.start()
            except ChildProcessError:
                pass  # reaped by someone else (SIGCHLD ignored)

    def _stop(self) -> None:
        """Take what the child has sent, close the pipe and kill the child; `close` reaps it later,
        by when the kernel has long finished tearing it down."""
        if self._fd is not None:
            self._drain()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.pid is not None and not self._killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._killed = True

    def _drain(self) -> None:
        """Take what the child has sent so far, without waiting."""
        while self._fd is not None:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                break
            if not chunk:  # the child is gone (done, killed or crashed): no more results
                os.close(self._fd)
                self._fd = None
                break
            self._buffer += chunk
        offset = 0
        while len(self._buffer) - offset >= _FRAME.size:
            index, length = _FRAME.unpack_from(self._buffer, offset)
            end = offset + _FRAME.size + length
            if end > len(self._buffer):
                break  # the rest of this frame is still in the pipe
            self._frames[index] = bytes(self._buffer[offset + _FRAME.size : end])
            offset = end
        del self._buffer[:offset]

    def _child(self, read_fd: int, write_fd: int, blocked: set[int | signal.Signals]) -> NoReturn:
        """The helper: work from the last item down, send each result, exit without any cleanup."""
        try:
            for number in _SIGNALS:
                signal.signal(number, signal.SIG_DFL)  # Ctrl-C ends the helper, never runs the caller's code
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            _yield_to_the_caller()
            # Keep no descriptor of the caller's but the pipe: a lock held through one (flock, released
            # when the caller closes it) must not outlive the caller's close in a dying helper.
            os.closerange(3, write_fd)
            os.closerange(write_fd + 1, max(write_fd + 2, os.sysconf("SC_OPEN_MAX")))
            os.set_blocking(write_fd, False)
            pending = bytearray()
            for index in range(len(self.items) - 1, -1, -1):
                try:
                    result = self.work(self.items[index])
                    body = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:
                    break  # the caller computes this one itself, and meets the same exception there
                pending += _FRAME.pack(index, len(body)) + body
                _send(write_fd, pending)
            os.set_blocking(write_fd, True)
            _send(write_fd, pending)
        finally:
            os._exit(0)


def _os_threads() -> int:
    """Threads of this process as the kernel counts them (1 where that cannot be known)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _yield_to_the_caller() -> None:
    """Lower this process's priority to the least (nice 19): it takes only CPU time nobody else wants.

    The caller and the helper share one scheduling group (a cgroup, or the session's autogroup):
    on a busy machine the group gets its share of the CPUs, and a helper of equal weight halves the
    caller's share, so the caller waits longer than the helper saves it (measured: twice as long
    under a load of 9 on 2 cores). At nice 19 the helper gets a core when it is idle and next to
    nothing otherwise; the caller, which meets it wherever it is, then loses (almost) nothing.
    Not SCHED_IDLE: a process of that class can starve on a saturated machine even once killed.
    """
    with contextlib.suppress(OSError):
        os.nice(19)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _send(fd: int, pending: bytearray) -> None:
    """Write as much of `pending` as the pipe takes now (all of it, on a blocking descriptor)."""
    while pending:
        try:
            written = os.write(fd, pending)
        except BlockingIOError:
            return
        del pending[:written]
