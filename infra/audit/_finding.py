"""What a host check decided: the `Finding` every decision in `_pam`, `_accounts`, `_journal`
and `_sshd` returns, and the integer reading they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "to_int"]


@dataclass(frozen=True)
class Finding:
    """One check's decision: the observed and expected sides, and whether the control holds."""

    observed: Any
    expected: Any
    ok: bool
    problems: tuple[str, ...] = field(default=())
    """Why it does not hold, one sentence per problem (empty when ok)."""


def to_int(value: str | None) -> int | None:
    """`value` as an integer, None when absent or not a whole number (as the tools read it)."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
