"""The firewall scenario's verifier runs the audit's own checks (infra/audit/hosts) through the
audit's plugin where they need no site model: HT-FW-01 and HT-FW-02 read the host alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[5]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.audit import HostFacts  # noqa: E402
from infra.audit.plugin import *  # noqa: E402, F403  (the `check` fixture and the outcome hooks)


@pytest.fixture
def hatang_host_facts(host: Any) -> HostFacts:
    """No site value: the checks run here judge the ruleset alone (the flows are the role's own
    test, and tests/roles/network/test_role_firewall.py's with a site model)."""
    empty: tuple[str, ...] = ()
    return HostFacts(
        site="molecule", host=host.backend.get_hostname(), groups=empty, routes=False, mgmt_addresses=empty,
        mgmt_networks=empty, addresses=empty, ntp=empty, syslog=empty, apt_mirror="", flows=(),
    )  # fmt: skip
