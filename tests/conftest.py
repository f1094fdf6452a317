"""Shared fixtures: copies of the sample sites that a test may break without touching the tree."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from infra._parsecache import CACHE_DIR

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventories" / "thainguyen"
AIO = REPO / "inventories" / "aio"

LOCAL_STATE = shutil.ignore_patterns(CACHE_DIR)
"""What a checkout accumulates that is not part of the site (git-ignored): not copied."""


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """A private copy of the Thái Nguyên sample inventory."""
    target = tmp_path / "thainguyen"
    shutil.copytree(SAMPLE, target, ignore=LOCAL_STATE)
    return target


@pytest.fixture
def aio_copy(tmp_path: Path) -> Path:
    """A private copy of the all-in-one inventory."""
    target = tmp_path / "aio"
    shutil.copytree(AIO, target, ignore=LOCAL_STATE)
    return target


LABS: tuple[str, ...] = (
    "tests/audit/", "tests/cluster/", "tests/dataplane/", "tests/roles/", "tests/vm/",
    "tests/integration/", "tests/portal/test_portal_keystone", "tests/pulumi/test_engine_",
)
"""The suites that hold a machine-wide resource: test hosts on the labs' address ranges, the
five-host cluster lab, the data-plane lab, the VM test host, the AIO. Under `--dist loadgroup`
(scripts/test) they are one unit of work for one worker, in this order, and everything else (unit
tests, Pulumi mocks, portal, reports) runs on the other worker beside them. Two of them at once take
longer than one after the other on 2 cores: the cluster lab's first deployment took 1914 s beside
the AIO's suite, 850 s alone. The AIO's suites come last: the AIO stays up once started (a developer's
next run reuses it), and its idle services would take CPU from every lab after them."""


def _labs_rank(path: str) -> int:
    """Where the test's suite runs among the labs (len(LABS): not a lab)."""
    return next((rank for rank, prefix in enumerate(LABS) if path.startswith(prefix)), len(LABS))


def _in_labs(path: str) -> bool:
    return _labs_rank(path) < len(LABS)


@pytest.hookimpl(optionalhook=True)  # pytest -p no:xdist has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadgroup`: LABS one unit of work, every other test a unit of its own. A scheduler,
    not xdist_group marks: xdist 3.8 renames the marked items by an attribute pytest 9 no longer reads,
    and the groups silently fall apart."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LabsScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "labs" if _in_labs(nodeid.split("::", 1)[0]) else nodeid

    return LabsScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the workers under `--dist loadgroup`: the labs' tests first, in the order of LABS, so that
    the scheduler hands them to the first worker before anything else."""
    if getattr(config.option, "loadgroup", False):  # set by xdist on the workers
        items.sort(key=lambda item: _labs_rank(item.path.relative_to(REPO).as_posix()))  # stable
