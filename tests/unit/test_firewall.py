"""The nftables input policy of a host: one rule per flow to it, SSH only from mgmt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.firewall import FirewallError, Rule, ruleset
from infra.validate import load_valid_site
from tests.helpers import edit_yaml
from tests.unit._lab import host, lab_copy, lab_site


def test_ruleset_has_one_rule_per_flow_into_the_hosts_zones() -> None:
    site = lab_site()
    rules = ruleset(site, host(site, "ctl01")).rules
    assert [(r.chain, r.flow) for r in rules] == [
        ("from-mgmt", "admin-ssh"),
        ("from-mgmt", "monitoring-ping"),
        ("from-mgmt", "monitoring-exporter"),
        ("from-api", "internal-api"),
        ("from-api", "keepalived"),
        ("from-storage", "storage-cluster"),
        ("from-gov", "agencies-api"),
    ]


def test_ruleset_flow_for_other_groups_is_not_on_the_host() -> None:
    site = lab_site()
    flows = {r.flow for r in ruleset(site, host(site, "net01")).rules}
    assert "internal-api" not in flows  # groups: [controllers]
    assert {"admin-ssh", "geneve-tunnels", "public-web", "tenants-dns"} <= flows


def test_ruleset_source_chains_carry_both_families_and_any_comes_last() -> None:
    site = lab_site()
    chains = ruleset(site, host(site, "net01")).chains
    assert [(c.name, c.ipv4, c.ipv6) for c in chains] == [
        ("from-mgmt", ("10.199.1.0/24",), ("fd99:ab:0:11::/64",)),
        ("from-overlay", ("10.199.4.0/24",), ("fd99:ab:0:14::/64",)),
        ("from-tenants", ("10.198.0.0/16",), ("fd99:ac::/48",)),
        ("from-any", (), ()),
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (Rule("a", "c", ("mgmt",), "tcp", ("22",), ""), 'iifname "mgmt" tcp dport 22'),
        (Rule("a", "c", ("api",), "udp", ("53", "6800-7300"), ""),
         'iifname "api" udp dport { 53, 6800-7300 }'),
        (Rule("a", "c", ("mgmt",), "icmp", (), ""),
         'iifname "mgmt" meta l4proto { icmp, ipv6-icmp }'),
        (Rule("a", "c", ("api",), "vrrp", (), ""), 'iifname "api" meta l4proto vrrp'),
        (Rule("a", "c", ("dmz", "br-dmz"), "tcp", ("443",), ""),
         'iifname { "dmz", "br-dmz" } tcp dport 443'),
    ],
)
def test_rule_match_renders_nftables_syntax(rule: Rule, expected: str) -> None:
    assert rule.match == expected
    assert rule.nft == f'{expected} accept comment "a"'


def test_ruleset_vars_are_plain_data() -> None:
    site = lab_site()
    data = ruleset(site, host(site, "ctl01")).to_vars()
    assert data["mgmt_chain"] == "from-mgmt"
    assert data["rules"][0] == {
        "flow": "admin-ssh", "chain": "from-mgmt", "match": 'iifname "mgmt" tcp dport 22',
        "ssh": True, "reason": "SSH from the bastion",
    }
    assert [r["flow"] for r in data["rules"] if r["ssh"]] == ["admin-ssh"]


def _flows(root: Path, change: Any) -> None:
    edit_yaml(root, "flows.yml", change)


def test_ruleset_refuses_ssh_from_outside_mgmt(tmp_path: Path) -> None:
    root = lab_copy(tmp_path)
    _flows(root, lambda doc: doc["flows"][3].update(ports=[22]) or doc["flows"][3].pop("services"))  # from api
    site = load_valid_site(root)
    with pytest.raises(FirewallError) as exc:
        ruleset(site, host(site, "ctl01"))
    assert str(exc.value) == (
        "flows.yml: flow 'internal-api' opens SSH (tcp/22) to ctl01 from 'api' "
        "(fix: SSH is allowed from the mgmt zone only, HT-FW-03)"
    )


def test_ruleset_refuses_a_host_without_ssh_from_mgmt(tmp_path: Path) -> None:
    root = lab_copy(tmp_path)
    _flows(root, lambda doc: doc["flows"].pop(0))  # admin-ssh
    site = load_valid_site(root)
    with pytest.raises(FirewallError) as exc:
        ruleset(site, host(site, "ctl02"))
    assert str(exc.value) == (
        "flows.yml: no flow allows SSH (tcp/22) from zone 'mgmt' to ctl02 "
        "(fix: add a flow from mgmt to mgmt, protocol tcp, ports [22])"
    )
