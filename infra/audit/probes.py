"""Parsers for what the host checks read: pure functions over command output and file text.

Kept out of the check files so that they are unit-tested without a host, and so that the checks
stay thin over testinfra's `host` fixture (a change of engine then stays cheap).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "NftRule",
    "apt_uris",
    "chrony_sources",
    "logrotate_days",
    "nft_input_chains",
    "parse_keyvalues",
    "parse_sshd_t",
    "parse_timespan",
    "rsyslog_targets",
]


def parse_keyvalues(
    text: str, separator: str | None = None, lower: bool = False, first_wins: bool = False
) -> dict[str, str]:
    """`key value` or `key=value` lines (comments and blanks skipped); last value wins by default."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if separator is None:
            key, _, value = line.partition(" ")
            if "\t" in key:
                key, _, rest = key.partition("\t")
                value = f"{rest} {value}".strip()
        else:
            key, sep, value = line.partition(separator)
            if not sep:
                continue
        key, value = key.strip(), value.strip()
        if lower:
            key = key.lower()
        if first_wins and key in out:
            continue
        out[key] = value
    return out


def parse_sshd_t(text: str) -> dict[str, list[str]]:
    """`sshd -T` output: lower-case keyword -> every value it printed (ListenAddress repeats)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            out.setdefault(key.lower(), []).append(value.strip())
    return out


_SPAN_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "month": 2630016, "months": 2630016, "M": 2630016,
    "y": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
"""systemd.time(7) units; a month is 30.44 days and a year 365.25 days."""


def parse_timespan(value: str) -> float | None:
    """A systemd time span ("1year", "12month 5d", "3600") in seconds; None when malformed."""
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)", value)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)|\s+", "", value):
        return None
    for number, unit in parts:
        if unit not in _SPAN_UNITS:
            return None
        total += float(number) * _SPAN_UNITS[unit]
    return total


def chrony_sources(text: str) -> list[str]:
    """Addresses of `server`, `pool` and `peer` directives in chrony configuration text."""
    out = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in {"server", "pool", "peer"}:
            out.append(words[1])
    return out


_OMFWD_TARGET = re.compile(r'target\s*=\s*"([^"]+)"')
_LEGACY_FWD = re.compile(r"^\S+\s+@{1,2}(?:\([^)]*\))?(\[[^\]]+\]|[^:\s;]+)")


def rsyslog_targets(text: str) -> list[str]:
    """Hosts rsyslog forwards to: `action(type="omfwd" target="…")` and legacy `*.* @@host:port`."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "omfwd" in line:
            out.extend(_OMFWD_TARGET.findall(line))
        match = _LEGACY_FWD.match(line)
        if match:
            out.append(match[1].strip("[]"))
    return out


_PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}


def logrotate_days(text: str, path: str) -> int | None:
    """Days of history logrotate keeps for `path` (rotate count x period, or maxage).

    Global directives before the first stanza are the defaults. None when no stanza names it.
    """
    defaults: dict[str, str] = {}
    current: dict[str, str] | None = None
    found: dict[str, str] | None = None
    names: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if current is None and line.startswith(("/", '"')) and not line.endswith("{"):
            names += line.replace('"', "").split()  # file names may precede a lone "{"
            continue
        if line.endswith("{"):
            names += line[:-1].replace('"', "").split()
            current = dict(defaults)
            continue
        if line == "}":
            if current is not None and path in names:
                found = current
            current, names = None, []
            continue
        words = line.split()
        target = current if current is not None else defaults
        if words[0] in _PERIOD_DAYS:
            target["period"] = words[0]
        elif words[0] in {"rotate", "maxage"} and len(words) > 1:
            target[words[0]] = words[1]
    if found is None:
        return None
    if "maxage" in found and found["maxage"].isdigit():
        return int(found["maxage"])
    rotate = int(found.get("rotate", "0")) if found.get("rotate", "0").isdigit() else 0
    return rotate * _PERIOD_DAYS.get(found.get("period", "weekly"), 7)


