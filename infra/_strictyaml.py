"""The strict reader of site files: a record must mean what a reviewer reads.

libyaml parses (fast); the constructor and resolver are ours, so that:
- scalars follow the YAML 1.2 core schema: only true/false are booleans, `yes`, `no`, `on`, `1:20`
  and dates stay text, so `security_level: yes` can never become level 1;
- a key written twice is an error, not "the last one wins" while the reviewer reads the first;
- aliases are refused, so a kilobyte of nested references cannot expand to gigabytes;
- a symbolic link, a device or a pipe is never opened as a site file, and a file is capped in size.

PyYAML's generic constructor costs more than libyaml's parsing; the common case (text keys, core
scalars, no tags, no aliases) is built by `_build` in a third of the time, and anything else —
every error included — goes to the constructor below, so both give the same data and messages.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml as pyyaml
from yaml.cyaml import CParser  # type: ignore[attr-defined]
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

__all__ = [
    "MAX_BYTES",
    "SiteFileError",
    "ambiguous",
    "load_strict",
    "loads_strict",
    "loads_strict_plain",
    "read_file",
    "read_text",
    "shorten",
]

MAX_BYTES = 16 * 1024 * 1024
"""Largest site file read: the biggest real one (a 5,000-tenant ledger) is under 2 MiB."""


class SiteFileError(Exception):
    """A site file that cannot be read as a record; `line` is 1-based when known."""

    def __init__(self, message: str, hint: str, line: int | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.line = line


def read_text(path: Path) -> str:
    """The UTF-8 text of a regular file, never following a symbolic link.

    Raises:
        SiteFileError: a link, not a regular file, unreadable, too large, or not UTF-8.
    """
    return read_file(path)[0]


def read_file(path: Path) -> tuple[str, os.stat_result]:
    """`read_text`, with the status of the file that was opened (what a parse cache keys on).

    Raises:
        SiteFileError: as `read_text`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SiteFileError(
                "is a symbolic link; site files are never followed",
                "replace the link with the file itself (git tracks the content, reviewers see it)",
            ) from None
        raise SiteFileError(f"cannot be read: {exc.strerror}", "check that the file exists and is readable") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise SiteFileError("is not a regular file", "site files are plain files in the repository")
    try:
        if info.st_size > MAX_BYTES:
            raise SiteFileError(
                f"is {info.st_size} bytes, over the {MAX_BYTES // (1024 * 1024)} MiB a site file may have",
                "split the data or remove what does not belong in a site file",
            )
        try:
            data = _read_to_end(fd, info.st_size)
        except OSError as exc:
            raise SiteFileError(f"cannot be read: {exc.strerror}", "check the disk and the file") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8"), info
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SiteFileError(f"is not UTF-8 text ({exc.reason})", "save the file as UTF-8", line) from None


