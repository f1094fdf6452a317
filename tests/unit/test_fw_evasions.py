"""HT-FW-01/03/04/05 against rulesets crafted to fool them (issue 15), and the rulesets the
firewall role really renders for the lab hosts, which must pass.

The JSON is what `nft -j list ruleset` prints (libnftables-json). `_rendered` builds it from
`infra.firewall.ruleset` following roles/firewall/templates/etc/nftables.conf.j2 rule by rule;
where nft can run in an unprivileged network namespace, tests prove that the real template
loads to the same JSON, and that every crafted variant is a ruleset nft accepts and lists back
to JSON that gives the same findings.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest

from infra.audit import _fwcheck, probes
from infra.audit._facts import HostFacts, host_facts, within
from infra.firewall import ruleset
from infra.site import Site
from tests.unit._lab import lab_site

ROOT = Path(__file__).resolve().parents[2]
Doc = dict[str, Any]
ACCEPT = {"accept": None}

# --------------------------------------------------------------------------- JSON builders


def _meta(key: str, right: Any, op: str = "==") -> Doc:
    return {"match": {"op": op, "left": {"meta": {"key": key}}, "right": right}}


def _payload(protocol: str, fld: str, right: Any, op: str = "==") -> Doc:
    return {"match": {"op": op, "left": {"payload": {"protocol": protocol, "field": fld}}, "right": right}}


def _ct(right: Any, op: str = "in") -> Doc:
    return {"match": {"op": op, "left": {"ct": {"key": "state"}}, "right": right}}


def _prefix(cidr: str) -> Doc:
    addr, _, length = cidr.partition("/")
    return {"prefix": {"addr": addr, "len": int(length)}}


def _one_or_set(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else {"set": values}


def _port(text: str) -> Any:
    low, _, high = text.partition("-")
    return {"range": [int(low), int(high)]} if high else int(low)


def _rendered(site: Site, name: str) -> Doc:
    """`nft -j list ruleset` after the firewall role loaded its template for host `name`."""
    host = next(h for h in site.hosts if h.name == name)
    rs = ruleset(site, host)
    items: list[Doc] = [{"table": {"family": "inet", "name": "hatang"}}]
    for chain in rs.chains:
        items.append({"chain": {"family": "inet", "table": "hatang", "name": chain.name}})
    items.append(
        {
            "chain": {
                "family": "inet",
                "table": "hatang",
                "name": "input",
                "type": "filter",
                "hook": "input",
                "prio": 0,
                "policy": "drop",
            }
        }
    )
    rules: list[tuple[str, list[Doc], str]] = []
    for chain in rs.chains:
        for r in rs.rules:
            if r.chain != chain.name:
                continue
            expr = [_meta("iifname", _one_or_set(list(r.interfaces)))]
            if r.protocol == "icmp":
                expr.append(_meta("l4proto", {"set": ["icmp", "ipv6-icmp"]}))
            elif r.protocol == "vrrp":
                expr.append(_meta("l4proto", "vrrp"))
            else:
                expr.append(_payload(r.protocol, "dport", _one_or_set([_port(p) for p in r.ports])))
            rules.append((chain.name, [*expr, ACCEPT], r.flow))
    rules += [
        ("input", [_ct(["established", "related"]), ACCEPT], "established"),
        ("input", [_ct("invalid"), {"drop": None}], "invalid"),
        ("input", [_meta("iifname", "lo"), ACCEPT], "loopback"),
        (
            "input",
            [
                _payload("icmpv6", "type", {"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]}),
                _payload("ip6", "hoplimit", 255),
                ACCEPT,
            ],
            "neighbour-discovery",
        ),
    ]
    for chain in rs.chains:
        jump = {"jump": {"target": chain.name}}
        if chain.source == "any":
            rules.append(("input", [jump], "from anywhere"))
            continue
        for family, nets in (("ip", chain.ipv4), ("ip6", chain.ipv6)):
            if nets:
                prefixes = [_prefix(n) for n in nets]
                rules.append(("input", [_payload(family, "saddr", _one_or_set(prefixes)), jump], chain.source))
    for chain_name, expr, comment in rules:
        items.append(_rule(chain_name, expr, comment))
    return _numbered({"nftables": items})


def _rule(chain: str, expr: list[Doc], comment: str | None = None, table: str = "hatang", family: str = "inet") -> Doc:
    rule: Doc = {"family": family, "table": table, "chain": chain, "expr": expr}
    if comment is not None:
        rule["comment"] = comment
    return {"rule": rule}


def _numbered(doc: Doc) -> Doc:
    """Handles as nft gives them: one counter per table, in listing order."""
    counters: dict[str, int] = {}
    for item in doc["nftables"]:
        kind = next(iter(item))
        obj = item[kind]
        table = f"{obj['family']} {obj.get('table', obj.get('name'))}"
        counters[table] = counters.get(table, 0) + 1
        obj["handle"] = counters[table]
    return doc


def _handle(doc: Doc, comment: str) -> int:
    return int(next(i["rule"]["handle"] for i in doc["nftables"] if i.get("rule", {}).get("comment") == comment))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def site() -> Site:
    return lab_site()


@pytest.fixture(scope="module")
def facts(site: Site) -> HostFacts:
    return host_facts(site, "ctl01")


@pytest.fixture(scope="module")
def zones(site: Site) -> dict[str, _fwcheck.ZoneIfaces]:
    return _fwcheck.zones_of_host(site, "ctl01")


@pytest.fixture(scope="module")
def rendered(site: Site) -> Doc:
    return _rendered(site, "ctl01")


def _path(doc: Doc) -> probes.InputPath:
    return probes.nft_input_path(json.dumps(doc))


def _ssh_ok(doc: Doc, facts: HostFacts) -> bool:
    found = _fwcheck.ssh_sources(_path(doc))
    sources = found["ipv4"] + found["ipv6"]
    return bool(found["ipv4"]) and bool(found["ipv6"]) and all(within(s, facts.mgmt_networks) for s in sources)


def _flow_findings(doc: Doc, facts: HostFacts, zones: dict[str, _fwcheck.ZoneIfaces]) -> dict[str, list[str]]:
    return {k: v for k, v in _fwcheck.flow_findings(_path(doc), facts.flows, zones).items() if v}


# --------------------------------------------------------------------------- variants


def _insert(doc: Doc, rule: Doc, before: str | None = None, after: str | None = None) -> Doc:
    """A copy of `doc` with `rule` placed before/after the rule with that comment (else last in its chain)."""
    out = copy.deepcopy(doc)
    items = out["nftables"]
    for i, item in enumerate(items):
        comment = item.get("rule", {}).get("comment")
        if before is not None and comment == before:
            items.insert(i, rule)
            break
        if after is not None and comment == after:
            items.insert(i + 1, rule)
            break
    else:
        items.append(rule)
    return _numbered(out)


def _replace(doc: Doc, comment: str, expr: list[Doc]) -> Doc:
    out = copy.deepcopy(doc)
    for item in out["nftables"]:
        if item.get("rule", {}).get("comment") == comment:
            item["rule"]["expr"] = expr
    return out


def _drop_rule(doc: Doc, where: Callable[[Doc], bool]) -> Doc:
    out = copy.deepcopy(doc)
    out["nftables"] = [i for i in out["nftables"] if not ("rule" in i and where(i["rule"]))]
    return out


def _policy(doc: Doc, policy: str) -> Doc:
    out = copy.deepcopy(doc)
    for item in out["nftables"]:
        if item.get("chain", {}).get("hook") == "input":
            item["chain"]["policy"] = policy
    return out


def _evil_table(doc: Doc, prio: int = -10, policy: str = "accept", *rules: list[Doc]) -> Doc:
    out = copy.deepcopy(doc)
    out["nftables"] += [
        {"table": {"family": "inet", "name": "evil"}},
        {
            "chain": {
                "family": "inet",
                "table": "evil",
                "name": "input",
                "type": "filter",
                "hook": "input",
                "prio": prio,
                "policy": policy,
            }
        },
        *(_rule("input", expr, "evil", table="evil") for expr in rules),
    ]
    return _numbered(out)


def _ip_only(doc: Doc) -> Doc:
    """The same policy in an `ip` table: IPv6 no longer passes through any input chain."""
    out = copy.deepcopy(doc)
    keep = []
    for item in out["nftables"]:
        obj = next(iter(item.values()))
        obj["family"] = "ip"
        if "rule" in item and any("ip6" in json.dumps(e) or "icmpv6" in json.dumps(e) for e in obj["expr"]):
            continue
        keep.append(item)
    out["nftables"] = keep
    return _numbered(out)


SSH = _payload("tcp", "dport", 22)
MGMT4 = _payload("ip", "saddr", _prefix("10.199.1.0/24"))
API = _meta("iifname", "api")

# The evasion: one unconditional accept whose comment is a real flow name.
UNCONDITIONAL = _rule("input", [ACCEPT], "admin-ssh")

# --------------------------------------------------------------------------- compliant


@pytest.mark.parametrize(("site_name", "host"), [("lab", "ctl01"), ("lab", "ctl02"), ("lab", "net01"), ("aio", "aio1")])
def test_fw_rendered_ruleset_passes_every_check(site_name: str, host: str) -> None:
    from infra.site import load_site

    site = lab_site() if site_name == "lab" else load_site(ROOT / "inventories" / "aio")
    doc, facts, zones = _rendered(site, host), host_facts(site, host), _fwcheck.zones_of_host(site, host)
    path = _path(doc)
    assert path.problems == []
    assert _fwcheck.default_drop(path)[1]
    assert _flow_findings(doc, facts, zones) == {}
    if facts.mgmt_addresses:
        assert _ssh_ok(doc, facts)
    sockets = [("tcp", "0.0.0.0", f.ports[0][0], None) for f in facts.flows if f.ports and f.protocol == "tcp"]
    assert _fwcheck.listening_findings(sockets, facts.flows, zones, path) == []


def test_fw_rendered_ruleset_ssh_sources_are_the_mgmt_zone(rendered: Doc) -> None:
    assert _fwcheck.ssh_sources(_path(rendered)) == {
        "ipv4": ["10.199.1.0/24"],
        "ipv6": ["fd99:ab:0:11::/64"],
        "rules": [f"rule inet hatang from-mgmt handle {_handle(rendered, 'admin-ssh')} (admin-ssh)"],
    }


def test_fw_narrowing_rules_are_not_findings(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    """A `return` for all but one address, a drop before an accept, a counter: all narrow."""
    doc = _insert(
        rendered,
        _rule("from-mgmt", [_payload("ip", "saddr", "10.199.1.5", op="!="), MGMT4, {"return": None}], "only .5"),
        before="admin-ssh",
    )
    doc = _insert(doc, _rule("from-api", [API, {"counter": {"packets": 0, "bytes": 0}}, {"drop": None}], "x"))
    found = _fwcheck.ssh_sources(_path(doc))
    assert found["ipv4"] == ["10.199.1.5/32"]
    assert _flow_findings(doc, facts, zones).keys() == {"flows_not_admitted"}


# --------------------------------------------------------------------------- HT-FW-01


FW01_VARIANTS = [
    pytest.param(
        lambda d: _policy(d, "accept"),
        "input_chains",
        {"inet hatang input": "type filter priority 0 policy accept"},
        id="policy-accept",
    ),
    pytest.param(
        lambda d: _evil_table(d, -10, "accept"),
        "input_chains",
        {
            "inet evil input": "type filter priority -10 policy accept",
            "inet hatang input": "type filter priority 0 policy drop",
        },
        id="second-base-chain-accept",
    ),
    pytest.param(
        lambda d: _insert(d, _rule("input", [{"counter": None}, ACCEPT], "admin-ssh")),
        "accepts_everything",
        ["rule inet hatang input handle 26 (admin-ssh)"],
        id="unconditional-accept-last",
    ),
    pytest.param(_ip_only, "families_dropped_by_default", ["ipv4"], id="ipv6-unfiltered"),
    pytest.param(
        lambda d: _insert(d, _rule("input", [
            {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}}, ACCEPT], "admin-ssh")),
        "accepts_everything",
        ["rule inet hatang input handle 26 (admin-ssh)"],
        id="ipv6-accepted-by-family",
    ),
]


@pytest.mark.parametrize(("variant", "observed_key", "observed"), FW01_VARIANTS)
def test_fw01_default_accept_is_caught(rendered: Doc, variant: Any, observed_key: str, observed: Any) -> None:
    seen, ok = _fwcheck.default_drop(_path(variant(rendered)))
    assert not ok
    assert seen[observed_key] == observed


def test_fw01_second_base_chain_cannot_skip_ours(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    """nftables semantics: an accept in an earlier base chain ends only that chain; ours still
    drops. So the evil chain fails HT-FW-01 (policy accept) but widens nothing (HT-FW-05)."""
    doc = _evil_table(rendered, -10, "accept", [ACCEPT])
    assert not _fwcheck.default_drop(_path(doc))[1]
    assert _flow_findings(doc, facts, zones) == {}


# --------------------------------------------------------------------------- HT-FW-03


FW03_VARIANTS = [
    pytest.param(
        lambda d: _insert(
            d,
            _rule(
                "from-gov", [API, _payload("tcp", "dport", 20, op=">="), _payload("tcp", "dport", 23, op="<"), ACCEPT]
            ),
        ),
        id="port-comparison-from-gov",
    ),
    pytest.param(lambda d: _insert(d, UNCONDITIONAL, before="mgmt"), id="unconditional-with-flow-comment"),
    pytest.param(
        lambda d: _replace(
            d, "admin-ssh", [_meta("iifname", "mgmt"), _payload("ip", "saddr", _prefix("10.0.0.0/8")), SSH, ACCEPT]
        ),
        id="flow-rule-wider-source-but-inside-mgmt-chain",
    ),
    pytest.param(
        lambda d: _insert(
            d, _rule("input", [_payload("ip", "saddr", _prefix("10.0.0.0/8")), SSH, ACCEPT], "admin-ssh"), before="mgmt"
        ),
        id="wider-source",
    ),
    pytest.param(
        lambda d: _insert(
            d, _rule("from-gov", [API, _meta("l4proto", 6), _payload("th", "dport", 22), ACCEPT], "agencies-api")
        ),
        id="numeric-protocol-from-gov",
    ),
    pytest.param(
        lambda d: _replace(d, "agencies-api", [API, _payload("tcp", "dport", {"range": [1, 1024]}), ACCEPT]),
        id="port-range-covers-22",
    ),
    pytest.param(
        lambda d: _insert(
            d,
            _rule(
                "input",
                [
                    {
                        "vmap": {
                            "key": {"payload": {"protocol": "tcp", "field": "dport"}},
                            "data": {"set": [[22, ACCEPT]]},
                        }
                    }
                ],
                "vmap",
            ),
            before="mgmt",
        ),
        id="verdict-map",
    ),
    pytest.param(
        lambda d: _insert(d, _rule("input", [{"goto": {"target": "from-mgmt"}}], "storage"), after="storage"),
        id="goto-from-anywhere",
    ),
    pytest.param(
        lambda d: _drop_rule(d, lambda r: r.get("comment") == "mgmt" and "ip6" in json.dumps(r["expr"])),
        id="ipv4-only",
    ),
]


@pytest.mark.parametrize("variant", FW03_VARIANTS)
def test_fw03_ssh_from_outside_mgmt_is_caught(rendered: Doc, facts: HostFacts, variant: Any) -> None:
    assert not _ssh_ok(variant(rendered), facts)


def test_fw03_named_set_source(rendered: Doc, facts: HostFacts) -> None:
    doc = copy.deepcopy(rendered)
    doc["nftables"].insert(
        1,
        {
            "set": {
                "family": "inet",
                "table": "hatang",
                "name": "trusted",
                "type": "ipv4_addr",
                "flags": ["interval"],
                "elem": [_prefix("10.199.1.0/24"), _prefix("0.0.0.0/1")],
            }
        },
    )
    doc = _insert(doc, _rule("input", [_payload("ip", "saddr", "@trusted"), {"jump": {"target": "from-mgmt"}}], "mgmt"))
    found = _fwcheck.ssh_sources(_path(_numbered(doc)))
    assert found["ipv4"] == ["0.0.0.0/1"]  # 10.199.1.0/24 lies inside it


def test_fw03_named_verdict_map_and_concatenated_set(rendered: Doc, facts: HostFacts) -> None:
    """`ip saddr . tcp dport @pairs accept` and `tcp dport vmap @ports` are evaluated element by element."""
    doc = copy.deepcopy(rendered)
    doc["nftables"][1:1] = [
        {
            "set": {
                "family": "inet",
                "table": "hatang",
                "name": "pairs",
                "type": ["ipv4_addr", "inet_service"],
                "flags": ["interval"],
                "elem": [{"concat": [_prefix("10.199.1.0/24"), 22]}, {"concat": [_prefix("192.0.2.0/24"), 22]}],
            }
        },
        {
            "map": {
                "family": "inet",
                "table": "hatang",
                "name": "ports",
                "type": "inet_service",
                "map": "verdict",
                "elem": [[22, {"drop": None}], [2222, ACCEPT]],
            }
        },
    ]
    saddr_dport = {
        "concat": [
            {"payload": {"protocol": "ip", "field": "saddr"}},
            {"payload": {"protocol": "tcp", "field": "dport"}},
        ]
    }
    pairs = _insert(
        doc,
        _rule("input", [{"match": {"op": "==", "left": saddr_dport, "right": "@pairs"}}, ACCEPT], "p"),
        before="mgmt",
    )
    assert _fwcheck.ssh_sources(_path(_numbered(pairs)))["ipv4"] == ["10.199.1.0/24", "192.0.2.0/24"]
    vmap = {"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": "@ports"}}
    ports = _numbered(_insert(doc, _rule("input", [vmap], "ports"), before="mgmt"))
    assert _fwcheck.ssh_sources(_path(ports))["ipv4"] == []  # the map drops 22 before the mgmt jump
    assert "port 2222" in _fwcheck.flow_findings(_path(ports), facts.flows, None)["accepts_beyond_flows"][0]


# --------------------------------------------------------------------------- HT-FW-05


def test_fw05_unconditional_accept_named_after_a_flow(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    doc = _insert(rendered, UNCONDITIONAL, before="mgmt")
    assert _flow_findings(doc, facts, zones) == {
        "accepts_beyond_flows": [
            "rule inet hatang input handle 18 (admin-ssh) admits ipv4 from any protocol any port any on any except lo"
            " ct state new, untracked [1 of 4 packet sets shown]; no flow allows ipv4 from any except 10.199.1.0/24,"
            " 10.199.2.0/23, 10.199.200.0/24 protocol any port any on any except lo ct state new, untracked"
            " [1 of 32 packet sets shown]"
        ]
    }


_NEW = " ct state new, untracked [1 of 2 packet sets shown]"


_IAPI = "rule inet hatang from-api handle 10 (internal-api)"
_API4 = "ipv4 from 10.199.2.0/24 protocol"
_WIDE = "10.199.0.0/24, 10.199.3.0/24, 10.199.4.0/22, 10.199.8.0/21, 10.199.16.0/20, 10.199.32.0/19"
_ND = "icmpv6.type nd-neighbor-advert, nd-neighbor-solicit"
FW05_VARIANTS = [
    pytest.param(
        lambda d: _insert(
            d,
            _rule(
                "from-mgmt",
                [_meta("iifname", "mgmt"), _payload("tcp", "dport", {"range": [1, 65535]}), ACCEPT],
                "admin-ssh",
            ),
            after="admin-ssh",
        ),
        [
            f"rule inet hatang from-mgmt handle 8 (admin-ssh) admits ipv4 from 10.199.1.0/24 protocol tcp port 1-21, "
            f"23-65535 on mgmt{_NEW}; "
            f"no flow allows ipv4 from 10.199.1.0/24 protocol tcp port 1-21, 23-9099, 9101-65535 on mgmt{_NEW}"
        ],
        id="second-rule-widens-the-first",
    ),
    pytest.param(
        lambda d: _insert(
            d,
            _rule(
                "input", [_payload("ip", "saddr", _prefix("10.199.0.0/16")), {"jump": {"target": "from-api"}}], "api"
            ),
            after="api",
        ),
        [
            f"{_IAPI} admits ipv4 from {_WIDE} … protocol tcp port 5000, 8774 on api{_NEW}, which no flow allows",
            f"rule inet hatang from-api handle 11 (keepalived) admits ipv4 from {_WIDE} … protocol vrrp on api{_NEW}, "
            "which no flow allows",
        ],
        id="flow-rule-wider-source",
    ),
    pytest.param(
        lambda d: _replace(d, "internal-api", [API, _meta("l4proto", 6), ACCEPT]),
        [
            f"{_IAPI} admits {_API4} tcp port any on api{_NEW}; "
            f"no flow allows {_API4} tcp port 0-4999, 5001-8773, 8775-65535 on api{_NEW}"
        ],
        id="numeric-protocol-without-port",
    ),
    pytest.param(
        lambda d: _replace(
            d,
            "internal-api",
            [API, _meta("l4proto", {"set": [6, 17]}), _payload("th", "dport", {"set": [5000, 8774]}), ACCEPT],
        ),
        [
            f"{_IAPI} admits {_API4} tcp, udp port 5000, 8774 on api{_NEW}; "
            f"no flow allows {_API4} udp port 5000, 8774 on api{_NEW}"
        ],
        id="numeric-protocols-add-udp",
    ),
    pytest.param(
        lambda d: _replace(d, "internal-api", [API, _payload("tcp", "dport", {"range": [5000, 8774]}), ACCEPT]),
        [
            f"{_IAPI} admits {_API4} tcp port 5000-8774 on api{_NEW}; "
            f"no flow allows {_API4} tcp port 5001-8773 on api{_NEW}"
        ],
        id="wider-port-range",
    ),
    pytest.param(
        lambda d: _replace(d, "internal-api", [_payload("tcp", "dport", {"set": [5000, 8774]}), ACCEPT]),
        [
            f"{_IAPI} admits {_API4} tcp port 5000, 8774 on any except lo{_NEW}; "
            f"no flow allows {_API4} tcp port 5000, 8774 on any except api, lo{_NEW}"
        ],
        id="interface-dropped",
    ),
    pytest.param(
        lambda d: _insert(d, _rule("input", [_ct(["new"]), ACCEPT], "established"), after="established"),
        [
            "rule inet hatang input handle 15 (established) admits ipv4/ipv6 from any protocol any port any on any "
            "ct state new; "
            "no flow allows ipv4 from any except 10.199.1.0/24, 10.199.2.0/23, 10.199.200.0/24 protocol any port any "
            "on any "
            "except lo ct state new [1 of 30 packet sets shown]"
        ],
        id="ct-state-new",
    ),
    pytest.param(
        lambda d: _replace(
            d,
            "neighbour-discovery",
            [_payload("icmpv6", "type", {"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]}), ACCEPT],
        ),
        [
            "rule inet hatang input handle 17 (neighbour-discovery) admits ipv4/ipv6 from any protocol ipv6-icmp "
            f"on any except lo ct state new, untracked {_ND}; no flow allows ipv4 from any except 10.199.1.0/24 "
            f"protocol ipv6-icmp on any except lo ct state new, untracked {_ND} [1 of 4 packet sets shown]"
        ],
        id="nd-without-hoplimit",
    ),
    pytest.param(
        lambda d: _insert(
            d, _rule("from-api", [API, _payload("tcp", "dport", 4444), {"queue": {"num": 0}}], "database")
        ),
        [
            f"rule inet hatang from-api handle 26 (database) admits {_API4} tcp port 4444 on api{_NEW}, "
            "which no flow allows"
        ],
        id="queue-to-userspace",
    ),
]


@pytest.mark.parametrize(("variant", "expected"), FW05_VARIANTS)
def test_fw05_accept_beyond_the_flows_is_caught(
    rendered: Doc, facts: HostFacts, zones: Any, variant: Any, expected: list[str]
) -> None:
    assert _flow_findings(variant(rendered), facts, zones) == {"accepts_beyond_flows": expected}


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param([{"synproxy": {"mss": 1460, "wscale": 7}}], id="unknown-statement"),
        pytest.param(
            [
                {"match": {"op": "==", "left": {"fib": {"flags": ["daddr"], "result": "type"}}, "right": "local"}},
                ACCEPT,
            ],
            id="unknown-match",
        ),
        pytest.param([_meta("iifname", "mgm*"), ACCEPT], id="interface-wildcard"),
        pytest.param([{"xt": {"type": "target", "name": "ACCEPT"}}], id="iptables-nft-compat"),
    ],
)
def test_fw05_not_understood_fails_closed(rendered: Doc, facts: HostFacts, zones: Any, expr: list[Doc]) -> None:
    doc = _insert(rendered, _rule("from-mgmt", expr, "monitoring-exporter"), before="admin-ssh")
    found = _flow_findings(doc, facts, zones)
    assert found["accepts_beyond_flows"] and found["not_understood"]


def test_fw05_rewrite_before_the_input_chain_fails_closed(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    """A prerouting chain that rewrites the source makes every saddr match meaningless."""
    doc = copy.deepcopy(rendered)
    doc["nftables"] += [
        {"table": {"family": "ip", "name": "spoof"}},
        {
            "chain": {
                "family": "ip",
                "table": "spoof",
                "name": "pre",
                "type": "filter",
                "hook": "prerouting",
                "prio": -300,
                "policy": "accept",
            }
        },
        _rule(
            "pre",
            [{"mangle": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "value": "10.199.1.5"}}],
            table="spoof",
            family="ip",
        ),
    ]
    found = _flow_findings(_numbered(doc), facts, zones)
    assert found["not_understood"] == ["ip spoof pre handle 3: rewrites packets or state (mangle) on the input path"]


def test_fw05_accept_within_flows_without_name(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    doc = _insert(rendered, _rule("from-api", [API, _payload("tcp", "dport", 5000), ACCEPT]), before="internal-api")
    found = _flow_findings(doc, facts, zones)
    assert list(found) == ["accepts_without_flow_name"]
    assert found["accepts_without_flow_name"][0].endswith(
        f"(no comment) admits ipv4 from 10.199.2.0/24 protocol tcp port 5000 on api{_NEW}, which flows allow, "
        "but its comment names no flow"
    )


def test_fw05_rule_admitting_another_flows_traffic(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    """Every packet is allowed by some flow, but the rule named 'monitoring-exporter' admits SSH."""
    rule = _rule("from-mgmt", [_meta("iifname", "mgmt"), _payload("tcp", "dport", {"set": [22, 9100]}), ACCEPT])
    rule["rule"]["comment"] = "monitoring-exporter"
    doc = _insert(rendered, rule, before="admin-ssh")
    assert _flow_findings(doc, facts, zones) == {
        "accepts_of_another_flow": [
            "rule inet hatang from-mgmt handle 7 (monitoring-exporter) admits ipv4 from 10.199.1.0/24 protocol tcp "
            f"port 22, 9100 on mgmt{_NEW}; flow monitoring-exporter does not allow ipv4 from 10.199.1.0/24 "
            f"protocol tcp port 22 on mgmt{_NEW}"
        ]
    }


def test_fw05_flow_without_rule(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    doc = _drop_rule(rendered, lambda r: r.get("comment") == "keepalived")
    found = _flow_findings(doc, facts, zones)
    assert found == {
        "flows_not_admitted": [
            "keepalived: not admitted: ipv4 from 10.199.2.0/24 protocol vrrp on api ct state new "
            "[1 of 2 packet sets shown]"
        ]
    }


def test_fw05_named_set_updated_at_run_time_fails_closed(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    doc = copy.deepcopy(rendered)
    doc["nftables"].insert(
        1,
        {
            "set": {
                "family": "inet",
                "table": "hatang",
                "name": "knock",
                "type": "ipv4_addr",
                "flags": ["dynamic", "timeout"],
                "elem": [],
            }
        },
    )
    doc = _insert(doc, _rule("input", [_payload("ip", "saddr", "@knock"), ACCEPT], "admin-ssh"), before="mgmt")
    found = _flow_findings(_numbered(doc), facts, zones)
    assert found["accepts_beyond_flows"]


# --------------------------------------------------------------------------- HT-FW-04

SS = """\
udp   UNCONN 0      0          0.0.0.0:53        0.0.0.0:*
tcp   LISTEN 0      4096     127.0.0.1:6379      0.0.0.0:*
tcp   LISTEN 0      128    10.199.2.11:5000      0.0.0.0:*
tcp   LISTEN 0      128        0.0.0.0:22        0.0.0.0:*
tcp   LISTEN 0      128           [::]:22           [::]:*
tcp   LISTEN 0      128    0.0.0.0%storage:9100  0.0.0.0:*
tcp   LISTEN 0      128   [::ffff:10.199.1.11]:5000  *:*
tcp   LISTEN 0      128              *:8774             *:*
"""


def test_fw04_parse_ss_keeps_device_and_unmaps_ipv4() -> None:
    assert _fwcheck.parse_ss(SS) == [
        ("tcp", "*", 8774, None),
        ("tcp", "0.0.0.0", 22, None),
        ("tcp", "0.0.0.0", 9100, "storage"),
        ("tcp", "10.199.1.11", 5000, None),
        ("tcp", "10.199.2.11", 5000, None),
        ("tcp", "127.0.0.1", 6379, None),
        ("tcp", "::", 22, None),
        ("udp", "0.0.0.0", 53, None),
    ]


def test_fw04_listening_where_no_flow_allows(rendered: Doc, facts: HostFacts, zones: Any) -> None:
    found = _fwcheck.listening_findings(_fwcheck.parse_ss(SS), facts.flows, zones, _path(rendered))
    assert found == [
        "tcp/9100 on 0.0.0.0%storage: listens in zone storage; flows allow tcp/9100 only into mgmt",
        "tcp/5000 on 10.199.1.11: listens in zone mgmt; flows allow tcp/5000 only into api",
        "udp/53 on 0.0.0.0: no flow allows udp/53 into this host",
    ]


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        pytest.param(
            lambda d: _replace(d, "internal-api", [_payload("tcp", "dport", {"set": [5000, 8774]}), ACCEPT]),
            "tcp/5000 on ::: listens on every address and the firewall admits tcp/5000 from zone mgmt, zone "
            "storage, interfaces any except api, lo, mgmt, storage; flows allow it only into api",
            id="rule-without-interface",
        ),
        pytest.param(
            lambda d: _insert(
                d,
                _rule(
                    "from-mgmt",
                    [_meta("iifname", "mgmt"), _payload("tcp", "dport", {"range": [1024, 9999]}), ACCEPT],
                    "admin-ssh",
                ),
            ),
            "tcp/5000 on ::: listens on every address and the firewall admits tcp/5000 from zone mgmt; "
            "flows allow it only into api",
            id="wider-range-in-other-zone",
        ),
        pytest.param(
            lambda d: _policy(d, "accept"),
            "tcp/5000 on ::: listens on every address and the firewall admits tcp/5000 from zone mgmt, zone "
            "storage, interfaces any except api, lo, mgmt, storage; flows allow it only into api",
            id="policy-accept",
        ),
    ],
)
def test_fw04_wildcard_listener_the_firewall_does_not_restrict(
    rendered: Doc, facts: HostFacts, zones: Any, variant: Any, message: str
) -> None:
    sockets = [("tcp", "::", 5000, None)]
    assert _fwcheck.listening_findings(sockets, facts.flows, zones, _path(rendered)) == []
    assert _fwcheck.listening_findings(sockets, facts.flows, zones, _path(variant(rendered))) == [message]


# --------------------------------------------------------------------------- against nft itself


def _nft(script: str, json_input: bool = False) -> str | None:
    """Run nft in a throwaway network namespace; None when that is not possible here."""
    if shutil.which("unshare") is None or shutil.which("nft") is None:
        return None
    flag = "-j " if json_input else ""
    cmd = f"nft {flag}-f - && nft -j list ruleset"
    try:
        done = subprocess.run(
            ["unshare", "-rn", "sh", "-c", cmd], input=script, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        if any(w in done.stderr for w in ("Operation not permitted", "unshare", "No such file or directory")):
            return None  # no namespaces here, or the kernel lacks the expression's module
        raise AssertionError(done.stderr)
    return done.stdout


def _strip(doc: Doc) -> list[Doc]:
    out = []
    for item in doc["nftables"]:
        if "metainfo" in item:
            continue
        obj = copy.deepcopy(item)
        next(iter(obj.values())).pop("handle", None)
        out.append(obj)
    return out


@pytest.mark.parametrize("host", ["ctl01", "net01"])
def test_fw_builder_matches_the_role_template_loaded_by_nft(site: Site, host: str) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "roles" / "firewall" / "templates"))
    h = next(x for x in site.hosts if x.name == host)
    text = env.get_template("etc/nftables.conf.j2").render(
        ansible_managed="test",
        inventory_hostname=host,
        firewall_table="hatang",
        firewall_ruleset=ruleset(site, h).to_vars(),
        firewall_log_dropped=False,
    )
    listed = _nft(text)
    assert listed is not None, "nft cannot run in a network namespace here (it needs root and util-linux unshare)"
    assert _strip(json.loads(listed)) == _strip(_rendered(site, host))


def fw_variants() -> list[Any]:
    """Every crafted ruleset variant, by id."""
    groups = (FW01_VARIANTS, FW03_VARIANTS, FW05_VARIANTS)
    return [pytest.param(p.values[0], id=p.id) for group in groups for p in group]


NEEDS_A_FULL_KERNEL = {"queue-to-userspace"}
"""Variants this machine's kernel cannot load (no nft_queue module, no loadable modules at all):
tests/vm/test_vm_nft.py loads them in a VM."""


def _findings(doc: Doc, facts: HostFacts, zones: Any) -> Any:
    path = _path(doc)
    found = [_fwcheck.default_drop(path), _fwcheck.ssh_sources(path), _fwcheck.flow_findings(path, facts.flows, zones)]
    return re.sub(r"handle \d+", "handle N", json.dumps(found, sort_keys=True))


@pytest.mark.parametrize("variant", [p for p in fw_variants() if p.id not in NEEDS_A_FULL_KERNEL])
def test_fw_variant_is_a_ruleset_nft_accepts(rendered: Doc, facts: HostFacts, zones: Any, variant: Any) -> None:
    """nft loads the crafted JSON, and what it lists back gives the same findings."""
    doc = variant(rendered)
    listed = _nft(json.dumps(doc), json_input=True)
    assert listed is not None, "nft refused the crafted ruleset (or cannot run in a network namespace here)"
    assert _findings(json.loads(listed), facts, zones) == _findings(doc, facts, zones)
