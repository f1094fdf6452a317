"""The all-in-one cloud: `inventories/aio` as one systemd container running the control plane.

`up` starts the container through `infra.testhosts` (same networks, names and boot check as every
test host), deploys `playbooks/aio.yml` over SSH, and leaves an admin `clouds.yaml` in the ignored
state folder; `down` removes the container and networks; `status` says what runs where.

The container image is the test-host image plus the control plane's Debian packages, read from
the roles' `<role>_packages` defaults (the roles stay the one place that names them). The roles
install the same packages again, so a real host without the image gets them too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from ruamel.yaml import YAML

from infra import engine, guests, testhosts
from infra._mitogen import mitogen_strategy_env
from infra.errors import HatangError
from infra.schema import ZoneKind
from infra.services import catalogue
from infra.site import Site

__all__ = [
    "CLOUD_NAME",
    "ROLES",
    "SERVICES",
    "AioError",
    "AioPaths",
    "AioStatus",
    "ServiceStatus",
    "UpReport",
    "aio_packages",
    "api_address",
    "down",
    "extra_vars",
    "group_packages",
    "image_recipe",
    "preinstalled_recipe",
    "status",
    "up",
    "web_urls",
]

REPO = Path(__file__).resolve().parent.parent

CLOUD_NAME = "hatang-aio"
"""The cloud's name in the written clouds.yaml (`openstack --os-cloud hatang-aio ...`)."""

ROLES = catalogue().roles(clustered=False)
"""Control-plane roles, in deployment order (playbooks/control-plane.yml), of the AIO's lone controller."""

SERVICES: tuple[tuple[str, str], ...] = tuple(catalogue().units(clustered=False).items())
"""systemd units of the AIO and what each is (the platform service catalogue's)."""

GUEST_VARS: dict[str, Any] = {
    # the kernel here has no openvswitch module: Open vSwitch's userspace datapath (docs/networking.md)
    "ovn_host_datapath_type": "netdev",
    # QEMU's software emulation: KVM acceleration does not work on these machines
    "nova_libvirt_virt_type": "qemu",
    # libvirt in a container: no trusted.* xattrs to remember owners (CAP_SYS_ADMIN), no security
    # driver, no namespaces or cgroups of its own; QEMU as root reads nova's instance files
    "nova_libvirt_qemu_conf": {
        "remember_owner": 0, "security_driver": "none", "namespaces": [], "cgroup_controllers": [],
        "user": "root", "group": "root",
    },
    # nova's privsep daemon keeps CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH, which the container's
    # bounding set lacks (it fails to start, FailedToDropPrivileges); booting a guest from an
    # image needs neither (oslo.privsep's per-context `capabilities` option)
    # the same for os-brick's privsep daemon, which attaching a volume starts (it reads the host's
    # connector details; an RBD volume needs nothing more of the host)
    "nova_conf_overrides": {
        "nova_sys_admin": {"capabilities": "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_NET_ADMIN"},
        "privsep_osbrick": {"capabilities": "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER"},
    },
    # Ceph on one host: its one OSD on a sparse file in the container, and memory targets for a
    # 2-core, 24 GiB machine that also runs every API (Ceph's defaults: 4 GiB per OSD)
    "ceph_osd_paths": ["/var/lib/ceph/osd-disk-0"],
    "ceph_osd_memory_target": 939524096,
    "ceph_mon_memory_target": 268435456,
    "ceph_volumes_pool_pgs": 16,
    "ceph_images_pool_pgs": 8,
}
"""How the AIO's Nova runs real guests (libvirt/QEMU) in a container; a real site sets none."""

_UNUSED_UNITS = (
    "nova-api-metadata.service", "open-iscsi.service", "iscsid.socket",
    "rtslib-fb-targetctl.service", "nvmf-autoconnect.service",
)
"""Units the packages enable that the AIO does not use; nova-api-metadata's Wants= would start
keystone.service with the package's settings at boot, and the iSCSI and NVMe ones (ceph-osd's
dependencies) fail in a container."""

