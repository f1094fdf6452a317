"""What the live nftables input path admits, evaluated as the kernel does (`nft -j list ruleset`).

Every base chain on the input hook (ip, ip6 and inet families, any table) sees the packet; a drop
is final, an accept only ends that chain, so a packet reaches a local socket when every input
base chain accepts it. Inside a chain, rules run in order; `jump`/`goto` enter regular chains,
`return` and the end of a jumped-to chain come back, verdict maps send each key to its verdict.
Matches on addresses, protocol, ports, interface and conntrack state are exact; a match or
statement this module does not understand fails closed: an accept may match everything that
reaches it, and a drop or jump-back is assumed to take nothing away.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.audit._nftspace import (
    Cube,
    Ints,
    Names,
    Value,
    complement,
    full,
    meet,
    meet_all,
    minus_all,
    numeric,
)

__all__ = ["Admitted", "BaseChain", "InputPath", "evaluate_input"]

_L4 = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "esp": 50, "ah": 51,
       "ipv6-icmp": 58, "icmpv6": 58, "vrrp": 112, "sctp": 132, "udplite": 136}  # fmt: skip
_PORTED = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132, "udplite": 136}
_NFPROTO = {"ipv4": 4, "ipv6": 6, "ip": 4, "ip6": 6}
_FAMILIES = {"ip": (4,), "ip6": (6,), "inet": (4, 6)}
_TERMINAL = ("accept", "drop", "reject", "queue")
_NO_EFFECT = frozenset({"counter", "log", "continue", "comment"})
_MAYBE = frozenset({"limit", "quota", "ct count", "last"})  # conditions that may or may not hold
_REWRITES = frozenset({"mangle", "snat", "dnat", "masquerade", "redirect", "tproxy", "notrack", "set", "map"})
_MAX_DEPTH = 16

Union = list[Cube]


@dataclass(frozen=True)
class Ref:
    """A place in the ruleset that accepted packets: a rule, or a chain's policy."""

    chain: str
    """`family table chain`."""
    handle: int | None
    comment: str | None
    unconditional: bool = False
    """The rule accepts everything that reaches it (no match at all, or a match on the address
    family alone: `meta nfproto ipv6 accept` is a default accept of IPv6), or this is a policy."""

    def __str__(self) -> str:
        if self.handle is None:
            return f"policy accept of {self.chain}"
        return f"rule {self.chain} handle {self.handle} ({self.comment or 'no comment'})"


@dataclass(frozen=True)
class Admitted:
    """Packets that reach the host's sockets, and the accept(s) that let them through."""

    packets: Cube
    refs: tuple[Ref, ...]


@dataclass(frozen=True)
class BaseChain:
    name: str
    """`family table chain`."""
    family: str
    hook: str
    type: str
    priority: int
    policy: str


@dataclass
class InputPath:
    """The result of evaluating the input hook."""

    chains: list[BaseChain]
    admitted: list[Admitted]
    problems: list[str] = field(default_factory=list)
    """What the evaluation could not take at face value (rewrites, unknown expressions)."""


# --------------------------------------------------------------------------- values


def _address(text: str, version: int) -> int:
    return int(ipaddress.ip_address(text)) if ipaddress.ip_address(text).version == version else -1


def _atoms(right: Any, sets: Mapping[str, list[Any] | None]) -> list[Any] | None:
    """The literal elements a match compares with, named sets resolved; None: not understood."""
    if isinstance(right, str) and right.startswith("@"):
        return sets.get(right[1:])
    if isinstance(right, dict) and "set" in right:
        right = right["set"]
    items = right if isinstance(right, list) else [right]
    out = []
    for item in items:
        if isinstance(item, dict) and "elem" in item:
            item = item["elem"].get("val")
        out.append(item)
    return out


