"""`hatang report`: adoption (plan §II.3), capacity and the site report, for people to read."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from infra.commands._common import DEFAULT_INVENTORY, EXIT_FINDINGS, Inventory, err, out, user_errors
from infra.reports.kinds import LANGUAGES, Format, Kind

app = typer.Typer(
    help="Reports for leadership, the Department of Science and Technology and auditors.",
    no_args_is_help=True,
)

FormatOption = Annotated[Format, typer.Option("--format", "-f", help="html (charts, self-contained), md or json.")]
LangOption = Annotated[str, typer.Option("--lang", "-l", help=f"Language: {', '.join(LANGUAGES)}.")]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Output file, '-' for stdout (default: reports/<site>-<report>-<lang>.<ext>)."),
]
EvidenceOption = Annotated[
    Path | None, typer.Option("--evidence", help="Audit evidence JSON (hatang audit) for the compliance section.")
]
HistoryOption = Annotated[bool, typer.Option("--history/--no-history", help="Read the git history of the site.")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Exit 1 when the report lists data problems.")]


def _run(
    kind: Kind, inventory: Path, fmt: Format, lang: str, output: Path | None,
    evidence: Path | None, history: bool, strict: bool,
) -> None:
    if lang not in LANGUAGES:
        err.print(f"error: unknown language {lang!r}; use one of: {', '.join(LANGUAGES)}", markup=False)
        raise typer.Exit(2)
    from infra.reports.output import write_report  # charts pull in matplotlib: only when reporting

    with user_errors():
        written = write_report(inventory, kind, fmt, lang, output, evidence=evidence, with_history=history)
    for problem in written.problems:
        err.print(f"data problem: {problem}", markup=False, highlight=False)
    if written.problems:
        err.print(f"{len(written.problems)} data problem(s), listed in the report too.", style="yellow")
    if written.path is not None:
        out.print(str(written.path), markup=False, highlight=False)
    if strict and written.problems:
        raise typer.Exit(EXIT_FINDINGS)


def _command(kind: Kind, help_text: str, *, with_evidence: bool = False) -> Callable[..., None]:
    """One report command; the three share every option but --evidence (the site report's only)."""

    def command(
        inventory: Inventory = DEFAULT_INVENTORY,
        fmt: FormatOption = Format.HTML,
        lang: LangOption = "vi",
        output: OutOption = None,
        evidence: EvidenceOption = None,
        history: HistoryOption = True,
        strict: StrictOption = False,
    ) -> None:
        _run(kind, inventory, fmt, lang, output, evidence, history, strict)

    command.__doc__ = help_text
    if not with_evidence:  # typer reads the options from the signature
        signature = inspect.signature(command, eval_str=True)
        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "evidence"]
        )
    return command


app.command("adoption")(_command(
    Kind.ADOPTION,
    "Share of shared applications on cloud (§II.3), per agency and kind, why not, and the pace.",
))
app.command("capacity")(_command(
    Kind.CAPACITY,
    "Quotas and addresses against the hardware: used, reserved, free, pending, and when each runs out.",
))
app.command("site")(_command(
    Kind.SITE,
    "One page on the site: zones and flows drawn, tenants, capacity, adoption, compliance.",
    with_evidence=True,
))
