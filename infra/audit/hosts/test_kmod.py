"""HT-KMOD-*: kernel modules the host must never load (unused filesystems, USB storage)."""

from __future__ import annotations

from typing import Any

from infra.audit import _kmod
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def test_unused_kernel_modules_blocked(host: Any, check: Check) -> None:
    """Each module of `modules`: modprobe would run an `install` command that loads nothing
    (`/bin/false`, `/bin/true`) instead of it, the module is blacklisted (no alias loads it
    either), and it is not loaded. In a container the loaded modules are the machine's kernel's:
    with the configuration right, not checkable there (needs a VM)."""
    modules = list(check.params["modules"])
    _, stdout, _ = _host.run(host, _kmod.kmod_probe(modules))
    states = _kmod.parse_kmod_probe(stdout, modules)
    observed, expected, ok = _kmod.kmod_finding(states, check.in_container)
    if ok and check.in_container:
        check.not_checkable(
            "modprobe's configuration blocks and blacklists every module; which modules are loaded belongs to"
            " the machine's kernel (needs a VM)",
            observed=observed,
            expected=expected,
        )
    check.expect(observed, expected, ok=ok)