_WRAPPER_UNITS = ("openvswitch-switch.service", "ovn-central.service", "ovn-host.service")
"""Debian's units that start the catalogue's OVS/OVN units; ovsdb-server started before the role
names the chassis would draw a random system-id."""

_LAB_PACKAGES = guests.GUEST_PACKAGES
"""What the AIO builds its test guest from (infra/guests/build.sh: a Debian kernel and a busybox
initramfs) and what its tests run inside it (udhcpc for tests/integration/_wire.py)."""

_IMAGE_CUSTOMIZE = '\nsystemctl --root "$1" mask polkit.service >/dev/null 2>&1\n'
"""polkit fails in a container; libvirt's socket is opened by its group instead (nova_libvirtd_conf)."""

_TASK = re.compile(r"^TASK \[(?P<name>.+)\] \*+")
_RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+).*failed=(?P<failed>\d+)")


class AioError(HatangError):
    """The all-in-one cloud could not be brought up, inspected or removed."""


@dataclass(frozen=True)
class AioPaths:
    """Local, git-ignored state of one AIO site (secrets, SSH key, clouds.yaml, logs)."""

    root: Path

    @classmethod
    def for_site(cls, site: Site, base: Path | None = None) -> AioPaths:
        return cls((base or REPO / ".hatang") / site.name)

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def ssh_key(self) -> Path:
        return self.root / "ssh" / "id_ed25519"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def extra_vars(self) -> Path:
        return self.root / "extra-vars.json"

    @property
    def cacert(self) -> Path:
        """The internal CA certificate of the TLS front, for clients of the https endpoints."""
        return self.root / "ca.crt"

    @property
    def log(self) -> Path:
        return self.root / "ansible.log"

    @property
    def site_bundle(self) -> Path:
        """The checked-out branch as a git bundle: the AIO's stand-in for the DC's Git server starts from it."""
        return self.root / "site.bundle"


@dataclass(frozen=True)
class UpReport:
    """What `up` did and how long each step took (seconds)."""

    container: str
    api_address: str
    clouds_yaml: Path
    image_seconds: float
    host_seconds: float
    deploy_seconds: float
    total_seconds: float
    tasks: int
    changed: int


@dataclass(frozen=True)
class ServiceStatus:
    unit: str
    what: str
    state: str
    listens: tuple[str, ...] = ()


@dataclass(frozen=True)
class AioStatus:
    container: str
    state: str
    addresses: dict[str, list[str]] = field(default_factory=dict)
    services: tuple[ServiceStatus, ...] = ()
    clouds_yaml: Path | None = None


# --------------------------------------------------------------------------- derivation


def aio_packages(roles_dir: Path = REPO / "roles") -> tuple[str, ...]:
    """Every `<role>_packages` default of the control-plane roles, and nova's compute packages,
    sorted and unique.

    A name may refer to the role's other defaults (`python3-{{ neutron_db_driver }}`): it is
    rendered with them and the AIO's own settings (`GUEST_VARS`), as Ansible would.

    Raises:
        AioError: a role's defaults file cannot be read, or a package name cannot be rendered.
    """
    found: set[str] = set()
    for role in ROLES:
        found.update(_role_packages(roles_dir, role, (f"{role}_packages", f"{role}_compute_packages")))
    return tuple(sorted(found))


def group_packages(group: str, roles: Iterable[str], roles_dir: Path = REPO / "roles") -> tuple[str, ...]:
    """What the roles install on a host of the group, sorted and unique: for each catalogue service
    of those roles that runs on the group, the role's `<service>_packages` default if it has one
    (`nova_compute_packages`, `cinder_volume_packages`), else its `<role>_packages`.

    Raises:
        AioError: a role's defaults file cannot be read, or a package name cannot be rendered.
    """
    wanted = set(roles)
    found: set[str] = set()
    for name, service in catalogue().services.items():
        if service.role in wanted and group in service.groups:
            own = f"{name.replace('-', '_')}_packages"
            found.update(_role_packages(roles_dir, service.role, (own,), fallback=f"{service.role}_packages"))
    return tuple(sorted(found))


