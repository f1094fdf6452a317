"""A `Report` as HTML (self-contained, charts inline), Markdown or JSON, in Vietnamese or English.

One set of templates for both languages: every text goes through the message catalogue
(`infra.reports.i18n`); numbers and dates through babel. JSON carries the same figures, with
machine values (ISO dates, plain numbers, shares as 0..1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from infra.errors import Problem
from infra.reports.adoption import Reason, Share
from infra.reports.build import Report
from infra.reports.capacity import UNITS
from infra.reports.forecast import Outlook
from infra.reports.i18n import N_, Messages, messages
from infra.reports.kinds import Format, Kind
from infra.reports.labels import RESOURCE_LABELS, flow_summary

__all__ = ["KIND_LABELS", "REASON_LABELS", "Format", "prepare", "problem_text", "render", "to_data"]

TEMPLATES = Path(__file__).parent / "templates"

KIND_LABELS = {
    "department": N_("Provincial department"),
    "commune": N_("Commune or ward"),
    "public_service_unit": N_("Public service unit"),
    "shared_platform": N_("Shared platform"),
    "unknown": N_("Unknown agency"),
}
"""Agency kinds as shown (message ids)."""

REASON_LABELS = {
    Reason.PROVIDER: N_("Hosted by another domestic provider"),
    Reason.SECURITY: N_("Blocked by its security level"),
    Reason.TENANT: N_("Waiting for a tenant"),
    Reason.BLOCKED: N_("Blocked"),
    Reason.WAVE: N_("Scheduled in a migration wave"),
    Reason.UNPLANNED: N_("No plan yet"),
}
"""Why an application is not on the province cloud, as shown (message ids)."""


STATE_LABELS = {
    "requested": N_("requested"),
    "approved": N_("approved"),
    "active": N_("active"),
    "retired": N_("retired"),
    "rejected": N_("rejected"),
}
"""Tenant lifecycle states as shown (message ids)."""


@cache
def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(messages(lang).translations, newstyle=True)  # type: ignore[attr-defined]
    return env


def problem_text(problem: Problem, t: Messages) -> str:
    """A data problem worded as `Problem.__str__` does, in the report's language.

    The reports' own texts are translated; what the site model says (infra.validate, the schema)
    stays English inside the translated wording.
    """
    file = t.text(problem.file)
    where = f"{file}:{problem.line}" if problem.line else file
    message = t.text(problem.message)
    text = f"{where}: {problem.field}: {message}" if problem.field else f"{where}: {message}"
    if not problem.hint:
        return text
    return t.gettext("%(problem)s (fix: %(hint)s)") % {"problem": text, "hint": t.text(problem.hint)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _share(share: Share) -> dict[str, Any]:
    return {
        "total": share.total,
        "province": share.province,
        "domestic": share.domestic,
        "province_share": share.province_share,
        "domestic_share": share.domestic_share,
    }


def _outlook(item: Outlook) -> dict[str, Any]:
    return {
        "pace_per_year": item.pace_per_year,
        "reach": _iso(item.reach),
        "deadline": _iso(item.deadline),
        "on_track": item.on_track,
        "late_by_days": item.late_by_days,
        "at_deadline": item.at_deadline,
    }


def _adoption_data(report: Report) -> dict[str, Any]:
    figures = report.adoption
    series = report.adoption_series
    return {
        "definition": {
            "province": "hosting: cloud and the tenant named is active",
            "domestic": "province cloud plus hosting: provider (another domestic cloud); the §II.3 figure",
        },
        "overall": _share(figures.overall),
        "by_kind": {k: _share(v) for k, v in figures.by_kind.items()},
        "by_agency": {k: _share(v) for k, v in figures.by_agency.items()},
        "by_hosting": dict(figures.by_hosting),
        "by_reason": dict(figures.by_reason),
        "applications": [
            {
                "id": s.id,
                "owner": s.owner,
                "owner_kind": s.owner_kind,
                "security_level": s.security_level,
                "hosting": s.hosting.value,
                "province": s.province,
                "domestic": s.domestic,
                "reason": s.reason.value if s.reason else None,
                "detail": s.detail,
                "wave": s.wave,
            }
            for s in figures.apps
        ],
        "target": {
            "level": 1.0,
            "deadline": _iso(report.deadline),
            "province": _outlook(report.province_outlook),
            "domestic": _outlook(report.domestic_outlook),
        },
        "series": {
            "source": series.source.value,
            "points": [
                {"at": p.at.isoformat(), "province": p.value, "domestic": d.value}
                for p, d in zip(series.province, series.domestic, strict=True)
            ],
        },
    }


def _capacity_data(report: Report) -> dict[str, Any]:
    return {
        "resources": [
            {
                "resource": u.resource.value,
                "unit": UNITS[u.resource],
                "capacity": u.capacity,
                "used": u.used,
                "reserved": u.reserved,
                "free": u.free,
                "pending": u.pending,
                "free_after_pending": u.after_pending,
                "committed_share": u.committed_share,
                "runout": {
                    "exhausted": report.runouts[u.resource].exhausted,
                    "date": _iso(report.runouts[u.resource].date),
                    "pace_per_year": report.runouts[u.resource].pace_per_year,
                    "pending_exceeds_free": report.runouts[u.resource].pending_exceeds,
                },
            }
            for u in report.usages
        ],
        "series": {
            "source": report.demand_series.source.value,
            "points": {
                r.value: [[p.at.isoformat(), p.value] for p in points]
                for r, points in report.demand_series.points.items()
            },
        },
    }


def _site_data(report: Report) -> dict[str, Any]:
    site = report.site
    return {
        "zones": [
            {"name": z.name, "kind": z.kind.value, "vlan": z.vlan, "ipv4": str(z.ipv4), "ipv6": str(z.ipv6)}
            for z in site.zones
        ],
        "flows": [
            {
                "name": f.name,
                "from": f.source,
                "to": f.destination,
                "protocol": f.protocol,
                "ports": [str(p) for p in f.ports],
                "reason": f.reason,
            }
            for f in site.flows
        ],
        "tenants": [
            {
                "code": t.code,
                "agency": t.agency,
                "security_level": t.security_level,
                "state": t.state.value,
                "quota_profile": t.quota_profile,
                "networks": {n.name: [a.value for a in n.access] for n in t.networks},
            }
            for t in site.tenants
        ],
    }


def to_data(report: Report) -> dict[str, Any]:
    """The report's figures for machines (what the JSON format writes)."""
    data: dict[str, Any] = {
        "schema": "hatang.report/1",
        "kind": report.kind.value,
        "site": {"name": report.site.name, "title": report.site.info.title, "title_en": report.site.info.title_en},
        "generated": report.generated.isoformat(),
        "history": {
            "commits": report.history.commits,
            "first": _iso(report.history.first),
            "last": _iso(report.history.last),
            "note": report.history.note,
        },
    }
    if report.kind in (Kind.ADOPTION, Kind.SITE):
        data["adoption"] = _adoption_data(report)
    if report.kind in (Kind.CAPACITY, Kind.SITE):
        data["capacity"] = _capacity_data(report)
    if report.kind == Kind.SITE:
        data["site"].update(_site_data(report))
        if report.compliance is not None:
            c = report.compliance
            data["compliance"] = {
                "source": c.source,
                "recognised": c.recognised,
                "result": c.result,
                "tool": c.tool,
                "targets": dict(c.targets),
                "counts": dict(c.counts),
                "failed": [{"control_id": f.control_id, "hosts": list(f.hosts)} for f in c.failed],
                "unchecked": list(c.unchecked),
            }
    data["problems"] = [str(p) for p in report.problems]
    return data


