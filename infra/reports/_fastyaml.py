"""YAML for the history reader: libyaml parses, and plain nodes are built here, twice as fast.

PyYAML's safe constructor spends as long building the objects as libyaml spends parsing (a
generator and a dispatch per node, made for recursive documents). The history parses thousands
of small documents, so strings, lists and mappings with string keys are built directly; every
other node (numbers, booleans, null, dates, merge keys, other keys) goes to the safe
constructor, so the result equals `yaml.safe_load`'s.
"""

from __future__ import annotations

from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["load"]

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(yaml.CSafeLoader):
    """Remembers the tag of each scalar: the same keys and values recur in every file."""

    tags: ClassVar[dict[tuple[Any, Any, Any], Any]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        key = (kind, value, implicit)
        tag = self.tags.get(key)
        if tag is None:
            if len(self.tags) >= _TAGS_KEPT:
                self.tags.clear()
            tag = self.tags[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag


_TAGS_KEPT = 100_000
"""Bounds the memory the remembered tags take in a long-lived process."""


def load(text: str) -> Any:
    """The document in `text`, as `yaml.safe_load` gives it; raises yaml.YAMLError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _Builder(loader).build(node)
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.built: dict[int, Any] = {}  # containers by node: an alias shares the object, as in PyYAML

    def build(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR and isinstance(node, ScalarNode):
            return node.value
        if id(node) in self.built:
            return self.built[id(node)]
        if tag == _SEQ and isinstance(node, SequenceNode):
            items: list[Any] = []
            self.built[id(node)] = items
            items.extend(self.build(item) for item in node.value)
            return items
        if (
            tag == _MAP
            and isinstance(node, MappingNode)
            and all(key.tag == _STR and isinstance(key, ScalarNode) for key, _value in node.value)
        ):
            mapping: dict[str, Any] = {}
            self.built[id(node)] = mapping
            for key, value in node.value:
                mapping[key.value] = self.build(value)
            return mapping
        return self.loader.construct_object(node, deep=True)
