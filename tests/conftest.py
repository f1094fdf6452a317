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


LANES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cluster", ("tests/cluster/",)),
    ("hostlab", ("tests/audit/", "tests/roles/", "tests/dataplane/")),
    ("aio", ("tests/integration/", "tests/pulumi/test_engine_")),
    ("vm", ("tests/vm/",)),
)
"""The suites that share a machine-wide resource, longest first: under `--dist loadgroup` (scripts/test)
each runs whole on one worker, in this order, so the five-host cluster lab and the AIO never run twice
or beside a suite using the same test hosts' networks (the audit proofs copy the roles' lab and its
CIDRs). Everything else is spread test by test over the workers once a lane is done."""


def _lane(item: pytest.Item) -> int:
    """The item's rank in LANES (after them when in none)."""
    path = item.path.relative_to(REPO).as_posix()
    return next((rank for rank, (_, prefixes) in enumerate(LANES) if path.startswith(prefixes)), len(LANES))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadgroup` (scripts/test): each lane one unit of work for one worker (see LANES),
    every other test a unit of its own. A scheduler, not xdist_group marks: xdist 3.8 renames the
    marked items by an attribute pytest 9 no longer reads, and the groups silently fall apart."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((lane for lane, prefixes in LANES if path.startswith(prefixes)), nodeid)

    return LaneScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the workers under `--dist loadgroup`: the lanes first, in LANES order, so that the scheduler
    hands them out first."""
    if getattr(config.option, "loadgroup", False):  # set by xdist on the workers
        items.sort(key=_lane)  # stable: collection order within a lane
