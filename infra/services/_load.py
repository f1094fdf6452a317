"""Reading the catalogue: strict parsing, errors that name the file, field path and line."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from infra import _yaml
from infra.errors import HatangError, Problem
from infra.services._model import Catalogue
from infra.site import describe

__all__ = ["CATALOGUE_FILE", "CatalogueError", "load_catalogue"]

CATALOGUE_FILE = Path(__file__).resolve().parent / "services.yml"


class CatalogueError(HatangError):
    """The service catalogue is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue in `path`, validated: schema, then each port, unit and secret written once.

    Raises:
        CatalogueError: with every problem, each located by field path and line.
    """
    try:
        document = _yaml.load(path)
    except (_yaml.YamlSyntaxError, OSError) as exc:
        line = getattr(exc, "line", None)
        raise CatalogueError([Problem(path.name, "", f"cannot read the catalogue: {exc}", line=line)]) from exc
    try:
        catalogue = Catalogue.model_validate_json(json.dumps(document), strict=True)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message, hint = describe(error)
            problems.append(
                Problem(
                    path.name,
                    ".".join(str(part) for part in error["loc"]),
                    message,
                    hint.replace("docs/site-model.md", "docs/services.md"),
                    _yaml.line_of(document, tuple(error["loc"])),
                )
            )
        raise CatalogueError(problems) from None
    problems = [
        Problem(path.name, ".".join(str(p) for p in loc), message, "write each fact once", _yaml.line_of(document, loc))
        for loc, message in _duplicates(catalogue)
    ]
    if problems:
        raise CatalogueError(problems)
    return catalogue


def _duplicates(catalogue: Catalogue) -> list[tuple[tuple[str | int, ...], str]]:
    """Ports, units and secret variables claimed twice (located at the second claim)."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    seen: dict[tuple[str, object], str] = {}
    for name, service in catalogue.services.items():
        claims: list[tuple[tuple[str | int, ...], str, object]] = []
        mine: set[tuple[str, object]] = set()
        if service.api is not None:
            claims.append((("api", "port"), "port", service.api.port))
        if service.web is not None:
            claims.append((("web", "port"), "port", service.web.port))
        claims += [(("ports", i), "port", port) for i, port in enumerate(service.ports)]
        claims += [(("named_ports", key), "port", port) for key, port in service.named_ports.items()]
        claims += [(("udp_ports", i), "udp port", port) for i, port in enumerate(service.udp_ports)]
        claims += [(("units", unit), "unit", unit) for unit in service.units]
        claims += [(("secrets", i, "variable"), "secret", s.variable) for i, s in enumerate(service.secrets)]
        for where, kind, value in claims:
            owner = seen.setdefault((kind, value), name)
            if owner != name or (kind, value) in mine:
                found.append((("services", name, *where), f"{kind} {value!r} is already taken by service {owner!r}"))
            mine.add((kind, value))
    return found
