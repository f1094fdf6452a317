"""YAML reading and atomic writing with ruamel: comments and layout survive a round trip."""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError

__all__ = ["YamlSyntaxError", "dump_text", "line_of", "load", "load_for_edit", "plain", "round_trip", "write_atomic"]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def load(path: Path) -> Any:
    """Parse one YAML file, keeping line information for error messages."""
    try:
        with path.open(encoding="utf-8") as stream:
            return round_trip().load(stream)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(str(exc.problem or exc), line) from exc
    except ReaderError as exc:  # a character YAML does not allow (a control character such as DEL)
        raise YamlSyntaxError(f"{exc.reason}: character {exc.character!r} at position {exc.position}", None) from exc
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(f"not UTF-8 text: {exc.reason}", None) from exc


def load_for_edit(path: Path) -> Any:
    """A site file for round-trip editing, read like the strict reader reads it (no link followed).

    Trailing blanks are dropped first: libyaml accepts a tab after a value, ruamel's editor refuses it.
    """
    from infra._strictyaml import read_text

    text = "\n".join(line.rstrip(" \t") for line in read_text(path).split("\n"))
    try:
        return round_trip().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise YamlSyntaxError(str(exc.problem or exc), mark.line + 1 if mark is not None else None) from exc
    except ReaderError as exc:
        raise YamlSyntaxError(f"{exc.reason}: character {exc.character!r} at position {exc.position}", None) from exc


def line_of(document: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node on `loc` that the document can still locate."""
    node, line = document, (1 if document is not None else None)
    for key in loc:
        try:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
    return line


def plain(data: Any) -> Any:
    """Commented (or any mapping/sequence) containers as plain dicts and lists, for pydantic."""
    if isinstance(data, Mapping):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


def dump_text(document: Any) -> str:
    buffer = io.StringIO()
    round_trip().dump(document, buffer)
    return buffer.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file.

    The file keeps its mode (a new one gets the umask's), and the data is on disk before the
    rename, so a crash leaves either the old file or the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat(follow_symlinks=False).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
