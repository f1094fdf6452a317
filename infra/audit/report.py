"""Evidence of an audit: JSON (per host, per control, per check), JUnit XML, and a
self-contained HTML report in Vietnamese and English rendered from one template and one
message catalogue (`messages.yml`)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from infra import _yaml
from infra.audit._model import UNCHECKED, AuditResult, ControlResult, Outcome, Verdict
from infra.catalogue import Control, Reference

__all__ = [
    "LANGUAGES",
    "messages",
    "render_html",
    "render_junit",
    "verdict_label",
    "write_reports",
]

LANGUAGES = ("vi", "en")
_HERE = Path(__file__).parent
_OUTCOMES = [o.value for o in Outcome]


@cache
def messages() -> dict[str, dict[str, str]]:
    """The report's message catalogue: key -> {language: text}."""
    data = _yaml.load(_HERE / "messages.yml")["messages"]
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in data.items()}


def _translator(lang: str) -> Callable[[str], str]:
    catalogue = messages()

    def t(key: str) -> str:
        try:
            return catalogue[key][lang]
        except KeyError:
            raise KeyError(f"messages.yml: no {lang!r} text for {key!r}") from None

    return t


def verdict_label(verdict: Verdict, lang: str) -> str:
    """The verdict in words, from the message catalogue (also what the terminal prints)."""
    return _translator(lang)(f"verdict_{verdict.value}")


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


def _unchecked(result: AuditResult) -> list[tuple[str, str, str, str]]:
    """(host, control, outcome, why) for everything that did not end in pass or fail."""
    rows = []
    for h in result.hosts:
        if h.error:
            rows.append((h.name, "—", Outcome.ERROR.value, h.error))
        for c in h.controls:
            if c.outcome in {Outcome.PASS, Outcome.FAIL}:
                continue
            if c.waiver is not None:
                why = c.waiver.justification
            elif c.checks:
                why = "; ".join(f"{k.check_id}: {k.message}" for k in c.checks if k.outcome is c.outcome)
            else:
                why = c.control.notes or ""
            rows.append((h.name, c.control.id, c.outcome.value, why))
    return rows


def _by_control(result: AuditResult) -> list[dict[str, Any]]:
    order: dict[str, Control] = {c.id: c for c in result.profile.controls}
    grouped: dict[str, list[tuple[str, ControlResult]]] = {cid: [] for cid in order}
    for h in result.hosts:
        for c in h.controls:
            grouped.setdefault(c.control.id, []).append((h.name, c))
    return [
        {"control": order[cid], "results": rows}
        for cid, rows in grouped.items()
        if cid in order and (rows or not result.hosts)
    ]


def render_html(result: AuditResult, lang: str, other_file: str = "") -> str:
    """The report in one language (`vi` or `en`), CSS inline, no external resources."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    t = _translator(lang)
    instruments = result.instruments

    def badge(outcome: str) -> Markup:
        return Markup('<span class="badge {0}">{1}</span>').format(outcome, t(outcome))

    def verdict_badge(verdict: Verdict) -> Markup:
        return Markup('<span class="badge verdict-{0}">{1}</span>').format(verdict.value, verdict_label(verdict, lang))

    def reference(ref: Reference) -> Markup:
        inst = instruments.get(ref.type)
        title = (inst.title_vi if lang == "vi" else inst.title) if inst else ref.type
        clause = ref.clause or t("clause_unknown")
        if lang == "vi" and ref.clause:
            clause = clause.replace("Art. ", "Điều ").replace("App. ", "Phụ lục ").replace("Annex ", "Phụ lục ")
        return Markup('{0}: {1} <span class="{2}">({3})</span>').format(title, clause, ref.status, t(ref.status))

    template = env.get_template("report.html.j2")
    return template.render(
        r=result,
        lang=lang,
        t=t,
        badge=badge,
        verdict_badge=verdict_badge,
        verdict=result.verdict_dict(),
        reference=reference,
        show=lambda v: escape(_show(v)),
        outcomes=_OUTCOMES,
        unchecked=_unchecked(result),
        controls=_by_control(result),
        other_file=other_file,
    )


def render_junit(result: AuditResult) -> str:
    """JUnit XML: a test suite per host, a test case per (control, check).

    What was not checked (not checkable, manual, waived) is a skipped case whose message starts
    with "not checked"; each suite's properties carry its host's verdict, the audit's verdict and
    the controls not checked."""
    verdict = result.verdict
    suites = ET.Element("testsuites", name=f"hatang audit {result.site} {result.profile.id}")
    for h in result.hosts:
        suite = ET.SubElement(suites, "testsuite", name=h.name, timestamp=result.started)
        unchecked = h.unchecked_controls()
        suite_props = ET.SubElement(suite, "properties")
        for prop, text in (
            ("verdict", h.verdict.value),
            ("audit.verdict", verdict.value),
            ("audit.exit_code", str(result.exit_code)),
            ("unchecked", str(len(unchecked))),
            ("unchecked.controls", ",".join(unchecked)),
        ):
            ET.SubElement(suite_props, "property", name=prop, value=text)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if h.error:
            case = ET.SubElement(suite, "testcase", classname=f"{h.name}", name="connection")
            ET.SubElement(case, "error", message=h.error.splitlines()[0]).text = h.error
            counts["tests"] += 1
            counts["errors"] += 1
        for c in h.controls:
            checks = c.checks or (None,)
            for k in checks:
                name = f"{c.control.id} {k.check_id}" if k else c.control.id
                case = ET.SubElement(
                    suite, "testcase", classname=f"{h.name}.level{c.control.level}", name=name,
                    time=f"{k.duration:.3f}" if k else "0",
                )  # fmt: skip
                outcome = k.outcome if k else c.outcome
                counts["tests"] += 1
                detail = json.dumps(
                    {"observed": k.observed, "expected": k.expected} if k else {},
                    ensure_ascii=False,
                )
                if outcome is Outcome.FAIL:
                    counts["failures"] += 1
                    ET.SubElement(case, "failure", message=k.message if k else "").text = detail
                elif outcome is Outcome.ERROR:
                    counts["errors"] += 1
                    ET.SubElement(case, "error", message=k.message if k else "").text = detail
                elif outcome is not Outcome.PASS:
                    counts["skipped"] += 1
                    why = (c.waiver.justification if c.waiver else (k.message if k else c.control.notes)) or ""
                    what = f"not checked ({outcome.value})" if outcome in UNCHECKED else outcome.value
                    ET.SubElement(case, "skipped", message=f"{what}: {why}")
                props = ET.SubElement(case, "properties")
                for ref in c.control.references:
                    ET.SubElement(props, "property", name=f"ref.{ref.type}", value=ref.clause or "null")
        for key, value in counts.items():
            suite.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_reports(result: AuditResult, out: Path) -> dict[str, Path]:
    """Write evidence.json, junit.xml, report.vi.html and report.en.html into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "evidence.json",
        "junit": out / "junit.xml",
        "html_vi": out / "report.vi.html",
        "html_en": out / "report.en.html",
    }
    _yaml.write_atomic(paths["json"], json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    _yaml.write_atomic(paths["junit"], render_junit(result))
    _yaml.write_atomic(paths["html_vi"], render_html(result, "vi", "report.en.html"))
    _yaml.write_atomic(paths["html_en"], render_html(result, "en", "report.vi.html"))
    for path in paths.values():
        path.chmod(0o644)  # evidence is for the auditors to read
    return paths
