"""The data plane's building blocks, proven with packets between real guests (issue 13).

Two QEMU guests on one OVN logical switch, on taps read by Open vSwitch's userspace datapath
(no openvswitch kernel module here). What each test relies on is also shown failing: a probe
that passes is seen failing once the rule it proves is put in its way, or taken away.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.guests import Guest
from tests.dataplane._ovnlab import OvnLab

pytestmark = pytest.mark.dataplane

A_MAC, B_MAC, ROUTER_MAC = "52:54:00:00:00:0a", "52:54:00:00:00:0b", "52:54:00:00:00:01"
A4, B4, SPOOFED4 = "10.0.0.10", "10.0.0.11", "10.0.0.99"
# SLAAC addresses: the /64 from the router's advertisement + the EUI-64 of the guest's MAC
A6, B6 = "fd00:a::5054:ff:fe00:a", "fd00:a::5054:ff:fe00:b"

PING4, PING6 = f"icmp4:{B4}", f"icmp6:{B6}"
TCP4, TCP6, CLOSED = f"tcp:{B4}:8080", f"tcp:{B6}:8080", f"tcp:{B4}:9090"
SPOOF = f"spoof4:{B4}"

_TOPOLOGY = f"""
ovn-nbctl ls-add tenant-a
ovn-nbctl lr-add router-a
ovn-nbctl lrp-add router-a router-a-port {ROUTER_MAC} 10.0.0.1/24 fd00:a::1/64
ovn-nbctl set Logical_Router_Port router-a-port ipv6_ra_configs:address_mode=slaac \
  ipv6_ra_configs:send_periodic=true ipv6_ra_configs:max_interval=4 ipv6_ra_configs:min_interval=3
ovn-nbctl lsp-add tenant-a tenant-a-router -- lsp-set-type tenant-a-router router \
  -- lsp-set-addresses tenant-a-router router -- lsp-set-options tenant-a-router router-port=router-a-port
dhcp=$(ovn-nbctl create DHCP_Options cidr=10.0.0.0/24 \
  options='"server_id"="10.0.0.1" "server_mac"="{ROUTER_MAC}" "lease_time"="3600" "router"="10.0.0.1"')
ovn-nbctl lsp-add tenant-a vm-a -- lsp-set-addresses vm-a "{A_MAC} {A4} {A6}" \
  -- lsp-set-port-security vm-a "{A_MAC} {A4} {A6}" -- lsp-set-dhcpv4-options vm-a "$dhcp"
ovn-nbctl lsp-add tenant-a vm-b -- lsp-set-addresses vm-b "{B_MAC} {B4} {B6}" \
  -- lsp-set-port-security vm-b "{B_MAC} {B4} {B6}" -- lsp-set-dhcpv4-options vm-b "$dhcp"
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[OvnLab]:
    lab = OvnLab()
    lab.start()
    try:
        lab.sh(_TOPOLOGY)
        a = Guest("a", probes=(PING4, PING6, TCP4, TCP6, CLOSED, SPOOF), spoof=f"{SPOOFED4}/24")
        lab.boot(a, "vm-a", A_MAC)
        lab.boot(Guest("b", listen=(8080,)), "vm-b", B_MAC)
        lab.wait(lambda: lab.console("a").rounds(SPOOF) >= 2, 240, "guest a's first probe rounds")
        yield lab
    finally:
        for name, text in lab.consoles.items():
            print(f"--- console of guest {name} (last lines)\n" + "\n".join(text.splitlines()[-15:]))
        lab.stop()


def _settled(lab: OvnLab, probes: tuple[str, ...], expected: bool, timeout: float = 90) -> None:
    """Wait until each probe has given `expected` in two rounds that began after this call."""
    start = {p: lab.console("a").rounds(p) for p in probes}

    def done() -> bool:
        console = lab.console("a")
        return all(console.after(p, start[p] + 1)[-2:] == [expected, expected] for p in probes)

    lab.wait(done, timeout, f"{probes} to be {'ok' if expected else 'fail'}")


def test_ovn_guest_addressed_by_ovn_dhcp_and_slaac(lab: OvnLab) -> None:
    a = lab.console("a")
    assert a.booted and a.dhcp4, lab.consoles["a"][-2000:]
    assert f"{A4}/24" in a.addresses and f"{A6}/64" in a.addresses, a.addresses


def test_ovn_same_switch_reaches_listener_in_both_families(lab: OvnLab) -> None:
    _settled(lab, (PING4, PING6, TCP4, TCP6), True)
    # the TCP probe can fail: nothing listens on 9090
    assert lab.console("a").last(CLOSED) is False


def test_ovn_acl_drop_stops_tcp_and_its_removal_restores_it(lab: OvnLab) -> None:
    lab.sh("ovn-nbctl acl-add tenant-a to-lport 1001 'outport == \"vm-b\" && tcp.dst == 8080' drop")
    _settled(lab, (TCP4, TCP6), False)
    assert lab.console("a").last(PING4) is True, "the ACL dropped more than TCP 8080"
    lab.sh("ovn-nbctl acl-del tenant-a")
    _settled(lab, (TCP4, TCP6), True)


def test_ovn_port_security_drops_a_spoofed_source(lab: OvnLab) -> None:
    _settled(lab, (SPOOF,), False)
    assert lab.console("a").last(PING4) is True
    # without port security the same packets pass: the probe proves port security, not a typo
    lab.sh("ovn-nbctl lsp-set-port-security vm-a ''")
    _settled(lab, (SPOOF,), True)
    lab.sh(f'ovn-nbctl lsp-set-port-security vm-a "{A_MAC} {A4} {A6}"')
    _settled(lab, (SPOOF,), False)
