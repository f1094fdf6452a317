"""Pydantic models of the catalogue files: the boundary where the YAML becomes typed data."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "CONTROL_ID_PATTERN",
    "CheckId",
    "ControlDoc",
    "ControlsFile",
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
References = dict[str, tuple[str | None, ...]]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class InstrumentsFile(_Model):
    instruments: dict[str, InstrumentDoc] = Field(description="Reference type -> instrument.")


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
    references: References = Field(description="Reference type -> clause ids (null: clause unknown).")

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
