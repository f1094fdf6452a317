"""What every command shares: the inventory argument, consoles, and error-to-exit-code mapping."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.errors import HatangError, InventoryError

__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_OK", "Inventory", "err", "out", "user_errors"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)

DEFAULT_INVENTORY = Path(os.environ.get("HATANG_INVENTORY", "inventories/thainguyen"))

Inventory = Annotated[
    Path,
    typer.Argument(
        help="Site inventory folder (default: $HATANG_INVENTORY or inventories/thainguyen).",
        show_default=False,
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user's mistake into a located message on stderr and exit code 2, never a traceback."""
    try:
        yield
    except InventoryError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        err.print(f"{len(exc.problems)} problem(s); nothing was changed.", style="bold red")
        raise typer.Exit(EXIT_ERROR) from None
    except HatangError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
