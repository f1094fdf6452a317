"""Fixtures of the Pulumi tests: mock runs of the sample sites at a fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.stacks.mockrun import MockRun, run_programs
from tests.conftest import AIO, SAMPLE

NOW = datetime(2026, 11, 28, tzinfo=UTC)
"""so-tttt retired 2026-04-25: past its 90-day grace period at NOW."""


@pytest.fixture(scope="session")
def aio_run() -> MockRun:
    return run_programs(AIO, now=NOW, lenient=False)


@pytest.fixture(scope="session")
def tn_run() -> MockRun:
    return run_programs(SAMPLE, now=NOW, lenient=False)
