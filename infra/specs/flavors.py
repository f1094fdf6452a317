"""The standard flavor set, named after the Sovereign Cloud Stack flavor-naming standard.

A name is the only place a flavor's size is written: `parse_flavor` derives vCPUs, RAM and disk
from it, so a name can never disagree with the flavor it labels.

Scheme (SCS-0100 v3, the subset used here)::

    SCS-<vcpus><cpu type>-<RAM GiB>[-<root disk GB><disk type>]

    cpu type  L  crowded core (heavily oversubscribed vCPU)   -> scs:cpu-type crowded-core
              V  shared core (oversubscribed vCPU)            -> scs:cpu-type shared-core
              T  dedicated hyperthread                        -> scs:cpu-type dedicated-thread
              C  dedicated core                               -> scs:cpu-type dedicated-core
    disk type n  network (Cinder/Ceph), h local HDD, s local SSD, p local NVMe; no disk part means
                 no root disk: boot from a volume (the default on this cloud)

Examples: `SCS-2V-4` (2 shared vCPUs, 4 GiB, boot from volume), `SCS-4V-16-100s` (4 vCPUs,
16 GiB, 100 GB local SSD root disk).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CPU_TYPES", "DISK_TYPES", "STANDARD_FLAVORS", "FlavorSpec", "parse_flavor"]

CPU_TYPES = {
    "L": "crowded-core",
    "V": "shared-core",
    "T": "dedicated-thread",
    "C": "dedicated-core",
}
DISK_TYPES = {"n": "network", "h": "hdd", "s": "ssd", "p": "nvme"}

_NAME = re.compile(
    r"^SCS-(?P<cpus>[1-9]\d*)(?P<cpu>[LVTC])-(?P<ram>[1-9]\d*)(?:-(?P<disk>[1-9]\d*)(?P<dtype>[nhsp]))?$"
)

STANDARD_FLAVORS = (
    "SCS-1L-1",
    "SCS-1V-2",
    "SCS-1V-4",
    "SCS-1V-8",
    "SCS-2V-4",
    "SCS-2V-8",
    "SCS-2V-16",
    "SCS-4V-8",
    "SCS-4V-16",
    "SCS-4V-32",
    "SCS-8V-16",
    "SCS-8V-32",
    "SCS-16V-32",
    "SCS-2V-4-20s",
    "SCS-4V-16-100s",
)
"""The mandatory set of SCS-0103 (standard flavors): public on every hatang site."""


@dataclass(frozen=True)
class FlavorSpec:
    """One Nova flavor, as the name says it is."""

    name: str
    vcpus: int
    ram_mib: int
    disk_gb: int
    cpu_type: str
    disk_type: str | None

    @property
    def name_v1(self) -> str:
        """The SCS v1 spelling (colons), kept as an extra spec for older tooling."""
        return self.name.replace("-", ":").replace("SCS:", "SCS-", 1)

    @property
    def extra_specs(self) -> dict[str, str]:
        """The extra specs SCS-0103 asks every standard flavor to carry."""
        specs = {
            "scs:name-v1": self.name_v1,
            "scs:name-v2": self.name,
            "scs:cpu-type": self.cpu_type,
            "hw_rng:allowed": "true",
        }
        if self.disk_type is not None:
            specs["scs:disk0-type"] = self.disk_type
        return specs


def parse_flavor(name: str) -> FlavorSpec:
    """Derive a flavor's size from its SCS name.

    Raises:
        ValueError: when the name does not follow the scheme (the message shows the scheme).
    """
    match = _NAME.match(name)
    if match is None:
        raise ValueError(
            f"flavor name {name!r} does not follow SCS-<vcpus><L|V|T|C>-<RAM GiB>[-<disk GB><n|h|s|p>]"
        )
    disk = match["disk"]
    return FlavorSpec(
        name=name,
        vcpus=int(match["cpus"]),
        ram_mib=int(match["ram"]) * 1024,
        disk_gb=int(disk) if disk else 0,
        cpu_type=CPU_TYPES[match["cpu"]],
        disk_type=DISK_TYPES[match["dtype"]] if disk else None,
    )
