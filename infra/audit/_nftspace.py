"""Sets of packets as unions of boxes ("cubes"): the algebra behind the nftables evaluation.

A cube constrains some dimensions of a packet (source address, protocol, port, input interface,
conntrack state, ...); a dimension it does not name is unconstrained. Numeric dimensions are
sorted disjoint integer intervals; named ones (interfaces, states, ICMP types) are a finite set
or the complement of one. Union is a list of cubes (they may overlap); difference splits cubes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Cube", "Ints", "Names", "cube", "describe", "meet", "meet_all", "minus", "minus_all"]

Intervals = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Ints:
    """Integers as sorted, disjoint, non-adjacent closed intervals."""

    spans: Intervals

    @staticmethod
    def of(spans: Iterable[tuple[int, int]]) -> Ints:
        out: list[list[int]] = []
        for lo, hi in sorted((min(a, b), max(a, b)) for a, b in spans):
            if out and lo <= out[-1][1] + 1:
                out[-1][1] = max(out[-1][1], hi)
            else:
                out.append([lo, hi])
        return Ints(tuple((a, b) for a, b in out))

    def __and__(self, other: Ints) -> Ints:
        out = []
        for a, b in self.spans:
            for c, d in other.spans:
                lo, hi = max(a, c), min(b, d)
                if lo <= hi:
                    out.append((lo, hi))
        return Ints.of(out)

    def __sub__(self, other: Ints) -> Ints:
        out = []
        for a, b in self.spans:
            pieces = [(a, b)]
            for c, d in other.spans:
                nxt = []
                for lo, hi in pieces:
                    if d < lo or c > hi:
                        nxt.append((lo, hi))
                        continue
                    if lo < c:
                        nxt.append((lo, c - 1))
                    if d < hi:
                        nxt.append((d + 1, hi))
                pieces = nxt
            out.extend(pieces)
        return Ints.of(out)

    def __bool__(self) -> bool:
        return bool(self.spans)


@dataclass(frozen=True)
class Names:
    """A finite set of names (`include`) or every name except a finite set."""

    include: bool
    items: frozenset[str]

    def __and__(self, other: Names) -> Names:
        if self.include and other.include:
            return Names(True, self.items & other.items)
        if self.include:
            return Names(True, self.items - other.items)
        if other.include:
            return Names(True, other.items - self.items)
        return Names(False, self.items | other.items)

    def __sub__(self, other: Names) -> Names:
        return self & Names(not other.include, other.items)

    def __bool__(self) -> bool:
        return not self.include or bool(self.items)


Value = Ints | Names

# Numeric dimensions and their universes; every other dimension holds names.
_UNIVERSE: dict[str, Ints] = {
    "nfproto": Ints(((4, 4), (6, 6))),
    "saddr4": Ints(((0, 2**32 - 1),)),
    "daddr4": Ints(((0, 2**32 - 1),)),
    "saddr6": Ints(((0, 2**128 - 1),)),
    "daddr6": Ints(((0, 2**128 - 1),)),
    "l4proto": Ints(((0, 255),)),
    "dport": Ints(((0, 65535),)),
    "sport": Ints(((0, 65535),)),
}
CT_STATES = frozenset({"new", "established", "related", "invalid", "untracked"})


def full(dim: str) -> Value:
    """Every value of `dim`."""
    if dim in _UNIVERSE:
        return _UNIVERSE[dim]
    if dim == "ct.state":
        return Names(True, CT_STATES)
    return Names(False, frozenset())


def numeric(dim: str) -> bool:
    return dim in _UNIVERSE


def complement(dim: str, value: Value) -> Value:
    universe = full(dim)
    if isinstance(universe, Ints) and isinstance(value, Ints):
        return universe - value
    if isinstance(value, Names):
        return universe & Names(not value.include, value.items) if isinstance(universe, Names) else universe
    raise TypeError(f"{dim}: mixed value kinds")


def _meet_value(a: Value, b: Value) -> Value:
    if isinstance(a, Ints) and isinstance(b, Ints):
        return a & b
    if isinstance(a, Names) and isinstance(b, Names):
        return a & b
    raise TypeError("mixed value kinds")


def _minus_value(a: Value, b: Value) -> Value:
    if isinstance(a, Ints) and isinstance(b, Ints):
        return a - b
    if isinstance(a, Names) and isinstance(b, Names):
        return a - b
    raise TypeError("mixed value kinds")


@dataclass(frozen=True)
class Cube:
    """Packets whose every named dimension lies in the given value (a conjunction)."""

    dims: tuple[tuple[str, Value], ...] = ()

    def get(self, dim: str) -> Value:
        for name, value in self.dims:
            if name == dim:
                return value
        return full(dim)

    def constrains(self, dim: str) -> bool:
        return any(name == dim for name, _ in self.dims)

    def with_(self, dim: str, value: Value) -> Cube:
        rest = {k: v for k, v in self.dims if k != dim}
        if value != full(dim):
            rest[dim] = value
        return Cube(tuple(sorted(rest.items(), key=lambda kv: _order(kv[0]))))


_ORDER = ("nfproto", "saddr4", "saddr6", "iif", "l4proto", "dport", "ct.state", "daddr4", "daddr6", "sport")


def _order(dim: str) -> tuple[int, str]:
    return (_ORDER.index(dim) if dim in _ORDER else len(_ORDER), dim)


def cube(values: Mapping[str, Value]) -> Cube | None:
    """A cube from its constrained dimensions; None when it is empty."""
    out = Cube()
    for dim, value in values.items():
        if not value:
            return None
        out = out.with_(dim, value)
    return out


def meet(a: Cube, b: Cube) -> Cube | None:
    """The packets in both cubes; None when there are none."""
    out = a
    for dim, value in b.dims:
        both = _meet_value(out.get(dim), value)
        if not both:
            return None
        out = out.with_(dim, both)
    return out


def meet_all(left: Iterable[Cube], right: Iterable[Cube]) -> list[Cube]:
    """Pairwise intersection of two unions."""
    right = list(right)
    return [m for a in left for b in right if (m := meet(a, b)) is not None]


def minus(a: Cube, b: Cube) -> list[Cube]:
    """The packets of `a` that are not in `b`, as disjoint cubes."""
    if meet(a, b) is None:
        return [a]
    out = []
    current = a
    for dim, value in sorted(b.dims, key=lambda kv: _order(kv[0])):
        mine = current.get(dim)
        rest = _minus_value(mine, value)
        if rest:
            out.append(current.with_(dim, rest))
        current = current.with_(dim, _meet_value(mine, value))
    return out


def minus_all(left: Iterable[Cube], right: Iterable[Cube]) -> list[Cube]:
    """The union `left` without the union `right`."""
    out = list(left)
    for b in right:
        out = [piece for a in out for piece in minus(a, b)]
        if not out:
            break
    return out


# --------------------------------------------------------------------------- messages

_PROTOCOLS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 33: "dccp", 47: "gre", 50: "esp", 51: "ah",
              58: "ipv6-icmp", 112: "vrrp", 132: "sctp", 136: "udplite"}  # fmt: skip


def _spans(spans: Intervals, show: object) -> str:
    return ", ".join(str(show(lo)) if lo == hi else f"{show(lo)}-{show(hi)}" for lo, hi in spans)  # type: ignore[operator]


def _prefixes(spans: Intervals, version: int) -> list[str]:
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    out: list[str] = []
    for lo, hi in spans:
        out.extend(str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi)))
    return out


def _addresses(value: Ints, dim: str) -> str:
    version = 4 if dim.endswith("4") else 6
    universe = _UNIVERSE[dim]
    if value == universe:
        return "any"
    rest = universe - value
    shown, others = _prefixes(value.spans, version), _prefixes(rest.spans, version)
    if len(others) < len(shown):
        return "any except " + ", ".join(others[:6]) + (" …" if len(others) > 6 else "")
    return ", ".join(shown[:6]) + (" …" if len(shown) > 6 else "")


def _show(dim: str, value: Value) -> str:
    if isinstance(value, Names):
        items = ", ".join(sorted(value.items))
        return items if value.include else (f"any except {items}" if items else "any")
    if dim.startswith(("saddr", "daddr")):
        return _addresses(value, dim)
    if dim == "l4proto":
        universe = _UNIVERSE[dim]
        if value == universe:
            return "any"
        if len((universe - value).spans) < len(value.spans):
            return "any except " + _spans((universe - value).spans, lambda p: _PROTOCOLS.get(p, p))
        return _spans(value.spans, lambda p: _PROTOCOLS.get(p, p))
    if dim == "nfproto":
        return "/".join(f"ipv{lo}" for lo, _ in value.spans)
    if value == _UNIVERSE.get(dim):
        return "any"
    return _spans(value.spans, lambda p: p)


_LABELS = {"saddr4": "from", "saddr6": "from", "iif": "on", "l4proto": "protocol", "dport": "port",
           "ct.state": "ct state", "daddr4": "to", "daddr6": "to", "sport": "source port"}  # fmt: skip


def describe(c: Cube) -> str:
    """A packet set in words, e.g. 'ipv4 from any protocol tcp port 22 on any'."""
    nfproto = c.get("nfproto")
    words = [_show("nfproto", nfproto)]
    families = {lo for lo, _ in nfproto.spans} if isinstance(nfproto, Ints) else {4, 6}
    sources = {v: _show(f"saddr{v}", c.get(f"saddr{v}")) for v in sorted(families)}
    if len(sources) == 1 or set(sources.values()) == {"any"}:
        words.append(f"from {next(iter(sources.values()))}")
    else:
        words.append("from " + " and ".join(f"{s} (ipv{v})" for v, s in sources.items()))
    proto = c.get("l4proto")
    words.append(f"protocol {_show('l4proto', proto)}")
    has_ports = isinstance(proto, Ints) and bool(proto & Ints.of([(6, 6), (17, 17), (33, 33), (132, 132), (136, 136)]))
    if has_ports or c.constrains("dport"):
        words.append(f"port {_show('dport', c.get('dport'))}")
    words.append(f"on {_show('iif', c.get('iif'))}")
    for dim, value in c.dims:
        if dim not in {"nfproto", "saddr4", "saddr6", "l4proto", "dport", "iif"}:
            if dim in {"daddr4", "daddr6"} and int(dim[-1]) not in families:
                continue
            words.append(f"{_LABELS.get(dim, dim)} {_show(dim, value)}")
    return " ".join(words)