def apt_uris(text: str) -> list[str]:
    """Archive URIs from one-line `.list` text and deb822 `.sources` text."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith(("deb ", "deb-src ")):
            words = re.sub(r"\[[^\]]*\]", " ", line).split()
            if len(words) > 1:
                out.append(words[1])
        elif line.lower().startswith("uris:"):
            out.extend(line.split(":", 1)[1].split())
    return out


# --------------------------------------------------------------------------- nftables


_ND_TYPES = frozenset({"nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit", "nd-router-advert"})


@dataclass(frozen=True)
class NftRule:
    """One rule of an input-path chain, reduced to what the firewall checks look at."""

    table: str
    chain: str
    verdict: str | None
    comment: str | None
    ports: tuple[tuple[str, int, int], ...] = ()
    """(protocol, low, high) destination ports the rule matches."""
    saddrs: tuple[str, ...] = ()
    """Source prefixes the rule matches (or inherits from the jump into its chain); empty: any."""
    matches: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Every (match key, values) of the rule, e.g. ('ct.state', ('established', 'related'))."""
    jump: str | None = None

    @property
    def base(self) -> bool:
        """Housekeeping accepts the firewall design allows without a flow: established/related
        traffic, the loopback interface, and ICMPv6 neighbour/router discovery."""
        if self.verdict != "accept" or self.ports or self.saddrs or not self.matches:
            return False
        values = dict(self.matches)
        keys = set(values)
        if keys == {"ct.state"}:
            return set(values["ct.state"]) <= {"established", "related"}
        if keys <= {"meta.iifname", "meta.iif"}:
            return all(v == ("lo",) for v in values.values())
        if "icmpv6.type" in keys and keys <= {"icmpv6.type", "ip6.hoplimit", "meta.l4proto", "meta.nfproto"}:
            return set(values["icmpv6.type"]) <= _ND_TYPES
        return False


def _expr_key(left: Any) -> str:
    if isinstance(left, dict):
        if "payload" in left:
            return f"{left['payload'].get('protocol')}.{left['payload'].get('field')}"
        if "meta" in left:
            return f"meta.{left['meta'].get('key')}"
        if "ct" in left:
            return f"ct.{left['ct'].get('key')}"
    return "?"


def _values(right: Any) -> list[Any]:
    if isinstance(right, dict) and "set" in right:
        return list(right["set"])
    if isinstance(right, list):
        return list(right)
    return [right]


def _rule(table: str, chain: str, exprs: Iterable[Any], comment: str | None) -> NftRule:
    ports: list[tuple[str, int, int]] = []
    saddrs: list[str] = []
    matches: list[tuple[str, tuple[str, ...]]] = []
    verdict: str | None = None
    jump: str | None = None
    for expr in exprs:
        if not isinstance(expr, dict):
            continue
        if "match" in expr:
            key = _expr_key(expr["match"].get("left"))
            values = _values(expr["match"].get("right"))
            matches.append((key, tuple(str(v) for v in values)))
            proto, _, fld = key.partition(".")
            for value in values:
                if fld == "dport" and proto in {"tcp", "udp"}:
                    if isinstance(value, int):
                        ports.append((proto, value, value))
                    elif isinstance(value, dict) and "range" in value:
                        low, high = value["range"]
                        ports.append((proto, int(low), int(high)))
                elif fld == "saddr" and proto in {"ip", "ip6"}:
                    if isinstance(value, dict) and "prefix" in value:
                        saddrs.append(f"{value['prefix']['addr']}/{value['prefix']['len']}")
                    elif isinstance(value, str):
                        saddrs.append(value)
        for word in ("accept", "drop", "reject"):
            if word in expr:
                verdict = word
        if "jump" in expr or "goto" in expr:
            jump = (expr.get("jump") or expr.get("goto") or {}).get("target")
    return NftRule(table, chain, verdict, comment, tuple(ports), tuple(saddrs), tuple(matches), jump)


def nft_input_chains(ruleset_json: str) -> tuple[dict[str, str], list[NftRule]]:
    """From `nft -j list ruleset`: the input base chains (`family table chain` -> policy) and
    every rule reachable from them (the base chains and the chains they jump to)."""
    items = json.loads(ruleset_json).get("nftables", [])
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[NftRule]] = {}
    for item in items:
        if "chain" in item:
            c = item["chain"]
            chains[(c["family"], c["table"], c["name"])] = c
        elif "rule" in item:
            r = item["rule"]
            key = (r["family"], r["table"], r["chain"])
            rules.setdefault(key, []).append(
                _rule(f"{r['family']} {r['table']}", r["chain"], r.get("expr", []), r.get("comment"))
            )
    bases = {
        k: c.get("policy", "accept")
        for k, c in chains.items()
        if c.get("hook") == "input" and c.get("type", "filter") == "filter"
    }
    # a rule in a chain reached by `ip saddr X jump C` only sees packets from X: carry it down
    Key = tuple[str, str, str]
    seen: set[tuple[Key, tuple[str, ...]]] = set()
    todo: list[tuple[Key, tuple[str, ...]]] = [(k, ()) for k in bases]
    reachable: list[NftRule] = []
    while todo:
        key, inherited = todo.pop(0)
        if (key, inherited) in seen:
            continue
        seen.add((key, inherited))
        for rule in rules.get(key, []):
            if inherited and not rule.saddrs:
                rule = replace(rule, saddrs=inherited)
            reachable.append(rule)
            if rule.jump:
                todo.append(((key[0], key[1], rule.jump), rule.saddrs))
    return {" ".join(k): v for k, v in bases.items()}, reachable
