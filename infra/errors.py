"""One error hierarchy: the library raises these, only the CLI turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["HatangError", "InventoryError", "Problem", "RequestError", "SiteNotFoundError"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a site: where it is, what is wrong, how to fix it."""

    file: str
    field: str
    message: str
    hint: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return f"{text} (fix: {self.hint})" if self.hint else text


class HatangError(Exception):
    """Base of every error a user can cause; the CLI exits 2 on it."""


class SiteNotFoundError(HatangError):
    """The inventory folder or one of its required files does not exist."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: {what}")


class InventoryError(HatangError):
    """The site files are invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class RequestError(HatangError):
    """A tenant command was asked for something the site or the request does not allow."""