def _value(dim: str, atoms: list[Any]) -> Value | None:
    """The dimension value the atoms denote; None when one of them is not understood."""
    if numeric(dim):
        spans: list[tuple[int, int]] = []
        version = 6 if dim.endswith("6") else 4
        for atom in atoms:
            if isinstance(atom, bool):
                return None
            if isinstance(atom, int):
                spans.append((atom, atom))
            elif isinstance(atom, str):
                if dim == "l4proto" and atom in _L4:
                    spans.append((_L4[atom], _L4[atom]))
                elif dim == "nfproto" and atom in _NFPROTO:
                    spans.append((_NFPROTO[atom], _NFPROTO[atom]))
                elif dim.startswith(("saddr", "daddr")):
                    try:
                        net = ipaddress.ip_network(atom, strict=False)
                    except ValueError:
                        return None
                    if net.version != version:
                        return None
                    spans.append((int(net.network_address), int(net.broadcast_address)))
                else:
                    return None
            elif isinstance(atom, dict) and "prefix" in atom and dim.startswith(("saddr", "daddr")):
                try:
                    net = ipaddress.ip_network(f"{atom['prefix']['addr']}/{atom['prefix']['len']}", strict=False)
                except (ValueError, KeyError, TypeError):
                    return None
                if net.version != version:
                    return None
                spans.append((int(net.network_address), int(net.broadcast_address)))
            elif isinstance(atom, dict) and "range" in atom:
                low = _value(dim, [atom["range"][0]])
                high = _value(dim, [atom["range"][1]])
                if not isinstance(low, Ints) or not isinstance(high, Ints) or not low or not high:
                    return None
                spans.append((low.spans[0][0], high.spans[-1][1]))
            else:
                return None
        return Ints.of(spans) & _full_ints(dim)
    names = []
    for atom in atoms:
        if isinstance(atom, bool) or not isinstance(atom, str | int):
            return None
        text = str(atom)
        if dim == "iif" and text.endswith("*"):
            return None  # wildcard interface names: not modelled
        names.append(text)
    return Names(True, frozenset(names))


def _full_ints(dim: str) -> Ints:
    value = full(dim)
    assert isinstance(value, Ints)
    return value


@dataclass(frozen=True)
class _Key:
    dim: str
    implied: Cube
    exact: bool = True


def _key(left: Any) -> _Key | None:
    """The dimension an expression reads, and what it implies about the packet (e.g. tcp)."""
    if not isinstance(left, dict):
        return None
    if "payload" in left:
        payload = left["payload"]
        proto, fld = payload.get("protocol"), payload.get("field")
        if proto in {"ip", "ip6"}:
            family = 4 if proto == "ip" else 6
            implied = Cube((("nfproto", Ints(((family, family),))),))
            if fld in {"saddr", "daddr"}:
                return _Key(f"{fld}{family}", implied)
            if fld == "protocol" and proto == "ip":
                return _Key("l4proto", implied)
            if fld == "nexthdr" and proto == "ip6":
                return _Key("l4proto", implied, exact=False)  # extension headers come first
            return _Key(f"{proto}.{fld}", implied)
        if proto in _PORTED and fld in {"sport", "dport"}:
            number = _PORTED[proto]
            return _Key(fld, Cube((("l4proto", Ints(((number, number),))),)))
        if proto == "th" and fld in {"sport", "dport"}:
            return _Key(fld, Cube())  # raw transport header: any protocol
        if proto in {"icmp", "icmpv6"} and isinstance(fld, str):
            number = _L4[proto]
            return _Key(f"{proto}.{fld}", Cube((("l4proto", Ints(((number, number),))),)))
        return None
    if "meta" in left:
        key = left["meta"].get("key")
        if key in {"iifname", "iif"}:
            return _Key("iif", Cube())
        if key == "l4proto":
            return _Key("l4proto", Cube())
        if key == "nfproto":
            return _Key("nfproto", Cube())
        if isinstance(key, str):
            return _Key(f"meta.{key}", Cube())
        return None
    if "ct" in left:
        key = left["ct"].get("key")
        if key == "state" and left["ct"].get("dir") is None:
            return _Key("ct.state", Cube())
        if isinstance(key, str) and left["ct"].get("dir") is None:
            return _Key(f"ct.{key}", Cube())
    return None


@dataclass(frozen=True)
class _Match:
    """A condition as a union of cubes: `over` holds at least every matching packet, `under`
    at most the matching ones (they are equal when the condition is understood exactly)."""

    over: tuple[Cube, ...]
    under: tuple[Cube, ...]

    @staticmethod
    def anything() -> _Match:
        return _Match((Cube(),), (Cube(),))

    @staticmethod
    def unknown() -> _Match:
        return _Match((Cube(),), ())

    def __and__(self, other: _Match) -> _Match:
        return _Match(tuple(meet_all(self.over, other.over)), tuple(meet_all(self.under, other.under)))


