"""Endpoints on the AIO's OVN: a Neutron port plugged into a network namespace.

To OVN, a port of `br-int` whose `external_ids:iface-id` is a Neutron port's id is what a
guest's tap device is (here an internal port, a tap on the userspace datapath, moved into the
endpoint's namespace): ovn-controller claims it for the chassis, and the port's security groups (ACLs), port security,
native DHCP and router advertisements apply to every packet it sends or receives. An endpoint
starts in a second and is driven with the AIO's own tools, so the proofs use them; a guest booted
by Nova talks to them too (test_aio_guests.py). The tools used
inside are the AIO image's own: busybox's udhcpc, the kernel's SLAAC, socat, ping.

The namespaces are the machine's (`ip netns add hatang-w-...`), not the AIO container's: creating
one mounts /run/netns, which needs CAP_SYS_ADMIN, and the AIO container with that capability was
seen to die (exit 255) when the OVN databases restarted. Open vSwitch makes the tap in the container's
namespace and the machine's root moves it into the endpoint's; ovs-vswitchd keeps its file
descriptor and forwards, but can no longer query the device by name (warnings in its log, no
statistics). A veth pair instead needs checksum offload turned off (ethtool, not in the image):
TCP through the userspace datapath's AF_PACKET ports otherwise arrives with bad checksums; a
command runs in the endpoint's network namespace with the container's files
(`nsenter --net=... --mount=...`).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra import testhosts
from infra.schema import Zone
from infra.testhosts._podman import podman
from tests.conftest import REPO

CONTAINER = testhosts.container_name("aio", "aio1")
CHASSIS = "aio1"
"""The AIO host's name: the chassis a port is bound to."""
_HOOK = "/run/hatang-wire/udhcpc.script"
_HOOK_SOURCE = REPO / "infra" / "guests" / "udhcpc.script"


def sh(command: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A shell command in the AIO host, never raising: the caller judges the exit code."""
    return testhosts.exec_in(CONTAINER, command, check=False, timeout=timeout)


def machine(argv: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A command of the machine running the tests (root), never raising."""
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)


def _aio_pid() -> str:
    return podman("inspect", "--format", "{{.State.Pid}}", CONTAINER).stdout.strip()


def _into(namespace: str, device: str) -> None:
    """Move `device` from the AIO container's network namespace into the machine's `namespace`."""
    moved = machine(["nsenter", f"--net=/proc/{_aio_pid()}/ns/net", "ip", "link", "set", device, "netns", namespace])
    assert moved.returncode == 0, moved.stderr


def until(what: str, probe: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.5)


