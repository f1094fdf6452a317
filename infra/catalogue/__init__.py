"""The control catalogue: controls, profiles and references as data, shipped with the package.

`load_catalogue()` reads `policy.yml`, `instruments.yml` and `controls/*.yml` next to this
module (or another folder, for tests), checks every file and every cross-reference, resolves every
citation of the project's record (`docs/standards.md`: the file, the anchor, the recorded clauses;
see `_sources.py`) and the clause records shipped beside it (`clauses/*.yml`), and returns a
frozen `Catalogue`. `Catalogue.profile(id)` resolves a profile
with its inheritance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from infra import _yaml
from infra.catalogue._models import (
    ClauseDoc,
    ClauseFile,
    ControlDoc,
    ControlsFile,
    InstrumentsFile,
    PolicyFile,
    ProfileDoc,
    Scope,
    Status,
    WaiversFile,
)
from infra.catalogue._references import VALIDATORS, check_clause, entry_of
from infra.catalogue._sources import SOURCES_DIR, Record
from infra.catalogue._violations_host import (
    HOST_VIOLATIONS_DIR,
    MIN_HOST_VARIANTS,
    HostVariant,
    HostViolations,
    HostViolationsError,
    load_host_violations,
    plan_rounds,
)
from infra.errors import HatangError, Problem

__all__ = [
    "CATALOGUE_DIR",
    "HOST_VIOLATIONS_DIR",
    "MIN_HOST_VARIANTS",
    "SOURCES_DIR",
    "Catalogue",
    "CatalogueError",
    "Clause",
    "Control",
    "HostVariant",
    "HostViolations",
    "HostViolationsError",
    "Instrument",
    "Profile",
    "Reference",
    "Scope",
    "Status",
    "UnknownProfileError",
    "Waiver",
    "WaiverError",
    "load_catalogue",
    "load_host_violations",
    "load_waivers",
    "plan_rounds",
]

CATALOGUE_DIR = Path(__file__).parent
"""The catalogue shipped with the package."""

M = TypeVar("M", bound=BaseModel)


class CatalogueError(HatangError):
    """The catalogue files are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownProfileError(HatangError):
    """A profile id that the catalogue does not define."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown profile {name!r}; known profiles: {', '.join(sorted(known))}")


class WaiverError(CatalogueError):
    """The waivers file is invalid or names controls the catalogue does not have."""


@dataclass(frozen=True)
class Instrument:
    """A standard or legal instrument controls refer to."""

    type: str
    title: str
    title_vi: str
    regime: str
    status: str
    source: str
    clauses: str | None = None
    clause_file: str | None = None
    require_mapping: bool = False


@dataclass(frozen=True)
class Clause:
    """A clause the catalogue may cite, from a clause record (`clauses/<type>.yml`)."""

    id: str
    title: str
    levels: tuple[int, ...]
    read_in: str


@dataclass(frozen=True)
class Reference:
    """One citation: instrument, clause (None when unknown), and how sure we are of it.

    `level` is the security level whose section holds the clause, `title` the clause record's own
    short description of it; a null clause may carry a `gap` saying why no clause is cited
    (`not-read`: its number was not read in the instrument's text; `not-covered`: no clause
    requires it) and a `note`.
    """

    type: str
    clause: str | None
    status: str
    source: str
    level: int | None = None
    title: str | None = None
    gap: str | None = None
    note: str | None = None

    def to_dict(self, *, mapping: bool = False) -> dict[str, str | int | None]:
        """The citation as evidence; `mapping=True` adds the clause's level, title, gap and note."""
        data: dict[str, str | int | None] = {
            "type": self.type,
            "clause": self.clause,
            "status": self.status,
            "source": self.source,
        }
        if mapping:
            data.update(level=self.level, title=self.title, gap=self.gap, note=self.note)
        return data


@dataclass(frozen=True)
class Control:
    """One control of the catalogue, as the runner and the report use it."""

    id: str
    title_en: str
    title_vi: str
    rationale_en: str
    rationale_vi: str
    scope: Scope
    level: int
    regimes: tuple[str, ...]
    status: Status
    checks: tuple[str, ...]
    implemented_by: tuple[str, ...]
    parameters: Mapping[str, Any]
    notes: str | None
    references: tuple[Reference, ...]

    @property
    def applies_to(self) -> tuple[int, ...]:
        """Security levels that require the control (its level and every higher one)."""
        return tuple(range(self.level, 6))