def _with(implied: Cube, dim: str, value: Value) -> list[Cube]:
    c = meet(implied, Cube(((dim, value),)) if value != full(dim) else Cube())
    return [c] if c is not None else []


class _Evaluator:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.chains: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.sets: dict[str, dict[str, list[Any] | None]] = {}
        self.maps: dict[str, dict[str, list[Any] | None]] = {}
        self.problems: list[str] = []
        dynamic: set[tuple[str, str]] = set()
        for item in items:
            if "chain" in item:
                c = item["chain"]
                self.chains[_name(c, c.get("name"))] = c
            elif "rule" in item:
                r = item["rule"]
                self.rules.setdefault(_name(r, r.get("chain")), []).append(r)
                for expr in r.get("expr", []):
                    for word in ("set", "map"):
                        if isinstance(expr, dict) and isinstance(expr.get(word), dict):
                            target = str(expr[word].get("set") or expr[word].get("map") or "")
                            dynamic.add((f"{r['family']} {r['table']}", target.lstrip("@")))
            elif "set" in item or "map" in item:
                kind = "set" if "set" in item else "map"
                s = item[kind]
                flags = set(s.get("flags") or [])
                elems = None if flags & {"dynamic", "timeout"} else list(s.get("elem") or [])
                store = self.sets if kind == "set" else self.maps
                store.setdefault(f"{s['family']} {s['table']}", {})[s["name"]] = elems
        for table, name in dynamic:
            if name in self.sets.get(table, {}):
                self.sets[table][name] = None  # rules add to it at run time: its content is not fixed
            if name in self.maps.get(table, {}):
                self.maps[table][name] = None

    # ------------------------------------------------------------------ conditions

    def condition(self, table: str, where: str, expr: Any) -> _Match:
        m = expr.get("match") if isinstance(expr, dict) else None
        if not isinstance(m, dict):
            return _Match.unknown()
        op = m.get("op", "==")
        left, right = m.get("left"), m.get("right")
        if isinstance(left, dict) and "concat" in left:
            return self._concat(table, where, op, left["concat"], right)
        key = _key(left)
        atoms = _atoms(right, self.sets.get(table, {}))
        if key is None or atoms is None:
            self.problems.append(f"{where}: match not understood ({json.dumps(m, sort_keys=True)[:160]})")
            return _Match.unknown()
        if op in {"<", ">", "<=", ">="} and not (numeric(key.dim) and len(atoms) == 1):
            self.problems.append(f"{where}: comparison not understood ({json.dumps(m, sort_keys=True)[:160]})")
            return _Match(tuple(_with(key.implied, key.dim, full(key.dim))), ())
        if op in {"<", ">", "<=", ">="}:
            bound = _value(key.dim, atoms)
            if not isinstance(bound, Ints) or not bound:
                return _Match.unknown()
            low, high = _full_ints(key.dim).spans[0]
            n = bound.spans[0][0]
            span = {"<": (low, n - 1), "<=": (low, n), ">": (n + 1, high), ">=": (n, high)}[op]
            value: Value | None = Ints.of([span]) & _full_ints(key.dim)
        else:
            value = _value(key.dim, atoms)
        if value is None or op not in {"==", "in", "!=", "<", ">", "<=", ">="}:
            self.problems.append(f"{where}: match not understood ({json.dumps(m, sort_keys=True)[:160]})")
            return _Match(tuple(_with(key.implied, key.dim, full(key.dim))), ())
        if op == "!=":
            value = complement(key.dim, value)
        if key.dim == "ct.state" and isinstance(value, Names):
            value = value & Names(True, full("ct.state").items)  # type: ignore[union-attr]
        cubes = tuple(_with(key.implied, key.dim, value))
        if not key.exact:
            return _Match(cubes, ())
        return _Match(cubes, cubes)

    def _concat(self, table: str, where: str, op: str, parts: list[Any], right: Any) -> _Match:
        keys = [_key(p) for p in parts]
        atoms = _atoms(right, self.sets.get(table, {}))
        if op not in {"==", "in"} or atoms is None or any(k is None for k in keys):
            self.problems.append(f"{where}: concatenated match not understood")
            return _Match.unknown()
        cubes: list[Cube] = []
        exact = all(k is not None and k.exact for k in keys)
        for atom in atoms:
            values = atom.get("concat") if isinstance(atom, dict) else None
            if not isinstance(values, list) or len(values) != len(keys):
                self.problems.append(f"{where}: concatenated element not understood")
                return _Match.unknown()
            current: list[Cube] = [Cube()]
            for k, v in zip(keys, values, strict=True):
                assert k is not None
                value = _value(k.dim, _atoms(v, {}) or [])
                if value is None:
                    self.problems.append(f"{where}: concatenated element not understood")
                    return _Match.unknown()
                current = meet_all(current, _with(k.implied, k.dim, value))
            cubes.extend(current)
        return _Match(tuple(cubes), tuple(cubes) if exact else ())

    # ------------------------------------------------------------------ chains

    def run(self, chain: str, entering: Union, depth: int = 0) -> tuple[list[Admitted], Union]:
        """Packets `entering` chain: (what it accepts, what comes back to the caller)."""
        if depth > _MAX_DEPTH:
            self.problems.append(f"{chain}: jumps nested deeper than {_MAX_DEPTH}: assumed to accept")
            return [Admitted(c, (Ref(chain, None, "too deep", True),)) for c in entering], []
        table = chain.rsplit(" ", 1)[0]
        accepted: list[Admitted] = []
        back: Union = []
        rest = list(entering)
        for rule in self.rules.get(chain, []):
            if not rest:
                break
            where = f"{chain} handle {rule.get('handle')}"
            cond = _Match.anything()
            matched_any = False
            for expr in rule.get("expr", []):
                if not isinstance(expr, dict) or not expr:
                    continue
                word = next(iter(expr))
                if word == "match":
                    cond = cond & self.condition(table, where, expr)
                    matched_any = True
                elif word in _NO_EFFECT:
                    continue
                elif word in _MAYBE:
                    cond = _Match(cond.over, ())
                    matched_any = True
                elif word in _REWRITES:
                    self.problems.append(f"{where}: rewrites packets or state ({word}) on the input path")
                elif word in _TERMINAL or word in {"jump", "goto", "return"}:
                    ref = Ref(chain, rule.get("handle"), rule.get("comment"), not matched_any or _family_only(cond))
                    rest, accepted_here, back_here = self._verdict(chain, word, expr[word], cond, rest, ref, depth)
                    accepted += accepted_here
                    back += back_here
                    break
                elif word == "vmap":
                    rest, accepted_here, back_here = self._vmap(chain, where, expr["vmap"], cond, rest, rule, depth)
                    accepted += accepted_here
                    back += back_here
                    break
                else:
                    # fail closed: an unknown statement may be a match or a verdict; assume it may accept
                    self.problems.append(f"{where}: statement {word!r} not understood: assumed to accept")
                    hit = meet_all(rest, cond.over)
                    ref = Ref(chain, rule.get("handle"), rule.get("comment"), not matched_any)
                    accepted += [Admitted(c, (ref,)) for c in hit]
                    cond = _Match(cond.over, ())
        return accepted, back + rest

    def _verdict(
        self, chain: str, word: str, arg: Any, cond: _Match, rest: Union, ref: Ref, depth: int
    ) -> tuple[Union, list[Admitted], Union]:
        hit = meet_all(rest, cond.over)
        remaining = minus_all(rest, cond.under)
        accepted: list[Admitted] = []
        back: Union = []
        if word in {"accept", "queue"}:
            accepted = [Admitted(c, (ref,)) for c in hit]
        elif word in {"jump", "goto"}:
            target = f"{chain.rsplit(' ', 1)[0]} {(arg or {}).get('target')}"
            if target not in self.chains:
                self.problems.append(f"{ref}: {word} to a chain that does not exist ({target})")
            sub_accepted, sub_back = self.run(target, hit, depth + 1)
            accepted = sub_accepted
            if word == "jump":
                remaining = remaining + sub_back  # a jumped-to chain returns to the next rule
            else:
                back = sub_back  # goto: the end of the target returns to our caller
        elif word == "return":
            back = hit
        return remaining, accepted, back

    def _vmap(
        self, chain: str, where: str, vmap: Any, cond: _Match, rest: Union, rule: dict[str, Any], depth: int
    ) -> tuple[Union, list[Admitted], Union]:
        table = chain.rsplit(" ", 1)[0]
        data = vmap.get("data") if isinstance(vmap, dict) else None
        if isinstance(data, str) and data.startswith("@"):
            entries = self.maps.get(table, {}).get(data[1:])
        elif isinstance(data, dict) and "set" in data:
            entries = list(data["set"])
        else:
            entries = None
        ref = Ref(chain, rule.get("handle"), rule.get("comment"))
        if entries is None:
            self.problems.append(f"{where}: verdict map not understood: assumed to accept")
            return rest, [Admitted(c, (ref,)) for c in meet_all(rest, cond.over)], []
        accepted: list[Admitted] = []
        back: Union = []
        for entry in entries:
            if isinstance(entry, dict) and "elem" in entry:
                entry = entry["elem"].get("val")
            if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], dict) or not entry[1]:
                self.problems.append(f"{where}: verdict map element not understood: assumed to accept")
                accepted += [Admitted(c, (ref,)) for c in meet_all(rest, cond.over)]
                continue
            key_match = self.condition(
                table, where, {"match": {"op": "==", "left": vmap.get("key"), "right": entry[0]}}
            )
            word = next(iter(entry[1]))
            if word not in _TERMINAL and word not in {"jump", "goto", "return", "continue"}:
                self.problems.append(f"{where}: verdict {word!r} not understood: assumed to accept")
                word = "accept"
            if word == "continue":
                continue
            rest, accepted_here, back_here = self._verdict(
                chain, word, entry[1][word], cond & key_match, rest, ref, depth
            )
            accepted += accepted_here
            back += back_here
        return rest, accepted, back


