"""Pace and run-out dates: least squares with answers worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from infra.reports.forecast import Point, outlook, reach_date, slope_per_day, value_at

T0 = datetime.fromisoformat("2026-01-01T00:00:00+07:00")


def pts(*pairs: tuple[int, float]) -> list[Point]:
    return [Point(T0 + timedelta(days=d), v) for d, v in pairs]


def test_slope_two_points_is_rise_over_run() -> None:
    assert slope_per_day(pts((0, 0.5), (10, 0.6))) == pytest.approx(0.01)


def test_slope_least_squares_of_three_points() -> None:
    # x = 0, 10, 20; y = 0, 3, 3 -> slope = sum((x-10)(y-2)) / sum((x-10)^2) = (20 + 0 + 10) / 200
    assert slope_per_day(pts((0, 0), (10, 3), (20, 3))) == pytest.approx(0.15)


@pytest.mark.parametrize("points", [[], pts((0, 0.5)), pts((0, 0.5), (0, 0.7))])
def test_slope_unknown_without_two_distinct_times(points: list[Point]) -> None:
    assert slope_per_day(points) is None


def test_slope_unknown_when_span_too_short() -> None:
    assert slope_per_day(pts((0, 0.1), (3, 0.5)), min_span_days=28) is None
    assert slope_per_day(pts((0, 0.1), (28, 0.5)), min_span_days=28) == pytest.approx(0.4 / 28)


def test_reach_date_from_last_point_at_the_pace() -> None:
    # 0.6 at day 10, +0.01/day -> 1.0 forty days later
    assert reach_date(pts((0, 0.5), (10, 0.6)), 1.0) == T0 + timedelta(days=50)


def test_reach_date_already_reached_is_last_time() -> None:
    assert reach_date(pts((0, 0.5), (10, 1.0)), 1.0) == T0 + timedelta(days=10)


@pytest.mark.parametrize("points", [pts((0, 0.6), (10, 0.6)), pts((0, 0.6), (10, 0.5)), pts((0, 0.5))])
def test_reach_date_none_when_flat_falling_or_unknown(points: list[Point]) -> None:
    assert reach_date(points, 1.0) is None


def test_value_at_projects_from_last_point() -> None:
    assert value_at(pts((0, 0.5), (10, 0.6)), T0 + timedelta(days=30)) == pytest.approx(0.8)


def test_outlook_on_track() -> None:
    result = outlook(pts((0, 0.5), (10, 0.6)), 1.0, T0 + timedelta(days=60))
    assert result.on_track is True
    assert result.reach == T0 + timedelta(days=50)
    assert result.pace_per_year == pytest.approx(3.65)
    assert result.at_deadline == pytest.approx(1.0)
    assert result.late_by_days is None and result.short_at_deadline is None


def test_outlook_late_says_by_how_much() -> None:
    result = outlook(pts((0, 0.5), (10, 0.6)), 1.0, T0 + timedelta(days=30))
    assert result.on_track is False
    assert result.late_by_days == 20
    assert result.at_deadline == pytest.approx(0.8)
    assert result.short_at_deadline == pytest.approx(0.2)


def test_outlook_without_pace() -> None:
    result = outlook(pts((0, 0.5)), 1.0, T0 + timedelta(days=30))
    assert result.pace_per_year is None and result.reach is None and result.on_track is False
