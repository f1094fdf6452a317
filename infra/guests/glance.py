"""The test guest in the AIO's Glance, booted by Nova (libvirt/QEMU) like any agency's guest.

The AIO host builds the kernel and initramfs from its own packages (`build.sh`); they are
uploaded once as an `aki`/`ari` pair, public, owned by the admin project (the platform's). A
guest's behaviour is its kernel command line (`Guest.kernel_args`), which Nova's libvirt driver
takes from the image property `os_command_line`: each guest is a small image of its own
(a 1 MiB empty root disk) pointing at the shared kernel and initramfs.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from infra import testhosts
from infra.guests import SOURCES, Guest, build_argv
from infra.testhosts._podman import podman

__all__ = ["KERNEL", "RAMDISK", "ensure_boot_files", "guest_image"]

KERNEL = "hatang-guest-kernel"
RAMDISK = "hatang-guest-initramfs"
_BUILD = "/var/lib/hatang-guest"
_PROPERTIES = {
    # SCS image metadata (scs-0102): what the image is and where it came from
    "architecture": "x86_64",
    "hypervisor_type": "qemu",
    "os_distro": "busybox",
    "image_source": "built in the AIO host from Debian 13 packages (infra/guests/build.sh)",
    "image_description": "hatang test guest: DHCPv4, SLAAC, TCP listeners and probes on its serial console",
    "image_original_user": "none",
    "replace_frequency": "never",
    # the config drive (its metadata) on a virtio-scsi CD-ROM: the guest's initramfs has its driver
    "hw_cdrom_bus": "scsi",
    "hw_scsi_model": "virtio-scsi",
    # its disks, and the volumes Nova attaches, on that controller too: the initramfs has the SCSI
    # disk driver, and a disk comes and goes there without PCI hotplug
    "hw_disk_bus": "scsi",
}


def ensure_boot_files(conn: Any, container: str) -> tuple[str, str]:
    """Build the kernel and initramfs in the AIO host (once per content of the guest's sources)
    and upload them (once per content).

    Returns the ids of the kernel and ramdisk images.
    """
    sources = ("build.sh", "init.sh", "udhcpc.script")
    digest = hashlib.sha256(b"".join((SOURCES / name).read_bytes() for name in sources)).hexdigest()[:16]
    build = f"{_BUILD}/{digest}"  # a change of the guest's sources builds it again
    built = testhosts.exec_in(container, f"test -s {build}/out/initrd.gz", check=False)
    if built.returncode != 0:
        testhosts.exec_in(container, ["rm", "-rf", _BUILD])
        testhosts.exec_in(container, ["mkdir", "-p", f"{build}/src"])
        for name in sources:
            podman("cp", str(SOURCES / name), f"{container}:{build}/src/{name}")
        testhosts.exec_in(container, build_argv(f"{build}/src", f"{build}/out"), timeout=300)
    ids = []
    with tempfile.TemporaryDirectory(prefix="hatang-guest-") as tmp:
        for name, file, fmt in ((KERNEL, "vmlinuz", "aki"), (RAMDISK, "initrd.gz", "ari")):
            local = Path(tmp) / file
            podman("cp", f"{container}:{build}/out/{file}", str(local))
            ids.append(_upload(conn, name, local, fmt))
    return ids[0], ids[1]


def _upload(conn: Any, name: str, path: Path, fmt: str) -> str:
    """The image `name` with this content: the existing one, or a new upload (older ones deleted)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    existing = list(conn.image.images(name=name))
    for image in existing:
        if image.properties.get("hatang_sha256") == digest and image.status == "active":
            return str(image.id)
    image = conn.image.create_image(
        name=name, filename=str(path), disk_format=fmt, container_format=fmt, visibility="public",
        hatang_sha256=digest, **_PROPERTIES,
    )  # fmt: skip
    for old in existing:
        conn.image.delete_image(old, ignore_missing=True)
    return str(image.id)


def guest_image(conn: Any, guest: Guest, kernel_id: str, ramdisk_id: str, *, visibility: str = "public") -> Any:
    """A bootable image for `guest`: its command line on the shared kernel and initramfs."""
    with tempfile.NamedTemporaryFile(prefix="hatang-guest-disk-") as disk:
        disk.truncate(1 << 20)
        disk.flush()
        return conn.image.create_image(
            name=f"hatang-guest-{guest.name}", filename=disk.name, disk_format="raw", container_format="bare",
            visibility=visibility, kernel_id=kernel_id, ramdisk_id=ramdisk_id,
            os_command_line=guest.kernel_args(), **_PROPERTIES,
        )  # fmt: skip