def _family_only(cond: _Match) -> bool:
    """The condition is understood exactly and tests nothing but the address family."""
    dims = {name for cube in cond.over for name, _ in cube.dims}
    return bool(cond.over) and cond.over == cond.under and dims <= {"nfproto"}


def _name(obj: Mapping[str, Any], chain: Any) -> str:
    return f"{obj.get('family')} {obj.get('table')} {chain}"


def _priority(value: Any) -> int:
    if isinstance(value, int):
        return value
    named = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
    return named.get(str(value), 0)


def evaluate_input(ruleset_json: str) -> InputPath:
    """Evaluate the input hook of `nft -j list ruleset` for IPv4 and IPv6 packets.

    Returns:
        The input base chains (in priority order) and the admitted packet sets, each with the
        accept rule(s) or policy that let it through.
    """
    items = [i for i in json.loads(ruleset_json or "{}").get("nftables", []) if isinstance(i, dict)]
    ev = _Evaluator(items)
    bases = sorted(
        (
            BaseChain(
                name=name,
                family=str(c.get("family")),
                hook=str(c.get("hook")),
                type=str(c.get("type", "filter")),
                priority=_priority(c.get("prio", c.get("priority", 0))),
                policy=str(c.get("policy", "accept")),
            )
            for name, c in ev.chains.items()
            if c.get("hook") in {"input", "prerouting", "ingress"}
        ),
        key=lambda b: (b.hook != "input", b.priority, b.name),
    )
    admitted: list[Admitted] | None = None
    for base in bases:
        if base.hook != "input" or base.family not in _FAMILIES:
            # earlier hooks cannot accept on the input path's behalf, but they can rewrite it
            ev.run(base.name, [Cube()])
            continue
        if base.type != "filter":
            ev.run(base.name, [Cube()])
            continue
        families = _FAMILIES[base.family]
        entering = [Cube((("nfproto", Ints(tuple((f, f) for f in families))),))]
        accepted, fallthrough = ev.run(base.name, entering)
        if base.policy == "accept":
            accepted += [Admitted(c, (Ref(base.name, None, None, True),)) for c in fallthrough]
        others = [4, 6]
        for f in families:
            others.remove(f)
        # a packet of the other family does not traverse this chain: it passes unchanged
        accepted += [Admitted(Cube((("nfproto", Ints(((f, f),))),)), ()) for f in others]
        admitted = accepted if admitted is None else _combine(admitted, accepted)
    if admitted is None:
        admitted = [Admitted(Cube(), (Ref("no input base chain", None, None, True),))]
    open_path = Ref("no input base chain for this address family", None, None, True)
    admitted = [a if a.refs else Admitted(a.packets, (open_path,)) for a in admitted]
    return InputPath(bases, admitted, sorted(set(ev.problems)))


def _combine(first: Iterable[Admitted], second: Iterable[Admitted]) -> list[Admitted]:
    second = list(second)
    out = []
    for a in first:
        for b in second:
            both = meet(a.packets, b.packets)
            if both is not None:
                out.append(Admitted(both, a.refs + b.refs))
    return out
