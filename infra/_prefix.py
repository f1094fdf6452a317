"""Prefix fields parsed once per text: `ipaddress` parses in Python, about 5 µs a prefix.

A site of 5,000 tenants holds 25,000 prefixes in its ledger and the same ones again in the tenant
files; each text is parsed once and the frozen network shared, and a text in the plain form hatang
writes is parsed by C (`socket`) and built from integers, in half the time. Only JSON input (how the
site files are validated) takes this path, and only a text that parses: anything else goes to
pydantic's own validator, so the result and every error are exactly pydantic's.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache
from typing import Annotated, Any

from pydantic import ValidationInfo, ValidatorFunctionWrapHandler, WrapValidator

__all__ = ["IPv4Prefix", "IPv6Prefix", "Prefix"]

_CACHED = 1 << 17
"""Texts kept: every prefix of 25,000 tenants (five each)."""


_PLAIN4 = re.compile(r"((?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3})/([0-9]{1,2})")
"""A dotted quad without leading zeros (which `ipaddress` refuses) and a prefix length."""
_PLAIN6 = re.compile(r"((?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:)/([0-9]{1,3})")
"""Eight groups, or up to six and `::` (as `str` writes a network); forms every parser reads alike."""


@lru_cache(maxsize=_CACHED)
def _network(text: str, version: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """`ipaddress`' network of `text`; the integer constructor it uses still checks the prefix
    length and refuses host bits.

    Raises:
        ValueError: not an IPv`version` network.
    """
    plain = (_PLAIN4 if version == 4 else _PLAIN6).fullmatch(text)
    try:
        if plain is not None and version == 4:
            return ipaddress.IPv4Network((int.from_bytes(socket.inet_aton(plain[1])), int(plain[2])))
        if plain is not None:
            return ipaddress.IPv6Network((int.from_bytes(socket.inet_pton(socket.AF_INET6, plain[1])), int(plain[2])))
    except OSError:
        pass  # an octet above 255: `ipaddress` says so below
    return ipaddress.IPv4Network(text) if version == 4 else ipaddress.IPv6Network(text)


def _parsed(version: int | None) -> WrapValidator:
    """A validator parsing JSON text as an IPv`version` network (None: IPv6 when it has a colon,
    which no IPv4 network text has, IPv4 otherwise: what a left-to-right union of the two gives)."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        if type(value) is str and info.mode == "json":
            try:
                return _network(value, version or (6 if ":" in value else 4))
            except ValueError:
                pass  # pydantic's validator reports it, with its own message
        return handler(value)

    return WrapValidator(validate)


IPv4Prefix = Annotated[ipaddress.IPv4Network, _parsed(4)]
IPv6Prefix = Annotated[ipaddress.IPv6Network, _parsed(6)]
Prefix = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, _parsed(None)]
"""Either family, the way a left-to-right union of the two reads it."""
