"""Prefix fields: parsed once per text, by integers when plain, always as pydantic and ipaddress would."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from infra._prefix import IPv4Prefix, IPv6Prefix, Prefix
from infra.site import parse_strict

TEXTS = [
    "10.64.0.0/22",
    "10.64.0.1/22",
    "0.0.0.0/0",
    "255.255.255.255/32",
    "10.64.0.0/33",
    "010.64.0.0/22",
    "10.64.0.256/32",
    "10.64.0.0/255.255.252.0",
    "10.64.0.0/022",
    "fd00:1::/64",
    "fd00:1::1/64",
    "1:2:3:4:5:6:7:8/128",
    "1:2:3:4:5:6:7::/112",
    "FD00:1::/64",
    "fd00:1::/129",
    "fd00::%1/128",
    "::ffff:10.0.0.0/120",
    "fd00:::/64",
    "",
    "x",
]

PLAIN: dict[Any, Any] = {IPv4Prefix: ipaddress.IPv4Network, IPv6Prefix: ipaddress.IPv6Network}


def _outcome(model: Any, text: str) -> Any:
    try:
        return parse_strict(model, text)
    except ValidationError as exc:
        return [(e["type"], e["msg"]) for e in exc.errors()]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("fast", [IPv4Prefix, IPv6Prefix])
def test_prefix_same_value_or_error_as_pydantic(fast: Any, text: str) -> None:
    assert _outcome(fast, text) == _outcome(PLAIN[fast], text)


@pytest.mark.parametrize("text", TEXTS)
def test_prefix_union_reads_like_left_to_right_union(text: str) -> None:
    union = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, Field(union_mode="left_to_right")]
    assert _outcome(Prefix, text) == _outcome(union, text)


def test_prefix_text_parsed_once_shared() -> None:
    first, second = (parse_strict(IPv6Prefix, "fd00:9::/64") for _ in range(2))
    assert first is second


def test_prefix_python_input_left_to_pydantic() -> None:
    assert TypeAdapter(IPv4Prefix).validate_python("10.0.0.0/8") == ipaddress.IPv4Network("10.0.0.0/8")
    with pytest.raises(ValidationError):
        TypeAdapter(IPv4Prefix).validate_python("10.0.0.0/8", strict=True)
