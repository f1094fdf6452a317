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

__all__ = ["DEFAULT_RULESET", "JOURNAL_SOCKET", "LocalSource", "RsyslogForwarding", "rsyslog_forwarding"]

DEFAULT_RULESET = "RSYSLOG_DefaultRuleset"
JOURNAL_SOCKET = "/run/systemd/journal/syslog"
"""Where journald forwards messages (ForwardToSyslog); systemd hands it to rsyslog's system socket."""

_ALL_MESSAGES = frozenset({"*.*", "*.debug"})
_OBJECTS = frozenset({"module", "input", "template", "global", "main_queue", "parser", "lookup_table",
                      "timezone", "dyn_stats", "percentile_stats", "include", "set", "unset", "reset",
                      "call", "call_indirect", "property", "constant", "list", "type", "string"})  # fmt: skip
_OMFWD_TARGET = re.compile(r'\btarget\s*=\s*"([^"]+)"', re.I)
_OMFWD = re.compile(r'\btype\s*=\s*"omfwd"', re.I)
_LEGACY_FWD = re.compile(r"^@{1,2}(?:\([^)]*\))?(\[[^\]]+\]|[^:\s;]+)")
_SELECTOR = re.compile(r"^([^\s(]+\.[^\s(]+)\s+(.*)$", re.S)
_RULESET = re.compile(r"(?i)^ruleset\s*\(")
_PARAMETER = re.compile(r'([\w.]+)\s*=\s*"([^"]*)"')
_DISCARD = re.compile(r"(?:^|\s)(?:stop|~)$")


@dataclass(frozen=True)
class LocalSource:
    """An input that brings this host's own messages into rsyslog, and the ruleset they run through."""

    name: str
    ruleset: str
    via_journald: bool
    """Its messages are the ones journald forwards to the syslog socket (ForwardToSyslog)."""


@dataclass(frozen=True)
class RsyslogForwarding:
    """What the loaded configuration does with messages, in evaluation order."""

    every_message: list[str] = field(default_factory=list)
    """Targets reached by every message of the default ruleset."""
    some_messages: list[str] = field(default_factory=list)
    """Targets behind a selector, a filter, a block, a discard or another ruleset: `target: why`."""
    discards: list[str] = field(default_factory=list)
    """Statements that stop messages before a forwarding one (each as written)."""
    rulesets: dict[str, list[str]] = field(default_factory=dict)
    """Per ruleset, the targets every message run through it reaches."""
    sources: list[LocalSource] = field(default_factory=list)
    """Where this host's own messages enter: the system socket, other sockets, the journal, the kernel."""


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
    """Empty at the top of a ruleset, else the blocks it is in (`if …`, a property filter)."""
    ruleset: str | None
    """The `ruleset(name=…) { }` block it is in; None outside any (the legacy `$RuleSet` applies)."""


def _parameters(text: str) -> dict[str, str]:
    """`name="value"` pairs of a RainerScript object, names lower-cased (rsyslog ignores their case)."""
    return {k.lower(): v for k, v in _PARAMETER.findall(text)}


def _statements(text: str) -> Iterator[_Statement]:
    """Statements in evaluation order: one per line outside parentheses, `{ }` blocks opened."""
    blocks: list[tuple[str, str | None]] = []
    current: list[str] = []
    depth, quote = 0, ""

    def flush() -> Iterator[_Statement]:
        stmt = " ".join("".join(current).split())
        current.clear()
        if stmt:
            rulesets = [name for _, name in blocks if name]
            nested = " / ".join(head for head, name in blocks if head and not name)
            yield _Statement(stmt, nested, rulesets[-1] if rulesets else None)

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
            name = _parameters(head).get("name") if _RULESET.match(head) else None
            blocks.append(("", name) if name else (head or "{", None))
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