def _role_packages(roles_dir: Path, role: str, variables: Iterable[str], fallback: str | None = None) -> list[str]:
    """The package names in the role's defaults `variables` (or `fallback` if it has none of them), rendered."""
    path = roles_dir / role / "defaults" / "main.yml"
    if not path.is_file():
        return []
    try:
        defaults = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except Exception as exc:  # ruamel raises several unrelated types
        raise AioError(f"{path}: cannot read the role defaults: {exc}") from exc
    present = [variable for variable in variables if defaults.get(variable)]
    if not present and fallback:
        present = [fallback]
    names = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    rendered: list[str] = []
    for variable in present:
        for package in defaults.get(variable) or []:
            try:
                rendered.append(names.from_string(str(package)).render({**defaults, **GUEST_VARS}))
            except jinja2.TemplateError as exc:
                raise AioError(f"{path}: {variable}: cannot render {package!r}: {exc}") from exc
    return rendered


def image_recipe(roles_dir: Path = REPO / "roles") -> testhosts.ImageRecipe:
    """The AIO image: the test-host recipe plus the control plane's packages."""
    return preinstalled_recipe(
        "localhost/hatang-aio", aio_packages(roles_dir) + _LAB_PACKAGES, units=tuple(unit for unit, _ in SERVICES)
    )


def preinstalled_recipe(
    name: str, packages: Iterable[str], units: Iterable[str] | None = None
) -> testhosts.ImageRecipe:
    """The test-host recipe plus `packages`, a download and unpack saved on every host booted from it.

    The packages' units (`units`, by default every unit of the catalogue) are disabled in the image:
    unconfigured, they would fail at boot and keep systemd from reaching `running`; the roles
    enable each one once it is configured.
    """
    base = testhosts.DEFAULT_RECIPE
    chosen = tuple(catalogue().units()) if units is None else tuple(units)
    names = " ".join(
        [f"{unit}.service" for unit in chosen if not unit.endswith("@")] + list(_UNUSED_UNITS) + list(_WRAPPER_UNITS)
    )
    disable = (
        f"\nfor unit in {names}; do\n"
        '  systemctl --root "$1" disable "$unit" >/dev/null 2>&1 || true\ndone\n'
    )
    return testhosts.ImageRecipe(
        name=name,
        packages=tuple(dict.fromkeys(base.packages + tuple(packages))),
        customize=base.customize + disable + _IMAGE_CUSTOMIZE,
    )


def api_address(site: Site) -> str:
    """The controller's address in the api zone: what every service binds to.

    Raises:
        AioError: the site has no api zone or no controller in it.
    """
    zone = site.zone_of_kind(ZoneKind.API)
    controllers = site.hosts_in("controllers")
    if zone is None or not controllers or zone.name not in controllers[0].ipv4:
        raise AioError(
            f"{site.root}: the AIO needs a zone of kind 'api' and a host in group 'controllers' "
            "with an address in it (zones.yml, hosts.yml)"
        )
    return str(controllers[0].ipv4[zone.name])


def web_urls(site: Site) -> dict[str, str]:
    """What people open in a browser: each catalogue service with a web site, by its description.

    The TLS front serves it on the api-zone address (hatang_tls_enabled is not switched off in the AIO).

    Raises:
        AioError: the site has no api zone or no controller in it.
    """
    address = api_address(site)
    return {
        service.description: f"https://{address}:{service.web.port}/"
        for service in catalogue().services.values()
        if service.web is not None
    }


