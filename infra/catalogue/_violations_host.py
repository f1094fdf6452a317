"""Violating variants of the host controls: hosts broken on purpose, kept as data (issue 15).

`violations/host/<control id>.yml` holds, for one automated host control, shell scripts that each
break that control (and only it) on a hardened Debian 13 test host, evasions included: a
commented line next to an active one, an override later in a file, a drop-in, an include, a
second rule that widens the first. `tests/audit/test_host_violations.py` applies them and shows
the audit failing on each.

`load_host_violations()` checks every file (schema, the file named after its control, unique
variant names) and, given the catalogue, that each names an automated host control and that
every automated host control has at least `minimum` variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from infra import _yaml
from infra.errors import HatangError, Problem

if TYPE_CHECKING:
    from infra.catalogue import Catalogue

__all__ = [
    "HOST_VIOLATIONS_DIR",
    "MIN_HOST_VARIANTS",
    "HostVariant",
    "HostViolations",
    "HostViolationsError",
    "load_host_violations",
    "plan_rounds",
]

HOST_VIOLATIONS_DIR = Path(__file__).parent / "violations" / "host"
"""The violating variants shipped with the package."""

MIN_HOST_VARIANTS = 3
"""Every automated host control needs at least this many violating variants."""

_AUTOMATED = frozenset({"automated", "partial"})


class HostViolationsError(HatangError):
    """Files of violating variants are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class HostVariant:
    """One way to violate a control on a hardened host."""

    control: str
    name: str
    why: str
    evasion: bool
    needs_vm: bool
    conflicts_with: tuple[str, ...]
    script: str
    gap: str | None = None
    """A known evasion: what the check does not look at yet. The live test expects the control to
    pass (a strict xfail, listed in every run) until the check catches it; then the entry must go."""

    @property
    def id(self) -> str:
        """`<control>:<name>`, the variant's name in test ids and reports."""
        return f"{self.control}:{self.name}"


@dataclass(frozen=True)
class HostViolations:
    """The violating variants of one control, in file order."""

    control: str
    file: str
    variants: tuple[HostVariant, ...]


# --------------------------------------------------------------------------- the file format

_ControlId = Annotated[str, StringConstraints(pattern=r"^HT-[A-Z]{2,6}-\d{2}$")]
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
_Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _VariantDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: _Name = Field(description="Short kebab-case name, unique in the file; part of the test id.")
    why: _Text = Field(description="One sentence: how the variant violates the control.")
    evasion: bool = Field(False, description="The variant hides the violation from a naive check.")
    needs_vm: bool = Field(
        False,
        description="Only a VM shows the violation (a container shares the machine's kernel): on a test "
        "container the audit may report the control not checkable, never passed.",
    )
    conflicts_with: list[_ControlId] = Field(
        default_factory=list,
        description="Controls this variant violates too, or whose variants its changes would undo: it never "
        "runs in the same round as their variants.",
    )
    gap: _Text | None = Field(
        None,
        description="A known evasion the check does not catch yet: what it does not look at. Listed in "
        "every run; when the check catches the variant, the test fails until this line is removed.",
    )
    break_: _Text = Field(
        alias="break",
        description="Shell run as root on a hardened Debian 13 test host; breaks only this control.",
    )


class _FileDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    control: _ControlId = Field(description="The host control the variants violate; the file is named after it.")
    variants: list[_VariantDoc] = Field(min_length=1, description="The violating variants, in round order.")


# --------------------------------------------------------------------------- loading


def load_host_violations(
    root: Path | str = HOST_VIOLATIONS_DIR,
    catalogue: Catalogue | None = None,
    minimum: int = MIN_HOST_VARIANTS,
) -> Mapping[str, HostViolations]:
    """Read and check every `<control id>.yml` in `root`.

    Args:
        root: the folder of variant files.
        catalogue: when given, every file must name an automated host control of it, and every
            automated host control must have at least `minimum` variants.
        minimum: the fewest variants an automated host control may have.

    Returns:
        Control id -> its variants, sorted by control id.

    Raises:
        HostViolationsError: with every problem found (file and field path of each).
    """
    root = Path(root)
    problems: list[Problem] = []
    found: dict[str, HostViolations] = {}
    invalid: set[str] = set()
    for path in sorted(root.glob("*.yml")):
        parsed = _read(path, problems)
        if parsed is None:
            invalid.add(path.stem)
        else:
            found[parsed.control] = parsed
    if catalogue is not None:
        _check_against(catalogue, found, invalid, problems, minimum)
    if not found and not problems:
        problems.append(Problem(str(root), "", "no variant files (<control id>.yml)"))
    if problems:
        raise HostViolationsError(problems)
    return dict(sorted(found.items()))


