"""Role netzones in a container: files rendered, VLANs left inactive, bridge and addresses up."""

from __future__ import annotations

INACTIVE = "/etc/systemd/network.container-inactive"


def test_networkd_enabled_and_running(host) -> None:
    networkd = host.service("systemd-networkd")
    assert networkd.is_enabled
    assert networkd.is_running


def test_vlan_files_rendered_but_not_read_by_networkd(host) -> None:
    mgmt = host.file(f"{INACTIVE}/20-eth0.netdev")
    assert mgmt.contains("^Kind=vlan$") and mgmt.contains("^Id=11$")
    assert host.file(f"{INACTIVE}/20-dmz0.netdev").contains("^Id=100$")
    trunk = host.file(f"{INACTIVE}/10-trunk0.network")
    assert trunk.contains("^VLAN=eth0$") and trunk.contains("^VLAN=dmz0$")
    assert not host.file("/etc/systemd/network/20-eth0.netdev").exists


def test_zone_address_on_the_zone_interface(host) -> None:
    addresses = host.check_output("ip -br addr show eth0")
    assert "10.197.251.10/24" in addresses
    assert "fd97:251::a/64" in addresses


def test_provider_bridge_is_a_linux_bridge_on_a_host_that_is_not_a_chassis(host) -> None:
    # the host is in neither group compute nor network: netzones_ovn_chassis is false
    assert host.file("/etc/systemd/network/20-br-dmz.netdev").contains("^Kind=bridge$")
    assert host.file("/sys/class/net/br-dmz/bridge").is_directory


def test_provider_bridge_carries_the_zone_addresses(host) -> None:
    assert host.file("/etc/systemd/network/30-dmz0.network").contains("^Bridge=br-dmz$")
    addresses = host.check_output("ip -br addr show br-dmz")
    assert "10.197.252.10/24" in addresses


def test_router_advertisements_refused(host) -> None:
    assert host.file("/etc/systemd/network/40-eth0.network").contains("^IPv6AcceptRA=no$")