@dataclass(frozen=True)
class Profile:
    """A regime and level, resolved: every control it selects, inherited ones included."""

    id: str
    regime: str
    level: int
    title_en: str
    title_vi: str
    inherits_from: str | None
    references: tuple[Reference, ...]
    controls: tuple[Control, ...]

    def controls_in(self, scope: Scope) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.scope is scope)


@dataclass(frozen=True)
class Waiver:
    """A control the site does not run (or runs but accepts), why, who accepted it, until when."""

    control_id: str
    run: bool
    justification: str
    approved_by: str | None = None
    until: date | None = None


@dataclass(frozen=True)
class Catalogue:
    """Every control, instrument and profile; read-only."""

    version: str
    controls: tuple[Control, ...]
    instruments: Mapping[str, Instrument]
    _policy: PolicyFile = field(repr=False)
    _clauses: Mapping[str, Mapping[str, Clause]] = field(default_factory=dict, repr=False)

    def clauses(self, kind: str) -> tuple[Clause, ...]:
        """The clauses the catalogue records for reference type `kind` (empty without a clause file)."""
        return tuple(self._clauses.get(kind, {}).values())

    @property
    def profile_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self._policy.profiles)

    def control(self, control_id: str) -> Control:
        return next(c for c in self.controls if c.id == control_id)

    def control_of_check(self, check_id: str) -> Control | None:
        return next((c for c in self.controls if check_id in c.checks), None)

    def profile(self, profile_id: str) -> Profile:
        """Resolve a profile: its own controls plus those of the chain it inherits from.

        Raises:
            UnknownProfileError: no profile has this id.
        """
        docs = {p.id: p for p in self._policy.profiles}
        if profile_id not in docs:
            raise UnknownProfileError(profile_id, list(docs))
        doc = docs[profile_id]
        levels: set[int] = set()
        cursor: ProfileDoc | None = doc
        while cursor is not None:
            levels.add(cursor.level)
            cursor = docs[cursor.inherits_from] if cursor.inherits_from else None
        selected = tuple(c for c in self.controls if c.level in levels and doc.regime in c.regimes)
        return Profile(
            id=doc.id,
            regime=doc.regime,
            level=doc.level,
            title_en=doc.title.en,
            title_vi=doc.title.vi,
            inherits_from=doc.inherits_from,
            references=self._references(doc.references),
            controls=selected,
        )

    def _references(self, refs: References) -> tuple[Reference, ...]:
        return _references(refs, self.instruments, self._clauses)


References = Mapping[str, tuple[Any, ...]]
"""Reference type -> entries as parsed (clause id, None, or a ClauseRefDoc)."""


def _references(
    refs: References, instruments: Mapping[str, Instrument], clauses: Mapping[str, Mapping[str, Clause]]
) -> tuple[Reference, ...]:
    found: list[Reference] = []
    for kind, items in refs.items():
        for item in items:
            entry = entry_of(item)
            record = clauses.get(kind, {}).get(entry.clause or "")
            level = entry.level
            if level is None and record is not None and len(record.levels) == 1:
                level = record.levels[0]
            found.append(
                Reference(
                    kind,
                    entry.clause,
                    instruments[kind].status,
                    instruments[kind].source,
                    level=level,
                    title=record.title if record else None,
                    gap=entry.gap,
                    note=entry.note,
                )
            )
    return tuple(found)