def _read(path: Path, problems: list[Problem]) -> HostViolations | None:
    name = path.name
    try:
        document = _yaml.load(path)
    except _yaml.YamlSyntaxError as exc:
        problems.append(Problem(name, "", f"YAML syntax error: {exc}", line=exc.line))
        return None
    try:
        doc = _FileDoc.model_validate(_yaml.plain(document))
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            problems.append(
                Problem(name, ".".join(str(p) for p in loc), error["msg"], line=_yaml.line_of(document, loc))
            )
        return None
    wrong = len(problems)
    if doc.control != path.stem:
        problems.append(
            Problem(
                name,
                "control",
                f"{doc.control} in a file named {name}",
                f"name the file {doc.control}.yml",
                line=_yaml.line_of(document, ("control",)),
            )
        )
    seen: set[str] = set()
    for index, variant in enumerate(doc.variants):
        if variant.name in seen:
            problems.append(
                Problem(
                    name,
                    f"variants.{index}.name",
                    f"variant name {variant.name!r} repeats",
                    line=_yaml.line_of(document, ("variants", index, "name")),
                )
            )
        seen.add(variant.name)
        if doc.control in variant.conflicts_with:
            problems.append(
                Problem(
                    name,
                    f"variants.{index}.conflicts_with",
                    f"{doc.control} conflicts with itself",
                    "name only other controls: a round never holds two variants of one control",
                    line=_yaml.line_of(document, ("variants", index, "conflicts_with")),
                )
            )
    if len(problems) > wrong:
        return None
    variants = tuple(
        HostVariant(
            doc.control, v.name, v.why, v.evasion, v.needs_vm, tuple(v.conflicts_with), v.break_.rstrip() + "\n",
            v.gap,
        )
        for v in doc.variants
    )
    return HostViolations(doc.control, name, variants)


def _check_against(
    catalogue: Catalogue,
    found: Mapping[str, HostViolations],
    invalid: set[str],
    problems: list[Problem],
    minimum: int,
) -> None:
    host = {c.id for c in catalogue.controls if c.scope.value == "host"}
    automated = {c.id for c in catalogue.controls if c.id in host and c.status.value in _AUTOMATED}
    for control_id, violations in found.items():
        for index, variant in enumerate(violations.variants):
            unknown = sorted(set(variant.conflicts_with) - host)
            if unknown:
                problems.append(
                    Problem(
                        violations.file,
                        f"variants.{index}.conflicts_with",
                        f"not host controls of the catalogue: {', '.join(unknown)}",
                    )
                )
        if control_id not in automated:
            problems.append(
                Problem(
                    violations.file,
                    "control",
                    f"{control_id} is not an automated host control of the catalogue",
                    "remove the file, or name a control whose status is automated or partial",
                )
            )
    for control_id in sorted(automated - invalid):
        count = len(found[control_id].variants) if control_id in found else 0
        if count < minimum:
            problems.append(
                Problem(
                    f"{control_id}.yml",
                    "variants",
                    f"{count} violating variant(s) of automated control {control_id}; at least {minimum} needed",
                    "add variants that break the control on a hardened host, evasions first",
                )
            )


# --------------------------------------------------------------------------- rounds


def plan_rounds(violations: Mapping[str, HostViolations]) -> tuple[tuple[HostVariant, ...], ...]:
    """Group the variants into rounds that can be applied to one host at once.

    Round k holds variant k of every control, unless a variant conflicts with one already in
    the round (`conflicts_with`, in either direction): it then goes to the first later round
    where it fits. A round never holds two variants of one control, so one audit per round
    tells which variant a control failed (or passed) on.

    Returns:
        The rounds, each sorted by control id; every variant appears in exactly one round.
    """
    rounds: list[list[HostVariant]] = []
    depth = max((len(v.variants) for v in violations.values()), default=0)
    for index in range(depth):
        for control_id in sorted(violations):
            variants = violations[control_id].variants
            if index < len(variants):
                _place(variants[index], rounds)
    return tuple(tuple(sorted(r, key=lambda v: v.control)) for r in rounds)


def _place(variant: HostVariant, rounds: list[list[HostVariant]]) -> None:
    for members in rounds:
        if all(_compatible(variant, other) for other in members):
            members.append(variant)
            return
    rounds.append([variant])


def _compatible(one: HostVariant, other: HostVariant) -> bool:
    return (
        one.control != other.control
        and one.control not in other.conflicts_with
        and other.control not in one.conflicts_with
    )
