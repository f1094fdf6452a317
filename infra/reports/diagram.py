"""The zones and the flows between them, drawn: a diagram and a matrix (inline SVG).

Both are derived from zones.yml and flows.yml, like the firewall and the security groups, so
the picture cannot disagree with what is enforced. Everything not drawn is denied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from infra.reports.charts import RC, new_figure, svg
from infra.reports.i18n import Messages
from infra.reports.labels import flow_summary
from infra.schema import ENDPOINT_ANY, ENDPOINT_TENANTS, Flow, ZoneKind
from infra.site import Site

__all__ = ["flow_matrix", "flow_summary", "zone_diagram", "zone_figure"]

EXTERNAL = (ZoneKind.INTERNET, ZoneKind.DMZ, ZoneKind.GOV)
KIND_COLORS = {
    ZoneKind.INTERNET: "#f4a582",
    ZoneKind.DMZ: "#fddbc7",
    ZoneKind.GOV: "#d1e5f0",
    ZoneKind.OOB: "#e0e0e0",
    ZoneKind.MGMT: "#d9f0d3",
    ZoneKind.API: "#a6dba0",
    ZoneKind.STORAGE: "#e7d4e8",
    ZoneKind.OVERLAY: "#c2a5cf",
    ZoneKind.OTHER: "#f7f7f7",
}
# Sizes in inches: the figure is drawn 1:1 (about the width of the report's page), so the
# text keeps its point size on screen.
BOX_W, BOX_H = 1.75, 0.78
STEP_X, STEP_Y = 2.05, 1.45  # box centre to box centre
MARGIN, TOP = 0.2, 0.45  # TOP leaves room for arcs bowing above the first row
BULGE = 0.3  # how far an arc between boxes of one row bows into the gap
BADGE_R = 0.13  # room a flow number takes
LANE = 0.08  # between arrows passing one gap
LEGEND_LINE, LEGEND_CHARS = 0.24, 66  # a legend line's height, and its length in two columns

XY = tuple[float, float]


def _pairs(site: Site) -> dict[tuple[str, str], list[Flow]]:
    pairs: dict[tuple[str, str], list[Flow]] = {}
    for flow in site.flows:
        pairs.setdefault((flow.source, flow.destination), []).append(flow)
    return pairs


def _rows(site: Site) -> list[list[str]]:
    external = [z.name for z in site.zones if z.kind in EXTERNAL]
    internal = [z.name for z in site.zones if z.kind not in EXTERNAL]
    return [row for row in ([ENDPOINT_ANY], external, internal, [ENDPOINT_TENANTS]) if row]


def _layout(rows: Sequence[Sequence[str]], width: float, bottom: float) -> dict[str, XY]:
    pos: dict[str, XY] = {}
    for r, names in enumerate(rows):
        y = bottom + BOX_H / 2 + (len(rows) - 1 - r) * STEP_Y
        left = (width - len(names) * STEP_X) / 2
        for i, name in enumerate(names):
            pos[name] = (left + (i + 0.5) * STEP_X, y)
    return pos


def _box(ax: Axes, xy: XY, lines: Sequence[str], color: str) -> None:
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.03",
                                facecolor=color, edgecolor="#555555", zorder=2))
    ax.text(x, y + 0.2, lines[0], ha="center", va="center", fontsize=9, fontweight="bold", zorder=3)
    for i, line in enumerate(lines[1:]):
        ax.text(x, y - 0.05 - i * 0.19, line, ha="center", va="center", fontsize=7.5, zorder=3)


def _badge(ax: Axes, xy: XY, number: int) -> None:
    ax.text(*xy, str(number), ha="center", va="center", fontsize=7, fontweight="bold", zorder=5,
            bbox={"boxstyle": "circle,pad=0.25", "facecolor": "white", "edgecolor": "#333333", "linewidth": 0.8})


def _along(points: Sequence[XY], t: float) -> XY:
    """The point at fraction `t` of the length of a polyline."""
    lengths = [math.dist(a, b) for a, b in pairwise(points)]
    left = t * sum(lengths)
    for (a, b), length in zip(pairwise(points), lengths, strict=True):
        if left <= length and length > 0:
            f = left / length
            return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
        left -= length
    return points[-1]


class _Edges:
    """Where arrows attach to the boxes, which way they go and where their numbers sit, so that
    no arrow crosses a box and no number covers another or a box."""

    def __init__(self, pos: Mapping[str, XY]) -> None:
        self.pos = pos
        self.rows: dict[float, list[float]] = {}
        for x, y in pos.values():
            self.rows.setdefault(y, []).append(x)
        for xs in self.rows.values():
            xs.sort()
        self.lanes: dict[XY, int] = {}  # arrows through each gap so far
        self.taken: list[XY] = []  # badge centres

    def sides(self, source: str, destination: str) -> tuple[str, str]:
        """Box sides the arrow leaves and enters: between rows the facing sides; within a row both
        bottoms (going right) or both tops (going left), so the two directions never share a path."""
        (x1, y1), (x2, y2) = self.pos[source], self.pos[destination]
        if abs(y1 - y2) > 1e-6:
            return ("bottom", "top") if y1 > y2 else ("top", "bottom")
        return ("bottom", "bottom") if x2 > x1 else ("top", "top")

    def anchors(self, edges: Sequence[tuple[str, str]]) -> dict[tuple[str, str, str], XY]:
        """A point per (box, side, other end), spread evenly along the side in the order of the other
        ends' positions, so that arrows leave and enter a box at distinct points without crossing."""
        attached: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for source, destination in edges:
            side_s, side_d = self.sides(source, destination)
            attached.setdefault((source, side_s), []).append((self.pos[destination][0], destination))
            attached.setdefault((destination, side_d), []).append((self.pos[source][0], source))
        points = {}
        for (box, side), others in attached.items():
            x, y = self.pos[box]
            edge = y - BOX_H / 2 if side == "bottom" else y + BOX_H / 2
            ordered = sorted(others)
            for i, (_x, other) in enumerate(ordered):
                points[(box, side, other)] = (x + 0.8 * BOX_W * ((i + 1) / (len(ordered) + 1) - 0.5), edge)
        return points

    def route(self, start: XY, end: XY) -> list[XY]:
        """The arrow's corners: through each row it crosses, the gap nearest its straight line (a
        lane of its own in that gap); none where the line already misses the row's boxes."""
        points = [start]
        down = end[1] < start[1]
        for y in sorted(self.rows, reverse=down):
            if not min(start[1], end[1]) < y < max(start[1], end[1]):
                continue
            (px, py), xs = points[-1], self.rows[y]
            x, top, bottom = (px + (end[0] - px) * (v - py) / (end[1] - py) for v in (y, y + BOX_H / 2, y - BOX_H / 2))
            low, high = min(top, bottom) - 0.05, max(top, bottom) + 0.05
            if not any(low < bx + BOX_W / 2 and bx - BOX_W / 2 < high for bx in xs):
                continue
            gaps = [xs[0] - STEP_X / 2, *((a + b) / 2 for a, b in pairwise(xs)), xs[-1] + STEP_X / 2]
            gap = min(gaps, key=lambda g: abs(g - x))
            lane = self.lanes[(gap, y)] = self.lanes.get((gap, y), -1) + 1
            gx = gap + LANE * ((lane + 1) // 2) * (1 if lane % 2 else -1)  # lanes 0, +1, -1, +2, ...
            half = BOX_H / 2 + 0.1
            points += [(gx, y + half), (gx, y - half)] if down else [(gx, y - half), (gx, y + half)]
        points.append(end)
        return points

    def free(self, xy: XY) -> bool:
        x, y = xy
        room = BADGE_R + 0.03
        if any(abs(x - bx) < BOX_W / 2 + room and abs(y - by) < BOX_H / 2 + room for bx, by in self.pos.values()):
            return False
        return all(math.dist(xy, other) >= 2 * BADGE_R + 0.04 for other in self.taken)

    def badge_at(self, path: Sequence[XY]) -> XY:
        """The first free point along the arrow, from its middle outwards."""
        for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.15, 0.85):
            point = _along(path, t)
            if self.free(point):
                break
        else:
            point = _along(path, 0.5)
        self.taken.append(point)
        return point


