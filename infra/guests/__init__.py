"""The test guest: a Debian cloud kernel and a busybox initramfs, booted by QEMU (lab only).

The data-plane proofs need guests on the tenants' networks that boot in seconds under software
emulation (KVM acceleration fails on these machines), take their addresses from OVN (DHCPv4,
SLAAC), listen, probe, and say what they saw. The guest is built from the Debian packages of the
system that boots it (no image download), and reports on its serial console: one line per fact,
`HATANG <name> ...`, which `read_console` turns back into data.

The product never imports this package; the AIO and the tests do.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GUEST_PACKAGES",
    "SOURCES",
    "Console",
    "Guest",
    "build_argv",
    "qemu_argv",
    "read_console",
]

# What the system that builds and boots the guest needs (Debian 13 package names).
GUEST_PACKAGES = ("linux-image-cloud-amd64", "busybox-static", "xz-utils", "cpio", "qemu-system-x86")

SOURCES = Path(__file__).parent
"""The guest's init, its DHCP hook and the build script, copied to the building system."""

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_PROBE = re.compile(r"^(icmp4|icmp6|spoof4):[0-9a-fA-F.:]+$|^tcp:[0-9a-fA-F.:]+:[0-9]{1,5}$")
_SPOOF = re.compile(r"^[0-9.]+/[0-9]{1,2}$")
_VOLUME = re.compile(r"^[0-9a-f-]{8,36}$")
_MARK = re.compile(r"^[A-Za-z0-9-]{1,60}$")
_LINE = re.compile(r"HATANG (?P<name>[a-z][a-z0-9-]*) (?P<rest>.*?)\s*$")
_ROUND = re.compile(r"^round=(?P<round>\d+) probe=(?P<probe>\S+) (?P<result>ok|fail)$")
_DISK = re.compile(r"^disk (?P<volume>\S+) (?P<what>found|wrote|missing)(?: (?P<value>\S+))?$")


@dataclass(frozen=True)
class Guest:
    """What one guest does: its name, the TCP ports it answers on, what it probes, and the mark
    it writes on the start of a volume (the disk whose serial is the volume's id)."""

    name: str
    listen: tuple[int, ...] = ()
    probes: tuple[str, ...] = ()
    spoof: str | None = None
    volume: str | None = None
    mark: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.match(self.name):
            problems.append(f"name {self.name!r}: lowercase letters, digits and '-', 31 at most")
        problems += [f"listen port {p}: 1-65535" for p in self.listen if not 0 < p < 65536]
        problems += [
            f"probe {p!r}: icmp4:ADDR, icmp6:ADDR, spoof4:ADDR or tcp:ADDR:PORT"
            for p in self.probes
            if not _PROBE.match(p)
        ]
        if self.spoof is not None and not _SPOOF.match(self.spoof):
            problems.append(f"spoof {self.spoof!r}: an IPv4 ADDR/LEN")
        if any(p.startswith("spoof4:") for p in self.probes) and self.spoof is None:
            problems.append("spoof4 probes need spoof=ADDR/LEN")
        if (self.volume is None) != (self.mark is None):
            problems.append("volume and mark go together")
        if self.volume is not None and not _VOLUME.match(self.volume):
            problems.append(f"volume {self.volume!r}: a volume id (lowercase hex digits and '-')")
        if self.mark is not None and not _MARK.match(self.mark):
            problems.append(f"mark {self.mark!r}: letters, digits and '-', 60 at most")
        if problems:
            raise ValueError(f"guest {self.name!r}: " + "; ".join(problems))

    def kernel_args(self) -> str:
        """The kernel command line: serial console, and what the guest's init reads."""
        args = ["console=ttyS0", "quiet", "panic=-1", f"hatang.name={self.name}"]
        if self.listen:
            args.append("hatang.listen=" + ",".join(str(p) for p in self.listen))
        if self.probes:
            args.append("hatang.probe=" + ",".join(self.probes))
        if self.spoof:
            args.append(f"hatang.spoof={self.spoof}")
        if self.volume:
            args.append(f"hatang.disk={self.volume}:{self.mark}")
        return " ".join(args)


def build_argv(sources: str, out: str) -> list[str]:
    """The command that builds `out/vmlinuz` and `out/initrd.gz` on the building system."""
    return ["sh", f"{sources}/build.sh", sources, out]


def qemu_argv(
    guest: Guest, kernel: str, initrd: str, tap: str, mac: str, memory_mib: int = 128
) -> list[str]:
    """QEMU under software emulation, its one NIC on an existing tap device.

    The tap is created and plugged into the bridge beforehand: with Open vSwitch's userspace
    datapath, OVS reads the tap like any other system port. The tap keeps QEMU's (and libvirt's)
    default offload header; the guest computes its own checksums instead (init.sh, docs/networking.md).
    """
    return [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-m",
        str(memory_mib),
        "-nographic",
        "-no-reboot",
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        "-append",
        guest.kernel_args(),
        "-netdev",
        f"tap,id=net0,ifname={tap},script=no,downscript=no",
        "-device",
        f"virtio-net-pci,netdev=net0,mac={mac}",
    ]


@dataclass
class Console:
    """What one guest said on its serial console."""

    booted: bool = False
    dhcp4: bool | None = None
    addresses: tuple[str, ...] = ()
    metadata: dict[str, str] | None = None
    """What it read from Nova's config drive (uuid, project, mac); {} when it found none."""
    probes: dict[str, list[tuple[int, bool]]] = field(default_factory=lambda: defaultdict(list))
    disk: dict[str, str] = field(default_factory=dict)
    """What it said of its volume: `found` (the mark on it before, or `blank`) and `wrote` (read back
    after writing), or `missing` (no such disk after 90 s)."""

    def last(self, probe: str) -> bool | None:
        """The latest result of a probe, None before its first round."""
        results = self.probes.get(probe)
        return results[-1][1] if results else None

    def after(self, probe: str, round_: int) -> list[bool]:
        """Results of a probe in rounds later than `round_`."""
        return [ok for r, ok in self.probes.get(probe, []) if r > round_]

    def rounds(self, probe: str) -> int:
        """The latest round in which the probe ran (0 before the first)."""
        results = self.probes.get(probe)
        return results[-1][0] if results else 0


def read_console(text: str, name: str) -> Console:
    """Parse the guest's lines (other console output, e.g. kernel messages, is ignored)."""
    console = Console()
    for raw in text.splitlines():
        # a line may start with the terminal escapes SeaBIOS leaves behind
        line = _LINE.search(raw)
        if line is None or line["name"] != name:
            continue
        rest = line["rest"]
        if rest == "boot":
            console.booted = True
        elif rest.startswith("dhcp4 "):
            console.dhcp4 = rest == "dhcp4 ok"
        elif rest.startswith("metadata "):
            console.metadata = dict(kv.split("=", 1) for kv in rest.split()[1:] if "=" in kv)
        elif rest.startswith("addr"):
            console.addresses = tuple(rest.split()[1:])
        elif (disk := _DISK.match(rest)) is not None:
            console.disk[disk["what"]] = disk["value"] or ""
        elif (probe := _ROUND.match(rest)) is not None:
            console.probes[probe["probe"]].append((int(probe["round"]), probe["result"] == "ok"))
    return console