def extra_vars(site: Site, paths: AioPaths, site_branch: str = "main") -> dict[str, Any]:
    """Variables the AIO adds to the site inventory: connection, local state, fake compute, the
    portal's stand-in Git server (seeded from `paths.site_bundle`, branch `site_branch`)."""
    return {
        "ansible_user": OPERATOR,
        "ansible_ssh_private_key_file": str(paths.ssh_key),
        "ansible_ssh_common_args": (
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        ),
        "ansible_python_interpreter": "/usr/bin/python3",
        "hatang_secrets_dir": str(paths.secrets.resolve()),
        "hatang_clouds_yaml": str(paths.clouds_yaml.resolve()),
        "hatang_cloud_name": CLOUD_NAME,
        "hatang_local_cacert": str(paths.cacert.resolve()),
        **GUEST_VARS,
        "portal_site_repo_seed": str(paths.site_bundle.resolve()),
        "portal_site_repo_branch": site_branch,
    }


def _bundle_site(site: Site, paths: AioPaths) -> str:
    """Write the checked-out branch of the site's repository to `paths.site_bundle`; returns the branch.

    The role copies it only while the stand-in repository does not exist, so a later commit here
    reaches the AIO's portal only after `hatang aio down` and `up`.

    Raises:
        AioError: the site is not in a git repository, or no branch is checked out.
    """
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(site.root), *args], capture_output=True, text=True, check=False)

    branch = git("symbolic-ref", "--quiet", "--short", "HEAD")
    if branch.returncode != 0:
        raise AioError(
            f"{site.root}: the AIO's portal clones the site repository's checked-out branch, and none is "
            "(a detached HEAD, or not a git repository; fix: git switch <branch>)"
        )
    name = branch.stdout.strip()
    bundled = git("bundle", "create", str(paths.site_bundle.resolve()), f"refs/heads/{name}")
    if bundled.returncode != 0:
        raise AioError(f"{site.root}: git bundle failed: {bundled.stderr.strip()}")
    paths.site_bundle.chmod(0o600)
    return name


# --------------------------------------------------------------------------- up


def _ensure_local_state(paths: AioPaths) -> None:
    for folder in (paths.root, paths.secrets, paths.ssh_key.parent):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    if not paths.ssh_key.is_file():
        result = subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hatang-aio",
             "-f", str(paths.ssh_key)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise AioError(f"ssh-keygen failed: {result.stderr.strip()}")


OPERATOR = "hatang"
"""The account Ansible logs in as: hardening refuses root logins over SSH (HT-SSH-01)."""


OWNER_FILE = "/etc/hatang-aio-owner"
"""In the container: the local state folder whose secrets the deployed services hold."""


def _claim(container: str, paths: AioPaths) -> None:
    """Refuse an AIO deployed from another checkout (its services hold that checkout's passwords:
    redeploying with ours failed late, behind `no_log`); mark a new one as ours."""
    ours = str(paths.root.resolve())
    found = testhosts.exec_in(container, ["cat", OWNER_FILE], check=False)
    owner = found.stdout.strip() if found.returncode == 0 else ""
    if owner and owner != ours:
        raise AioError(
            f"{container} was deployed from another checkout ({owner}): its services hold that checkout's "
            f"passwords (fix: run `hatang aio down` in that checkout — or here, if it is gone — then `hatang aio up`)"
        )
    if not owner:
        testhosts.exec_in(container, ["sh", "-c", f"umask 022; printf '%s\\n' {shlex.quote(ours)} > {OWNER_FILE}"])


def _provision_operator(container: str, paths: AioPaths) -> None:
    """Create the operator account with the local key and password-less sudo, as a real site's
    provisioning (cloud-init, the installer) would; Ansible then connects over SSH, ~4x faster
    than the podman connection."""
    key = paths.ssh_key.with_suffix(".pub").read_text(encoding="utf-8").strip()
    script = (
        f"set -e; id -u {OPERATOR} >/dev/null 2>&1 || useradd -m -s /bin/bash {OPERATOR}; "
        f"d=/home/{OPERATOR}/.ssh; install -d -m 700 -o {OPERATOR} -g {OPERATOR} $d; f=$d/authorized_keys; "
        f"touch $f; chown {OPERATOR}:{OPERATOR} $f; chmod 600 $f; grep -qxF '{key}' $f || echo '{key}' >> $f; "
        f"s=/etc/sudoers.d/{OPERATOR}; [ -f $s ] || {{ echo '{OPERATOR} ALL=(ALL:ALL) NOPASSWD: ALL' > $s.tmp; "
        f"chmod 440 $s.tmp; visudo -cf $s.tmp >/dev/null; mv $s.tmp $s; }}"
    )
    testhosts.exec_in(container, script)