# --------------------------------------------------------------------------- loading


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.documents: dict[str, Any] = {}
        self.recorded: dict[str, tuple[str, frozenset[str]]] = {}
        """Reference type -> (clauses section, the clause numbers recorded there)."""
        self.clause_files: dict[str, tuple[str, dict[str, ClauseDoc]]] = {}
        """Reference type -> (clause file, clause id -> its record), from `clauses/*.yml`."""
        self.sources_checked = False
        """The citations are resolved against a project (not in an installed wheel)."""

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def read(self, path: Path, model: type[M]) -> M | None:
        name = self.rel(path)
        try:
            document = _yaml.load(path)
        except FileNotFoundError:
            self.problems.append(Problem(name, "", "file not found"))
            return None
        except _yaml.YamlSyntaxError as exc:
            self.problems.append(Problem(name, "", f"YAML syntax error: {exc}", line=exc.line))
            return None
        self.documents[name] = document
        try:
            return model.model_validate(_yaml.plain(document))
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                self.problems.append(
                    Problem(
                        name,
                        ".".join(str(p) for p in loc),
                        error["msg"],
                        line=_yaml.line_of(document, loc),
                    )
                )
            return None

    def problem(self, file: str, loc: tuple[int | str, ...], message: str, hint: str = "") -> None:
        line = _yaml.line_of(self.documents.get(file), loc)
        self.problems.append(Problem(file, ".".join(str(p) for p in loc), message, hint, line=line))

    def check_refs(
        self,
        file: str,
        loc: tuple[int | str, ...],
        refs: References,
        instruments: Mapping[str, Instrument],
        *,
        control: str | None = None,
        level: int | None = None,
    ) -> None:
        """Every entry is of a known type, well formed, and recorded.

        `control` names the citing control and `level` is its lowest level: a recorded clause must
        apply to that level or a higher one.
        """
        who = f"control {control}: " if control else ""
        for kind, items in refs.items():
            if kind not in instruments:
                known = ", ".join(sorted(instruments))
                self.problem(file, (*loc, kind), f"{who}unknown reference type {kind!r}; known: {known}")
                continue
            for index, item in enumerate(items):
                entry = entry_of(item)
                clause, where = entry.clause, (*loc, kind, index)
                why = check_clause(kind, clause)
                if why:
                    self.problem(file, where, f"{who}{clause!r}: {why}")
                elif clause is None:
                    if control and instruments[kind].require_mapping and not entry.explicit:
                        self.problem(
                            file,
                            where,
                            f"{who}a null {kind} clause must say why no clause is cited",
                            "write {clause: ~, gap: not-read} (the clause number was not read in the text) or "
                            "{clause: ~, gap: not-covered} (no clause of the instrument requires it)",
                        )
                elif kind in self.clause_files:
                    self._check_recorded_clause(file, where, who, kind, clause, entry.level, level)
                elif not self.sources_checked:
                    continue
                elif kind not in self.recorded:
                    if instruments[kind].regime != "international" and instruments[kind].clauses is None:
                        self.problem(
                            file,
                            where,
                            f"{who}{clause!r}: {kind} has no record of the clauses it may cite",
                            f"add 'clauses: docs/standards.md#{kind}-clauses' to instruments.yml with a table of "
                            "the clauses read in its text, or cite ~",
                        )
                else:
                    section, recorded = self.recorded[kind]
                    if clause not in recorded:
                        self.problem(
                            file,
                            where,
                            f"{who}{clause!r} is not among the clauses of {kind} recorded in {section}",
                            "read the clause in the instrument's text and add it to that table first, or cite ~",
                        )

    def _check_recorded_clause(
        self,
        file: str,
        where: tuple[int | str, ...],
        who: str,
        kind: str,
        clause: str,
        level: int | None,
        lowest: int | None,
    ) -> None:
        record, clauses = self.clause_files[kind]
        doc = clauses.get(clause)
        if doc is None:
            self.problem(
                file,
                where,
                f"{who}{clause!r} is not among the clauses of {kind} recorded in {record}",
                f"read the clause in the instrument's text and add it to {record} first, or write "
                "{clause: ~, gap: not-read}",
            )
        elif level is not None and level not in doc.levels:
            levels = ", ".join(str(n) for n in doc.levels)
            self.problem(
                file,
                (*where, "level"),
                f"{who}{kind} {clause} belongs to level {levels}, not level {level}",
                f"cite the clause of level {level}'s section, or correct the level",
            )
        elif lowest is not None and max(doc.levels) < lowest:
            levels = ", ".join(str(n) for n in doc.levels)
            self.problem(
                file,
                where,
                f"{who}{kind} {clause} applies to level {levels}, below the control's level {lowest}",
                f"cite the clause of the section for level {lowest} or above, or correct the control's level",
            )

    def check_mapped(
        self, file: str, loc: tuple[int | str, ...], doc: ControlDoc, instruments: Mapping[str, Instrument]
    ) -> None:
        """A control cites every instrument that requires a mapping (a clause, or a gap saying why not)."""
        for kind, instrument in sorted(instruments.items()):
            if instrument.require_mapping and kind not in doc.references:
                self.problem(
                    file,
                    (*loc, "references"),
                    f"control {doc.id}: no {kind} mapping",
                    f"add '{kind}: [{{clause: <number>}}]' or '{kind}: [{{clause: ~, gap: not-read}}]'",
                )

    def read_clause_file(self, kind: str, name: str, record: Record | None) -> None:
        """Read `clauses/<type>.yml`: its clauses become the only ones `kind` may cite."""
        parsed = self.read(self.root / name, ClauseFile)
        if parsed is None:
            return
        if parsed.instrument != kind:
            self.problem(name, ("instrument",), f"holds the clauses of {parsed.instrument!r}, not of {kind!r}")
        clauses: dict[str, ClauseDoc] = {}
        for index, doc in enumerate(parsed.clauses):
            loc: tuple[int | str, ...] = ("clauses", index)
            why = check_clause(kind, doc.id)
            if why:
                self.problem(name, (*loc, "id"), f"{doc.id!r}: {why}")
            if doc.id in clauses:
                self.problem(name, (*loc, "id"), f"duplicate clause {doc.id}")
            if doc.read_in not in parsed.copies:
                known = ", ".join(sorted(parsed.copies))
                self.problem(name, (*loc, "read_in"), f"unknown copy {doc.read_in!r}; known: {known}")
            clauses[doc.id] = doc
        if record is not None:
            wrong = record.check(parsed.source, anchor_required=True)
            if wrong:
                self.problem(name, ("source",), *wrong)
        self.clause_files[kind] = (name, clauses)


