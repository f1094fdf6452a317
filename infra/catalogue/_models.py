"""Pydantic models of the catalogue files: the boundary where the YAML becomes typed data."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from infra.catalogue._sources import SOURCES_DIR

__all__ = [
    "CONTROL_ID_PATTERN",
    "CheckId",
    "ClauseDoc",
    "ClauseFile",
    "ClauseRefDoc",
    "ControlDoc",
    "ControlsFile",
    "Gap",
    "InstrumentDoc",
    "InstrumentsFile",
    "LocalText",
    "PolicyFile",
    "ProfileDoc",
    "Scope",
    "Status",
    "WaiverDoc",
    "WaiversFile",
]

CONTROL_ID_PATTERN = r"^H[TC]-[A-Z]{2,6}-\d{2}$"
"""HT-… host controls, HC-… cloud controls."""

CheckId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
ControlId = Annotated[str, StringConstraints(pattern=CONTROL_ID_PATTERN)]
ProfileId = Annotated[str, StringConstraints(pattern=r"^[a-z]+-level[1-5]$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Level = Annotated[int, Field(ge=1, le=5)]


@cache
def _implementers(root: Path | None = SOURCES_DIR) -> tuple[str, ...] | None:
    """`roles/<role>` and `pulumi/<project>` of the project; None in an installed wheel (no roles)."""
    if root is None:
        return None
    roles = [f"roles/{path.parent.name}" for path in root.glob("roles/*/tasks") if path.is_dir()]
    projects = [f"pulumi/{path.parent.name}" for path in root.glob("pulumi/*/Pulumi.yaml")]
    return tuple(sorted(roles + projects))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Gap(StrEnum):
    """Why a mapping cites no clause of an instrument (the reference is `{clause: ~, gap: …}`)."""

    NOT_READ = "not-read"
    """The instrument has requirements of this kind, but their clause numbers were not read in its text."""
    NOT_COVERED = "not-covered"
    """The instrument's text was read and none of its clauses requires what the control checks."""


class ClauseRefDoc(_Model):
    """A reference written as a mapping: a clause with the level it belongs to, or an explicit gap."""

    clause: Text | None = Field(description="Clause number; null when no clause is cited (then 'gap' says why).")
    level: Level | None = Field(
        None, description="Security level whose section holds the clause (checked against the clause record)."
    )
    gap: Gap | None = Field(None, description="Required with a null clause: not-read or not-covered.")
    note: Text | None = Field(None, description="What a reader of the report should know about this mapping.")

    @model_validator(mode="after")
    def _clause_or_gap(self) -> ClauseRefDoc:
        if self.clause is None and self.gap is None:
            raise ValueError("a null clause needs 'gap': not-covered or not-read")
        if self.clause is not None and self.gap is not None:
            raise ValueError("a cited clause takes no 'gap' (gap says why no clause is cited)")
        if self.clause is None and self.level is not None:
            raise ValueError("'level' belongs to a cited clause; with a null clause leave it out")
        return self


def _entry_form(value: Any) -> str:
    return "mapping" if isinstance(value, dict | ClauseRefDoc) else "clause"


ReferenceEntry = Annotated[
    Annotated[ClauseRefDoc, Tag("mapping")] | Annotated[Text | None, Tag("clause")],
    Discriminator(_entry_form),
]
"""A clause id, null, or a {clause, level, gap, note} mapping; errors name only the form written."""
References = dict[str, tuple[ReferenceEntry, ...]]


class Scope(StrEnum):
    HOST = "host"
    CLOUD = "cloud"


class Status(StrEnum):
    AUTOMATED = "automated"
    PARTIAL = "partial"
    MANUAL = "manual"
    NOT_APPLICABLE = "not_applicable"


class Certainty(StrEnum):
    CONFIRMED = "confirmed"
    SECOND_HAND = "second-hand"


class LocalText(_Model):
    en: Text = Field(description="English text.")
    vi: Text | None = Field(None, description="Vietnamese text; the report falls back to English.")


class TitleText(LocalText):
    vi: Text = Field(description="Vietnamese text (required for titles).")


class InstrumentDoc(_Model):
    title: Text = Field(description="Name of the instrument (English).")
    title_vi: Text = Field(description="Name of the instrument (Vietnamese).")
    regime: Annotated[str, StringConstraints(pattern=r"^(old|new|both|international)$")] = Field(
        description="Which regime it belongs to: old, new, both or international."
    )
    status: Certainty = Field(description="confirmed or second-hand (docs/standards.md).")
    source: Text = Field(
        description="The section of the project's record holding its facts: '<file>#<anchor> (<note>)'."
    )
    clauses: Text | None = Field(
        None,
        description="Section of the record listing the clause numbers read in its text ('<file>#<anchor>'); "
        "when set, the catalogue may cite only those clauses.",
    )
    clause_file: Text | None = Field(
        None,
        description="Clause record shipped with the catalogue ('clauses/<type>.yml'): the clauses that may be "
        "cited, each with its own-words title and levels. Exclusive with 'clauses'.",
    )
    require_mapping: bool = Field(
        False,
        description="Every control must cite this instrument, each null clause with a 'gap' saying why.",
    )

    @model_validator(mode="after")
    def _one_clause_record(self) -> InstrumentDoc:
        if self.clauses is not None and self.clause_file is not None:
            raise ValueError("set 'clauses' (a section of the record) or 'clause_file', not both")
        return self


