"""HT-FW-*: the nftables input path, evaluated as nftables does, against the site's flows.

The logic is in `infra.audit._fwcheck` (pure, unit-tested in tests/unit/test_fw_evasions.py);
these functions only read the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.audit import _fwcheck, probes
from infra.audit._facts import HostFacts, within
from infra.audit._nft import InputPath
from infra.audit.hosts import _host
from infra.audit.plugin import Check
from infra.site import load_site

_EMPTY = '{"nftables": []}'


def _input_path(host: Any) -> InputPath | None:
    """The evaluated input hook; None when nft is not installed."""
    rc, stdout, stderr = _host.run(host, "command -v nft >/dev/null || exit 127; nft -j list ruleset")
    if rc == 127:
        return None
    if rc != 0:
        raise RuntimeError(f"nft -j list ruleset failed: {stderr.strip()}")
    return probes.nft_input_path(stdout or _EMPTY)


@pytest.fixture(scope="session")
def zones(pytestconfig: pytest.Config, hatang_host_facts: HostFacts) -> dict[str, _fwcheck.ZoneIfaces]:
    """The host's zones (interfaces, networks) from the site model."""
    site = load_site(Path(pytestconfig.getoption("--hatang-site")))
    return _fwcheck.zones_of_host(site, hatang_host_facts.host)


def test_firewall_default_drop(host: Any, check: Check) -> None:
    """Every nftables input base chain has policy drop and none accepts everything (IPv4 and IPv6)."""
    path = _input_path(host)
    if path is None:
        check.expect("nft not installed", "every input base chain: policy drop", ok=False)
        return
    observed, ok = _fwcheck.default_drop(path)
    expected = {
        "input_chains": "each: policy drop",
        "accepts_everything": [],
        "families_dropped_by_default": ["ipv4", "ipv6"],
    }
    check.expect(observed, expected, ok=ok)


_NFTABLES_EXEC = ("ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost")
_NFT_BINARIES = frozenset({"/usr/sbin/nft", "/sbin/nft"})


def _boot_commands(host: Any) -> dict[str, list[str]]:
    """What nftables.service runs when it starts, drop-ins merged by systemd: {property: [commands]}."""
    props = " ".join(f"-p {p}" for p in _NFTABLES_EXEC)
    _, out, _ = _host.run(host, f"systemctl show nftables.service {props}")
    values = probes.parse_keyvalues(out, "=")
    return {
        p: [" ".join(argv) + (" (errors ignored)" if ignored else "") for argv, ignored in
            probes.systemd_exec(values.get(p, ""))]
        for p in _NFTABLES_EXEC
    }  # fmt: skip


def test_firewall_enabled(host: Any, check: Check) -> None:
    """nftables installed, its service enabled and an input chain loaded; and the service loads
    `config_path` at boot and does nothing else: its one ExecStart is `nft -f <config_path>`
    (errors not ignored), with no ExecCondition, ExecStartPre or ExecStartPost (a drop-in that
    replaces ExecStart, or adds a flush after it, leaves the host open after the next boot)."""
    path = _input_path(host)
    boot = _boot_commands(host)
    wanted = {"ExecStart": [f"/usr/sbin/nft -f {check.params['config_path']}"]}
    loads = {k: v for k, v in boot.items() if v}
    loads_only_config = loads == wanted or loads == {"ExecStart": [f"/sbin/nft -f {check.params['config_path']}"]}
    observed = {
        "installed": path is not None,
        "enabled": _host.service(host, "nftables")["enabled"],
        "input_chain_loaded": bool(path and any(b.hook == "input" for b in path.chains)),
        "at boot runs": loads,
    }
    check.expect(
        observed,
        {"installed": True, "enabled": True, "input_chain_loaded": True, "at boot runs": wanted},
        ok=all(observed[k] is True for k in ("installed", "enabled", "input_chain_loaded")) and loads_only_config,
    )


def test_ssh_only_from_mgmt(host: Any, check: Check) -> None:
    """tcp/22 is accepted only from the mgmt zone's networks, and from both families."""
    path = _input_path(host) or probes.nft_input_path(_EMPTY)
    observed = _fwcheck.ssh_sources(path)
    mgmt = check.facts.mgmt_networks
    sources = observed["ipv4"] + observed["ipv6"]
    outside = [s for s in sources if not within(s, mgmt)]
    check.expect(
        {"ssh_accepted_from": observed},
        {"ssh_accepted_from": f"within {list(mgmt)}, IPv4 and IPv6"},
        ok=bool(observed["ipv4"]) and bool(observed["ipv6"]) and not outside,
    )


_PACKET_SOCKETS = r"""
ss -H -0 -a -n -p | while IFS= read -r line; do
  pids=$(printf '%s\n' "$line" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  if [ -z "$pids" ]; then printf -- '-\t-\t%s\n' "$line"; continue; fi
  for pid in $pids; do
    exe=$(readlink "/proc/$pid/exe"); state=unpackaged
    owner=$(dpkg-query -S "$exe" 2>/dev/null | head -n 1 | cut -d: -f1)
    if [ -n "$owner" ]; then
      sums=$(ls /var/lib/dpkg/info/"$owner".md5sums /var/lib/dpkg/info/"$owner":*.md5sums 2>/dev/null | head -n 1)
      want=$(awk -v p="${exe#/}" '$2 == p {print $1}' "$sums" 2>/dev/null)
      have=$(md5sum < "$exe" 2>/dev/null | cut -d' ' -f1)
      if [ -n "$want" ] && [ "$want" = "$have" ]; then state=packaged; else state=changed-since-installed; fi
    fi
    printf '%s\t%s\t%s\n' "$exe" "$state" "$line"
  done
done
"""
"""Each packet socket with the executable of every process holding it and whether that file is as
its Debian package installed it (`-` when no process is visible)."""


def test_listening_ports_allowed(host: Any, check: Check, zones: dict[str, _fwcheck.ZoneIfaces]) -> None:
    """Every listening socket is allowed by a site flow to this host, on the zones it listens in (or
    loopback); and packet sockets, which read frames before the firewall, are held only by the
    executables of `packet_socket_programs` (the platform's link-layer daemons)."""
    path = _input_path(host) or probes.nft_input_path(_EMPTY)  # no firewall: reachable everywhere
    sockets = _fwcheck.parse_ss(host.run("ss -Htlnu").stdout)
    findings = _fwcheck.listening_findings(sockets, check.facts.flows, zones, path)
    rc, packet, errors = _host.run(host, _PACKET_SOCKETS)
    if rc != 0:
        raise RuntimeError(f"listing packet sockets failed: {errors.strip()}")
    others = probes.packet_socket_findings(packet, check.params["packet_socket_programs"])
    check.expect(
        {"not_allowed_by_a_flow": findings, "packet sockets of other programs": others},
        {"not_allowed_by_a_flow": [], "packet sockets of other programs": []},
    )


def test_firewall_rules_match_flows(host: Any, check: Check, zones: dict[str, _fwcheck.ZoneIfaces]) -> None:
    """The input path admits exactly the site's flows to the host: one rule per flow, commented
    with its name; no extra accept."""
    path = _input_path(host)
    if path is None:
        check.expect("nft not installed", "the input path admits exactly the site's flows", ok=False)
        return
    findings = _fwcheck.flow_findings(path, check.facts.flows, zones)
    check.expect(findings, {k: [] for k in findings})
