"""HT-FW-*: the nftables input policy against the site's flows (both address families)."""

from __future__ import annotations

from typing import Any

import _host

from infra.audit import probes
from infra.audit._facts import within
from infra.audit.plugin import Check

_SSH = 22


def _ruleset(host: Any) -> tuple[dict[str, str], list[probes.NftRule]] | None:
    rc, stdout, stderr = _host.run(host, "command -v nft >/dev/null || exit 127; nft -j list ruleset")
    if rc == 127:
        return None
    if rc != 0:
        raise RuntimeError(f"nft -j list ruleset failed: {stderr.strip()}")
    return probes.nft_input_chains(stdout or '{"nftables": []}')


def test_firewall_default_drop(host: Any, check: Check) -> None:
    found = _ruleset(host)
    observed = {} if found is None else {k: v for k, v in found[0].items() if k.startswith("inet ")}
    ok = any(policy == "drop" for policy in observed.values())
    check.expect(observed or "no inet input chain", {"inet <table> <input chain>": "drop"}, ok=ok)


def test_firewall_enabled(host: Any, check: Check) -> None:
    found = _ruleset(host)
    observed = {
        "installed": found is not None,
        "enabled": _host.service(host, "nftables")["enabled"],
        "input_chain_loaded": bool(found and found[0]),
    }
    check.expect(observed, {"installed": True, "enabled": True, "input_chain_loaded": True})


def test_ssh_only_from_mgmt(host: Any, check: Check) -> None:
    found = _ruleset(host)
    rules = [] if found is None else found[1]
    ssh = [
        r for r in rules
        if r.verdict == "accept" and any(p == "tcp" and lo <= _SSH <= hi for p, lo, hi in r.ports)
    ]  # fmt: skip
    sources = sorted({s for r in ssh for s in (r.saddrs or ("any",))})
    mgmt = check.facts.mgmt_networks
    outside = [s for s in sources if s == "any" or not within(s, mgmt)]
    families = {4 if ":" not in s else 6 for s in sources if s != "any"}
    check.expect(
        {"ssh_accepted_from": sources},
        {"ssh_accepted_from": f"within {list(mgmt)}, IPv4 and IPv6"},
        ok=bool(sources) and not outside and families == {4, 6},
    )


def _listening(host: Any) -> list[tuple[str, str, int]]:
    out = []
    for line in host.run("ss -Htlnu").stdout.splitlines():
        words = line.split()
        if len(words) < 5:
            continue
        address, _, port = words[4].rpartition(":")
        address = address.strip("[]").split("%", 1)[0]
        if port.isdigit():
            out.append((words[0], address, int(port)))
    return sorted(set(out))


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def test_listening_ports_allowed(host: Any, check: Check) -> None:
    sockets = [s for s in _listening(host) if not _loopback(s[1])]
    unexplained = [
        f"{proto}/{port} on {address}" for proto, address, port in sockets if not check.facts.port_allowed(proto, port)
    ]
    check.expect(
        {"not_allowed_by_a_flow": unexplained},
        {"not_allowed_by_a_flow": []},
    )


def test_firewall_rules_match_flows(host: Any, check: Check) -> None:
    found = _ruleset(host)
    rules = [] if found is None else found[1]
    flows = {f.name for f in check.facts.flows}
    accepts = [r for r in rules if r.verdict == "accept"]
    # housekeeping (established, loopback, neighbour discovery) needs no flow; every other accept does
    unexplained = sorted(
        {r.comment or f"(no comment) in {r.chain}" for r in accepts if r.comment not in flows and not r.base}
    )
    missing = sorted(flows - {r.comment for r in accepts if r.comment})
    check.expect(
        {"rules_without_flow": unexplained, "flows_without_rule": missing},
        {"rules_without_flow": [], "flows_without_rule": []},
        ok=found is not None and not unexplained and not missing,
    )
