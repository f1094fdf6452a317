"""The strict reader of site files: YAML 1.2 scalars, no duplicate keys, no aliases, no links."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

import pytest

from infra import _strictyaml
from infra._strictyaml import SiteFileError, ambiguous, load_strict, loads_strict


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("off", "off"),
        ("1:20", "1:20"),
        ("2026-01-01", "2026-01-01"),
        ("012", 12),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", "1_000"),
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("1.5", 1.5),
        ("-3", -3),
    ],
)
def test_scalars_follow_yaml_1_2_core(text: str, value: Any) -> None:
    assert loads_strict(f"key: {text}\n") == {"key": value}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first at line 1)"),
        ("top:\n  x: 1\n  y: [1]\n  x: 2\n", 4, "duplicate key 'x' (first at line 2)"),
        ("a: &v 1\nb: *v\n", 1, "anchor and alias"),
        ("a: !!python/object:os.system x\n", 1, "could not determine a constructor"),
        ("a: [unclosed\n", 2, "YAML syntax error"),
    ],
)
def test_refused_constructs_are_located(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SiteFileError) as caught:
        loads_strict(text)
    assert fragment in str(caught.value)
    assert caught.value.line == line
    assert caught.value.hint


def test_alias_bomb_is_refused_fast_and_small() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for n in range(1, 10):
        previous = chr(ord("a") + n - 1)
        lines.append(f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [{', '.join([f'*{previous}'] * 9)}]")
    text = "\n".join(lines) + "\n"
    assert len(text) < 1100
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(SiteFileError, match="anchor and alias"):
        loads_strict(text)
    assert time.perf_counter() - start < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(SiteFileError):
        loads_strict("a: " + "[" * 5000 + "]" * 5000 + "\n")


def test_symlink_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    link = tmp_path / "pools.yml"
    link.symlink_to(secret)
    with pytest.raises(SiteFileError) as caught:
        load_strict(link)
    assert "symbolic link" in str(caught.value)
    assert "root:x" not in str(caught.value) and str(secret) not in str(caught.value)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "zones.yml"
    os.mkfifo(fifo)
    with pytest.raises(SiteFileError, match="not a regular file"):
        load_strict(fifo)


def test_directory_in_place_of_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ledger.yml").mkdir()
    with pytest.raises(SiteFileError, match="not a regular file"):
        load_strict(tmp_path / "ledger.yml")


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_strictyaml, "MAX_BYTES", 100)
    big = tmp_path / "site.yml"
    big.write_text("name: " + "x" * 200 + "\n", encoding="utf-8")
    with pytest.raises(SiteFileError, match="over the"):
        load_strict(big)


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "agencies.yml"
    bad.write_bytes(b"agencies:\n  - name: ok\n  - name: \xff\xfe\n")
    with pytest.raises(SiteFileError) as caught:
        load_strict(bad)
    assert "not UTF-8" in str(caught.value) and caught.value.line == 3


def test_empty_and_comment_only_files_read_as_none(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("", encoding="utf-8")
    (tmp_path / "b.yml").write_text("# only a comment\n\n", encoding="utf-8")
    assert load_strict(tmp_path / "a.yml") is None
    assert load_strict(tmp_path / "b.yml") is None


@pytest.mark.parametrize(
    "text", ["no", "On", "1:20", "2026-01-01", "0x1F", "~", "1e3", "", "null", "3", "TRUE", ".inf"]
)
def test_ambiguous_texts_need_quotes(text: str) -> None:
    assert ambiguous(text)


@pytest.mark.parametrize("text", ["hello", "so-yte", "Sở Y tế", "a: b", "- x", "#x"])
def test_plain_texts_do_not(text: str) -> None:
    assert not ambiguous(text)


@pytest.mark.parametrize("loader", ["load", "load_for_edit"])
def test_round_trip_reader_refuses_control_characters_as_syntax_errors(tmp_path: Path, loader: str) -> None:
    """A DEL in a site file (found by the fuzzer) is a YAML error with its file, never a traceback."""
    from infra import _yaml

    path = tmp_path / "ledger.yml"
    path.write_bytes(b"allocations: []\n# \x7f\n")
    with pytest.raises(_yaml.YamlSyntaxError, match="not allowed"):
        getattr(_yaml, loader)(path)