def load_catalogue(root: Path | str = CATALOGUE_DIR, *, sources: Path | None = SOURCES_DIR) -> Catalogue:
    """Read and check the catalogue in `root` (the packaged one is read once per process).

    Args:
        root: the catalogue folder.
        sources: the project root the catalogue's `source` citations are resolved against (the
            source checkout by default); None skips that check (an installed wheel has no docs).

    Raises:
        CatalogueError: with every problem found (schema, unknown reference types, malformed
            clauses, duplicate ids or check ids, broken profile inheritance, a citation of a
            file or section the project does not have, a clause missing from its record).
    """
    root = Path(root)
    if root == CATALOGUE_DIR and sources == SOURCES_DIR:
        return _packaged()
    return _load(root, sources)


@cache
def _packaged() -> Catalogue:
    return _load(CATALOGUE_DIR, SOURCES_DIR)


def _load(root: Path, sources: Path | None) -> Catalogue:
    reader = _Reader(root)
    record = Record(sources) if sources is not None else None
    reader.sources_checked = record is not None
    policy = reader.read(root / "policy.yml", PolicyFile)
    instruments_file = reader.read(root / "instruments.yml", InstrumentsFile)
    files = sorted((root / "controls").glob("*.yml"))
    if not files:
        reader.problems.append(Problem("controls/", "", "no control files (controls/*.yml)"))
    docs: list[tuple[str, int, ControlDoc]] = []
    for path in files:
        parsed = reader.read(path, ControlsFile)
        if parsed is not None:
            docs.extend((reader.rel(path), i, c) for i, c in enumerate(parsed.controls))
    instruments: dict[str, Instrument] = {}
    if instruments_file is not None:
        for kind, item in instruments_file.instruments.items():
            if kind not in VALIDATORS:
                reader.problem(
                    "instruments.yml",
                    ("instruments", kind),
                    f"reference type {kind!r} has no validator in _references.py",
                )
            instruments[kind] = Instrument(
                kind,
                item.title,
                item.title_vi,
                item.regime,
                item.status.value,
                item.source,
                item.clauses,
                item.clause_file,
                item.require_mapping,
            )
            if record is not None:
                _check_sources(reader, record, kind, item.source, item.clauses)
            if item.clause_file is not None:
                reader.read_clause_file(kind, item.clause_file, record)
    seen_ids: dict[str, str] = {}
    seen_checks: dict[str, str] = {}
    for file, index, doc in docs:
        loc: tuple[int | str, ...] = ("controls", index)
        if doc.id in seen_ids:
            reader.problem(file, (*loc, "id"), f"duplicate control id {doc.id} (also in {seen_ids[doc.id]})")
        seen_ids[doc.id] = file
        for check in doc.checks:
            if check in seen_checks:
                reader.problem(file, (*loc, "checks"), f"check {check} already verifies {seen_checks[check]}")
            seen_checks[check] = doc.id
        reader.check_refs(file, (*loc, "references"), doc.references, instruments, control=doc.id, level=doc.level)
        reader.check_mapped(file, loc, doc, instruments)
    if policy is not None and record is not None:
        wrong = record.check(policy.source, anchor_required=False)
        if wrong:
            reader.problem("policy.yml", ("source",), *wrong)
    if policy is not None:
        _check_profiles(reader, policy, instruments)
    if reader.problems:
        raise CatalogueError(reader.problems)
    assert policy is not None  # for mypy: no problems means every file parsed
    clauses = {
        kind: {cid: Clause(d.id, d.title, d.levels, d.read_in) for cid, d in recorded.items()}
        for kind, (_, recorded) in reader.clause_files.items()
    }
    controls = tuple(_control(doc, instruments, clauses) for _, _, doc in docs)
    return Catalogue(policy.version, controls, instruments, policy, clauses)


