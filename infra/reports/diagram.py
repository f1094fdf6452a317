"""The zones and the flows between them, drawn: a diagram and a matrix (inline SVG).

Both are derived from zones.yml and flows.yml, like the firewall and the security groups, so
the picture cannot disagree with what is enforced. Everything not drawn is denied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from infra.reports.charts import RC, new_figure, svg
from infra.reports.i18n import Messages
from infra.reports.labels import flow_summary
from infra.schema import ENDPOINT_ANY, ENDPOINT_TENANTS, Flow, ZoneKind
from infra.site import Site

__all__ = ["flow_matrix", "flow_summary", "zone_diagram"]

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
BOX_W, BOX_H, STEP = 2.2, 1.0, 2.8


def _pairs(site: Site) -> dict[tuple[str, str], list[Flow]]:
    pairs: dict[tuple[str, str], list[Flow]] = {}
    for flow in site.flows:
        pairs.setdefault((flow.source, flow.destination), []).append(flow)
    return pairs


def _layout(site: Site) -> dict[str, tuple[float, float]]:
    external = [z.name for z in site.zones if z.kind in EXTERNAL]
    internal = [z.name for z in site.zones if z.kind not in EXTERNAL]
    width = max(len(external), len(internal), 1)
    pos: dict[str, tuple[float, float]] = {}

    def row(names: Sequence[str], y: float) -> None:
        offset = (width - len(names)) / 2
        for i, name in enumerate(names):
            pos[name] = ((offset + i + 0.5) * STEP, y)

    row([ENDPOINT_ANY], 3 * STEP * 0.75)
    row(external, 2 * STEP * 0.75)
    row(internal, STEP * 0.75)
    row([ENDPOINT_TENANTS], 0.0)
    return pos


def _box(ax: Axes, xy: tuple[float, float], lines: Sequence[str], color: str) -> None:
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                boxstyle="round,pad=0.05", facecolor=color, edgecolor="#555555"))
    ax.text(x, y + 0.22, lines[0], ha="center", va="center", fontsize=9, fontweight="bold")
    for i, line in enumerate(lines[1:]):
        ax.text(x, y - 0.05 - i * 0.2, line, ha="center", va="center", fontsize=6.5)


def zone_diagram(site: Site, t: Messages) -> str:
    """Zones as boxes (VLAN, IPv4, IPv6), allowed flows as arrows labelled with their ports."""
    pos = _layout(site)
    pairs = _pairs(site)
    with matplotlib.rc_context(RC):
        xs = [p[0] for p in pos.values()]
        fig = new_figure(max(7.5, (max(xs) + STEP) * 0.95), 6.2)
        ax = fig.add_subplot()
        for zone in site.zones:
            inside = pairs.get((zone.name, zone.name), [])
            extra = [t.gettext("within: %(flows)s") % {"flows": flow_summary(inside, 22)}] if inside else []
            _box(ax, pos[zone.name], [zone.name, f"VLAN {zone.vlan} · {zone.ipv4}", str(zone.ipv6), *extra],
                 KIND_COLORS.get(zone.kind, "#f7f7f7"))
        _box(ax, pos[ENDPOINT_ANY], [t.gettext("outside (any)"), "0.0.0.0/0 · ::/0"], "#ffffff")
        _box(ax, pos[ENDPOINT_TENANTS], [t.gettext("tenant networks"), str(site.pools.ipv4), str(site.pools.ipv6)],
             "#fff7bc")
        for (source, destination), flows in pairs.items():
            if source == destination or source not in pos or destination not in pos:
                continue
            (x1, y1), (x2, y2) = pos[source], pos[destination]
            arrow = FancyArrowPatch((x1, y1 - BOX_H / 2 if y1 > y2 else y1), (x2, y2 + BOX_H / 2 if y1 > y2 else y2),
                                    arrowstyle="-|>", mutation_scale=12, color="#333333", linewidth=1,
                                    connectionstyle="arc3,rad=0.12", shrinkA=2, shrinkB=2)
            ax.add_patch(arrow)
            ax.text((x1 + x2) / 2, (y1 + y2) / 2, flow_summary(flows), fontsize=6.5, ha="center",
                    va="center", bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax.set_xlim(min(xs) - STEP / 2, max(xs) + STEP / 2)
        ax.set_ylim(-BOX_H, 3 * STEP * 0.75 + BOX_H)
        ax.set_aspect("equal")
        ax.axis("off")
        return svg(fig, "zones", t.gettext("Zones and the flows allowed between them"))


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
