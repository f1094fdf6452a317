"""HT-FW-*: the nftables input path, evaluated as nftables does, against the site's flows.

The logic is in `infra.audit._fwcheck` (pure, unit-tested in tests/unit/test_fw_evasions.py);
these functions only read the host.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
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


_NFTABLES_EXEC = ("ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost")
_NFT_LOAD = re.compile(r"/(?:usr/)?sbin/nft -f (\S+)")


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


@dataclass(frozen=True)
class _AtBoot:
    """The ruleset the next boot loads: nftables.service's one `nft -f FILE`, loaded in a network
    namespace of its own (and a user namespace, so it needs no CAP_SYS_ADMIN), then listed."""

    file: str | None
    """None when the service does not load exactly one file (HT-FW-02 says what it does)."""
    path: InputPath | None = None
    refused: str = ""
    """nft's errors when the file does not load: the next boot leaves the host without a ruleset."""
    unavailable: str = ""
    """Why no namespace could be made here."""


_IN_OWN_NAMESPACE = (
    "command -v unshare >/dev/null || {{ echo 'unshare (util-linux) is not installed' >&2; exit 126; }}; "
    "unshare --user --map-root-user --net -- true 2>/dev/null || {{ echo 'unshare --user --net: not permitted' >&2; "
    "exit 126; }}; unshare --user --map-root-user --net -- sh -c 'nft -f \"$1\" >&2 && nft -j list ruleset' sh {file}"
)


def _at_boot(host: Any) -> _AtBoot:
    starts = _boot_commands(host)["ExecStart"]
    found = _NFT_LOAD.fullmatch(starts[0]) if len(starts) == 1 else None
    if found is None:
        return _AtBoot(None)
    rc, stdout, stderr = _host.run(host, _IN_OWN_NAMESPACE.format(file=shlex.quote(found[1])))
    if rc == 126:
        return _AtBoot(found[1], unavailable=stderr.strip())
    if rc != 0:
        return _AtBoot(found[1], refused=stderr.strip()[-300:] or f"nft exited {rc}")
    return _AtBoot(found[1], probes.nft_input_path(stdout or _EMPTY))


def _at_boot_if_other(host: Any, live: InputPath) -> InputPath | None:
    """The input hook the next boot loads, when it loads and differs from the loaded one (a file
    nft refuses, or no namespace to load it in, is HT-FW-01's and HT-FW-02's finding)."""
    boot = _at_boot(host).path
    return boot if boot is not None and boot != live else None


def test_firewall_default_drop(host: Any, check: Check) -> None:
    """Every nftables input base chain has policy drop and none accepts everything (IPv4 and IPv6),
    in the loaded ruleset and in the one the next boot loads (nftables.service's `nft -f` file,
    loaded in a network namespace of its own): a file that says `policy accept` or does not load
    fails today, not after the next reboot."""
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
    boot = _at_boot(host)
    if boot.file is None:
        check.expect(observed, expected, ok=ok)
        return
    if boot.unavailable and ok:
        check.not_checkable(f"the ruleset {boot.file} loads at boot: {boot.unavailable}", observed, expected)
    at_boot: Any = f"refused by nft: {boot.refused}" if boot.refused else boot.unavailable
    if boot.path is not None:
        at_boot, boot_ok = _fwcheck.default_drop(boot.path)
        ok = ok and boot_ok
    check.expect(
        {"loaded": observed, f"loaded at boot from {boot.file}": at_boot},
        {"loaded": expected, f"loaded at boot from {boot.file}": expected},
        ok=ok and boot.path is not None,
    )


def test_firewall_enabled(host: Any, check: Check) -> None:
    """nftables installed, its service enabled and an input chain loaded; and the service loads
    `config_path` at boot and does nothing else: its one ExecStart is `nft -f <config_path>`
    (errors not ignored), with no ExecCondition, ExecStartPre or ExecStartPost (a drop-in that
    replaces ExecStart, or adds a flush after it, leaves the host open after the next boot); and
    that file, loaded in a network namespace of its own, gives an input chain."""
    path = _input_path(host)
    boot = _boot_commands(host)
    wanted = {"ExecStart": [f"/usr/sbin/nft -f {check.params['config_path']}"]}
    loads = {k: v for k, v in boot.items() if v}
    loads_only_config = loads == wanted or loads == {"ExecStart": [f"/sbin/nft -f {check.params['config_path']}"]}
    observed: dict[str, Any] = {
        "installed": path is not None,
        "enabled": _host.service(host, "nftables")["enabled"],
        "input_chain_loaded": bool(path and any(b.hook == "input" for b in path.chains)),
        "at boot runs": loads,
    }
    expected: dict[str, Any] = {"installed": True, "enabled": True, "input_chain_loaded": True, "at boot runs": wanted}
    ok = all(observed[k] is True for k in ("installed", "enabled", "input_chain_loaded")) and loads_only_config
    if loads_only_config:
        loaded = _at_boot(host)
        if loaded.unavailable and ok:
            check.not_checkable(f"what {loaded.file} loads at boot: {loaded.unavailable}", observed, expected)
        chain = bool(loaded.path and any(b.hook == "input" for b in loaded.path.chains))
        observed["input_chain_at_boot"] = chain or f"none: {loaded.refused or loaded.unavailable or 'no input chain'}"
        expected["input_chain_at_boot"] = True
        ok = ok and chain
    check.expect(observed, expected, ok=ok)


def test_ssh_only_from_mgmt(host: Any, check: Check) -> None:
    """tcp/22 is accepted only from the mgmt zone's networks, and from both families; in the loaded
    ruleset and in the one the next boot loads."""
    path = _input_path(host) or probes.nft_input_path(_EMPTY)
    mgmt = check.facts.mgmt_networks
    wanted = f"within {list(mgmt)}, IPv4 and IPv6"

    def judge(sources: dict[str, list[str]]) -> bool:
        everywhere = sources["ipv4"] + sources["ipv6"]
        return bool(sources["ipv4"]) and bool(sources["ipv6"]) and all(within(s, mgmt) for s in everywhere)

    observed = _fwcheck.ssh_sources(path)
    if (boot := _at_boot_if_other(host, path)) is None:
        check.expect({"ssh_accepted_from": observed}, {"ssh_accepted_from": wanted}, ok=judge(observed))
        return
    at_boot = _fwcheck.ssh_sources(boot)
    check.expect(
        {"ssh_accepted_from": observed, "ssh_accepted_from, at boot": at_boot},
        {"ssh_accepted_from": wanted, "ssh_accepted_from, at boot": wanted},
        ok=judge(observed) and judge(at_boot),
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
    with its name; no extra accept. In the loaded ruleset and in the one the next boot loads."""
    path = _input_path(host)
    if path is None:
        check.expect("nft not installed", "the input path admits exactly the site's flows", ok=False)
        return
    findings = _fwcheck.flow_findings(path, check.facts.flows, zones)
    if (boot := _at_boot_if_other(host, path)) is None:
        check.expect(findings, {k: [] for k in findings})
        return
    at_boot = _fwcheck.flow_findings(boot, check.facts.flows, zones)
    check.expect(
        {"loaded": findings, "at boot": at_boot},
        {"loaded": {k: [] for k in findings}, "at boot": {k: [] for k in at_boot}},
        ok=not any(findings.values()) and not any(at_boot.values()),
    )
