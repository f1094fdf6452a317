"""Typer sub-applications of the `hatang` CLI, one module per command group.

A group's module is imported when the group is run (or listed by `--help`), not at every start:
`hatang tenant approve` then imports neither the audit engine nor the Pulumi tooling.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from typer.core import TyperGroup
from typer.main import get_group_from_info
from typer.models import TyperInfo

__all__ = ["GROUPS", "LazyGroup"]

GROUPS = {
    "tenant": "infra.commands.tenant",
    "ledger": "infra.commands.ledger",
    "cloud": "infra.commands.cloud",
    "testhosts": "infra.commands.testhosts",
    "audit": "infra.commands.audit",
    "report": "infra.commands.report",
    "aio": "infra.commands.aio",
}
"""Command groups, in the order `--help` lists them, and the module whose `app` each one is."""

Command = Any
"""A click command of typer's bundled click."""


class _Commands(MutableMapping[str, Command]):
    """A group's commands, where a lazy group is a loader until it is first looked up."""

    def __init__(self, commands: MutableMapping[str, Command], loaders: dict[str, Callable[[], Command]]) -> None:
        self._items: dict[str, Command | Callable[[], Command]] = {**commands, **loaders}
        self._loaders = loaders

    def __getitem__(self, name: str) -> Command:
        item = self._items[name]
        if name in self._loaders and item is self._loaders[name]:
            item = self._items[name] = item()  # in place: the listing order stays
        return item

    def __setitem__(self, name: str, command: Command) -> None:
        self._items[name] = command

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class LazyGroup(TyperGroup):
    """The root group: the groups of `GROUPS` after its own commands, each built as `add_typer` would."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands, {name: self._loader(name) for name in GROUPS})

    def _loader(self, name: str) -> Callable[[], Command]:
        def load() -> Command:
            app = importlib.import_module(GROUPS[name]).app
            return get_group_from_info(
                TyperInfo(app, name=name),
                pretty_exceptions_short=True,
                suggest_commands=self.suggest_commands,
                rich_markup_mode=self.rich_markup_mode,
            )

        return load