@dataclass
class _Ruleset:
    """One ruleset's walk: its current selector, discards not yet followed by a forward, findings."""

    selector: str = ""
    pending: list[str] = field(default_factory=list)
    every: list[str] = field(default_factory=list)
    some: list[str] = field(default_factory=list)
    discards: list[str] = field(default_factory=list)

    def take(self, stmt: _Statement, label: str) -> None:
        text = stmt.text
        conditional = bool(stmt.nested) or text.startswith(":") or re.match(r"(?i)if\b", text) is not None
        if text.startswith("&"):
            action = text[1:].strip()
        elif re.match(r"(?i)(action\(|stop$|~$)", text):
            self.selector, action = "*.*", text
        elif not conditional and (found := _SELECTOR.match(text)):
            self.selector, action = found[1], found[2].strip()
        else:
            action = text.split(" then ", 1)[-1].strip()
        if _DISCARD.search(action):
            self.pending.append(f"{text} (inside {stmt.nested!r})" if stmt.nested else text)
            return
        targets = _forward_targets(action)
        if targets and self.pending:
            self.discards.extend(self.pending)
            self.pending = []
        for target in targets:
            if conditional:
                where = (
                    f"inside {stmt.nested!r}"
                    if stmt.nested
                    else f"only messages matching {text.split(' then', 1)[0]!r}"
                )
                self.some.append(f"{target}{label}: {where}")
            elif self.selector not in _ALL_MESSAGES:
                self.some.append(f"{target}{label}: only the selector {self.selector!r}")
            elif self.discards:
                self.some.append(f"{target}{label}: after {self.discards[0]!r}")
            else:
                self.every.append(target)


def _off(value: str) -> bool:
    return value.strip().lower() in {"off", "0", "false", "no"}


def _sources(modules: dict[str, dict[str, str]], inputs: list[dict[str, str]], syssock_off: bool) -> list[LocalSource]:
    """The inputs that carry this host's messages, and the ruleset each is bound to."""
    found: list[LocalSource] = []
    imuxsock = modules.get("imuxsock")
    if imuxsock is not None and not syssock_off and not _off(imuxsock.get("syssock.use", "on")):
        found.append(LocalSource("imuxsock: the system log socket", DEFAULT_RULESET, via_journald=True))
    for params in inputs:
        kind = params.get("type", "").lower()
        if kind == "imuxsock":
            socket = params.get("socket", "?")
            found.append(
                LocalSource(f"imuxsock: {socket}", params.get("ruleset", DEFAULT_RULESET), socket == JOURNAL_SOCKET)
            )
    for name in ("imjournal", "imklog"):
        if name in modules:
            found.append(LocalSource(name, modules[name].get("ruleset", DEFAULT_RULESET), via_journald=False))
    return found


def rsyslog_forwarding(fullconf: str) -> RsyslogForwarding:
    """Read `rsyslogd -N1 -o` output: which targets every message reaches, what stops them, and
    which ruleset each of this host's message sources runs through."""
    walks: dict[str, _Ruleset] = {DEFAULT_RULESET: _Ruleset()}
    modules: dict[str, dict[str, str]] = {}
    inputs: list[dict[str, str]] = []
    legacy_ruleset, syssock_off = DEFAULT_RULESET, False
    for stmt in _statements(fullconf):
        text = stmt.text
        if text.startswith("$"):
            directive, _, value = text[1:].partition(" ")
            directive, value = directive.lower(), value.strip()
            if directive == "ruleset":
                legacy_ruleset = value or DEFAULT_RULESET
            elif directive == "modload":
                modules.setdefault(value.rsplit("/", 1)[-1].removesuffix(".so"), {})
            elif directive == "omitlocallogging":
                syssock_off = not _off(value)
            elif directive == "addunixlistensocket":
                inputs.append({"type": "imuxsock", "socket": value})
            continue
        head = text.split("(", 1)[0].strip().lower()
        if head == "module":
            params = _parameters(text)
            modules[params.get("load", "").rsplit("/", 1)[-1].removesuffix(".so")] = params
            continue
        if head == "input":
            inputs.append(_parameters(text))
            continue
        if head in _OBJECTS:
            continue
        ruleset = stmt.ruleset or legacy_ruleset
        label = "" if ruleset == DEFAULT_RULESET else f" (ruleset {ruleset!r})"
        walks.setdefault(ruleset, _Ruleset()).take(stmt, label)
    default = walks.pop(DEFAULT_RULESET)
    elsewhere = [f"{target}: in ruleset {name!r}" for name, walk in walks.items() for target in walk.every]
    return RsyslogForwarding(
        every_message=default.every,
        some_messages=default.some + elsewhere + [entry for walk in walks.values() for entry in walk.some],
        discards=default.discards,
        rulesets={DEFAULT_RULESET: default.every} | {name: walk.every for name, walk in walks.items()},
        sources=_sources(modules, inputs, syssock_off),
    )
