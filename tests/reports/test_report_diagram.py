"""The zone diagram: every text legible, none on top of another, on the sample's eight zones."""

from __future__ import annotations

from itertools import combinations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from infra.reports.diagram import zone_figure
from infra.reports.i18n import messages
from infra.site import load_site
from tests.reports.conftest import SAMPLE


def _extent(text: Text, renderer: object) -> Bbox:
    """The text with its badge circle, if it has one."""
    box = text.get_window_extent(renderer)  # type: ignore[arg-type]
    patch = text.get_bbox_patch()
    return Bbox.union([box, patch.get_window_extent(renderer)]) if patch is not None else box  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_zone_labels_do_not_overlap(lang: str) -> None:
    fig = zone_figure(load_site(SAMPLE), messages(lang))
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # places the badge circles
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert len(texts) > 40
    boxes = [(t.get_text(), _extent(t, renderer)) for t in texts]
    overlapping = [
        (a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2)
        if (inter := Bbox.intersection(box_a, box_b)) is not None and inter.width > 0.5 and inter.height > 0.5
    ]
    assert overlapping == []
    inside = fig.bbox.contains
    outside = [name for name, box in boxes if not inside(box.x0, box.y0) or not inside(box.x1, box.y1)]
    assert outside == []


def test_every_flow_is_numbered_in_the_legend() -> None:
    site = load_site(SAMPLE)
    fig = zone_figure(site, messages("en"))
    legend = [t.get_text() for t in fig.findobj(Text) if "→" in t.get_text()]
    assert len(legend) == len({(f.source, f.destination) for f in site.flows}) == 10
    assert "mgmt → api: tcp 5000,8443,8444,8774,8776,8778,9292,9311,9696" in legend
    assert "gov → api: tcp 5000,8443,8444" in legend  # Keystone, the dashboard and the portal for agency staff
    assert "outside (any) → dmz: tcp 80,443" in legend


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts matplotlib draws: tick labels beyond an axis' limits exist but are not drawn."""
    found: list[Text] = [*fig.texts]
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            ticks = [t for t in axis.get_major_ticks() if low - span <= t.get_loc() <= high + span]
            found += [label for tick in ticks for label in (tick.label1, tick.label2)]
            found.append(axis.label)
        found += [*ax.texts, ax.title]
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        found += legend.get_texts() if legend is not None else []
    return [t for t in found if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_chart_keeps_its_texts_inside_the_figure(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Legends and labels of every chart of the site report stay on the page (a legend wider
    than its axes once ran off both sides in Vietnamese)."""
    from infra.reports import Kind, build_report, charts, render

    drawn: dict[str, Figure] = {}
    keep = charts.svg

    def capture(fig: Figure, name: str, label: str) -> str:
        drawn[name] = fig
        return keep(fig, name, label)

    monkeypatch.setattr(charts, "svg", capture)
    render(build_report(SAMPLE, Kind.SITE, with_history=False), "html", lang)
    assert {"hosting", "capacity"} <= set(drawn)
    for name, fig in drawn.items():
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        texts = _drawn_texts(fig)
        assert texts, name
        inside = fig.bbox.contains
        outside = [
            t.get_text() for t in texts
            if not (inside((box := _extent(t, renderer)).x0, box.y0) and inside(box.x1, box.y1))
        ]
        assert outside == [], f"{name}: texts off the figure"
