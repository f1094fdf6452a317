"""The report's charts as inline SVG (matplotlib, no pyplot state): the HTML stays self-contained.

Text is drawn as paths, so the page needs no font and renders the same offline on any machine;
every SVG carries `data-chart` (its name) and an aria-label for readers and for the tests.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from infra.reports.adoption import Adoption, AppStatus
from infra.reports.build import Report
from infra.reports.capacity import Usage
from infra.reports.forecast import Outlook, Point
from infra.reports.i18n import Messages
from infra.reports.labels import RESOURCE_LABELS

__all__ = [
    "RC",
    "RESOURCE_LABELS",
    "capacity_gauges",
    "demand_chart",
    "hosting_bars",
    "new_figure",
    "progress_chart",
    "svg",
]

COLORS = {
    "province": "#1b7837",
    "domestic": "#2166ac",
    "onprem": "#d6604d",
    "waiting": "#f4a582",
    "used": "#2166ac",
    "reserved": "#67a9cf",
    "pending": "#fdb863",
    "free": "#e0e0e0",
    "target": "#b2182b",
    "grid": "#dddddd",
}


RC: dict[Any, Any] = {
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def svg(fig: Figure, name: str, label: str) -> str:
    """The figure as an inline <svg> element, ids salted by `name` so charts never clash."""
    buffer = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    safe = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg", f'<svg data-chart="{name}" role="img" aria-label="{safe}"', 1)


def new_figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def _dates(ax: Axes) -> None:
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(DateFormatter("%m/%Y"))  # type: ignore[no-untyped-call]


def _x(when: datetime) -> float:
    return float(date2num(when))  # type: ignore[no-untyped-call]


def _line(ax: Axes, points: Sequence[Point], scale: float, **style: Any) -> None:
    ax.plot([_x(p.at) for p in points], [p.value * scale for p in points], drawstyle="steps-post", **style)


def _projection(ax: Axes, points: Sequence[Point], outlook: Outlook, color: str) -> None:
    if not points or outlook.pace_per_year is None or outlook.pace_per_year <= 0:
        return
    last = points[-1]
    end = outlook.reach if outlook.reach is not None else outlook.deadline
    if end is None or end <= last.at:
        return
    if outlook.deadline is not None and end > outlook.deadline and outlook.at_deadline is not None:
        end_value = outlook.at_deadline
        end = outlook.deadline
    else:
        end_value = outlook.level
    ax.plot([_x(last.at), _x(end)], [last.value * 100, end_value * 100], linestyle="--", color=color,
            linewidth=1.2)


def progress_chart(report: Report, t: Messages) -> str:
    """Shares on the province cloud and on any domestic cloud over time, target and projection."""
    with matplotlib.rc_context(RC):
        fig = new_figure(7.5, 3.4)
        ax = fig.add_subplot()
        series = report.adoption_series
        _line(ax, series.domestic, 100, color=COLORS["domestic"], linewidth=2,
              label=t.gettext("Any domestic cloud (§II.3)"))
        _line(ax, series.province, 100, color=COLORS["province"], linewidth=2,
              label=t.gettext("Province cloud"))
        _projection(ax, series.domestic, report.domestic_outlook, COLORS["domestic"])
        _projection(ax, series.province, report.province_outlook, COLORS["province"])
        ax.axhline(100, color=COLORS["target"], linestyle=":", linewidth=1, label=t.gettext("Target: 100%"))
        if report.deadline is not None:
            ax.axvline(_x(report.deadline), color=COLORS["target"], linewidth=1)
            ax.annotate(t.gettext("Deadline"), (_x(report.deadline), 5), color=COLORS["target"],
                        rotation=90, ha="right", va="bottom")
        if not series.province:
            ax.text(0.5, 0.5, t.gettext("No history recorded yet"), transform=ax.transAxes, ha="center")
        ax.set_ylim(0, 105)
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.grid(True, color=COLORS["grid"], linewidth=0.6)
        _dates(ax)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=3, frameon=False)
        return svg(fig, "progress", t.gettext("Progress to 100% of shared applications on cloud"))


def _category(status: AppStatus) -> str:
    if status.province:
        return "province"
    if status.domestic:
        return "domestic"
    return "onprem" if status.hosting.value == "onprem" else "waiting"


def hosting_bars(figures: Adoption, kind_labels: Mapping[str, str], t: Messages) -> str:
    """Stacked bars per kind of agency: province cloud, other domestic cloud, on premises, waiting."""
    categories = {
        "province": t.gettext("Province cloud"),
        "domestic": t.gettext("Other domestic cloud"),
        "onprem": t.gettext("On premises"),
        "waiting": t.gettext("Planned or waiting"),
    }
    groups = [*sorted({s.owner_kind for s in figures.apps}), ""]
    counts = {g: dict.fromkeys(categories, 0) for g in groups}
    for status in figures.apps:
        counts[status.owner_kind][_category(status)] += 1
        counts[""][_category(status)] += 1
    labels = [kind_labels.get(g, g) if g else t.gettext("All agencies") for g in groups]
    with matplotlib.rc_context(RC):
        fig = new_figure(7.5, 0.5 * len(groups) + 1.0)
        ax = fig.add_subplot()
        left = [0] * len(groups)
        for key, title in categories.items():
            values = [counts[g][key] for g in groups]
            bars = ax.barh(labels, values, left=left, color=COLORS[key], label=title)
            ax.bar_label(bars, labels=[str(v) if v else "" for v in values], label_type="center",
                         color="white" if key in {"province", "domestic", "onprem"} else "black")
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_xlabel(t.gettext("Shared applications"))
        # below the figure, not the axes: long (Vietnamese) labels must not run off the page
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
        return svg(fig, "hosting", t.gettext("Where the shared applications run, per kind of agency"))


def capacity_gauges(usages: Sequence[Usage], t: Messages) -> str:
    """One gauge per resource: used, reserved, free, and what pending requests would take."""
    labels = [t.gettext(RESOURCE_LABELS[u.resource]) for u in usages]
    with matplotlib.rc_context(RC):
        fig = new_figure(7.5, 0.55 * len(usages) + 1.0)
        ax = fig.add_subplot()
        share = [(u.used / u.capacity if u.capacity else 0.0) * 100 for u in usages]
        reserved = [(u.reserved / u.capacity if u.capacity else 0.0) * 100 for u in usages]
        pending = [(u.pending / u.capacity if u.capacity else 0.0) * 100 for u in usages]
        start = [a + b for a, b in zip(share, reserved, strict=True)]
        ax.barh(labels, [100] * len(usages), color=COLORS["free"], label=t.gettext("Free"))
        ax.barh(labels, share, color=COLORS["used"], label=t.gettext("Used (active)"))
        ax.barh(labels, reserved, left=share, color=COLORS["reserved"], label=t.gettext("Reserved (approved)"))
        ax.barh(labels, pending, left=start, color=COLORS["pending"], hatch="//", edgecolor="white",
                label=t.gettext("Pending requests"))
        for i, item in enumerate(usages):
            ax.text(101, i, t.pct(item.committed_share), va="center")
        ax.axvline(100, color=COLORS["target"], linewidth=1)
        ax.set_xlim(0, 112)
        ax.xaxis.set_major_formatter(PercentFormatter())
        ax.invert_yaxis()
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
        return svg(fig, "capacity", t.gettext("Capacity used, reserved and free per resource"))


def demand_chart(report: Report, t: Messages) -> str:
    """Committed demand of each resource as a share of its capacity over time."""
    capacity = {u.resource: u.capacity for u in report.usages}
    with matplotlib.rc_context(RC):
        fig = new_figure(7.5, 3.4)
        ax = fig.add_subplot()
        top = 100.0
        for resource, points in report.demand_series.points.items():
            total = capacity.get(resource) or 0
            if not points or not total:
                continue
            scaled = [Point(p.at, p.value / total) for p in points]
            top = max(top, *(p.value * 100 for p in scaled))
            _line(ax, scaled, 100, linewidth=1.6, label=t.gettext(RESOURCE_LABELS[resource]))
            runout = report.runouts[resource].date
            if runout is not None and report.deadline is not None and runout <= max(
                report.deadline, scaled[-1].at
            ):
                ax.plot([_x(scaled[-1].at), _x(runout)], [scaled[-1].value * 100, 100], linestyle="--",
                        linewidth=1, color=ax.lines[-1].get_color())
        ax.axhline(100, color=COLORS["target"], linestyle=":", linewidth=1)
        if not any(report.demand_series.points.values()):
            ax.text(0.5, 0.5, t.gettext("No history recorded yet"), transform=ax.transAxes, ha="center")
        ax.set_ylim(0, top * 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.grid(True, color=COLORS["grid"], linewidth=0.6)
        _dates(ax)
        ax.legend(loc="upper left", frameon=False, fontsize=8)
        return svg(fig, "demand", t.gettext("Committed demand as a share of capacity over time"))


def month_span(points: Sequence[datetime]) -> int:
    """Months between the first and last time (for captions)."""
    if len(points) < 2:
        return 0
    return (points[-1].year - points[0].year) * 12 + points[-1].month - points[0].month
