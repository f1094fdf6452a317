"""Where rsyslog forwards every message, read from its own expansion of the configuration.

`rsyslogd -N1 -o FILE` writes the configuration as rsyslogd loads it: every include spliced in
at its place, in the order the statements are evaluated. Reading that text, instead of the files
one by one, leaves no include, folder order or `$IncludeConfig` for an evasion to hide in.

A target receives every message only when its forwarding statement is reached by all of them:
in the default ruleset, outside any `if`, property filter or block, with the selector `*.*` (or
`*.debug`, or a bare `action()`), and with no `stop` or `~` discarding messages before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["RsyslogForwarding", "rsyslog_forwarding"]

_ALL_MESSAGES = frozenset({"*.*", "*.debug"})
_OBJECTS = frozenset({"module", "input", "template", "global", "main_queue", "parser", "lookup_table",
                      "timezone", "dyn_stats", "percentile_stats", "include", "set", "unset", "reset",
                      "call", "call_indirect", "property", "constant", "list", "type", "string"})  # fmt: skip
_OMFWD_TARGET = re.compile(r'\btarget\s*=\s*"([^"]+)"', re.I)
_OMFWD = re.compile(r'\btype\s*=\s*"omfwd"', re.I)
_LEGACY_FWD = re.compile(r"^@{1,2}(?:\([^)]*\))?(\[[^\]]+\]|[^:\s;]+)")
_SELECTOR = re.compile(r"^([^\s(]+\.[^\s(]+)\s+(.*)$", re.S)
_DEFAULT_RULESET = re.compile(r'(?i)^ruleset\(\s*name\s*=\s*"RSYSLOG_DefaultRuleset"\s*\)$')
_DISCARD = re.compile(r"(?:^|\s)(?:stop|~)$")


@dataclass(frozen=True)
class RsyslogForwarding:
    """What the loaded configuration does with messages, in evaluation order."""

    every_message: list[str] = field(default_factory=list)
    """Targets reached by every message."""
    some_messages: list[str] = field(default_factory=list)
    """Targets behind a selector, a filter, a block or a discard: `target: why`."""
    discards: list[str] = field(default_factory=list)
    """Statements that stop messages before a forwarding one (each as written)."""


def _without_comments(text: str) -> str:
    """The text without `#` and `/* */` comments, quoted strings and `$` directives kept whole."""
    out: list[str] = []
    i, n, quote = 0, len(text), ""
    while i < n:
        c = text[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            out.append(c)
        elif c == "$" and text[text.rfind("\n", 0, i) + 1 : i].strip() == "":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])  # a legacy directive is one whole line: `/*` in a path is no comment
            i = end
            continue
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Statement:
    text: str
    nested: str
    """Empty at the top of the default ruleset, else the block it is in (`if …`, `ruleset(…)`)."""


def _statements(text: str) -> Iterator[_Statement]:
    """Statements in evaluation order: one per line outside parentheses, `{ }` blocks opened."""
    blocks: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""

    def flush() -> Iterator[_Statement]:
        stmt = " ".join("".join(current).split())
        current.clear()
        if stmt:
            yield _Statement(stmt, " / ".join(b for b in blocks if b))

    for c in _without_comments(text):
        if quote:
            current.append(c)
            quote = "" if c == quote else quote
            continue
        if c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and c == "{":
            head = " ".join("".join(current).split())
            current.clear()
            blocks.append("" if _DEFAULT_RULESET.match(head) else head or "{")
            continue
        elif depth == 0 and c == "}":
            yield from flush()
            if blocks:
                blocks.pop()
            continue
        elif depth == 0 and c == "\n":
            yield from flush()
            continue
        current.append(c)
    yield from flush()


def _forward_targets(action: str) -> list[str]:
    if _OMFWD.search(action):
        return _OMFWD_TARGET.findall(action)
    legacy = _LEGACY_FWD.match(action)
    return [legacy[1].strip("[]")] if legacy else []


def rsyslog_forwarding(fullconf: str) -> RsyslogForwarding:
    """Read `rsyslogd -N1 -o` output: which targets every message reaches, and what stops them."""
    result = RsyslogForwarding()
    selector, pending = "", []
    for stmt in _statements(fullconf):
        text = stmt.text
        if text.startswith("$") or text.split("(", 1)[0].strip().lower() in _OBJECTS:
            continue
        other_ruleset = stmt.nested.startswith("ruleset")
        conditional = bool(stmt.nested) or text.startswith(":") or re.match(r"(?i)if\b", text) is not None
        if text.startswith("&"):
            action = text[1:].strip()
        elif re.match(r"(?i)(action\(|stop$|~$)", text):
            selector, action = "*.*", text
        elif not conditional and (found := _SELECTOR.match(text)):
            selector, action = found[1], found[2].strip()
        else:
            action = text.split(" then ", 1)[-1].strip()
        if _DISCARD.search(action):
            if not other_ruleset:
                pending.append(f"{text} (inside {stmt.nested!r})" if stmt.nested else text)
            continue
        targets = _forward_targets(action)
        if targets and pending:
            result.discards.extend(pending)
            pending = []
        for target in targets:
            if other_ruleset:
                result.some_messages.append(f"{target}: in another ruleset ({stmt.nested})")
            elif conditional or selector not in _ALL_MESSAGES:
                where = (
                    f"inside {stmt.nested!r}"
                    if stmt.nested
                    else f"only messages matching {text.split(' then', 1)[0]!r}"
                )
                result.some_messages.append(
                    f"{target}: {where}" if stmt.nested or conditional else f"{target}: only the selector {selector!r}"
                )
            elif result.discards:
                result.some_messages.append(f"{target}: after {result.discards[0]!r}")
            else:
                result.every_message.append(target)
    return result
