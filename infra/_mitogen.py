"""Mitogen's strategy for ansible-playbook: one Python interpreter per host for the whole run
instead of one per task, each started over SSH or `podman exec` (under emulation or without
pipelining, most of a run's cost)."""

from __future__ import annotations

from pathlib import Path

import ansible_mitogen


def mitogen_strategy_env() -> dict[str, str]:
    """The environment variables that make ansible-playbook run with `mitogen_linear`."""
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
    }
