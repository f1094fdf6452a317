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
from infra.catalogue import Control, Reference, Scope, Status

__all__ = [
    "COVERAGE_CATEGORIES",
    "LANGUAGES",
    "coverage",
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


COVERAGE_CATEGORIES = (
    "checked",
    "not_checkable",
    "waived",
    "not_automated",
    "not_applicable",
    "error",
    "other_audit",
)
"""What became of each control of the profile: checked (passed or failed), not checkable here
(why), waived (why, by whom, until when), not automated by the catalogue (a person establishes
it), not applicable, broken or not run (error), or checked by the other audit (host / cloud)."""

_CATEGORY = {
    Outcome.PASS: "checked",
    Outcome.FAIL: "checked",
    Outcome.NOT_CHECKABLE: "not_checkable",
    Outcome.WAIVED: "waived",
    Outcome.MANUAL: "not_automated",
    Outcome.NOT_APPLICABLE: "not_applicable",
    Outcome.ERROR: "error",
}
_OTHER_AUDIT = {Scope.HOST: "hatang audit hosts", Scope.CLOUD: "hatang audit cloud"}


def _entry(control: Control, hosts: list[str], why: str, cr: ControlResult | None = None) -> dict[str, Any]:
    waiver = cr.waiver if cr is not None else None
    return {
        "control": control.id,
        "hosts": sorted(hosts),
        "why": why,
        "approved_by": waiver.approved_by if waiver else None,
        "until": waiver.until.isoformat() if waiver and waiver.until else None,
    }


def _why(category: str, control: Control, results: list[ControlResult]) -> str:
    if category == "waived":
        return next((r.waiver.justification for r in results if r.waiver), "")
    if category in {"not_automated", "not_applicable"}:
        return control.notes or ""
    if category == "checked":
        return control.notes if control.status is Status.PARTIAL and control.notes else ""
    outcomes = {r.outcome for r in results}
    messages = [k.message for r in results for k in r.checks if k.outcome in outcomes and k.message]
    return "; ".join(dict.fromkeys(messages))


def coverage(result: AuditResult) -> dict[str, Any]:
    """What the audit covers, per level of the profile's regime: for each category of
    `COVERAGE_CATEGORIES`, the controls in it with the hosts concerned and why.

    A control with different fates on different hosts (checked on one, not checkable on another)
    is listed under each, with its hosts. Controls of the profile outside this audit's scope are
    `other_audit`, naming the command that checks them.
    """
    audited = Scope.CLOUD if result.scope == "cloud" else Scope.HOST
    per_control: dict[str, list[tuple[str, ControlResult]]] = {}
    for h in result.hosts:
        for c in h.controls:
            per_control.setdefault(c.control.id, []).append((h.name, c))
    errors = "; ".join(f"{h.name}: {h.error}" for h in result.hosts if h.error) or "no host was audited"
    levels: dict[int, dict[str, list[dict[str, Any]]]] = {
        level: {cat: [] for cat in COVERAGE_CATEGORIES} for level in range(1, result.profile.level + 1)
    }
    for control in result.profile.controls:
        cats = levels.setdefault(control.level, {cat: [] for cat in COVERAGE_CATEGORIES})
        if control.scope is not audited:
            cats["other_audit"].append(_entry(control, [], _OTHER_AUDIT[control.scope]))
            continue
        ran = per_control.get(control.id, [])
        if not ran:
            if control.status is Status.MANUAL:
                cats["not_automated"].append(_entry(control, [], control.notes or ""))
            elif control.status is Status.NOT_APPLICABLE:
                cats["not_applicable"].append(_entry(control, [], control.notes or ""))
            else:
                cats["error"].append(_entry(control, [], f"not run: {errors}"))
            continue
        grouped: dict[str, list[tuple[str, ControlResult]]] = {}
        for host, cr in ran:
            grouped.setdefault(_CATEGORY[cr.outcome], []).append((host, cr))
        for cat in COVERAGE_CATEGORIES:
            if cat in grouped:
                rows = grouped[cat]
                why = _why(cat, control, [cr for _, cr in rows])
                cats[cat].append(_entry(control, [h for h, _ in rows], why, rows[0][1]))
    return {
        "regime": result.profile.regime,
        "level": result.profile.level,
        "scope": audited.value,
        "totals": {cat: sum(len(v[cat]) for v in levels.values()) for cat in COVERAGE_CATEGORIES},
        "levels": [{"level": level, **levels[level]} for level in sorted(levels)],
    }


def _cited(ref: Reference, lang: str) -> Markup:
    """What a reference cites, in `lang`: the clause with its level and the clause record's title
    when known; or, for a null clause, why none is cited (its gap and note), else "not identified"."""
    t = _translator(lang)
    if ref.clause is None:
        if ref.gap is None:
            return escape(t("clause_unknown"))
        gap = Markup('<span class="gap">{0}</span>').format(t("gap_" + ref.gap.replace("-", "_")))
        return gap if ref.note is None else Markup("{0} — {1}").format(gap, ref.note)
    clause = ref.clause
    if lang == "vi":
        clause = clause.replace("Art. ", "Điều ").replace("App. ", "Phụ lục ").replace("Annex ", "Phụ lục ")
    cited = escape(clause)
    if ref.level is not None:
        cited += Markup(" ({0} {1})").format(t("clause_level"), ref.level)
    if ref.title is not None:
        cited += Markup(" — {0}").format(ref.title)
    return cited


def _junit_ref(ref: Reference) -> str:
    """A reference as a JUnit property value: the clause, `gap:<gap>`, or `null`."""
    if ref.clause is not None:
        return ref.clause
    return f"gap:{ref.gap}" if ref.gap is not None else "null"


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
        return Markup('{0}: {1} <span class="{2}">({3})</span>').format(
            title, _cited(ref, lang), ref.status, t(ref.status)
        )

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
        coverage=coverage(result),
        categories=COVERAGE_CATEGORIES,
        controls=_by_control(result),
        other_file=other_file,
    )