@dataclass
class Endpoint:
    """A network namespace of the AIO host and its one device: a Neutron port plugged there
    (`port`), or a zone's stand-in on the zone's provider bridge."""

    namespace: str
    device: str
    fixed: dict[int, str]
    """Its address per IP version: the port's fixed IPs, the stand-in's zone gateway."""
    port: Any = None
    bridge: str = "br-int"
    """The Open vSwitch bridge its device is a port of (until moved: a tap of the datapath)."""
    listening: list[int] = field(default_factory=list)

    def address(self, version: int) -> str:
        return self.fixed[version]

    def run(self, command: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`command` (a shell line) in the endpoint's network namespace, with the AIO's files."""
        return machine([*self._enter(), "sh", "-c", command], timeout=timeout)

    def _enter(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.namespace}", f"--mount=/proc/{_aio_pid()}/ns/mnt", "--"]

    def addresses(self, version: int) -> set[str]:
        """The addresses the endpoint's device holds (global scope), as its kernel has them."""
        out = self.run(f"ip -{version} -o addr show dev {self.device} scope global").stdout
        return set(re.findall(r"inet6? ([0-9a-f.:]+)/", out))

    def listen(self, *ports: int) -> None:
        """TCP listeners on both families answering `hatang-<port>` (socat, one process each)."""
        for number in ports:
            subprocess.Popen(
                [*self._enter(), "socat", f"TCP6-LISTEN:{number},fork,reuseaddr,ipv6only=0",
                 f"SYSTEM:echo hatang-{number}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            self.listening.append(number)
        wanted = {f":{number} " for number in ports}
        until(f"{self.namespace} listening on {ports}", lambda: wanted <= set(
            re.findall(r":\d+ ", self.run("ss -Hltn").stdout)), 10)  # fmt: skip

    def reaches(self, address: str, port: int) -> bool:
        """A TCP connection to `address`:`port` gets a listener's answer (3 s at most)."""
        target = f"TCP6:[{address}]:{port}" if ":" in address else f"TCP4:{address}:{port}"
        done = self.run(f"socat -T3 -u {target},connect-timeout=3 STDOUT", timeout=20)
        answer = done.stdout.strip()  # endpoints answer hatang-PORT, the test guest hatang-NAME-PORT
        return done.returncode == 0 and answer.startswith("hatang-") and answer.endswith(f"-{port}")

    def pings(self, address: str) -> bool:
        return self.run(f"ping -c 1 -W 2 {address}", timeout=20).returncode == 0

    def dhcp(self) -> subprocess.CompletedProcess[str]:
        """Ask for a lease (busybox udhcpc, 3 tries) and apply it with the test guest's hook."""
        return self.run(f"busybox udhcpc -i {self.device} -n -q -f -t 3 -T 2 -s {_HOOK}", timeout=30)


class Wire:
    """Plugs endpoints and removes them, with the ports and groups it made, when done."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.endpoints: list[Endpoint] = []
        self.groups: list[Any] = []
        self.cleanups: list[Callable[[], None]] = []
        sh(f"mkdir -p {Path(_HOOK).parent}")
        podman("cp", str(_HOOK_SOURCE), f"{CONTAINER}:{_HOOK}")
        sh(f"chmod 0755 {_HOOK}")

    def group(self, project: Any, rules: list[dict[str, Any]]) -> Any:
        """A security group of `project` with `rules` (ingress unless a rule says otherwise)."""
        name = f"hatang-wire-{uuid.uuid4().hex[:6]}"
        made = self.conn.network.create_security_group(name=name, project_id=project.id)
        self.groups.append(made)
        for rule in rules:
            self.conn.network.create_security_group_rule(
                security_group_id=made.id, project_id=project.id, **{"direction": "ingress", **rule}
            )
        return made

    def plug(self, project: Any, network: Any, groups: list[Any], *, dhcp: bool = True) -> Endpoint:
        """A port of `project` on `network` with `groups`, bound to the chassis, plugged into a
        new namespace; with `dhcp` its IPv4 address comes from OVN's DHCP and its IPv6 address
        from the router's advertisements (SLAAC), both checked against Neutron's."""
        tag = uuid.uuid4().hex[:8]
        port = self.conn.network.create_port(
            network_id=network.id, project_id=project.id, name=f"hatang-wire-{tag}",
            security_group_ids=[g.id for g in groups], binding_host_id=CHASSIS,
        )  # fmt: skip
        fixed = {int(ipaddress.ip_address(ip["ip_address"]).version): str(ip["ip_address"]) for ip in port.fixed_ips}
        endpoint = Endpoint(f"hatang-w-{tag}", f"t-{tag}", fixed, port)
        self.endpoints.append(endpoint)
        ns, dev = endpoint.namespace, endpoint.device
        assert machine(["ip", "netns", "add", ns]).returncode == 0, f"cannot create the namespace {ns}"
        plugged = sh(
            f"ovs-vsctl -- --may-exist add-port br-int {dev} -- set Interface {dev} type=internal "
            f"external_ids:iface-id={port.id} external_ids:attached-mac={port.mac_address} "
            f"external_ids:iface-status=active"
        )
        assert plugged.returncode == 0, plugged.stderr
        _into(ns, dev)
        up = endpoint.run(
            f"ip link set {dev} address {port.mac_address} mtu {network.mtu} && "
            f"ip link set lo up && ip link set {dev} up"
        )
        assert up.returncode == 0, up.stderr
        until(
            f"port {port.id} ACTIVE (claimed by ovn-controller)",
            lambda: self.conn.network.get_port(port.id).status == "ACTIVE",
        )
        if dhcp:
            lease = endpoint.dhcp()
            assert lease.returncode == 0, f"no DHCP lease from OVN: {lease.stdout} {lease.stderr}"
            assert endpoint.addresses(4) == {endpoint.address(4)}
            until(
                f"SLAAC address {endpoint.address(6)} on {tag}",
                lambda: endpoint.address(6) in endpoint.addresses(6),
            )
            until(f"{tag}: IPv6 address usable (DAD done)", lambda: "tentative" not in endpoint.run(
                f"ip -6 -o addr show dev {dev} scope global").stdout, 10)  # fmt: skip
        return endpoint

    def standin(self, zone: Zone) -> Endpoint:
        """The network beyond a provider zone, as its routers see it: a namespace holding the
        zone's gateway addresses on a port of the zone's bridge (a tap, as for the endpoints; a
        veth there lost the ARP replies in the userspace datapath). Its MAC address is the zone's
        own, the same every time: OVN's routers keep the MAC they learnt for the zone's gateway
        (a new random one each time would be a stand-in nobody sends to); a binding learnt
        before with another MAC is removed."""
        assert zone.gateway4 is not None and zone.gateway6 is not None and zone.provider is not None, zone.name
        bridge = zone.provider.bridge
        ns, dev = f"hatang-z-{zone.name}", f"s-{zone.name}"
        assert machine(["ip", "netns", "add", ns]).returncode == 0, f"cannot create the namespace {ns}"
        endpoint = Endpoint(ns, dev, {4: str(zone.gateway4), 6: str(zone.gateway6)}, bridge=bridge)
        self.endpoints.append(endpoint)
        made = sh(f"ovs-vsctl -- --may-exist add-port {bridge} {dev} -- set Interface {dev} type=internal")
        assert made.returncode == 0, made.stderr
        _into(ns, dev)
        mac = "02:" + ":".join(f"{b:02x}" for b in hashlib.sha256(zone.name.encode()).digest()[:5])
        up = endpoint.run(
            f"ip link set {dev} address {mac} && "
            f"ip addr add {zone.gateway4}/{zone.ipv4.prefixlen} dev {dev} && "
            f"ip addr add {zone.gateway6}/{zone.ipv6.prefixlen} dev {dev} nodad && "
            f"ip link set lo up && ip link set {dev} up"
        )
        assert up.returncode == 0, up.stderr
        for address in endpoint.fixed.values():  # what the routers learnt before (an older MAC)
            stale = sh(f"ovn-sbctl --bare --columns=_uuid find MAC_Binding 'ip=\"{address}\"' 'mac!=\"{mac}\"'").stdout
            for row in stale.split():
                sh(f"ovn-sbctl --if-exists destroy MAC_Binding {row}")
        return endpoint

    def close(self) -> None:
        """Undo everything, each step even when one before it failed (the first failure is raised)."""
        try:
            with contextlib.ExitStack() as undo:
                for cleanup in self.cleanups:
                    undo.callback(cleanup)
        finally:
            self._unplug()

    def _unplug(self) -> None:
        for endpoint in self.endpoints:
            sh(f"ovs-vsctl --if-exists del-port {endpoint.bridge} {endpoint.device}")  # first: OVS deletes its tap
            if endpoint.port is not None:
                self.conn.network.delete_port(endpoint.port, ignore_missing=True)
            pids = machine(["ip", "netns", "pids", endpoint.namespace]).stdout.split()
            if pids:
                machine(["kill", *pids])
            machine(["ip", "netns", "del", endpoint.namespace])
        for made in self.groups:
            self.conn.network.delete_security_group(made, ignore_missing=True)


@contextmanager
def wire(conn: Any) -> Iterator[Wire]:
    made = Wire(conn)
    try:
        yield made
    finally:
        made.close()


def project_of(conn: Any, code: str) -> Any:
    """The tenant's project in the agencies domain."""
    domain = conn.identity.find_domain("agencies", ignore_missing=False)
    return conn.identity.find_project(code, domain_id=domain.id, ignore_missing=False)


def default_group(conn: Any, project: Any) -> Any:
    """The project's `default` security group."""
    (group,) = conn.network.security_groups(project_id=project.id, name="default")
    return group


def router_of(conn: Any, network: Any) -> Any:
    """The router of a tenant network (one interface port per subnet, all of one router)."""
    interfaces = conn.network.ports(network_id=network.id, device_owner="network:router_interface")
    (router_id,) = {port.device_id for port in interfaces}
    return conn.network.get_router(router_id)


def gateways(router: Any) -> dict[int, str]:
    """The router's addresses on its external network, per IP version."""
    ips = router.external_gateway_info["external_fixed_ips"]
    return {ipaddress.ip_address(ip["ip_address"]).version: ip["ip_address"] for ip in ips}
