"""Three controllers made one: the lab site `ha` (lab/) on test hosts, and what the tests do to them.

The hosts (three controllers, a compute host and a storage host) start once per module. The
site's own playbooks deploy, limited by tags: the host firewall of the lab's flows first (the
cluster forms through it), then Ceph on the storage host, the shared services (MariaDB Galera, the
RabbitMQ cluster, memcached, keepalived, the TLS front), Keystone, Barbican, Placement, Glance (its
images in Ceph), OVN's databases (one Raft cluster of the controllers) and Neutron, the compute
host's OVN chassis, Nova (its control services on the controllers, nova-compute with the fake
driver on the compute host) and Cinder (its API and scheduler on the controllers, cinder-volume on
the storage host, volumes in Ceph). Secrets, the site CA among them, go to a folder of the module.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra import testhosts
from infra.aio import GUEST_VARS, group_packages, preinstalled_recipe
from infra.services import catalogue
from infra.services.ansible_vars import generated_password
from infra.site import Site

REPO = Path(__file__).resolve().parents[2]
LAB = Path(__file__).resolve().parent / "lab"
DEPLOYED = (
    "firewall", "ceph", "mariadb", "rabbitmq", "memcached", "keepalived", "tls_front", "keystone", "barbican",
    "placement", "glance", "ovn_central", "neutron", "ovn_host", "nova", "cinder",
)
"""The roles deployed here, by their tags: the host firewall of the site's flows (playbooks/firewall.yml)
first, so the cluster forms through it, then Ceph, the shared services, Keystone, the APIs that
need nothing but their database and Ceph, Nova across the controllers and the compute host, and
Neutron with OVN's databases as one Raft cluster of the controllers and the compute host as a
chassis, Cinder across the controllers and the storage host (control-plane.yml)."""
CONTROLLER_IMAGE = preinstalled_recipe("localhost/hatang-ha-controller", group_packages("controllers", DEPLOYED))
"""The controllers boot with what the roles install on them already unpacked (three hosts' downloads and
unpacking, most of the first deployment, saved); the compute and storage hosts and the replacement
controller start from the bare test-host image, so the roles' installs stay proven on every group."""
STATELESS_APIS = {
    "barbican": "/v1/secrets", "placement": "/resource_providers", "glance": "/v2/images", "nova": "/v2.1/os-services",
    "neutron": "/v2.0/networks",
}
"""The APIs deployed here besides Keystone, and a path of each that reads its database."""
FAKE_COMPUTE = "fake.FakeDriver"
CEPH_VARS = {name: value for name, value in GUEST_VARS.items() if name.startswith("ceph_")}
"""The storage host's Ceph as the AIO's: one OSD on a sparse file, memory targets for this machine."""
REPORTS = REPO / "reports" / "cluster"
"""The lab's figures and its playbook runs' logs."""
PROFILED = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks", "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "40"}
CHASSIS_VARS = {"ovn_host_datapath_type": GUEST_VARS["ovn_host_datapath_type"]}
"""No openvswitch kernel module here: the chassis use the userspace datapath, as the AIO's."""
OVN_DBS = {"nb": "OVN_Northbound", "sb": "OVN_Southbound"}
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class Cluster:
    site: Site
    secrets: Path
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        """The controllers (the cluster)."""
        return [h.name for h in self.site.hosts_in("controllers")]

    @property
    def compute(self) -> list[str]:
        return [h.name for h in self.site.hosts_in("compute")]

    @property
    def storage(self) -> list[str]:
        return [h.name for h in self.site.hosts_in("storage")]

    @property
    def vip(self) -> str:
        zone = next(z for z in self.site.zones if z.vip4)
        return str(zone.vip4)

    def address(self, host: str) -> str:
        return str(next(h for h in self.site.hosts if h.name == host).ipv4["api"])

    def container(self, host: str) -> str:
        return testhosts.container_name(self.site.name, host)

    def run(self, host: str, *argv: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", "exec", self.container(host), *argv],
            capture_output=True, text=True, check=check, timeout=timeout,
        )

    def playbook(self, run: str) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
        """Firewall, shared services, Keystone and the APIs; returns the run and the changed count per host.
        Its output, with each task's time and the slowest tasks (profile_tasks), goes to
        reports/cluster/<run>.log: where a deployment spends its time."""
        result = testhosts.run_playbook(
            self.site, [REPO / "playbooks" / "firewall.yml", REPO / "playbooks" / "control-plane.yml"],
            # no hypervisor in a test host: nova-compute's fake driver, as Nova's functional tests run it
            "-e", json.dumps({
                "hatang_secrets_dir": str(self.secrets), "hatang_nova_compute_driver": FAKE_COMPUTE, **CEPH_VARS,
                **CHASSIS_VARS,
            }),
            "--tags", ",".join(DEPLOYED), timeout=None, env=PROFILED,
        )  # fmt: skip
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / f"{run}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
        changed = {m[0]: int(m[1]) for m in RECAP.findall(result.stdout) if not int(m[2]) and not int(m[3])}
        return result, changed

    def password(self, name: str) -> str:
        """A generated password as the roles read it."""
        return generated_password(self.secrets, name)

    def _keystone(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxy between the tests and the lab
        session.verify = str(self.secrets / "pki" / "ca.crt")
        return session

    def token(self, address: str) -> str | None:
        """The admin's token from Keystone at `address` (a controller's or the shared one), or None."""
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": self.password("keystone-admin"),
            }}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }}
        try:
            reply = self._keystone().post(f"https://{address}:5000/v3/auth/tokens", json=body, timeout=5)
        except requests.RequestException:
            return None
        return reply.headers.get("X-Subject-Token") if reply.status_code == 201 else None

    def project_of(self, token: str) -> str:
        """The id of the project a token is scoped to."""
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        reply = self._keystone().get(f"https://{self.vip}:5000/v3/auth/tokens", headers=headers, timeout=10)
        reply.raise_for_status()
        return str(reply.json()["token"]["project"]["id"])

    def api(self, address: str, service: str) -> str:
        """The base URL of `service`'s API at `address`."""
        port = catalogue().services[service].api.port  # type: ignore[union-attr]
        return f"https://{address}:{port}"

    def validates(self, address: str, token: str) -> bool:
        """Keystone at `address` accepts a token (issued by any controller)."""
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        reply = self._keystone().get(f"https://{address}:5000/v3/auth/tokens", headers=headers, timeout=5)
        return reply.status_code == 200

    def api_reads(self, address: str, service: str, token: str) -> bool:
        """`service`'s API at `address` answers a read of its database (STATELESS_APIS) with 200."""
        port = catalogue().services[service].api.port  # type: ignore[union-attr]
        try:
            reply = self._keystone().get(
                f"https://{address}:{port}{STATELESS_APIS[service]}", headers={"X-Auth-Token": token}, timeout=10
            )
        except requests.RequestException:
            return False
        return reply.status_code == 200

    def create_project(self, address: str, token: str, name: str) -> bool:
        body = {"project": {"name": name, "domain_id": "default"}}
        try:
            reply = self._keystone().post(
                f"https://{address}:5000/v3/projects", json=body, headers={"X-Auth-Token": token}, timeout=10
            )
        except requests.RequestException:
            return False
        return reply.status_code == 201

    def projects(self, address: str, token: str) -> set[str]:
        reply = self._keystone().get(f"https://{address}:5000/v3/projects", headers={"X-Auth-Token": token}, timeout=10)
        reply.raise_for_status()
        return {project["name"] for project in reply.json()["projects"]}

    def sql(self, host: str, statement: str, *, through_vip: bool = False) -> subprocess.CompletedProcess[str]:
        """Run SQL on a node (as root on its socket), or as the keystone user through the shared address."""
        argv = ["mariadb", "--batch", "--skip-column-names", "--connect-timeout=3"]
        if through_vip:
            argv += ["-h", self.vip, "-u", "keystone", f"-p{self.password('db-keystone')}", "keystone"]
        return self.run(host, *argv, "-e", statement, timeout=30)

    def wsrep(self, host: str) -> dict[str, str]:
        out = self.sql(host, "SHOW GLOBAL STATUS LIKE 'wsrep_%'").stdout
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def running_brokers(self, host: str) -> list[str]:
        result = self.run(host, "rabbitmqctl", "--quiet", "cluster_status", "--formatter", "json", timeout=60)
        if result.returncode:
            return []
        return sorted(json.loads(result.stdout)["running_nodes"])

    def vip_holders(self) -> list[str]:
        return [
            h for h in self.hosts if self.is_up(h) and f" {self.vip}/" in self.run(h, "ip", "-4", "-o", "addr").stdout
        ]

    def is_up(self, host: str) -> bool:
        state = subprocess.run(
            ["podman", "inspect", "-f", "{{.State.Running}}", self.container(host)],
            capture_output=True, text=True, check=False,
        )
        return state.stdout.strip() == "true"

    def power_off(self, *hosts: str) -> None:
        """Pull the plug: SIGKILL to the container's init, no service stops cleanly."""
        subprocess.run(["podman", "kill", *map(self.container, hosts)], capture_output=True, check=True)

    def raft(self, host: str, db: str) -> dict[str, object]:
        """`cluster/status` of an OVN database on a controller: its status, cluster and server ids,
        role, and the servers the cluster counts (server id -> address)."""
        out = self.run(host, "ovn-appctl", "-t", f"/var/run/ovn/ovn{db}_db.ctl", "cluster/status", OVN_DBS[db]).stdout
        fields = dict(re.findall(r"^(Status|Role|Cluster ID|Server ID): (.+)$", out, re.MULTILINE))
        servers = dict(re.findall(r"^\s+([0-9a-f]{4}) \(\1 at ssl:([0-9.]+):\d+\)", out, re.MULTILINE))
        return {**fields, "servers": servers}

    def replace(self, host: str) -> None:
        """A new machine in its place: the container removed, a fresh one made with the same addresses."""
        subprocess.run(["podman", "rm", "-f", self.container(host)], capture_output=True, check=True)
        testhosts.up(self.site, limit=host)

    def power_on(self, *hosts: str) -> None:
        subprocess.run(["podman", "start", *map(self.container, hosts)], capture_output=True, check=True)
        for host in hosts:
            testhosts.wait_booted(self.container(host))


def until(predicate, timeout: float, step: float = 0.5) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until `predicate()` held, or None if it did not within `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None
