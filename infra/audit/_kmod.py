"""Whether kernel modules a host must never load are blocked, blacklisted and not loaded.

The verdict comes from modprobe itself: `modprobe -n -v NAME` prints what modprobe would do for
NAME with its configuration as it reads it (every folder, files in its order, the first `install`
line winning), so a file sorting earlier, a vendor folder or a second `install` line is seen as
modprobe sees it, not as a text search would. `modprobe --showconfig` gives the blacklist the
same way, and /proc/modules what the kernel has loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BLOCKING_COMMANDS", "KmodState", "kmod_finding", "kmod_probe", "parse_kmod_probe"]

BLOCKING_COMMANDS = frozenset({"/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true"})
"""The `install` commands that load nothing (what CIS and the role use instead of the module)."""

_SEP = "\x1e"
_INSMOD = re.compile(r"^insmod\s+(\S+)")
_MODULE_FILE = re.compile(r"\.ko(?:\.(?:xz|zst|gz))?$")


def _norm(name: str) -> str:
    """The kernel's name for a module: `usb-storage` and `usb_storage` are one module."""
    return name.replace("-", "_")


@dataclass(frozen=True)
class KmodState:
    """What modprobe and the kernel say about one module."""

    name: str
    dry_run: tuple[str, ...]
    """The lines `modprobe -n -v NAME` printed (stderr included)."""
    blacklisted: bool
    loaded: bool

    @property
    def loads_itself(self) -> bool:
        """modprobe would insert the module's own file (its dependencies' files do not count)."""
        return any(
            (m := _INSMOD.match(line))
            and _norm(_MODULE_FILE.sub("", m.group(1).rsplit("/", 1)[-1])) == _norm(self.name)
            for line in self.dry_run
        )

    @property
    def blocked(self) -> bool:
        """modprobe would run exactly one `install` command, one that loads nothing."""
        installs = [line.removeprefix("install ").strip() for line in self.dry_run if line.startswith("install ")]
        return len(installs) == 1 and installs[0] in BLOCKING_COMMANDS and not self.loads_itself and not self.builtin

    @property
    def builtin(self) -> bool:
        """Built into the kernel: no configuration can keep it out."""
        return any(line.startswith("builtin ") for line in self.dry_run)


def kmod_probe(modules: Iterable[str]) -> str:
    """One shell script printing, per module, modprobe's dry run; then the blacklist and the loaded
    modules. Each section starts with a record separator and its name."""
    parts = ['PATH="$PATH:/usr/sbin:/sbin"']
    for name in modules:
        parts.append(f"printf '\\036dry-run %s\\n' '{name}'; modprobe -n -v '{name}' 2>&1")
    parts.append("printf '\\036showconfig\\n'; modprobe --showconfig 2>&1 | grep -E '^(blacklist|install) '")
    parts.append("printf '\\036loaded\\n'; cut -d' ' -f1 /proc/modules 2>/dev/null")
    return "; ".join(parts) + "; true"


def parse_kmod_probe(stdout: str, modules: Iterable[str]) -> dict[str, KmodState]:
    """What `kmod_probe` printed, per module asked for."""
    dry_runs: dict[str, tuple[str, ...]] = {}
    blacklist: set[str] = set()
    loaded: set[str] = set()
    for chunk in stdout.split(_SEP)[1:]:
        head, _, body = chunk.partition("\n")
        lines = tuple(line.strip() for line in body.splitlines() if line.strip())
        if head.startswith("dry-run "):
            dry_runs[head.removeprefix("dry-run ").strip()] = lines
        elif head == "showconfig":
            blacklist |= {
                _norm(line.split()[1]) for line in lines if line.startswith("blacklist ") and len(line.split()) == 2
            }
        elif head == "loaded":
            loaded |= {_norm(line) for line in lines}
    return {
        name: KmodState(name, dry_runs.get(name, ()), _norm(name) in blacklist, _norm(name) in loaded)
        for name in modules
    }


def _problems(state: KmodState, in_container: bool) -> list[str]:
    found = []
    if state.builtin:
        found.append("built into the kernel")
    elif not state.blocked:
        found.append(f"modprobe would run: {' / '.join(state.dry_run) or 'nothing (no output)'}")
    if not state.blacklisted:
        found.append("not blacklisted")
    if state.loaded and not in_container:
        found.append("loaded")
    return found


def kmod_finding(states: Mapping[str, KmodState], in_container: bool) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(observed, expected, ok): every module blocked by an `install` command that loads nothing,
    blacklisted, and not loaded (a container's /proc/modules is the machine's: not judged there)."""
    observed: dict[str, Any] = {}
    for name, state in sorted(states.items()):
        problems = _problems(state, in_container)
        observed[name] = problems or "blocked, blacklisted" + ("" if in_container else ", not loaded")
    expected = {name: "blocked, blacklisted" + ("" if in_container else ", not loaded") for name in sorted(states)}
    return observed, expected, observed == expected