def _check_sources(reader: _Reader, record: Record, kind: str, source: str, clauses: str | None) -> None:
    """The instrument's source and clauses sections exist; remember the clauses it may cite."""
    wrong = record.check(source, anchor_required=True)
    if wrong:
        reader.problem("instruments.yml", ("instruments", kind, "source"), *wrong)
    if clauses is None:
        return
    wrong = record.check(clauses, anchor_required=True)
    recorded = record.clauses(clauses)
    if wrong:
        reader.problem("instruments.yml", ("instruments", kind, "clauses"), *wrong)
    elif not recorded:
        reader.problem(
            "instruments.yml",
            ("instruments", kind, "clauses"),
            f"{clauses} lists no clauses",
            "put a table right after the anchor, one clause number per row in its first column",
        )
    else:
        reader.recorded[kind] = (clauses, recorded)


def _check_profiles(reader: _Reader, policy: PolicyFile, instruments: Mapping[str, Instrument]) -> None:
    ids = {p.id: p for p in policy.profiles}
    for index, profile in enumerate(policy.profiles):
        loc: tuple[int | str, ...] = ("profiles", index)
        below = f"{profile.regime}-level{profile.level - 1}"
        if profile.id != f"{profile.regime}-level{profile.level}":
            reader.problem(
                "policy.yml",
                (*loc, "id"),
                f"id must be '{profile.regime}-level{profile.level}' (regime-level)",
            )
        if profile.regime not in policy.regimes:
            reader.problem(
                "policy.yml",
                (*loc, "regime"),
                f"unknown regime {profile.regime!r}; known: {', '.join(sorted(policy.regimes))}",
            )
        parent = ids.get(profile.inherits_from) if profile.inherits_from else None
        if profile.inherits_from and parent is None:
            reader.problem("policy.yml", (*loc, "inherits_from"), f"unknown profile {profile.inherits_from!r}")
        elif parent is not None and (parent.regime != profile.regime or parent.level != profile.level - 1):
            reader.problem(
                "policy.yml",
                (*loc, "inherits_from"),
                f"must be the level below in the same regime: {below}",
            )
        elif parent is None and profile.level > 1:
            reader.problem(
                "policy.yml",
                (*loc, "inherits_from"),
                f"level {profile.level} must inherit from {below}",
            )
        reader.check_refs("policy.yml", (*loc, "references"), profile.references, instruments)


def _control(
    doc: ControlDoc, instruments: Mapping[str, Instrument], clauses: Mapping[str, Mapping[str, Clause]]
) -> Control:
    return Control(
        id=doc.id,
        title_en=doc.title.en,
        title_vi=doc.title.vi,
        rationale_en=doc.rationale.en,
        rationale_vi=doc.rationale.vi,
        scope=doc.scope,
        level=doc.level,
        regimes=doc.regimes,
        status=doc.status,
        checks=doc.checks,
        implemented_by=doc.implemented_by,
        parameters=doc.parameters,
        notes=doc.notes,
        references=_references(doc.references, instruments, clauses),
    )


def load_waivers(path: Path | str, catalogue: Catalogue, *, today: date | None = None) -> dict[str, Waiver]:
    """Read a waivers file (`waivers: {CONTROL: {run: false, justification: …, approved_by: …, until: …}}`).

    Args:
        path: the waivers file.
        catalogue: the controls it may name.
        today: the audit's date (default: today); a waiver whose `until` is before it is refused.

    Raises:
        WaiverError: the file is invalid, names a control the catalogue does not have, or holds
            an expired waiver.
    """
    today = today or date.today()
    path = Path(path)
    reader = _Reader(path.parent)
    parsed = reader.read(path, WaiversFile)
    name = reader.rel(path)
    known = {c.id for c in catalogue.controls}
    if parsed is not None:
        for control_id in parsed.waivers:
            if control_id not in known:
                reader.problem(name, ("waivers", control_id), f"unknown control {control_id}")
        for control_id, doc in parsed.waivers.items():
            if doc.until is not None and doc.until < today:
                reader.problem(
                    name,
                    ("waivers", control_id, "until"),
                    f"waiver expired on {doc.until.isoformat()} (audit date {today.isoformat()})",
                    "renew it (a new approval and date) or remove it so the control runs",
                )
    if reader.problems or parsed is None:
        raise WaiverError(reader.problems)
    return {
        cid: Waiver(cid, doc.run, doc.justification, doc.approved_by, doc.until) for cid, doc in parsed.waivers.items()
    }