def _ansible_env(paths: AioPaths) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_PIPELINING="True",
        ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=300s",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        ANSIBLE_DISPLAY_SKIPPED_HOSTS="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    # Mitogen keeps one Python interpreter per host for the whole run instead of starting one
    # per task: a converged AIO run takes less than half the time.
    env.update(mitogen_strategy_env())
    return env


def _ansible_playbook() -> str:
    here = Path(sys.executable).parent / "ansible-playbook"
    found = str(here) if here.exists() else shutil.which("ansible-playbook")
    if not found:
        raise AioError("ansible-playbook is not installed (run scripts/bootstrap)")
    return found


def _run_playbook(
    site: Site, paths: AioPaths, progress: Callable[[str], None]
) -> tuple[int, int]:
    """Run playbooks/aio.yml; returns (tasks run, hosts' changed count)."""
    variables = extra_vars(site, paths, _bundle_site(site, paths))
    paths.extra_vars.write_text(json.dumps(variables, indent=2) + "\n", encoding="utf-8")
    argv = [
        _ansible_playbook(), "-i", str(site.root.resolve()), "-e", f"@{paths.extra_vars}",
        str(REPO / "playbooks" / "aio.yml"),
    ]
    tasks = changed = failed = 0
    with paths.log.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=_ansible_env(paths), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()
            task = _TASK.match(line)
            if task:
                tasks += 1
                progress(task["name"])
            recap = _RECAP.match(line)
            if recap:
                changed += int(recap["changed"])
                failed += int(recap["failed"])
        code = proc.wait()
    if code != 0 or failed:
        raise AioError(
            f"the deployment failed (ansible-playbook exit {code}); the last lines of "
            f"{paths.log}:\n{_failure_excerpt(paths.log)}"
        )
    return tasks, changed


def _failure_excerpt(log: Path, lines: int = 25) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    start = next((i for i, line in enumerate(text) if line.startswith(("fatal:", "failed:"))), None)
    chosen = text[max(0, start - 6): start + lines] if start is not None else text[-lines:]
    return "\n".join(chosen)


def _upload_guest(paths: AioPaths, container: str) -> None:
    """The test guest's boot files in Glance (infra/guests/glance.py), for the guests Nova boots."""
    from infra.audit.cloud import CloudError, connect
    from infra.guests.glance import ensure_boot_files

    try:
        conn = connect(CLOUD_NAME, paths.clouds_yaml)
    except CloudError as exc:
        raise AioError(f"the AIO cloud is not reachable after the deployment: {exc}") from exc
    try:
        ensure_boot_files(conn, container)
    finally:
        conn.close()


def up(
    site: Site,
    progress: Callable[[str], None] = lambda _: None,
    state_base: Path | None = None,
) -> UpReport:
    """Start the AIO container (idempotent), deploy the control plane, write clouds.yaml.

    Args:
        site: the loaded AIO site (inventories/aio).
        progress: called with a short description of each step and Ansible task.
        state_base: parent of the local state folder (default: the repository's .hatang/).

    Raises:
        AioError: a precondition is missing or the deployment failed (with the log excerpt).
        PodmanError: podman, the image build or the boot failed.
    """
    start = time.monotonic()
    paths = AioPaths.for_site(site, state_base)
    address = api_address(site)
    _ensure_local_state(paths)
    recipe = image_recipe()
    progress(f"image {recipe.image} (built once, ~4 min)")
    testhosts.ensure_image(recipe)
    image_done = time.monotonic()
    progress("starting the container")
    planned = testhosts.up(site, recipe=recipe)
    container = planned.hosts[0].container
    _claim(container, paths)
    _provision_operator(container, paths)
    host_done = time.monotonic()
    tasks, changed = _run_playbook(site, paths, progress)
    progress("the test guest's kernel and initramfs in Glance")
    _upload_guest(paths, container)
    end = time.monotonic()
    return UpReport(
        container=container,
        api_address=address,
        clouds_yaml=paths.clouds_yaml,
        image_seconds=image_done - start,
        host_seconds=host_done - image_done,
        deploy_seconds=end - host_done,
        total_seconds=end - start,
        tasks=tasks,
        changed=changed,
    )


