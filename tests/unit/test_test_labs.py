"""Every test module marked for a machine-wide resource runs on the labs' worker (tests/conftest.py LABS).

A module outside LABS that brings up the AIO or test hosts would run beside the labs on the other
worker: two labs at once on 2 cores (and, for test hosts on the same address ranges, a clash).
"""

from __future__ import annotations

import re

from tests.audit.test_hardening_proof import inventory_code
from tests.conftest import LABS, REPO, _labs_rank

LAB_MARKS = re.compile(r"pytest\.mark\.(aio|hosts|vm|dataplane)\b")
"""The markers of pyproject.toml that name a machine-wide resource."""


def _marked() -> list[str]:
    return sorted(
        path.relative_to(REPO).as_posix()
        for path in (REPO / "tests").rglob("test_*.py")
        if LAB_MARKS.search(path.read_text(encoding="utf-8"))
    )


def test_every_module_marked_for_a_lab_runs_on_the_labs_worker() -> None:
    assert [module for module in _marked() if not module.startswith(LABS)] == []


def test_the_check_sees_marked_modules_outside_the_lab_folders() -> None:
    """It can fail: the portal's Keystone test is marked `aio` and found, though not under a lab folder."""
    assert "tests/portal/test_portal_keystone.py" in _marked()
    assert "tests/portal/" not in LABS


AIO_MARK = re.compile(r"pytest\.mark\.aio\b")


def test_the_suites_that_bring_the_aio_up_run_after_every_other_lab() -> None:
    """The AIO stays up once started: a lab after it would share the 2 cores with its idle services."""
    ranks = {module: _labs_rank(module) for module in _marked()}
    aio = {module for module in ranks if AIO_MARK.search((REPO / module).read_text(encoding="utf-8"))}
    assert aio, "the check finds the AIO's suites"
    assert max(rank for module, rank in ranks.items() if module not in aio) < min(ranks[module] for module in aio)


def test_a_hardened_state_is_keyed_by_the_code_the_inventory_imports() -> None:
    """The cached hardened states (a VM's disk, the violation suite's image) are rebuilt when the
    inventory's code or the service catalogue changes, not when the audit or a lab's code does."""
    code = inventory_code()
    infra = REPO / "infra"
    assert {infra / "ansible_inventory.py", infra / "firewall.py", infra / "site.py"} <= set(code)
    assert infra / "services" / "services.yml" in code
    assert not [path for path in code if path.is_relative_to(infra / "audit") or path.name in {"cli.py", "aio.py"}]