def _charts(report: Report, t: Messages) -> Mapping[str, str]:
    from infra.reports import charts, diagram  # matplotlib: only for HTML

    kind_labels = {k: t.gettext(v) for k, v in KIND_LABELS.items()}
    out: dict[str, str] = {}
    if report.kind in (Kind.ADOPTION, Kind.SITE):
        out["progress"] = charts.progress_chart(report, t)
        out["hosting"] = charts.hosting_bars(report.adoption, kind_labels, t)
    if report.kind in (Kind.CAPACITY, Kind.SITE):
        out["capacity"] = charts.capacity_gauges(report.usages, t)
        out["demand"] = charts.demand_chart(report, t)
    if report.kind == Kind.SITE:
        out["zones"] = diagram.zone_diagram(report.site, t)
        out["flows"] = diagram.flow_matrix(report.site, t)
    return out


def prepare(fmt: Format | str, lang: str) -> None:
    """Do ahead what rendering `fmt` in `lang` first costs: importing matplotlib (HTML),
    compiling the template and the catalogue, loading the language's number formats.

    `write_report` runs it while the history is read in the worker.
    """
    fmt = Format(fmt)
    if fmt == Format.JSON:
        return
    if fmt == Format.HTML:
        from infra.reports import charts, diagram  # noqa: F401  (imported for later)
    _environment(lang).get_template(f"report.{fmt.value}.j2")
    messages(lang).num(1.5, 1)


def render(report: Report, fmt: Format | str = Format.HTML, lang: str = "vi") -> str:
    """The report as text in `fmt` and `lang`."""
    fmt = Format(fmt)
    if fmt == Format.JSON:
        return json.dumps(to_data(report), ensure_ascii=False, indent=2) + "\n"
    t = messages(lang)
    env = _environment(lang)
    template = env.get_template(f"report.{fmt.value}.j2")
    return template.render(
        r=report,
        t=t,
        lang=lang,
        charts=_charts(report, t) if fmt == Format.HTML else {},
        kind_labels={k: t.gettext(v) for k, v in KIND_LABELS.items()},
        reason_labels={k.value: t.gettext(v) for k, v in REASON_LABELS.items()},
        resource_labels={k: t.gettext(v) for k, v in RESOURCE_LABELS.items()},
        units=UNITS,
        state_labels={k: t.gettext(v) for k, v in STATE_LABELS.items()},
        agencies={a.code: a for a in report.site.agencies},
        flow_summary=flow_summary,
        problem_text=lambda problem: problem_text(problem, t),
        Kind=Kind,
    )
