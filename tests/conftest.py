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
    "tests/audit/", "tests/cluster/", "tests/dataplane/", "tests/integration/", "tests/portal/test_portal_keystone",
    "tests/pulumi/test_engine_", "tests/roles/", "tests/vm/",
)
"""The suites that hold a machine-wide resource: test hosts on the labs' address ranges, the
five-host cluster lab, the AIO, the VM test host. Under `--dist loadgroup` (scripts/test) they are
one unit of work for one worker, in collection order, as in a run without workers, and everything
else (unit tests, Pulumi mocks, portal, reports) runs on the other worker beside them. Two of them
at once take longer than one after the other on 2 cores: the cluster lab's first deployment took
1914 s beside the AIO's suite, 850 s alone."""


def _in_labs(path: str) -> bool:
    return path.startswith(LABS)


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
    """On the workers under `--dist loadgroup`: the labs' tests first, so that the scheduler hands
    them to the first worker before anything else."""
    if getattr(config.option, "loadgroup", False):  # set by xdist on the workers
        items.sort(key=lambda item: not _in_labs(item.path.relative_to(REPO).as_posix()))  # stable