class InstrumentsFile(_Model):
    instruments: dict[str, InstrumentDoc] = Field(description="Reference type -> instrument.")


class ClauseDoc(_Model):
    id: Text = Field(description="Clause number as the instrument prints it ('5.1.1').")
    title: Text = Field(description="The project's own short description of the clause (never the text).")
    levels: tuple[Level, ...] = Field(min_length=1, description="Security levels the clause applies to.")
    read_in: Text = Field(description="Where the clause number and heading were read (a key of 'copies').")


class ClauseFile(_Model):
    instrument: Text = Field(description="Reference type whose clauses these are.")
    source: Text = Field(description="Section of the project's record describing the reading: '<file>#<anchor>'.")
    copies: dict[str, Text] = Field(description="Copy of the text read -> where it is (address and what it shows).")
    clauses: tuple[ClauseDoc, ...] = Field(min_length=1, description="The clauses the catalogue may cite.")
    not_read: Text = Field(description="What the instrument holds whose clause numbers were not read.")


class ControlDoc(_Model):
    id: ControlId = Field(description="Stable control id; role tasks start with it.")
    title: TitleText = Field(description="What the control requires, in English and Vietnamese.")
    rationale: TitleText = Field(description="Why the control matters, in English and Vietnamese.")
    scope: Scope = Field(description="host (checked on each host) or cloud (through the APIs).")
    level: int = Field(ge=1, le=5, description="Lowest security level that requires it.")
    regimes: tuple[Annotated[str, StringConstraints(pattern=r"^(old|new)$")], ...] = Field(
        ("old", "new"), min_length=1, description="Regimes whose profiles include it."
    )
    status: Status = Field(description="automated, partial, manual or not_applicable.")
    checks: tuple[CheckId, ...] = Field((), description="Check ids that verify it.")
    implemented_by: tuple[Text, ...] = Field(
        (),
        description="Roles or Pulumi projects whose tasks (named '<control id> | …') implement it.",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Thresholds the checks compare against (inputs, not code).",
    )
    notes: Text | None = Field(None, description="Required for partial, manual, not_applicable.")
    references: References = Field(
        description="Reference type -> clauses: a clause id, null (clause unknown), or "
        "{clause, level} / {clause: null, gap, note}."
    )

    @field_validator("implemented_by")
    @classmethod
    def _implementers_exist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = _implementers()
        unknown = [name for name in value if known is not None and name not in known]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: no such role or Pulumi project; known: {', '.join(known or ())}")
        return value

    @model_validator(mode="after")
    def _status_consistent(self) -> ControlDoc:
        automated = self.status in {Status.AUTOMATED, Status.PARTIAL}
        if automated and not self.checks:
            raise ValueError(f"status {self.status.value} needs at least one check id in 'checks'")
        if not automated and self.checks:
            raise ValueError(f"status {self.status.value} must not list checks")
        if self.status is not Status.AUTOMATED and self.notes is None:
            raise ValueError(f"status {self.status.value} needs 'notes' saying what is not automated")
        return self


class ControlsFile(_Model):
    controls: tuple[ControlDoc, ...] = Field(description="The controls of one file.")


class ProfileDoc(_Model):
    id: ProfileId = Field(description="'<regime>-level<N>'.")
    regime: Annotated[str, StringConstraints(pattern=r"^(old|new)$")] = Field(description="Regime.")
    level: int = Field(ge=1, le=5, description="Security level.")
    title: TitleText = Field(description="Display title.")
    inherits_from: ProfileId | None = Field(None, description="Profile whose controls it includes.")
    references: References = Field(default_factory=dict, description="Clauses defining the level.")


class PolicyFile(_Model):
    id: Text = Field(description="Policy id.")
    title: TitleText = Field(description="Policy title.")
    version: Text = Field(description="Catalogue version.")
    source: Text = Field(description="The project file recording the research behind it ('<file>[#<anchor>]').")
    regimes: dict[str, TitleText] = Field(description="Regime -> the instruments it names.")
    profiles: tuple[ProfileDoc, ...] = Field(description="One profile per regime and level.")


class WaiverDoc(_Model):
    run: bool = Field(description="false: do not run the control's checks on this site.")
    justification: Text = Field(description="Why, with a ticket or decision reference.")
    approved_by: Text | None = Field(None, description="Who accepted the risk (name, role or decision).")
    until: date | None = Field(None, description="Last day the waiver holds (YYYY-MM-DD); an expired one is refused.")


class WaiversFile(_Model):
    waivers: dict[ControlId, WaiverDoc] = Field(description="Control id -> waiver.")
