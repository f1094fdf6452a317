"""VM test hosts: Debian 13 under QEMU's emulation, for what a container cannot show (issue 15).

A container shares the machine's kernel: auditd cannot run, `kernel.*` sysctls are the
machine's, VLAN devices cannot be created. A VM has its own kernel. KVM does not work on these
machines, so QEMU emulates the CPU (TCG): slower, but a small Debian boots in well under a minute.

The image (kernel, initrd, an ext4 root disk, the admin account's SSH key) is built by mmdebstrap
from a recipe whose hash names its folder under `VM_CACHE`; an unchanged recipe reuses it. Every
boot uses `snapshot=on`: the VM writes to a temporary overlay and the image never changes.

Each VM has a network of its own (QEMU's user-mode network, on the addresses the caller gives);
only its SSH port is forwarded, to 127.0.0.1. The VM is reached as an ordinary SSH host through an
ssh_config file naming it by the address it has on its own network (`Vm.ssh_config`), which
Ansible (`Vm.ansible_vars`) and the host audit (`--ssh-config`) use as they would at a real site.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path

from infra.errors import HatangError
from infra.testhosts._image import BASE_PACKAGES, SSH_HOST_KEYS_UNIT, ImageRecipe

__all__ = ["ADMIN", "VM_CACHE", "Nic", "Vm", "VmError", "VmImage", "VmRecipe", "boot", "ensure_vm_image"]

VM_CACHE = Path("/var/cache/hatang/vm")
ADMIN = "hatang"
"""The image's administrator: SSH key only, sudo without password (root cannot log in over SSH
once the baseline role has run, as at a real site)."""

_LOCK = Path("/run/lock/hatang-vm-image.lock")

# Run in the rootfs after the packages are installed ($1: rootfs, $2: the admin's public key).
_CUSTOMIZE = (
    SSH_HOST_KEYS_UNIT
    + r"""
printf '/dev/vda / ext4 defaults 0 1\n' > "$1/etc/fstab"
printf 'vmhost\n' > "$1/etc/hostname"
# Until the host is given its addresses: DHCP on the first NIC, from QEMU's user network.
cat > "$1/etc/systemd/network/90-provisioning.network" <<'UNIT'
[Match]
Name=en*
[Network]
DHCP=ipv4
IPv6AcceptRA=no
UNIT
systemctl --root "$1" enable systemd-networkd.service >/dev/null 2>&1
chroot "$1" useradd --create-home --shell /bin/bash --groups sudo hatang
install -d -m 0700 -o "$(chroot "$1" id -u hatang)" -g "$(chroot "$1" id -g hatang)" "$1/home/hatang/.ssh"
install -m 0600 -o "$(chroot "$1" id -u hatang)" -g "$(chroot "$1" id -g hatang)" "$2" \
  "$1/home/hatang/.ssh/authorized_keys"
printf 'hatang ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$1/etc/sudoers.d/00-hatang-admin"
chmod 0440 "$1/etc/sudoers.d/00-hatang-admin"
"""
)


class VmError(HatangError):
    """The VM image could not be built, or a VM did not boot or answer."""


@dataclass(frozen=True)
class VmRecipe:
    """What goes into a VM image: the test host's packages plus a kernel, auditd and AIDE (their
    maintainer scripts run here at native speed; aide-common's run ucf over 239 files, minutes
    under the VM's software emulation)."""

    suite: str = "trixie"
    mirror: str = "http://deb.debian.org/debian"
    security_mirror: str = "http://deb.debian.org/debian-security"
    packages: tuple[str, ...] = (
        *BASE_PACKAGES, "linux-image-cloud-amd64", "udev", "auditd", "aide", "aide-common", "tcpdump",
    )
    disk_size: str = "3G"
    customize: str = field(default=_CUSTOMIZE, repr=False)

    @property
    def digest(self) -> str:
        """12 hex digits of the recipe's SHA-256: the image's folder name."""
        text = json.dumps([self.suite, self.sources, sorted(self.packages), self.disk_size, self.customize])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def sources(self) -> list[str]:
        """The same apt sources as the container image's."""
        return ImageRecipe(suite=self.suite, mirror=self.mirror, security_mirror=self.security_mirror).sources


@dataclass(frozen=True)
class VmImage:
    """A built image: its folder holds `vmlinuz`, `initrd.img`, `disk.img` and `id_ed25519`."""

    folder: Path

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"

    @property
    def disk(self) -> Path:
        return self.folder / "disk.img"

    @property
    def key(self) -> Path:
        """The admin account's private SSH key (root-only, outside the tree)."""
        return self.folder / "id_ed25519"


