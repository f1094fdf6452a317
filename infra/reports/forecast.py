"""Pace and run-out dates from a time series: least squares over the recorded points.

Pure arithmetic on (time, value) points, so every answer can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Outlook", "Point", "outlook", "reach_date", "slope_per_day", "value_at"]

DAY = 86400.0


@dataclass(frozen=True, order=True)
class Point:
    """One measurement: when, and the value then."""

    at: datetime
    value: float


def slope_per_day(points: Sequence[Point], min_span_days: float = 0.0) -> float | None:
    """Least-squares slope of value over time, per day.

    None with fewer than two distinct times, or when the points span less than `min_span_days`
    (two commits an hour apart say nothing about a yearly pace).
    """
    if len({p.at for p in points}) < 2:
        return None
    if (max(p.at for p in points) - min(p.at for p in points)).total_seconds() < min_span_days * DAY:
        return None
    origin = points[0].at
    xs = [(p.at - origin).total_seconds() / DAY for p in points]
    ys = [p.value for p in points]
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return sxy / sxx


def reach_date(points: Sequence[Point], level: float, min_span_days: float = 0.0) -> datetime | None:
    """When the series reaches `level` at its pace, counted from the last point.

    Returns the last point's time when it is already there, None when the pace is unknown,
    flat or going away from the level.
    """
    if not points:
        return None
    last = points[-1]
    if last.value >= level:
        return last.at
    slope = slope_per_day(points, min_span_days)
    if slope is None or slope <= 0:
        return None
    days = (level - last.value) / slope
    if days > 365 * 1000:  # a pace this slow never reaches it in any useful sense
        return None
    return last.at + timedelta(days=days)


def value_at(points: Sequence[Point], when: datetime, min_span_days: float = 0.0) -> float | None:
    """The value the series has at `when` at its pace, counted from the last point."""
    if not points:
        return None
    slope = slope_per_day(points, min_span_days)
    if slope is None:
        return None
    return points[-1].value + slope * (when - points[-1].at).total_seconds() / DAY


@dataclass(frozen=True)
class Outlook:
    """Where a series is heading relative to a target level and a deadline."""

    level: float
    pace_per_year: float | None
    reach: datetime | None
    deadline: datetime | None
    at_deadline: float | None

    @property
    def on_track(self) -> bool | None:
        """True when the level is reached by the deadline at the current pace."""
        if self.deadline is None:
            return None
        return self.reach is not None and self.reach <= self.deadline

    @property
    def late_by_days(self) -> int | None:
        """Days after the deadline the level is reached (None when on track or never)."""
        if self.deadline is None or self.reach is None or self.reach <= self.deadline:
            return None
        return (self.reach - self.deadline).days

    @property
    def short_at_deadline(self) -> float | None:
        """How far below the level the series is at the deadline (None when on track)."""
        if self.at_deadline is None or self.on_track:
            return None
        return max(self.level - self.at_deadline, 0.0)


def outlook(
    points: Sequence[Point], level: float, deadline: datetime | None, min_span_days: float = 0.0
) -> Outlook:
    """Pace, the date `level` is reached and the value at `deadline`, from `points`."""
    slope = slope_per_day(points, min_span_days)
    at_deadline = None
    if deadline is not None and points and slope is not None:
        projected = points[-1].value + slope * (deadline - points[-1].at).total_seconds() / DAY
        at_deadline = min(projected, level) if slope > 0 else projected
    return Outlook(
        level=level,
        pace_per_year=None if slope is None else slope * 365,
        reach=reach_date(points, level, min_span_days),
        deadline=deadline,
        at_deadline=at_deadline,
    )
