"""Role netzones on the VM test host: the zone VLANs really created on a trunk and carrying traffic.

In a container VLAN devices cannot be created (tests/roles/network/test_role_netzones.py checks
the rendered files there). Here net01 of a copy of the role-test lab is a VM with three NICs:

- `nic0`: QEMU's user network, the VM's control path (SSH, Ansible), in no zone;
- `trunk0` and `sw0`: two NICs on one QEMU hub, a cable between them. netzones makes `trunk0`
  the trunk; `sw0` is moved into a network namespace `switch` that plays the switch: one VLAN
  sub-interface per zone with an address of the zone.

The test pings the host's address of every zone, IPv4 and IPv6, from the switch side, and reads
the frames on `sw0` (`tcpdump -e`): each zone's replies carry that zone's VLAN id and no other.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface

import pytest

from infra.hostnet import Attachment, attachments
from infra.site import Site
from infra.testhosts import vm
from tests.audit.test_hardening_proof import lab_copy
from tests.vm._vmlab import disk_copy, playbook

pytestmark = pytest.mark.vm

HOST = "net01"
MACS = {"nic0": "52:54:00:19:21:00", "trunk0": "52:54:00:19:21:01", "sw0": "52:54:00:19:21:02"}
CONTROL = IPv4Interface("10.192.250.1/24")
"""The VM's control network (QEMU's user network): in no zone of the site."""
NOT_A_CHASSIS = {"netzones_trunk_interface": "trunk0", "netzones_ovn_chassis": "false"}


def _provision(macs: dict[str, str]) -> str:
    """Name the NICs by MAC; DHCP on the control NIC only; the host's name."""
    links = "".join(
        f"printf '[Match]\\nMACAddress={mac}\\n[Link]\\nName={name}\\n' > /etc/systemd/network/10-{name}.link\n"
        for name, mac in macs.items()
    )
    return (
        "set -e\n"
        + links
        + f"sed -i 's/^Name=en\\*$/MACAddress={macs['nic0']}/' /etc/systemd/network/90-provisioning.network\n"
        f"printf '{HOST}\\n' > /etc/hostname\nprintf '127.0.1.1 {HOST}\\n' >> /etc/hosts\n"
    )


def _switch_side(zone: Attachment, v4: IPv4Interface, v6: IPv6Interface) -> str:
    sub = f"sw0.{zone.vlan}"
    return (
        f"ip -n switch link add link sw0 name {sub} type vlan id {zone.vlan}\n"
        f"ip -n switch addr add {v4} dev {sub}\nip -n switch addr add {v6} dev {sub} nodad\n"
        f"ip -n switch link set {sub} up\n"
    )


def _peer(zone: Attachment) -> tuple[IPv4Interface, IPv6Interface]:
    """The switch's address in a zone: the zone's gateway, or the last address of the subnet."""
    assert zone.ipv4 is not None and zone.ipv6 is not None
    v4 = zone.gateway4 or zone.ipv4.network.broadcast_address - 1
    v6 = zone.gateway6 or zone.ipv6.network.network_address + 0xFFFE
    return (IPv4Interface(f"{v4}/{zone.ipv4.network.prefixlen}"), IPv6Interface(f"{v6}/{zone.ipv6.network.prefixlen}"))


@dataclass
class Net:
    site: Site
    zones: tuple[Attachment, ...]
    first: str
    second: str
    state: dict[str, str]
    pings: dict[str, bool]
    frames: str
    timings: dict[str, float]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Net:
    root = tmp_path_factory.mktemp("vmnet")
    site = lab_copy(root, "vmnet", "10.192.", "fd99:a4:")
    host = next(h for h in site.hosts if h.name == HOST)
    zones = attachments(site, host)
    image = vm.ensure_vm_image()
    disk = disk_copy(image.disk, root / "net01.img")
    nics = [vm.Nic(MACS["nic0"], net=CONTROL), vm.Nic(MACS["trunk0"], kind="hub", hub=1),
            vm.Nic(MACS["sw0"], kind="hub", hub=1)]  # fmt: skip
    timings: dict[str, float] = {}
    with vm.boot("vmnet-install", image, root / "install", nics, disk=disk, snapshot=False) as machine:
        timings["boot"] = machine.booted_in
        machine.ssh(_provision(MACS))
        machine.poweroff()
    with vm.boot("vmnet-net01", image, root / "net01", nics, disk=disk, snapshot=False) as machine:
        timings["boot as provisioned"] = machine.booted_in
        began = time.monotonic()
        first = playbook(site, machine, HOST, "netzones.yml", **NOT_A_CHASSIS)
        timings["netzones.yml"] = time.monotonic() - began
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
        second = playbook(site, machine, HOST, "netzones.yml", **NOT_A_CHASSIS)
        state = {
            z.device: machine.ssh(f"ip -d link show {z.device}; networkctl status --no-pager {z.interface}").stdout
            for z in zones
        }
        setup = "set -e\nip netns add switch\nip link set sw0 netns switch\nip -n switch link set sw0 up\n"
        addressed = [z for z in zones if z.ipv4 is not None]
        setup += "".join(_switch_side(z, *_peer(z)) for z in addressed)
        machine.ssh(setup)
        machine.ssh("ip netns exec switch setsid tcpdump -e -n -l -i sw0 icmp or icmp6 </dev/null >/root/frames 2>&1 &")
        time.sleep(2)
        pings: dict[str, bool] = {}
        for z in addressed:
            assert z.ipv4 is not None and z.ipv6 is not None
            for address in (z.ipv4.ip, z.ipv6.ip):
                done = machine.ssh(f"ip netns exec switch ping -c 2 -W 5 {address}", check=False)
                pings[f"{z.zone} {address}"] = done.returncode == 0
        time.sleep(1)
        frames = machine.ssh("pkill tcpdump; sleep 1; cat /root/frames", check=False).stdout
    print("\nVM netzones timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return Net(site, zones, first.stdout, second.stdout, state, pings, frames, timings)


def test_vlan_devices_are_created_on_the_trunk_with_the_zone_ids(net: Net) -> None:
    for zone in net.zones:
        shown = net.state[zone.device]
        assert f"{zone.device}@trunk0" in shown, shown
        assert f"vlan protocol 802.1Q id {zone.vlan} " in shown, shown
        assert "(configured)" in shown, shown


def test_every_zone_address_answers_through_its_vlan(net: Net) -> None:
    assert net.pings and all(net.pings.values()), net.pings


def test_each_zone_replies_carry_its_own_vlan_id(net: Net) -> None:
    """tcpdump -e on the switch's port: a reply from the host's address in a zone is tagged with
    that zone's id, never another's."""
    for zone in net.zones:
        if zone.ipv4 is None or zone.ipv6 is None:
            continue
        for address in (zone.ipv4.ip, zone.ipv6.ip):
            tags = set(re.findall(rf"vlan (\d+),.*\b{re.escape(str(address))} > ", net.frames))
            assert tags == {str(zone.vlan)}, f"{zone.zone} {address}: replies tagged {tags or 'never seen'}"


def test_provider_zones_are_bridged_and_only_addressed_ones_have_addresses(net: Net) -> None:
    for zone in net.zones:
        if zone.bridge is None:
            continue
        shown = net.state[zone.device]
        assert f"master {zone.bridge}" in shown, shown


def test_second_run_changes_nothing(net: Net) -> None:
    recap = re.findall(r"^(\w+)\s+:.*changed=(\d+)", net.second, re.M)
    assert recap == [(HOST, "0")], net.second[-2000:]
