"""What the reports take from the git history: a summary and the two series, read in parallel.

Reading hundreds of commits is the slowest part of a report and needs nothing but the site
folder, so it runs in a forked worker process while the caller loads and checks the current
site; only the small result (a few hundred points) comes back.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from infra.errors import Problem
from infra.reports.capacity import Resource
from infra.reports.history import read_history
from infra.reports.i18n import N_, Text
from infra.reports.series import AdoptionSeries, DemandSeries, Source, adoption_series, demand_series

__all__ = ["NO_RECORD", "Record", "read_record", "start_record"]


@dataclass(frozen=True)
class Record:
    """The history as the reports use it (series without the current measurement)."""

    commits: int
    first: datetime | None
    last: datetime | None
    note: str
    problems: tuple[Problem, ...]
    adoption: AdoptionSeries
    demand: DemandSeries


NO_RECORD = Record(
    0, None, None, Text(N_("history not read")), (),
    AdoptionSeries(Source.NONE, (), ()),
    DemandSeries(Source.NONE, {r: () for r in Resource}),
)


def read_record(root: Path) -> Record:
    """Read the history of the site at `root` and compute its series.

    A commit without profiles.yml uses the latest profiles the history has.
    """
    history = read_history(root)
    snapshots = history.snapshots
    profiles = next((s.profiles for s in reversed(snapshots) if s.profiles), {})
    return Record(
        commits=len(snapshots),
        first=snapshots[0].at if snapshots else None,
        last=snapshots[-1].at if snapshots else None,
        note=history.note,
        problems=history.problems,
        adoption=adoption_series(snapshots),
        demand=demand_series(snapshots, profiles),
    )


def start_record(root: Path) -> Callable[[], Record]:
    """Start reading the record in a worker process; call the returned function for the result.

    Falls back to reading in this process where fork is not available or the worker dies.
    """
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - not on Linux
        record = read_record(root)
        return lambda: record
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    future = pool.submit(read_record, root)

    def join() -> Record:
        try:
            return future.result()
        except BrokenProcessPool:  # pragma: no cover - the worker was killed
            return read_record(root)
        finally:
            pool.shutdown()

    return join
