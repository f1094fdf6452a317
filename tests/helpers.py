"""Helpers the tests share: editing site files in place and snapshotting trees."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra import _yaml
from infra._lock import LOCK_NAME
from infra._parsecache import CACHE_DIR
from infra.catalogue import CATALOGUE_DIR

Editor = Callable[[Path, str, Callable[[Any], None]], None]


def keystone_password() -> str:
    """A random password that always meets the AIO Keystone's rule (12+ characters, upper, lower, digit).

    `token_urlsafe` alone sometimes draws no digit or no capital, and Keystone refuses it.
    """
    return f"{secrets.token_urlsafe(18)}Aa1!"


def edit_yaml(root: Path, name: str, change: Callable[[Any], None]) -> None:
    """Load `root/name` round-trip, let `change` mutate the document, write it back."""
    path = root / name
    document = _yaml.load(path)
    change(document)
    path.write_text(_yaml.dump_text(document), encoding="utf-8")


def set_at(*path: Any, value: Any) -> Callable[[Any], None]:
    """An `edit_yaml` change: the item at `path` (keys and indexes) becomes `value`."""

    def change(doc: Any) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def delete_at(*path: Any) -> Callable[[Any], None]:
    """An `edit_yaml` change: the item at `path` (keys and indexes) is removed."""

    def change(doc: Any) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def append_at(*path: Any, value: Any) -> Callable[[Any], None]:
    """An `edit_yaml` change: `value` is appended to the list at `path` (keys and indexes)."""

    def change(doc: Any) -> None:
        node = doc
        for key in path:
            node = node[key]
        node.append(value)

    return change


def copy_catalogue(tmp_path: Path) -> Path:
    """A copy of the shipped catalogue's data files (no Python) under `tmp_path/catalogue`."""
    target = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def renamed_site(source: Path, parent: Path, name: str) -> Path:
    """A copy of the site at `source` under `parent/name`, renamed `name` (its own containers)."""
    root = parent / name
    shutil.copytree(source, root)

    def rename(doc: Any) -> None:
        doc["name"] = name

    edit_yaml(root, "site.yml", rename)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes, to prove a refused command wrote nothing.

    The write lock and the read cache (git-ignored, not site files) are left out: every writer
    takes the lock, and any command may cache what it read.
    """
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME and CACHE_DIR not in p.relative_to(root).parts
    }
