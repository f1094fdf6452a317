"""An OVN lab: Open vSwitch (userspace datapath) + OVN + QEMU guests in one systemd container.

The building blocks of the AIO's data plane, proven here on their own: the guest boots under
software emulation on a tap device that OVS's userspace datapath reads, OVN's native DHCP and
router advertisements address it, and OVN's ACLs and port security decide which packets pass.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from infra import guests
from infra.testhosts import DEFAULT_RECIPE, ImageRecipe, ensure_image, exec_in, podman, wait_booted

RECIPE = ImageRecipe(
    name="localhost/hatang-ovnlab",
    packages=(*DEFAULT_RECIPE.packages, "openvswitch-switch", "ovn-central", "ovn-host", *guests.GUEST_PACKAGES),
)
CONTAINER = "hatang-lab-ovn"
GUEST_DIR = "/opt/hatang-guest"

# OVS reads taps in userspace: no kernel module is needed, only /dev/net/tun.
_RUN = (
    "--systemd=always",
    "--cap-add",
    "NET_ADMIN,NET_RAW,SYS_ADMIN",
    "--device",
    "/dev/net/tun",
    "--security-opt",
    "unmask=/proc/sys",
    "--network",
    "none",
)
_CHASSIS = (
    "ovs-vsctl set open . external-ids:system-id=lab1 external-ids:ovn-encap-type=geneve "
    "external-ids:ovn-encap-ip=127.0.0.1 external-ids:ovn-remote=unix:/var/run/ovn/ovnsb_db.sock "
    "external-ids:ovn-bridge-datapath-type=netdev"
)


class OvnLab:
    """The lab container, its logical network and its guests."""

    def __init__(self) -> None:
        self.consoles: dict[str, str] = {}

    def start(self) -> None:
        """Build the image if needed, start the container, make it an OVN chassis, build the guest."""
        image = ensure_image(RECIPE)
        podman("rm", "-f", CONTAINER, check=False)
        podman("run", "-d", "--name", CONTAINER, *_RUN, image)
        wait_booted(CONTAINER, timeout=120)
        self.sh(_CHASSIS)
        self.wait(lambda: "br-int" in self.sh("ovs-vsctl list-br"), 60, "ovn-controller to create br-int")
        podman("cp", str(guests.SOURCES), f"{CONTAINER}:{GUEST_DIR}")
        self.sh(shlex.join(guests.build_argv(GUEST_DIR, f"{GUEST_DIR}/out")))

    def stop(self) -> None:
        podman("rm", "-f", CONTAINER, check=False)

    def sh(self, script: str, timeout: float = 120) -> str:
        """Run a shell script in the lab; its stdout (raises on failure)."""
        return exec_in(CONTAINER, ["sh", "-ec", script], timeout=timeout).stdout

    def boot(self, guest: guests.Guest, port: str, mac: str) -> None:
        """Plug a tap bound to the logical port `port` into br-int and boot the guest on it."""
        tap = f"tap-{guest.name}"[:15]
        self.sh(
            f"ip tuntap add dev {tap} mode tap && ip link set {tap} up && "
            f"ovs-vsctl add-port br-int {tap} -- set Interface {tap} external_ids:iface-id={port}"
        )
        argv = guests.qemu_argv(guest, f"{GUEST_DIR}/out/vmlinuz", f"{GUEST_DIR}/out/initrd.gz", tap, mac)
        log = f"/var/log/guest-{guest.name}.log"
        podman("exec", "-d", CONTAINER, "sh", "-c", f"exec {shlex.join(argv)} >{log} 2>&1")

    def console(self, name: str) -> guests.Console:
        text = exec_in(CONTAINER, ["cat", f"/var/log/guest-{name}.log"], check=False).stdout
        self.consoles[name] = text
        return guests.read_console(text, name)

    def wait(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll until `ready()`; the seconds it took. AssertionError naming `what` on timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if ready():
                return time.monotonic() - start
            time.sleep(1)
        raise AssertionError(f"waited {timeout:.0f} s for {what}")