def ensure_vm_image(recipe: VmRecipe = VmRecipe(), cache: Path = VM_CACHE) -> VmImage:
    """Build the recipe's image unless `cache` holds it; concurrent callers wait for one build.

    Raises:
        VmError: mmdebstrap, mkfs.ext4 or ssh-keygen failed (their output ends the message).
    """
    image = VmImage(cache / recipe.digest)
    if image.disk.is_file():
        return image
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not image.disk.is_file():
            _build(recipe, image.folder)
            for older in cache.iterdir():
                if older.is_dir() and older != image.folder and not older.name.startswith("."):
                    shutil.rmtree(older, ignore_errors=True)  # images of earlier recipes: ~0.5 GB each
    return image


def _run(argv: Sequence[str], what: str) -> None:
    if shutil.which(argv[0]) is None:
        raise VmError(f"{argv[0]} is not installed (run scripts/bootstrap)")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise VmError(f"{what} failed (exit {done.returncode}):\n{tail}")


def _build(recipe: VmRecipe, folder: Path) -> None:
    """Build into a temporary folder beside `folder`, then rename: never a half-built image."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{folder.name}-", dir=folder.parent) as tmp:
        work = Path(tmp)
        out = work / "image"
        out.mkdir(mode=0o700)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{ADMIN}@vm-test-host",
              "-f", str(out / "id_ed25519")], "ssh-keygen")  # fmt: skip
        hook = work / "customize.sh"
        hook.write_text(recipe.customize, encoding="utf-8")
        rootfs = work / "rootfs"
        _run(
            [
                "mmdebstrap", "--variant=apt", "--dpkgopt=force-unsafe-io", "--quiet",
                f"--include={','.join(recipe.packages)}",
                f'--customize-hook=sh {hook} "$1" {out / "id_ed25519.pub"}',
                recipe.suite, str(rootfs), *recipe.sources,
            ],
            f"mmdebstrap {recipe.suite}",
        )  # fmt: skip
        boot = rootfs / "boot"
        for prefix, name in (("vmlinuz-", "vmlinuz"), ("initrd.img-", "initrd.img")):
            found = sorted(boot.glob(prefix + "*"))
            if not found:
                raise VmError(f"the image has no {boot / prefix}* (is a linux-image package in the recipe?)")
            shutil.copyfile(found[-1], out / name)
        _run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(rootfs), str(out / "disk.img"), recipe.disk_size],
             "mkfs.ext4")  # fmt: skip
        out.rename(folder)


@dataclass(frozen=True)
class Nic:
    """A NIC of the VM. `user`: QEMU's user-mode network on `net` (the VM's own network: QEMU
    answers as `host`, gives the VM `guest` by DHCP, forwards 127.0.0.1:<port> to its SSH). `hub`:
    a port of QEMU's internal hub `hub`; two NICs on one hub are a cable between them."""

    mac: str
    kind: str = "user"
    net: IPv4Interface | None = None
    hub: int = 0