def _arc(start: XY, end: XY, rad: float, steps: int = 24) -> list[XY]:
    """Points along matplotlib's arc3 connection (a quadratic curve) from `start` to `end`."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    control = ((start[0] + end[0]) / 2 + rad * dy, (start[1] + end[1]) / 2 - rad * dx)
    return [
        ((1 - t) ** 2 * start[0] + 2 * (1 - t) * t * control[0] + t**2 * end[0],
         (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * control[1] + t**2 * end[1])
        for t in (i / steps for i in range(steps + 1))
    ]


def zone_figure(site: Site, t: Messages) -> Figure:
    """Zones as boxes (VLAN, IPv4, IPv6), allowed flows as numbered arrows and a numbered legend.

    Numbers instead of port lists on the arrows: the lists are long and the arrows many, and the
    legend can say the whole of each.
    """
    names = {ENDPOINT_ANY: t.gettext("outside (any)"), ENDPOINT_TENANTS: t.gettext("tenant networks")}
    rows = _rows(site)
    width = max(len(row) for row in rows) * STEP_X + 2 * MARGIN
    drawn = {name for row in rows for name in row}
    numbered = [(pair, flows) for pair, flows in _pairs(site).items() if pair[0] in drawn and pair[1] in drawn]
    legend_rows = -(-len(numbered) // 2)
    legend = MARGIN + legend_rows * LEGEND_LINE + (0.15 if numbered else 0)
    height = legend + (len(rows) - 1) * STEP_Y + BOX_H + TOP
    pos = _layout(rows, width, legend)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(0, height)
        ax.axis("off")
        for zone in site.zones:
            _box(ax, pos[zone.name], [zone.name, f"VLAN {zone.vlan} · {zone.ipv4}", str(zone.ipv6)],
                 KIND_COLORS.get(zone.kind, "#f7f7f7"))
        _box(ax, pos[ENDPOINT_ANY], [names[ENDPOINT_ANY], "0.0.0.0/0 · ::/0"], "#ffffff")
        _box(ax, pos[ENDPOINT_TENANTS], [names[ENDPOINT_TENANTS], str(site.pools.ipv4), str(site.pools.ipv6)],
             "#fff7bc")
        edges = _Edges(pos)
        between = [pair for pair, _flows in numbered if pair[0] != pair[1]]
        anchors = edges.anchors(between)
        for number, ((source, destination), flows) in enumerate(numbered, 1):
            if source == destination:  # within a zone: the number in the box's corner
                x, y = pos[source]
                _badge(ax, (x + BOX_W / 2 - 0.16, y + BOX_H / 2 - 0.16), number)
            else:
                side_s, side_d = edges.sides(source, destination)
                start, end = anchors[(source, side_s, destination)], anchors[(destination, side_d, source)]
                style: dict[str, Any] = {"arrowstyle": "-|>", "mutation_scale": 11, "color": "#333333",
                                         "linewidth": 1, "zorder": 1}
                path = [start, end] if side_s == side_d else edges.route(start, end)
                if len(path) > 2:  # around the boxes of the rows it crosses
                    ax.add_patch(FancyArrowPatch(path=Path(path), **style))
                else:  # a row's bottoms (tops) bow below (above) it; facing sides curve a little
                    rad = 2 * BULGE / abs(end[0] - start[0]) if side_s == side_d else 0.1
                    ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", shrinkA=1,
                                                 shrinkB=1, **style))
                    path = _arc(start, end, rad)
                _badge(ax, edges.badge_at(path), number)
            column, line = divmod(number - 1, legend_rows)
            x = MARGIN + column * (width - 2 * MARGIN) / 2
            y = legend - 0.15 - (line + 0.5) * LEGEND_LINE
            _badge(ax, (x + 0.12, y), number)
            prefix = f"{names.get(source, source)} → {names.get(destination, destination)}: "
            ax.text(x + 0.3, y, prefix + flow_summary(flows, max(LEGEND_CHARS - len(prefix), 12)), va="center",
                    fontsize=7.5)
        return fig


def zone_diagram(site: Site, t: Messages) -> str:
    """The zone figure as inline SVG."""
    return svg(zone_figure(site, t), "zones", t.gettext("Zones and the flows allowed between them"))


def _endpoints(site: Site) -> tuple[list[str], list[str]]:
    names = [z.name for z in site.zones]
    sources = [n for n in [ENDPOINT_ANY, *names, ENDPOINT_TENANTS] if any(f.source == n for f in site.flows)]
    targets = [n for n in [*names, ENDPOINT_TENANTS] if any(f.destination == n for f in site.flows)]
    return sources or [ENDPOINT_ANY], targets or names


def flow_matrix(site: Site, t: Messages) -> str:
    """From-zone × to-zone grid: the ports each pair may use; an empty cell is denied."""
    pairs = _pairs(site)
    sources, targets = _endpoints(site)
    labels: Mapping[str, str] = {
        ENDPOINT_ANY: t.gettext("outside (any)"),
        ENDPOINT_TENANTS: t.gettext("tenant networks"),
    }
    with matplotlib.rc_context(RC):
        fig = new_figure(1.6 + 1.25 * len(targets), 0.8 + 0.42 * len(sources))
        ax = fig.add_subplot()
        grid = [[1.0 if (s, d) in pairs else 0.0 for d in targets] for s in sources]
        ax.imshow(grid, cmap="Greens", vmin=0, vmax=3, aspect="auto")
        for i, s in enumerate(sources):
            for j, d in enumerate(targets):
                flows = pairs.get((s, d))
                ax.text(j, i, flow_summary(flows, 20) if flows else "–", ha="center", va="center", fontsize=6,
                        color="#222222" if flows else "#999999")
        ax.set_xticks(range(len(targets)), [labels.get(d, d) for d in targets], rotation=30, ha="left")
        ax.set_yticks(range(len(sources)), [labels.get(s, s) for s in sources])
        ax.xaxis.tick_top()
        ax.set_xlabel(t.gettext("to"))
        ax.xaxis.set_label_position("top")
        ax.set_ylabel(t.gettext("from"))
        for spine in ax.spines.values():
            spine.set_visible(False)
        return svg(fig, "flows", t.gettext("Flow matrix: what may cross from one zone to another"))
