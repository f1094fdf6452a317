"""Benchmark: test guests booting on OVN under QEMU software emulation, by number of guests.

For each size N: a fresh OVN lab container (tests/dataplane/_ovnlab.py; its image is built once),
one logical switch and router, N guests booted at the same moment. Printed per size: the lab's
start, the seconds from boot until the slowest guest has its DHCPv4 lease and until it first
answers-and-gets-answers (each guest pings the router), and the guests' memory (QEMU's RSS).
Issue 13's target: a guest answering ping <= 60 s after it is asked for (here without Nova).
Usage: python benchmarks/guest_boot.py [SIZES...]   (default: 1 2 4)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra.guests import Guest
from tests.dataplane._ovnlab import OvnLab

ROUTER = "10.0.0.1"
TOPOLOGY = f"""
ovn-nbctl ls-add net
ovn-nbctl lr-add router -- lrp-add router router-net 52:54:00:00:ff:01 {ROUTER}/24
ovn-nbctl lsp-add net net-router -- lsp-set-type net-router router \
  -- lsp-set-addresses net-router router -- lsp-set-options net-router router-port=router-net
ovn-nbctl create DHCP_Options cidr=10.0.0.0/24 \
  options='"server_id"="{ROUTER}" "server_mac"="52:54:00:00:ff:01" "lease_time"="3600" "router"="{ROUTER}"'
"""


def measure(size: int) -> tuple[float, float, float, float]:
    lab = OvnLab()
    started = time.monotonic()
    lab.start()
    lab_up = time.monotonic() - started
    try:
        lab.sh(TOPOLOGY)
        dhcp = lab.sh("ovn-nbctl --bare --columns=_uuid find DHCP_Options cidr=10.0.0.0/24").strip()
        guests = [Guest(f"g{i}", probes=(f"icmp4:{ROUTER}",)) for i in range(size)]
        for i in range(size):
            mac = f"52:54:00:00:01:{i + 2:02x}"
            lab.sh(
                f"ovn-nbctl lsp-add net p{i} -- lsp-set-addresses p{i} '{mac} 10.0.0.{i + 2}' "
                f"-- lsp-set-port-security p{i} '{mac} 10.0.0.{i + 2}' -- lsp-set-dhcpv4-options p{i} {dhcp}"
            )
        for i, guest in enumerate(guests):
            lab.boot(guest, f"p{i}", f"52:54:00:00:01:{i + 2:02x}")
        leased = lab.wait(lambda: all(lab.console(g.name).dhcp4 for g in guests), 600, "leases")
        answered = lab.wait(
            lambda: all(lab.console(g.name).last(f"icmp4:{ROUTER}") for g in guests), 600, "pings"
        ) + leased
        rss_kib = sum(int(x) for x in lab.sh("ps -o rss= -C qemu-system-x86_64").split())
        return lab_up, leased, answered, rss_kib / 1024 / size
    finally:
        lab.stop()


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1, 2, 4]
    print(f"guests booted at once on one OVN switch, QEMU -accel tcg, {os.cpu_count()} cores")
    print(f"{'guests':>7} {'lab up s':>9} {'to lease s':>11} {'to ping s':>10} {'MiB/guest':>10}  load")
    for size in sizes:
        lab_up, leased, answered, mib = measure(size)
        load = os.getloadavg()[0]
        print(f"{size:>7} {lab_up:>9.1f} {leased:>11.1f} {answered:>10.1f} {mib:>10.0f}  {load:.1f}")


if __name__ == "__main__":
    main()
