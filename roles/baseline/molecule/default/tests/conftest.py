"""Shared helpers for the baseline scenario's testinfra checks (run over `podman://`)."""

from __future__ import annotations

import pytest

# What molecule.yml gives each host: whether it routes, and its mgmt address (None: listen on all).
EXPECTED = {
    "baseline-router": {"routes": True, "mgmt": None},
    "baseline-node": {"routes": False, "mgmt": "10.251.73.11"},
}
NTP_SERVERS = ["10.251.73.123", "10.251.73.124"]
SYSLOG_SERVERS = ["10.251.73.51"]
MIRROR = "http://deb.debian.org/debian"


@pytest.fixture()
def expected(host):
    """The scenario's settings for the host under test."""
    return EXPECTED[host.backend.get_hostname()]


@pytest.fixture()
def sshd_config(host):
    """sshd's effective configuration (`sshd -T`), keyword -> list of values."""
    out = host.check_output("/usr/sbin/sshd -T")
    config: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        config.setdefault(key.lower(), []).append(value)
    return config


def conf_values(content: str, sep: str = "=") -> dict[str, str]:
    """Parse `key = value` lines (comments and bare flags skipped)."""
    values = {}
    for raw in content.splitlines():
        line = raw.split("#", 1)[0].strip()
        if sep in line:
            key, _, value = line.partition(sep)
            values[key.strip()] = value.strip()
    return values
