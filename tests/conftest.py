"""Shared fixtures: copies of the sample sites that a test may break without touching the tree."""

from __future__ import annotations

import shutil
from pathlib import Path

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