# --------------------------------------------------------------------------- down, status


def down(site: Site, state_base: Path | None = None, forget: bool = False) -> list[str]:
    """Remove the AIO container and networks; with `forget`, its local state too.

    Returns:
        The podman objects (and folder) removed.
    """
    removed = testhosts.down(site.name)
    stacks = engine.Workspace.of(site)
    if stacks.forget():  # the Pulumi state described the cloud just removed
        removed.append(str(stacks.root))
    paths = AioPaths.for_site(site, state_base)
    if forget and paths.root.exists():
        shutil.rmtree(paths.root)
        removed.append(str(paths.root))
    else:
        paths.clouds_yaml.unlink(missing_ok=True)
    return removed


_LOOPBACK = ("127.", "[::1]")


def _ports() -> dict[int, str]:
    """Port -> the unit listening on it: the first unit of the catalogue service owning the port."""
    return {port: catalogue().unit_of(name) for port, name in catalogue().port_owners().items()}


def _listening(container: str) -> dict[str, list[str]]:
    """Listening TCP sockets by unit, from `ss` in the container and the catalogue's ports.

    Behind the TLS front a service listens on the loopback and haproxy on the API address with
    the same port: a port's non-loopback sockets then belong to haproxy. (`ss -p` would name the
    processes, but a container lacks CAP_SYS_PTRACE to read them.)
    """
    result = testhosts.exec_in(container, ["ss", "-ltnH"], check=False)
    ports = _ports()
    by_port: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        text = parts[3].rsplit(":", 1)[-1] if len(parts) >= 4 else ""
        if text.isdigit() and int(text) in ports:
            by_port.setdefault(int(text), []).append(parts[3])
    found: dict[str, list[str]] = {}
    for number, addresses in by_port.items():
        fronted = any(a.startswith(_LOOPBACK) for a in addresses)
        for address in addresses:
            unit = "haproxy" if fronted and not address.startswith(_LOOPBACK) else ports[number]
            found.setdefault(unit, []).append(address)
    return found


def _units(container: str) -> Iterator[tuple[str, str]]:
    """Each unit's state; a template's (`ceph-osd@`) each loaded instance's."""
    names = [f"{unit}*.service" if unit.endswith("@") else f"{unit}.service" for unit, _ in SERVICES]
    result = testhosts.exec_in(container, ["systemctl", "show", "--property=Id,ActiveState", *names], check=False)
    for block in result.stdout.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in props:
            yield props["Id"].removesuffix(".service"), props.get("ActiveState", "?")


def status(site: Site, state_base: Path | None = None) -> AioStatus | None:
    """What runs where: the container, its addresses, each unit's state and listening sockets.

    Returns:
        None when the AIO container does not exist.
    """
    hosts = testhosts.status(site.name)
    if not hosts:
        return None
    host = hosts[0]
    paths = AioPaths.for_site(site, state_base)
    clouds = paths.clouds_yaml if paths.clouds_yaml.is_file() else None
    if host.state != "running":
        return AioStatus(host.container, host.state, host.addresses, (), clouds)
    sockets = _listening(host.container)
    what = dict(SERVICES)
    services = []
    for unit, state in _units(host.container):
        if state == "inactive" and unit == "haproxy":
            continue  # optional units that this deployment does not use
        listens = tuple(sorted(sockets.get(unit, [])))
        template = unit.split("@")[0] + "@" if "@" in unit else unit
        services.append(ServiceStatus(unit, what.get(template, ""), state, listens))
    return AioStatus(host.container, host.state, host.addresses, tuple(services), clouds)
