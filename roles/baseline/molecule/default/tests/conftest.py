"""Shared helpers for the baseline scenario's testinfra checks (run over `podman://`).

The checks of HT-AUTH-*, HT-LOG-02 and HT-LOG-04 call the host checks' own decisions
(infra/audit/_pam.py, _accounts.py, _journal.py, probes.py) with the parameters of the control
catalogue, reading the host through the same helpers (tests/compliance/hosts/_host.py).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[5]
for _path in (ROOT, ROOT / "tests" / "compliance" / "hosts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import _host  # noqa: E402  (tests/compliance/hosts/_host.py)

from infra.audit import _journal, _pam  # noqa: E402
from infra.catalogue import load_catalogue  # noqa: E402

AUTH_SERVICES = _host.AUTH_SERVICES
PASSWORD_SERVICES = _host.PASSWORD_SERVICES
read = _host.read
pam_reader = _host.pam_reader


def params(control_id: str) -> Mapping[str, Any]:
    """The control's parameters in infra/catalogue/controls/host.yml."""
    return load_catalogue().control(control_id).parameters


def pam_stacks(host: Any, kind: str, services: tuple[str, ...]) -> dict[str, list[_pam.PamRule]]:
    """The flattened stacks the live check judges; fails the test when PAM could not read them."""
    stacks = _host.pam_stacks(host, kind, services)
    assert not isinstance(stacks, str), stacks
    return stacks


def journald(host: Any) -> dict[str, str]:
    """journald.conf and its drop-ins as systemd merges them (as tests/compliance/hosts/test_log.py)."""
    main = read(host, "/etc/systemd/journald.conf")
    if main is None:
        main = read(host, "/usr/lib/systemd/journald.conf")
    dropins: dict[str, str] = {}
    for folder in _journal.JOURNALD_DIRS:
        dropins.update(_host.read_files(host, f"{folder}/*.conf"))
    return _journal.journald_merge(main, dropins)


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
