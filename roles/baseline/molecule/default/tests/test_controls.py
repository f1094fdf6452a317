"""Every control the catalogue says roles/baseline implements (`implemented_by`), verified by the
audit's own check (infra/audit/hosts) with the catalogue's parameters: a control added to the
role is verified here without a line written. A check that a container cannot show (auditd, the
loaded audit rules, live kernel.* sysctls) is skipped as "not checkable", as in the audit, after
what it can see (the persisted rules and values) has been judged."""

from __future__ import annotations

from typing import Any

import pytest

from infra.audit.hosts import check_functions
from infra.audit.plugin import Check
from infra.catalogue import load_catalogue

ROLE = "roles/baseline"
CHECKS = sorted(check for c in load_catalogue().controls if ROLE in c.implemented_by for check in c.checks)

NOT_APPLICABLE = {
    ("baseline-router", "sshd_listens_on_mgmt_only"): (
        "the scenario gives the router no mgmt zone: sshd listens on every address (test_ssh.py)"
    ),
}
"""(host, check) -> why the scenario's inventory does not ask for it on that host."""


def test_controls_of_the_role_are_read_from_the_catalogue() -> None:
    assert len(CHECKS) >= 40


@pytest.mark.parametrize("check_id", CHECKS)
def test_control(host: Any, check: Check, check_id: str) -> None:
    reason = NOT_APPLICABLE.get((check.facts.host, check_id))
    if reason:
        pytest.skip(reason)
    check_functions()[check_id](host, check)
