"""The test-host image: a Debian rootfs with systemd built by mmdebstrap, imported into podman.

No image registry is reachable, so the image is built locally (docs/platform-notes.md). The tag
is a hash of the recipe: changing the suite, the mirror, the packages or the customisation below
builds a new image, and an unchanged recipe reuses the one podman already has.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from infra.testhosts._podman import PodmanError, podman

__all__ = ["BASE_PACKAGES", "DEFAULT_RECIPE", "ImageRecipe", "ensure_image", "image_exists"]

BASE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "iproute2",
    "openssh-server",
    "sudo",
    "procps",
    "ca-certificates",
    # what the host roles install anyway: in the image, a role run needs no download
    "nftables",
    "iputils-ping",
    "libpam-pwquality",
    "chrony",
    "rsyslog",
    "logrotate",
)

_LOCK = Path("/run/lock/hatang-testhost-image.lock")

SSH_HOST_KEYS_UNIT = r"""
set -e
: > "$1/etc/machine-id"
rm -f "$1"/etc/ssh/ssh_host_*
cat > "$1/etc/systemd/system/hatang-sshkeys.service" <<'UNIT'
[Unit]
Description=Generate missing SSH host keys (hatang test host)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/hatang-sshkeys.service \
  "$1/etc/systemd/system/multi-user.target.wants/hatang-sshkeys.service""" + '"'
"""Shell (run with the rootfs as $1): no machine id, no SSH host keys; a unit makes them at first
boot, so that every host booted from an image has its own. Shared by the container and VM images."""

# Run inside the rootfs after the packages are installed. Part of the recipe hash.
_CUSTOMIZE = SSH_HOST_KEYS_UNIT + r"""
# systemd-sysctl: /proc/sys is writable in a test host (unmask) and its kernel is the machine's.
# At boot apply only net.* keys, which are per network namespace; kernel.*, fs.* and vm.* from
# Debian's sysctl.d files would otherwise change the kernel of the machine running the tests.
mkdir -p "$1/etc/systemd/system/systemd-sysctl.service.d"
cat > "$1/etc/systemd/system/systemd-sysctl.service.d/hatang-testhost.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=/usr/lib/systemd/systemd-sysctl --prefix=net.
UNIT
# systemd-networkd: its unit switches to its own user with a seccomp filter, for which systemd
# must keep CAP_SYS_ADMIN, which a test host does not have ("Failed to keep CAP_SYS_ADMIN",
# status=217/USER). Test hosts only: drop the seccomp-based sandboxing so that it starts.
mkdir -p "$1/etc/systemd/system/systemd-networkd.service.d"
cat > "$1/etc/systemd/system/systemd-networkd.service.d/hatang-testhost.conf" <<'UNIT'
[Service]
SystemCallFilter=
SystemCallArchitectures=
RestrictAddressFamilies=
MemoryDenyWriteExecute=no
LockPersonality=no
RestrictRealtime=no
RestrictSUIDSGID=no
RestrictNamespaces=no
ProtectKernelModules=no
ProtectKernelLogs=no
ProtectClock=no
UNIT
"""


@dataclass(frozen=True)
class ImageRecipe:
    """What goes into an image. Build variants (e.g. the all-in-one) add packages."""

    name: str = "localhost/hatang-testhost"
    suite: str = "trixie"
    mirror: str = "http://deb.debian.org/debian"
    security_mirror: str = "http://deb.debian.org/debian-security"
    packages: tuple[str, ...] = BASE_PACKAGES
    customize: str = field(default=_CUSTOMIZE, repr=False)

    @property
    def digest(self) -> str:
        """12 hex digits of the recipe's SHA-256: the image tag."""
        text = json.dumps(
            [self.suite, self.sources, sorted(self.packages), self.customize], sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def sources(self) -> list[str]:
        """The apt sources of the image: the release, its updates and security updates."""
        return [
            f"deb {self.mirror} {self.suite} main",
            f"deb {self.mirror} {self.suite}-updates main",
            f"deb {self.security_mirror} {self.suite}-security main",
        ]

    @property
    def image(self) -> str:
        """Full image reference, tagged with the recipe digest."""
        return f"{self.name}:{self.digest}"


DEFAULT_RECIPE = ImageRecipe()


def image_exists(image: str) -> bool:
    """Whether podman holds the image."""
    return podman("image", "exists", image, check=False).returncode == 0


def ensure_image(recipe: ImageRecipe = DEFAULT_RECIPE) -> str:
    """Build and import the recipe's image unless podman already has it.

    Concurrent callers (parallel test workers) wait for one build under a file lock.

    Returns:
        The image reference (`name:digest`), also tagged `name:latest`.

    Raises:
        PodmanError: mmdebstrap or the import failed; the message ends with the tool's output.
    """
    if image_exists(recipe.image):
        return recipe.image
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not image_exists(recipe.image):
            _build(recipe)
    return recipe.image


def _build(recipe: ImageRecipe) -> None:
    if shutil.which("mmdebstrap") is None:
        raise PodmanError("mmdebstrap is not installed (run scripts/bootstrap)")
    with tempfile.TemporaryDirectory(prefix="hatang-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        hook = Path(tmp) / "customize.sh"
        hook.write_text(recipe.customize, encoding="utf-8")
        argv = [
            "mmdebstrap",
            "--variant=apt",
            "--skip=cleanup/apt/lists",
            # no fsync per unpacked file: a throwaway rootfs needs no crash safety (~20% faster)
            "--dpkgopt=force-unsafe-io",
            "--quiet",
            f"--include={','.join(recipe.packages)}",
            f'--customize-hook=sh {hook} "$1"',
            recipe.suite,
            str(rootfs),
            *recipe.sources,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
            raise PodmanError(
                f"mmdebstrap {recipe.suite} failed (exit {result.returncode}):\n{tail}"
            )
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE
        )
        try:
            imported = subprocess.run(
                [
                    "podman",
                    "import",
                    "--quiet",
                    "--change",
                    'CMD=["/sbin/init"]',
                    "--change",
                    "STOPSIGNAL=SIGRTMIN+3",
                    "--change",
                    f"LABEL=hatang.recipe={recipe.digest}",
                    "-",
                    recipe.image,
                ],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise PodmanError(
                f"podman import {recipe.image} failed: {imported.stderr.strip()[-600:]}"
            )
    podman("tag", recipe.image, f"{recipe.name}:latest")