def render_junit(result: AuditResult) -> str:
    """JUnit XML: a test suite per host, a test case per (control, check).

    What was not checked (not checkable, manual, waived) is a skipped case whose message starts
    with "not checked"; each suite's properties carry its host's verdict, the audit's verdict and
    the controls not checked. Each case's properties carry its control's references: `ref.<type>`
    is the clause, `gap:<gap>` when the catalogue says why none is cited, or `null`; a clause whose
    level is known is followed by `ref.<type>.level`. A last, empty suite named "coverage" carries
    what the audit covers: the regime, the level and `coverage.<category>`, the control ids per
    category of `COVERAGE_CATEGORIES`."""
    verdict = result.verdict
    covered = coverage(result)
    covered_ids = {
        cat: ",".join(sorted({e["control"] for level in covered["levels"] for e in level[cat]}))
        for cat in COVERAGE_CATEGORIES
    }
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
                    ET.SubElement(props, "property", name=f"ref.{ref.type}", value=_junit_ref(ref))
                    if ref.level is not None:
                        ET.SubElement(props, "property", name=f"ref.{ref.type}.level", value=str(ref.level))
        for key, value in counts.items():
            suite.set(key, str(value))
    coverage_suite = ET.SubElement(
        suites, "testsuite", name="coverage", timestamp=result.started, tests="0", failures="0", errors="0", skipped="0"
    )
    coverage_props = ET.SubElement(coverage_suite, "properties")
    for prop, text in (
        ("regime", covered["regime"]),
        ("level", str(covered["level"])),
        *((f"coverage.{cat}", covered_ids[cat]) for cat in COVERAGE_CATEGORIES),
    ):
        ET.SubElement(coverage_props, "property", name=prop, value=text)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_reports(result: AuditResult, out: Path) -> dict[str, Path]:
    """Write evidence.json (with the `coverage` of the audit), junit.xml, report.vi.html and
    report.en.html into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "evidence.json",
        "junit": out / "junit.xml",
        "html_vi": out / "report.vi.html",
        "html_en": out / "report.en.html",
    }
    evidence = {**result.to_dict(), "coverage": coverage(result)}
    _yaml.write_atomic(paths["json"], json.dumps(evidence, ensure_ascii=False, indent=2) + "\n")
    _yaml.write_atomic(paths["junit"], render_junit(result))
    _yaml.write_atomic(paths["html_vi"], render_html(result, "vi", "report.en.html"))
    _yaml.write_atomic(paths["html_en"], render_html(result, "en", "report.vi.html"))
    for path in paths.values():
        path.chmod(0o644)  # evidence is for the auditors to read
    return paths
