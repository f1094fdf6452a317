"""Role netzones on test hosts: systemd-networkd files from the site model, bridges, addresses.

A container cannot create VLAN devices: the VLAN files are rendered into a directory networkd
does not read and checked there; the container's interfaces (one podman network per zone)
stand in for the VLANs. The VLANs themselves, created on a trunk and carrying each zone's
traffic with its id, are tested on the VM test host: tests/vm/test_vm_netzones.py.

net01 is the lab's only host with provider zones, and an OVN chassis (group network). Here it is
played as a host that is not a chassis (`netzones_ovn_chassis=false`), which gets Linux bridges;
test_role_ovn.py then applies netzones as the chassis it is, then ovn_host, and checks that the
bridges became Open vSwitch bridges.
"""

from __future__ import annotations

import re
import time

import pytest

from infra import testhosts
from infra.hostnet import attachments
from infra.site import Host
from tests.roles.network.conftest import Lab

pytestmark = pytest.mark.hosts

HOSTS = "net01"
NOT_A_CHASSIS = ("-e", "netzones_ovn_chassis=false")
VLAN_DIR = "/etc/systemd/network.container-inactive"


@pytest.fixture(scope="module")
def applied(lab):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    first = lab.playbook("netzones.yml", HOSTS, *NOT_A_CHASSIS)
    lab.timings["netzones apply"] = time.monotonic() - start
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    return first


def _host(lab: Lab, name: str) -> Host:
    return next(h for h in lab.site.hosts if h.name == name)


def test_netzones_second_run_changes_nothing(lab, applied) -> None:  # type: ignore[no-untyped-def]
    again = lab.playbook("netzones.yml", HOSTS, *NOT_A_CHASSIS)
    assert again.returncode == 0, again.stdout[-3000:]
    recap = re.findall(r"^(\w+)\s+:.*changed=(\d+)", again.stdout, re.M)
    assert len(recap) == 1 and all(changed == "0" for _h, changed in recap), again.stdout[-2000:]


@pytest.mark.parametrize("name", ["net01"])
def test_netzones_vlan_files_rendered_per_zone(lab, applied, name) -> None:  # type: ignore[no-untyped-def]
    container = lab.container(name)
    for a in attachments(lab.site, _host(lab, name)):
        text = testhosts.exec_in(container, ["cat", f"{VLAN_DIR}/20-{a.device}.netdev"]).stdout
        assert f"Name={a.device}\nKind=vlan" in text
        assert f"[VLAN]\nId={a.vlan}" in text
    trunk = testhosts.exec_in(container, ["cat", f"{VLAN_DIR}/10-trunk0.network"]).stdout
    assert [f"VLAN={a.device}" for a in attachments(lab.site, _host(lab, name))] == re.findall(
        r"^VLAN=\S+", trunk, re.M
    )


@pytest.mark.parametrize("name", ["net01"])
def test_netzones_zone_interfaces_configured_with_site_addresses(lab, applied, name) -> None:  # type: ignore[no-untyped-def]
    container = lab.container(name)
    for a in attachments(lab.site, _host(lab, name)):
        if a.ipv4 is None or a.ipv6 is None:
            continue  # bridge only: test_netzones_bridge_only_zone_has_no_address
        state = testhosts.exec_in(container, ["networkctl", "status", "--no-pager", a.interface]).stdout
        assert "(configured)" in state, state
        addresses = testhosts.exec_in(container, ["ip", "-br", "addr", "show", a.interface]).stdout
        assert str(a.ipv4) in addresses and str(a.ipv6) in addresses, addresses


def test_netzones_provider_zone_is_a_port_of_its_bridge(lab, applied) -> None:  # type: ignore[no-untyped-def]
    container = lab.container("net01")
    for bridge in ("br-dmz", "br-gov"):  # a Linux bridge, defined by netzones
        linux = testhosts.exec_in(container, ["test", "-d", f"/sys/class/net/{bridge}/bridge"], check=False)
        assert linux.returncode == 0, f"{bridge} is not a Linux bridge"
        netdev = testhosts.exec_in(container, ["cat", f"/etc/systemd/network/20-{bridge}.netdev"]).stdout
        assert "Kind=bridge" in netdev, netdev
    link = testhosts.exec_in(container, ["ip", "-o", "link", "show", "dmz"]).stdout
    assert "master br-dmz" in link
    bare = testhosts.exec_in(container, ["ip", "-br", "addr", "show", "dmz"]).stdout
    assert "10.199.100.21" not in bare  # the address moved to the bridge
    # the zone still carries traffic through the bridge (the podman gateway of the zone)
    gateway = next(n.gateway4 for n in testhosts.plan(lab.site, "net01").networks if n.zone == "dmz")
    ping = testhosts.exec_in(container, ["ping", "-c1", "-W2", str(gateway)], check=False)
    assert ping.returncode == 0, ping.stdout


def test_netzones_bridge_only_zone_has_no_address(lab, applied) -> None:  # type: ignore[no-untyped-def]
    container = lab.container("net01")
    state = testhosts.exec_in(container, ["networkctl", "status", "--no-pager", "br-gov"]).stdout
    assert "(configured)" in state, state
    addresses = testhosts.exec_in(container, ["ip", "-br", "addr", "show", "br-gov"]).stdout
    assert "10.199.200." not in addresses and "fd99:ab:0:200:" not in addresses, addresses


def test_netzones_routes_from_the_zone_gateways(lab, applied) -> None:  # type: ignore[no-untyped-def]
    routes = testhosts.exec_in(lab.container("net01"), ["ip", "route", "show", "default"]).stdout
    assert "via 10.199.1.1 dev mgmt" in routes