@dataclass
class Vm:
    """A running VM and how to reach it. `stop()` (or the context manager) ends it."""

    name: str
    alias: str
    """The name the VM is reached by in `ssh_config` (its address on its own network)."""
    ssh_port: int
    workdir: Path
    image: VmImage
    process: subprocess.Popen[bytes]
    booted_in: float = 0.0

    @property
    def ssh_config(self) -> Path:
        return self.workdir / "ssh_config"

    @property
    def serial_log(self) -> Path:
        return self.workdir / "serial.log"

    def ansible_vars(self) -> dict[str, str]:
        """Extra vars that make Ansible reach the VM over SSH as its administrator."""
        return {
            "ansible_connection": "ssh",
            "ansible_host": self.alias,
            "ansible_user": ADMIN,
            "ansible_ssh_common_args": f"-F {self.ssh_config}",
            "ansible_ssh_pipelining": "true",
            "ansible_host_key_checking": "false",  # new host keys at first boot; Mitogen ignores ssh_config
        }

    def ssh(self, command: str, *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `command` on the VM as root (through sudo); with `check`, raise on non-zero."""
        argv = ["ssh", "-F", str(self.ssh_config), self.alias, "sudo", "-n", "sh", "-c", _quote(command)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise VmError(f"VM {self.name}: {command!r} did not finish within {timeout:.0f} s") from exc
        if check and done.returncode != 0:
            raise VmError(f"VM {self.name}: {command!r} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
        return done

    def alive(self) -> bool:
        return self.process.poll() is None

    def poweroff(self, timeout: float = 120) -> None:
        """Shut the VM down cleanly (its disk is consistent afterwards), else kill it."""
        self.ssh("systemctl poweroff", check=False, timeout=30)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Vm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _quote(command: str) -> str:
    return "'" + command.replace("'", "'\\''") + "'"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _nic_args(nic: Nic, index: int, ssh_port: int | None) -> list[str]:
    netdev = f"n{index}"
    if nic.kind == "hub":
        backend = f"hubport,id={netdev},hubid={nic.hub}"
    else:
        assert nic.net is not None
        net = nic.net.network
        backend = f"user,id={netdev},net={net},host={nic.net.ip},restrict=off"
        if ssh_port is not None:
            backend += f",dhcpstart={net.network_address + 11},hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
    return ["-netdev", backend, "-device", f"virtio-net-pci,netdev={netdev},mac={nic.mac}"]


_SSH_FAILED = "Failed to start ssh.service"
_PANIC = "Kernel panic"
"""What the console shows when SSH will never answer (systemd on sshd, the kernel): stop waiting."""


def boot(
    name: str,
    image: VmImage,
    workdir: Path,
    nics: Sequence[Nic],
    *,
    disk: Path | None = None,
    snapshot: bool = True,
    memory_mb: int = 1024,
    cpus: int = 2,
    timeout: float = 240,
) -> Vm:
    """Boot a VM from `image` and wait until its SSH answers.

    `disk` is the image's disk unless given (e.g. a copy kept after hardening); with `snapshot`
    the VM's writes go to a temporary overlay and the disk is not changed.

    The first NIC must be a `user` NIC: it carries SSH, and the VM gets the 11th address of its
    network by DHCP (`Vm.alias`) until it is given its own.

    Raises:
        VmError: qemu is missing or exited, or SSH did not answer within `timeout` seconds (the
            serial console's last lines are in the message).
    """
    if not nics or nics[0].kind != "user" or nics[0].net is None:
        raise VmError("the first NIC of a VM must be a user-mode NIC with a network (it carries SSH)")
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise VmError("qemu-system-x86_64 is not installed (run scripts/bootstrap)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    alias = str(nics[0].net.network.network_address + 11)
    argv = [
        qemu, "-name", name, "-machine", "q35,accel=tcg", "-cpu", "max", "-smp", str(cpus), "-m", str(memory_mb),
        "-display", "none", "-monitor", "none", "-serial", f"file:{workdir / 'serial.log'}",
        "-kernel", str(image.kernel), "-initrd", str(image.initrd),
        "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=1",
        "-drive", f"file={disk or image.disk},if=virtio,format=raw,snapshot={'on' if snapshot else 'off'}",
    ]  # fmt: skip
    for index, nic in enumerate(nics):
        argv += _nic_args(nic, index, port if index == 0 else None)
    (workdir / "ssh_config").write_text(
        f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {ADMIN}\n  IdentityFile {image.key}\n"
        "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        "  BatchMode yes\n  ConnectTimeout 10\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    for attempt in (1, 2):
        log = (workdir / "qemu.log").open("wb")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        vm = Vm(name, alias, port, workdir, image, process)
        try:
            _wait_ssh(vm, time.monotonic() + timeout)
        except VmError:
            vm.stop()
            # the emulated CPU now and then makes the guest kernel panic early in boot: boot once more
            if attempt == 2 or _PANIC not in _tail(vm.serial_log, 200):
                raise
            (workdir / "serial.log").rename(workdir / "serial.panic.log")
            continue
        except BaseException:
            vm.stop()
            raise
        break
    vm.booted_in = time.monotonic() - started
    return vm


def _wait_ssh(vm: Vm, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not vm.alive():
            raise VmError(f"VM {vm.name}: qemu exited ({vm.process.returncode}): {_tail(vm.workdir / 'qemu.log')}")
        probe = subprocess.run(
            ["ssh", "-F", str(vm.ssh_config), "-o", "ConnectTimeout=5", vm.alias, "true"],
            capture_output=True, check=False, timeout=30,
        )  # fmt: skip
        if probe.returncode == 0:
            return
        console = _tail(vm.serial_log, 200)
        if _SSH_FAILED in console or _PANIC in console:
            raise VmError(f"VM {vm.name}: SSH will not answer; serial console:\n{_tail(vm.serial_log)}")
        time.sleep(2)
    raise VmError(f"VM {vm.name}: SSH did not answer in time; serial console:\n{_tail(vm.serial_log)}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(nothing)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(nothing)"
