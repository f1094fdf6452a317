"""The parsers the host checks rely on, over captured command output and file text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.audit import probes


def test_parse_keyvalues_separator_comments_last_wins() -> None:
    text = "# c\nStorage=auto\n[Journal]\nStorage = persistent # inline\n\nbad line\n"
    assert probes.parse_keyvalues(text, "=") == {"Storage": "persistent"}


def test_parse_keyvalues_whitespace_and_tabs() -> None:
    text = "PASS_MAX_DAYS\t99999\nUMASK  027\nENCRYPT_METHOD YESCRYPT\n"
    assert probes.parse_keyvalues(text) == {"PASS_MAX_DAYS": "99999", "UMASK": "027", "ENCRYPT_METHOD": "YESCRYPT"}


def test_parse_sshd_t_keeps_repeated_keys() -> None:
    text = "port 22\nlistenaddress 10.0.0.5:22\nlistenaddress [fd00::5]:22\nPermitRootLogin no\n"
    parsed = probes.parse_sshd_t(text)
    assert parsed["listenaddress"] == ["10.0.0.5:22", "[fd00::5]:22"]
    assert parsed["permitrootlogin"] == ["no"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1year", 31557600), ("12month", 12 * 2630016), ("365d", 365 * 86400), ("3600", 3600), ("1h 30min", 5400)],
)
def test_parse_timespan(value: str, seconds: float) -> None:
    assert probes.parse_timespan(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "forever", "1 fortnight", "12 monthsx"])
def test_parse_timespan_malformed(value: str) -> None:
    assert probes.parse_timespan(value) is None


def test_chrony_sources() -> None:
    text = "pool 2.debian.pool.ntp.org iburst\n# server 1.2.3.4\nserver 10.99.1.1 iburst\nsourcedir /run\n"
    assert probes.chrony_sources(text) == ["2.debian.pool.ntp.org", "10.99.1.1"]


def test_rsyslog_targets_both_syntaxes() -> None:
    text = (
        '*.* action(type="omfwd" target="10.1.0.5" port="514" protocol="tcp")\n'
        "auth.* @@10.1.0.6:514\n"
        "*.* @[fd00::7]:514\n"
        "# *.* @@10.9.9.9\n"
        "mail.* -/var/log/mail.log\n"
    )
    assert probes.rsyslog_targets(text) == ["10.1.0.5", "10.1.0.6", "fd00::7"]


def test_logrotate_days_stanza_and_defaults() -> None:
    text = "weekly\nrotate 4\n/var/log/syslog\n/var/log/auth.log\n{\n  monthly\n  rotate 13\n}\n/var/log/x { daily\n}\n"
    assert probes.logrotate_days(text, "/var/log/syslog") == 390
    assert probes.logrotate_days(text, "/var/log/nothing") is None


def test_logrotate_days_inherits_global_period() -> None:
    text = "weekly\nrotate 4\n/var/log/syslog {\n  missingok\n}\n"
    assert probes.logrotate_days(text, "/var/log/syslog") == 28


def test_apt_uris_one_line_and_deb822() -> None:
    text = (
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.dc/debian trixie main\n"
        "deb-src http://mirror.dc/debian trixie main\n"
        "Types: deb\nURIs: http://mirror.dc/debian-security http://other/debian\nSuites: trixie-security\n"
    )
    assert probes.apt_uris(text) == [
        "http://mirror.dc/debian",
        "http://mirror.dc/debian",
        "http://mirror.dc/debian-security",
        "http://other/debian",
    ]


def _nft(*items: dict[str, object]) -> str:
    return json.dumps({"nftables": list(items)})


def _chain(name: str, **extra: object) -> dict[str, object]:
    return {"chain": {"family": "inet", "table": "hatang", "name": name, **extra}}


def _rule(chain: str, *expr: object, comment: str | None = None) -> dict[str, object]:
    rule: dict[str, object] = {"family": "inet", "table": "hatang", "chain": chain, "expr": list(expr)}
    if comment:
        rule["comment"] = comment
    return {"rule": rule}


def _match(protocol: str, field: str, right: object) -> dict[str, object]:
    return {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": field}}, "right": right}}


_JUMP = {"jump": {"target": "from-mgmt"}}


def _prefix(addr: str, length: int) -> dict[str, object]:
    return {"prefix": {"addr": addr, "len": length}}


def _range(low: int, high: int) -> dict[str, object]:
    return {"range": [low, high]}


def test_nft_input_chains_carries_jump_source_down() -> None:
    ruleset = _nft(
        _chain("input", type="filter", hook="input", prio=0, policy="drop"),
        _chain("from-mgmt"),
        _rule(
            "input",
            {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established"]}},
            {"accept": None},
        ),
        _rule("input", _match("ip", "saddr", _prefix("10.99.1.0", 24)), _JUMP),
        _rule("input", _match("ip6", "saddr", _prefix("fd00:99:1::", 64)), _JUMP),
        _rule("from-mgmt", _match("tcp", "dport", 22), {"accept": None}, comment="admin-ssh"),
        _rule("from-mgmt", _match("tcp", "dport", {"set": [443, _range(8000, 8010)]}), {"accept": None}, comment="api"),
    )  # fmt: skip
    bases, rules = probes.nft_input_chains(ruleset)
    assert bases == {"inet hatang input": "drop"}
    ssh = [r for r in rules if r.comment == "admin-ssh"]
    assert sorted(r.saddrs for r in ssh) == [("10.99.1.0/24",), ("fd00:99:1::/64",)]
    api = next(r for r in rules if r.comment == "api")
    assert api.ports == (("tcp", 443, 443), ("tcp", 8000, 8010))
    assert rules[0].base and not ssh[0].base


def test_nft_input_chains_empty_ruleset() -> None:
    assert probes.nft_input_chains('{"nftables": [{"metainfo": {}}]}') == ({}, [])


# The ruleset the firewall role loaded on the AIO site's host (captured with `nft -j list ruleset`).
REAL_RULESET = (Path(__file__).parent / "data" / "nft-ruleset-aio1.json").read_text(encoding="utf-8")


def test_nft_real_ruleset_housekeeping_is_base() -> None:
    bases, rules = probes.nft_input_chains(REAL_RULESET)
    assert bases == {"inet hatang input": "drop"}
    base = sorted(r.comment or "" for r in rules if r.base)
    assert base == ["established", "loopback", "neighbour-discovery"]


def test_nft_real_ruleset_every_other_accept_names_a_flow() -> None:
    _, rules = probes.nft_input_chains(REAL_RULESET)
    flows = {r.comment for r in rules if r.verdict == "accept" and not r.base}
    assert flows == {
        "admin-ssh", "monitoring-ping", "engineers-api", "internal-api", "database", "message-queue",
        "memcached", "agencies-api",
    }  # fmt: skip
    ssh = sorted(r.saddrs for r in rules if r.comment == "admin-ssh")
    assert ssh == [("10.99.1.0/24",), ("fd99:aa10:0:11::/64",)]


@pytest.mark.parametrize(
    ("expr", "base"),
    [
        ([{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "mgmt"}}, {"accept": None}], False),
        ([{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new"]}}, {"accept": None}], False),
        ([_match("icmpv6", "type", "nd-redirect"), {"accept": None}], False),
        ([{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": None}], True),
    ],
)  # fmt: skip
def test_nft_base_needs_housekeeping_values(expr: list[object], base: bool) -> None:
    ruleset = _nft(_chain("input", type="filter", hook="input", policy="drop"), _rule("input", *expr))
    assert probes.nft_input_chains(ruleset)[1][0].base is base