def _read_to_end(fd: int, size: int) -> bytes:
    """What `read(MAX_BYTES + 1)` on the open file gives: its bytes to the end, at most MAX_BYTES + 1.

    The first read asks for the size `fstat` gave plus one byte, not for the limit: a buffer of the
    limit's size would be allocated and freed on every file, which costs more than reading a
    tenant file. Reads go on to the end of the file, should it have grown since.
    """
    limit = MAX_BYTES + 1
    chunks: list[bytes] = []
    total, want = 0, size + 1
    while total < limit:
        chunk = os.read(fd, min(want, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = max(want, 1 << 16)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"


class _CoreResolver(pyyaml.resolver.BaseResolver):
    """Implicit types of the YAML 1.2 core schema (yaml.org/spec/1.2.2 §10.3)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """`BaseResolver.resolve` for a resolver without path resolvers, at half its cost.

        libyaml calls it for every node; the base class builds two lists on each call.
        """
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP


_CORE = (
    (_BOOL, r"true|True|TRUE|false|False|FALSE", "tTfF"),
    (_INT, r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        _FLOAT,
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
    (_NULL, r"~|null|Null|NULL|", ["~", "n", "N", ""]),
)
for _tag, _pattern, _first in _CORE:
    _CoreResolver.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), list(_first))

_IMPLICIT: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    first: tuple(resolvers) for first, resolvers in _CoreResolver.yaml_implicit_resolvers.items()
}
"""The implicit resolvers by first character ('' for the empty text), as `_CoreResolver.resolve` reads them."""

_CORE_TEXT = {tag: re.compile(pattern).fullmatch for tag, pattern, _ in _CORE}
_CORE_NAMES = {_BOOL: "boolean", _INT: "integer", _FLOAT: "number", _NULL: "null"}


class _NotCore(ValueError):
    """A scalar given an explicit tag (`!!int x`) that the YAML 1.2 core schema does not allow."""


def _core_value(tag: str, text: str) -> Any:
    """The value of a bool, int, float or null scalar, implicit or explicitly tagged.

    An explicit tag does not widen the core schema: `!!bool yes`, `!!int 1_000` and `!!int x`
    are refused like their plain spellings would be misread, never converted or crashing.

    Raises:
        _NotCore: `text` is not a value of `tag` in the core schema.
    """
    if _CORE_TEXT[tag](text) is None:
        raise _NotCore(text)
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _NULL:
        return None
    if tag == _INT:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(lowered)


class _Refused(pyyaml.constructor.ConstructorError):
    """A construct the strict reader refuses, with how to fix it."""

    def __init__(self, problem: str, hint: str, node: pyyaml.Node) -> None:
        super().__init__(None, None, problem, node.start_mark)
        self.hint = hint


class _StrictConstructor(pyyaml.constructor.SafeConstructor):
    def construct_mapping(self, node: pyyaml.Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, pyyaml.MappingNode):
            raise _Refused("expected a mapping", "write key: value pairs", node)
        mapping: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise _Refused("a key must be a plain value", "use a name as the key", key_node)
            if key in mapping:
                raise _Refused(
                    f"duplicate key {shorten(key)} (first at line {first_line[key]}): readers disagree on which counts",
                    "keep one of the two",
                    key_node,
                )
            first_line[key] = key_node.start_mark.line + 1
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_map(self, node: pyyaml.Node) -> Any:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))

    def construct_core_scalar(self, node: pyyaml.ScalarNode) -> Any:
        """A bool, int, float or null scalar (`_core_value`), refused with its line when it is not one."""
        text = str(self.construct_scalar(node))
        try:
            return _core_value(node.tag, text)
        except _NotCore:
            raise _Refused(
                f"{shorten(text)} is not a YAML 1.2 {_CORE_NAMES[node.tag]} (tag {node.tag.rsplit(':', 1)[-1]})",
                "write the value without the tag: true/false, a number, or text (quoted if it looks like one)",
                node,
            ) from None


_StrictConstructor.add_constructor(_MAP, _StrictConstructor.construct_yaml_map)  # type: ignore[type-var]
for _tag in (_BOOL, _INT, _FLOAT, _NULL):
    _StrictConstructor.add_constructor(_tag, _StrictConstructor.construct_core_scalar)  # type: ignore[type-var]
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):  # YAML 1.1 types: text, or an error
    _StrictConstructor.yaml_constructors.pop(f"tag:yaml.org,2002:{_tag}", None)


class _AliasRefusingConstructor(_StrictConstructor):
    """Used only for text with a '*' in it: the check costs a Python call per node."""

    def construct_object(self, node: pyyaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise _Refused(
                "this value is reused through an anchor and alias (&name, *name), which site files may not use",
                "write the value out where it is used",
                node,
            )
        return super().construct_object(node, deep=deep)


class _StrictLoader(CParser, _StrictConstructor, _CoreResolver):
    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        _StrictConstructor.__init__(self)
        _CoreResolver.__init__(self)


class _AliasRefusingLoader(CParser, _AliasRefusingConstructor, _CoreResolver):
    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        _AliasRefusingConstructor.__init__(self)
        _CoreResolver.__init__(self)


def load_strict(path: Path) -> Any:
    """Parse one site file strictly; None for an empty or comment-only file.

    Raises:
        SiteFileError: unreadable, a link, a syntax error, a duplicate key, an alias, a tag.
    """
    return loads_strict(read_text(path))


def loads_strict(text: str) -> Any:
    """Parse YAML text strictly (see `load_strict`)."""
    return loads_strict_plain(text)[0]


class _Unusual(Exception):
    """Met by `_build`: a node it leaves to PyYAML's constructor (which builds it or locates the error)."""


_SCALARS = {_BOOL, _INT, _FLOAT, _NULL}
_MAX_DEPTH = 64
"""Deeper nesting is left to the constructor: it decides where the recursion limit lies, as always."""


def _build(node: Any, depth: int = 0) -> Any:
    """The data of a composed node, as `_StrictConstructor` would build it, for the common case only.

    Mappings with text keys written once, sequences, text and core scalars. Anything else — another
    key, a duplicate key, a tag, a scalar its tag refuses, deep nesting — raises `_Unusual`. Aliases
    are not looked for: the caller uses this only for text without a '*'.
    """
    kind = node.__class__
    if kind is ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag in _SCALARS:
            try:
                return _core_value(tag, node.value)
            except _NotCore:
                raise _Unusual from None
        raise _Unusual
    if depth >= _MAX_DEPTH:
        raise _Unusual
    if kind is MappingNode:
        if node.tag != _MAP:
            raise _Unusual
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode or key_node.tag != _STR:
                raise _Unusual
            key = key_node.value
            if key in mapping:
                raise _Unusual
            mapping[key] = _build(value_node, depth + 1)
        return mapping
    if kind is SequenceNode and node.tag == _SEQ:
        return [_build(item, depth + 1) for item in node.value]
    raise _Unusual


def loads_strict_plain(text: str) -> tuple[Any, bool]:
    """`loads_strict`, and whether the data is plain: only dicts with text keys, lists and scalars.

    Plain data needs no `_yaml.plain` before it is turned into JSON. Text without a '*' (so without
    an alias) is built by `_build`; on anything it does not handle, PyYAML's strict constructor
    parses the text again and decides, so both give the same data and the same errors.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SiteFileError("holds text that is not UTF-8", "save the file as UTF-8") from exc
    if "*" not in text:
        fast = _StrictLoader(text)
        try:
            node = fast.get_single_node()
            return (None if node is None else _build(node)), True
        except Exception:  # an unusual node, or any error: the constructor below decides and locates it
            pass
        finally:
            fast.dispose()
    return _construct(text), False


def _construct(text: str) -> Any:
    """Parse UTF-8 YAML text with PyYAML's (strict) constructor."""
    loader = _AliasRefusingLoader(text) if "*" in text else _StrictLoader(text)  # no '*', no alias
    try:
        return loader.get_single_data()
    except pyyaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        if isinstance(exc, _Refused):
            raise SiteFileError(str(exc.problem), exc.hint, line) from None
        problem = f"YAML syntax error: {exc.problem or exc}"
        raise SiteFileError(problem, "fix the YAML syntax at that line", line) from None
    except pyyaml.YAMLError as exc:
        raise SiteFileError(f"YAML error: {exc}", "fix the YAML syntax") from None
    except RecursionError:
        raise SiteFileError("is nested too deeply to be a site file", "flatten the structure") from None
    finally:
        loader.dispose()


_LEGACY_RESOLVER = pyyaml.resolver.Resolver()
_CORE_RESOLVER = _CoreResolver()


def ambiguous(text: str) -> bool:
    """True when a plain (unquoted) `text` would read back as something other than this text.

    Checked under both YAML 1.2 (our reader) and YAML 1.1 (yamllint, Ansible, older tools):
    `no`, `on`, `1:20`, `2026-01-01`, `0x1F`, `~`, `1e3` all need quotes.
    """
    node, implicit = pyyaml.ScalarNode, (True, False)
    text_tag = "tag:yaml.org,2002:str"
    legacy = _LEGACY_RESOLVER.resolve(node, text, implicit)  # type: ignore[no-untyped-call]
    core = _CORE_RESOLVER.resolve(node, text, implicit)
    return bool(legacy != text_tag or core != text_tag)


def shorten(value: Any, limit: int = 60) -> str:
    """`repr(value)` cut to `limit` characters, so a message never echoes a whole file."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
