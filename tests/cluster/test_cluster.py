"""Three controllers survive losing one: Galera, RabbitMQ, the shared address and Keystone, on the wire.

Each fault test starts from a healthy cluster and leaves one behind. The detectors ("a write
through the shared address succeeds", "Keystone issues a token there", "the brokers run") are shown
to fail on a cluster that is really broken: two controllers of three powered off.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from typing import Any

import pytest
import requests

from infra.pki import site_ca
from infra.services import catalogue
from tests.cluster._ha import OVN_DBS, REPORTS, STATELESS_APIS, Cluster, until

pytestmark = pytest.mark.hosts

FIGURES = REPORTS / "figures.json"
FAILOVER_BOUND_S = 30.0
"""How long the database may stay unreachable through the shared address when its holder dies."""
REJOIN_BOUND_S = 180.0


def _healthy(cluster: Cluster) -> None:
    """Every controller up, every Galera node synced in one primary component of 3, 3 brokers."""
    down = [h for h in cluster.hosts if not cluster.is_up(h)]
    if down:
        cluster.power_on(*down)

    def synced(host: str) -> bool:
        state = cluster.wsrep(host)
        return state.get("wsrep_cluster_size") == "3" and state.get("wsrep_local_state_comment") == "Synced"

    assert until(lambda: all(map(synced, cluster.hosts)), REJOIN_BOUND_S) is not None, {
        h: cluster.wsrep(h) for h in cluster.hosts
    }
    assert until(lambda: len(cluster.running_brokers(cluster.hosts[0])) == 3, REJOIN_BOUND_S, step=2) is not None


def _write(cluster: Cluster, via: str, value: str) -> bool:
    """The detector: a row written through the shared address (from `via`), committed."""
    statement = (
        "CREATE TABLE IF NOT EXISTS ha_probe (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)); "
        f"INSERT INTO ha_probe (v) VALUES ('{value}')"
    )
    return cluster.sql(via, statement, through_vip=True).returncode == 0


def _count(cluster: Cluster, host: str, value: str) -> int:
    out = cluster.sql(host, f"SELECT COUNT(*) FROM keystone.ha_probe WHERE v = '{value}'").stdout.strip()
    return int(out or 0)


def _record(cluster: Cluster, **figures: float) -> None:
    cluster.figures.update(figures)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps({k: round(v, 2) for k, v in cluster.figures.items()}, indent=2) + "\n")
    print("cluster figures:", {k: round(v, 2) for k, v in figures.items()})


def test_deploy_makes_one_cluster_of_three(cluster: Cluster) -> None:
    _record(cluster)  # the first deployment's time
    for host in cluster.hosts:
        state = cluster.wsrep(host)
        assert state["wsrep_cluster_status"] == "Primary", host
        assert state["wsrep_cluster_size"] == "3", host
        assert state["wsrep_local_state_comment"] == "Synced", host
    nodes = [f"rabbit@{cluster.address(h)}" for h in cluster.hosts]
    assert cluster.running_brokers(cluster.hosts[1]) == sorted(nodes)
    # VRRP elects a holder once haproxy runs on it (two checks 2 s apart, then three adverts)
    assert until(lambda: len(cluster.vip_holders()) == 1, 20) is not None, "one controller holds the address"
    for host in cluster.hosts:
        assert cluster.run(host, "systemctl", "is-active", "keepalived", "haproxy", "memcached").returncode == 0


def _answers(address: str, port: int) -> bool | None:
    """True if a TCP connection opens, False if refused (nothing listens), None if dropped (no reply)."""
    try:
        socket.create_connection((address, port), timeout=3).close()
    except ConnectionRefusedError:
        return False
    except TimeoutError:
        return None
    return True


def test_the_cluster_forms_through_the_firewall_of_the_flows(cluster: Cluster) -> None:
    """The controllers drop by default and accept the flows only: the cluster above formed through
    that (Galera, the brokers, VRRP from the api zone). The same listening socket answers the zone a
    flow names and drops another: Galera from the api zone, not from mgmt; SSH the other way."""
    for host in cluster.hosts:
        chain = cluster.run(host, "nft", "list", "table", "inet", "hatang").stdout
        assert "policy drop;" in chain, host
        for flow in ("database-cluster", "message-queue", "keepalived"):
            assert f'comment "{flow}"' in chain, (host, flow)
    host = cluster.hosts[0]
    mgmt = str(next(h for h in cluster.site.hosts if h.name == host).ipv4["mgmt"])
    assert _answers(cluster.address(host), 4567) is True, "Galera from the api zone"
    assert _answers(mgmt, 4567) is None, "Galera from the mgmt zone is dropped"
    assert _answers(mgmt, 22) is True, "SSH from the mgmt zone"
    assert _answers(cluster.address(host), 22) is None, "SSH from the api zone is dropped"


def test_second_run_changes_nothing(cluster: Cluster) -> None:
    result, changed = cluster.playbook("second-run")
    assert result.returncode == 0, result.stdout[-3000:]
    assert changed == dict.fromkeys(cluster.hosts + cluster.compute + cluster.storage, 0), result.stdout[-3000:]


def _nova(cluster: Cluster, path: str) -> dict[str, Any]:
    token = cluster.token(cluster.vip)
    assert token
    port = catalogue().services["nova"].api.port  # type: ignore[union-attr]
    url = f"https://{cluster.vip}:{port}/v2.1{path}"
    reply = cluster._keystone().get(url, headers={"X-Auth-Token": token}, timeout=10)
    reply.raise_for_status()
    return reply.json()  # type: ignore[no-any-return]


def _nova_manage(cluster: Cluster, host: str, command: str) -> list[list[str]]:
    """The rows of a `nova-manage cell_v2` table on a controller, as lists of cells."""
    out = cluster.run(host, "su", "-s", "/bin/sh", "-c", f"nova-manage cell_v2 {command}", "nova", check=True).stdout
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("|")]
    return rows[1:]


def test_nova_control_services_run_on_the_controllers_and_compute_on_the_compute_host(cluster: Cluster) -> None:
    """One play on controllers:compute: each host gets the part of Nova its groups say, and nowhere else."""
    (compute,) = cluster.compute
    for host in cluster.hosts:
        control = cluster.run(host, "systemctl", "is-active", "nova-api", "nova-conductor", "nova-scheduler")
        assert control.returncode == 0, (host, control.stdout)
        assert cluster.run(host, "systemctl", "is-active", "nova-compute").returncode != 0, f"nova-compute on {host}"
    assert cluster.run(compute, "systemctl", "is-active", "nova-compute").returncode == 0
    for package in ("nova-api", "nova-conductor", "nova-scheduler"):
        assert cluster.run(compute, "dpkg-query", "-W", package).returncode != 0, f"{package} on {compute}"
    conf = cluster.run(compute, "cat", "/etc/nova/nova.conf", check=True).stdout
    assert "[database]" not in conf and "[api_database]" not in conf
    assert cluster.password("db-nova") not in conf, "a compute host keeps no database password"
    control_conf = cluster.run(cluster.hosts[0], "cat", "/etc/nova/nova.conf", check=True).stdout
    assert cluster.password("db-nova") in control_conf, "the check can fail: the controllers' file has it"


def test_nova_sees_each_service_once_and_maps_the_compute_host_to_one_cell(cluster: Cluster) -> None:
    """Three controllers synced the databases and made the cells one at a time: one cell1, the
    compute host mapped once; each controller's scheduler and conductor and the compute host are up."""
    _healthy(cluster)
    found = sorted((s["binary"], s["host"], s["state"]) for s in _nova(cluster, "/os-services")["services"])
    expected = [("nova-compute", h, "up") for h in cluster.compute]
    expected += [(binary, h, "up") for h in cluster.hosts for binary in ("nova-conductor", "nova-scheduler")]
    assert found == sorted(expected)
    hypervisors = _nova(cluster, "/os-hypervisors")["hypervisors"]
    assert len(hypervisors) == len(cluster.compute), hypervisors
    assert sorted(row[0] for row in _nova_manage(cluster, cluster.hosts[1], "list_cells")) == ["cell0", "cell1"]
    mapped = [row for row in _nova_manage(cluster, cluster.hosts[2], "list_hosts") if row[-1] == cluster.compute[0]]
    assert len(mapped) == 1, mapped


def _rbd_images(cluster: Cluster, pool: str) -> list[str]:
    """The RBD images of a pool, as the storage host's Ceph lists them."""
    return cluster.run(cluster.storage[0], "rbd", "ls", pool, check=True).stdout.split()


def _upload(cluster: Cluster, address: str, token: str, data: bytes, store: str | None = None) -> str:
    """An image made and uploaded through the Glance of `address` (to `store`, or the default one)."""
    session, headers = cluster._keystone(), {"X-Auth-Token": token}
    base = cluster.api(address, "glance")
    body = {"name": "ha-shared-store", "disk_format": "raw", "container_format": "bare"}
    image = session.post(f"{base}/v2/images", json=body, headers=headers, timeout=10)
    image.raise_for_status()
    upload = {**headers, "Content-Type": "application/octet-stream", **({"X-Image-Meta-Store": store} if store else {})}
    session.put(f"{base}/v2/images/{image.json()['id']}/file", data=data, headers=upload, timeout=60).raise_for_status()
    return str(image.json()["id"])


def _download(cluster: Cluster, address: str, token: str, image: str) -> bytes | None:
    reply = cluster._keystone().get(
        f"{cluster.api(address, 'glance')}/v2/images/{image}/file", headers={"X-Auth-Token": token}, timeout=60
    )
    return reply.content if reply.status_code == 200 else None


def test_an_image_uploaded_to_one_controller_is_served_by_every_other_from_ceph(cluster: Cluster) -> None:
    """Glance on three controllers shares one store: the image uploaded through the first is an RBD
    image in the pool `images` on the storage host, read back byte for byte through the others. The
    detector can fail: the same upload to a controller's own file store is not found by the others."""
    _healthy(cluster)
    token = cluster.token(cluster.vip)
    assert token
    first, *others = cluster.hosts
    data = os.urandom(1 << 20)
    image = _upload(cluster, cluster.address(first), token, data)
    try:
        assert image in _rbd_images(cluster, "images")
        for host in others:
            assert _download(cluster, cluster.address(host), token, image) == data, host
    finally:
        cluster._keystone().delete(
            f"{cluster.api(cluster.vip, 'glance')}/v2/images/{image}", headers={"X-Auth-Token": token}, timeout=30
        )
    assert image not in _rbd_images(cluster, "images"), "the image's data goes with it"
    local = _upload(cluster, cluster.address(first), token, data, store="fs")
    try:
        assert local not in _rbd_images(cluster, "images")
        assert _download(cluster, cluster.address(first), token, local) == data
        assert _download(cluster, cluster.address(others[0]), token, local) is None, "a file store is not shared"
    finally:
        cluster._keystone().delete(
            f"{cluster.api(cluster.vip, 'glance')}/v2/images/{local}", headers={"X-Auth-Token": token}, timeout=30
        )


def test_cinder_volume_runs_on_the_storage_host_and_makes_volumes_in_ceph(cluster: Cluster) -> None:
    """One play on controllers:storage: the API and scheduler on each controller, cinder-volume on the
    storage host only; a volume asked of the shared address is made by the storage host, in Ceph."""
    _healthy(cluster)
    (storage,) = cluster.storage
    for host in cluster.hosts:
        assert cluster.run(host, "systemctl", "is-active", "cinder-api", "cinder-scheduler").returncode == 0, host
        assert cluster.run(host, "dpkg-query", "-W", "cinder-volume").returncode != 0, f"cinder-volume on {host}"
    assert cluster.run(storage, "systemctl", "is-active", "cinder-volume").returncode == 0
    for package in ("cinder-api", "cinder-scheduler"):
        assert cluster.run(storage, "dpkg-query", "-W", package).returncode != 0, f"{package} on {storage}"
    token = cluster.token(cluster.vip)
    assert token
    session, headers = cluster._keystone(), {"X-Auth-Token": token}
    base = f"{cluster.api(cluster.vip, 'cinder')}/v3/{cluster.project_of(token)}"
    services = session.get(f"{base}/os-services", headers=headers, timeout=10).json()["services"]
    assert sorted((s["binary"], s["host"].split("@")[0], s["state"]) for s in services) == sorted(
        [("cinder-scheduler", h, "up") for h in cluster.hosts] + [("cinder-volume", storage, "up")]
    )
    body = {"volume": {"size": 1, "name": "ha-volume"}}
    made = session.post(f"{base}/volumes", json=body, headers=headers, timeout=10)
    made.raise_for_status()
    volume = made.json()["volume"]["id"]

    def status() -> dict[str, Any]:
        return session.get(f"{base}/volumes/{volume}", headers=headers, timeout=10).json()["volume"]  # type: ignore[no-any-return]

    try:
        assert until(lambda: status()["status"] in ("available", "error"), 120, step=2) is not None
        assert status()["status"] == "available", status()
        assert status()["os-vol-host-attr:host"].split("@")[0] == storage
        assert f"volume-{volume}" in _rbd_images(cluster, "volumes")
    finally:
        session.delete(f"{base}/volumes/{volume}", headers=headers, timeout=10)
    assert until(lambda: f"volume-{volume}" not in _rbd_images(cluster, "volumes"), 120, step=2) is not None


def _ovn_formed(cluster: Cluster, db: str) -> bool:
    """Each controller a member of one cluster of the database (one id), which counts exactly the three
    controllers' api addresses, with one leader."""
    states = [cluster.raft(h, db) for h in cluster.hosts]
    addresses = sorted(map(cluster.address, cluster.hosts))
    return (
        all(s.get("Status") == "cluster member" for s in states)
        and len({s.get("Cluster ID") for s in states}) == 1
        and all(sorted(s["servers"].values()) == addresses for s in states)  # type: ignore[attr-defined]
        and [s.get("Role") for s in states].count("leader") == 1
    )


def test_ovn_databases_are_one_raft_cluster_of_the_controllers(cluster: Cluster) -> None:
    _healthy(cluster)
    for db in OVN_DBS:
        formed = until(lambda db=db: _ovn_formed(cluster, db), 60)
        assert formed is not None, {h: cluster.raft(h, db) for h in cluster.hosts}


def _switches(cluster: Cluster, host: str) -> list[str]:
    """The logical switches in the Northbound database, as a controller's own member reads it."""
    argv = ["ovn-nbctl", "--no-leader-only", "--bare", "--columns=name", "list", "Logical_Switch"]
    return cluster.run(host, *argv).stdout.split()


def _make_network(cluster: Cluster, token: str, name: str) -> str | None:
    """The id of a network made through Neutron at the shared address, or None if refused."""
    try:
        reply = cluster._keystone().post(
            f"{cluster.api(cluster.vip, 'neutron')}/v2.0/networks", json={"network": {"name": name}},
            headers={"X-Auth-Token": token}, timeout=30,
        )
    except requests.RequestException:
        return None
    return str(reply.json()["network"]["id"]) if reply.status_code == 201 else None


def _delete_network(cluster: Cluster, token: str, network: str) -> None:
    url = f"{cluster.api(cluster.vip, 'neutron')}/v2.0/networks/{network}"
    cluster._keystone().delete(url, headers={"X-Auth-Token": token}, timeout=30).raise_for_status()


def test_a_network_made_through_the_shared_address_is_a_switch_in_every_controllers_database(cluster: Cluster) -> None:
    """Neutron on three controllers writes one Northbound database: the network's logical switch is
    read from each controller's own member, and goes from each with the network."""
    _healthy(cluster)
    token = cluster.token(cluster.vip)
    assert token
    network = _make_network(cluster, token, "ha-net")
    assert network
    switch = f"neutron-{network}"
    try:
        for host in cluster.hosts:
            assert until(lambda host=host: switch in _switches(cluster, host), 30) is not None, host
    finally:
        _delete_network(cluster, token, network)
    for host in cluster.hosts:
        assert until(lambda host=host: switch not in _switches(cluster, host), 30) is not None, host


def test_the_compute_host_is_the_only_ovn_chassis_and_neutron_sees_it_alive(cluster: Cluster) -> None:
    """ovn-controller on the compute host registered in the Southbound database under the name Nova
    knows the host by (ports are bound to it), and no controller or storage host is a chassis."""
    _healthy(cluster)
    token = cluster.token(cluster.vip)
    assert token
    url = f"{cluster.api(cluster.vip, 'neutron')}/v2.0/agents"

    def agents() -> list[tuple[str, str, bool]]:
        reply = cluster._keystone().get(url, headers={"X-Auth-Token": token}, timeout=10)
        reply.raise_for_status()
        return sorted((a["agent_type"], a["host"], a["alive"]) for a in reply.json()["agents"])

    expected = [("OVN Controller agent", host, True) for host in cluster.compute]
    assert until(lambda: agents() == expected, 60, step=2) is not None, agents()
    for host in cluster.hosts + cluster.storage:
        assert cluster.run(host, "dpkg-query", "-W", "ovn-host").returncode != 0, f"ovn-host on {host}"


def test_a_write_through_the_shared_address_reaches_every_node(cluster: Cluster) -> None:
    _healthy(cluster)
    assert _write(cluster, cluster.hosts[2], "replicated")
    for host in cluster.hosts:
        assert _count(cluster, host, "replicated") == 1, host


def _writer(cluster: Cluster) -> str | None:
    """The node that takes writes through the shared address now (its Galera node name)."""
    out = cluster.sql(cluster.hosts[1], "SELECT @@wsrep_node_name", through_vip=True)
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _galera_check(cluster: Cluster, host: str) -> int | None:
    """The HTTP status of a node's Galera check, as haproxy asks it."""
    port = catalogue().services["mariadb-cluster"].named_ports["check"]
    try:
        return requests.get(f"http://{cluster.address(host)}:{port}/", timeout=3).status_code
    except requests.RequestException:
        return None


def test_a_node_that_is_not_synced_gets_no_writes_through_the_shared_address(cluster: Cluster) -> None:
    """The writer still accepts connections when it is desynced (as a donor or a joiner is): a TCP
    check would keep sending it writes. Its Galera check answers 503, haproxy moves the writes to a
    standby, and gives them back once the node is synced again."""
    _healthy(cluster)
    first = cluster.hosts[0]
    assert until(lambda: _writer(cluster) == first, 10) is not None, _writer(cluster)
    assert [_galera_check(cluster, h) for h in cluster.hosts] == [200, 200, 200]
    assert cluster.sql(first, "SET GLOBAL wsrep_desync = ON").returncode == 0
    try:
        assert cluster.wsrep(first)["wsrep_local_state_comment"] == "Donor/Desynced"
        assert _answers(cluster.address(first), 3306) is True, "a TCP check would pass"
        assert _galera_check(cluster, first) == 503
        moved = until(lambda: _writer(cluster) not in (None, first), 10)
        assert moved is not None, "the writes stay on a node that is not synced"
        assert _write(cluster, cluster.hosts[2], "while-desynced")
    finally:
        cluster.sql(first, "SET GLOBAL wsrep_desync = OFF")
    assert until(lambda: _writer(cluster) == first, 10) is not None, "the writes come back to the first node"
    _record(cluster, writer_moved_off_desynced_node_s=moved)


def test_every_front_serves_the_site_ca_certificate_on_the_shared_address(cluster: Cluster) -> None:
    """One CA for the site: a client trusting it alone reaches the shared address and each controller."""
    ca = site_ca(cluster.secrets / "pki")
    context = ssl.create_default_context(cadata=ca.pem)
    for address in [cluster.vip, *map(cluster.address, cluster.hosts)]:
        with socket.create_connection((address, 5000), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=address) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3"), address
    stranger = ssl.create_default_context(cadata=site_ca(cluster.secrets / "other-ca", "another CA").pem)
    with socket.create_connection((cluster.vip, 5000), timeout=5) as raw, pytest.raises(ssl.SSLCertVerificationError):
        stranger.wrap_socket(raw, server_hostname=cluster.vip)


def test_a_token_from_one_controller_is_valid_on_every_other(cluster: Cluster) -> None:
    """The fernet keys come from the secrets folder: the same on every controller."""
    _healthy(cluster)
    for issuer in cluster.hosts:
        token = cluster.token(cluster.address(issuer))
        assert token, f"Keystone on {issuer} issues no token"
        for host in cluster.hosts:
            assert cluster.validates(cluster.address(host), token), f"{host} refuses a token of {issuer}"
    assert not cluster.validates(cluster.vip, "gAAAAAB-not-a-token"), "the check can fail"


def test_every_api_answers_on_each_controller_and_the_shared_address(cluster: Cluster) -> None:
    """Barbican, Placement, Glance, Nova and Neutron on three controllers: each reads the one database, with a token of
    any Keystone; a made-up token is refused (the detector can fail)."""
    _healthy(cluster)
    token = cluster.token(cluster.vip)
    assert token
    for service in STATELESS_APIS:
        for address in [cluster.vip, *map(cluster.address, cluster.hosts)]:
            assert cluster.api_reads(address, service, token), (service, address)
        assert not cluster.api_reads(cluster.vip, service, "gAAAAAB-not-a-token"), service


def test_a_controller_powered_off_the_apis_answer_and_it_rejoins_alone(cluster: Cluster) -> None:
    _healthy(cluster)
    holder = cluster.vip_holders()[0]
    survivors = [h for h in cluster.hosts if h != holder]
    cluster.power_off(holder)
    window = until(lambda: _write(cluster, survivors[0], "during-outage"), FAILOVER_BOUND_S)
    assert window is not None, f"no write through {cluster.vip} within {FAILOVER_BOUND_S} s of {holder} dying"
    api = until(lambda: cluster.token(cluster.vip) is not None, FAILOVER_BOUND_S)
    assert api is not None, f"Keystone did not answer through {cluster.vip} within {FAILOVER_BOUND_S} s"
    token = cluster.token(cluster.vip)
    assert token and cluster.create_project(cluster.vip, token, "made-during-outage"), "a tenant's project"
    for service in STATELESS_APIS:
        assert cluster.api_reads(cluster.vip, service, token), f"{service} through {cluster.vip} with {holder} off"
    networks = until(lambda: _make_network(cluster, token, "made-during-outage") is not None, FAILOVER_BOUND_S)
    assert networks is not None, f"Neutron and OVN took no network through {cluster.vip} with {holder} off"
    assert cluster.vip_holders() in ([survivors[0]], [survivors[1]])
    for host in survivors:
        assert cluster.wsrep(host)["wsrep_cluster_size"] == "2"
    assert len(cluster.running_brokers(survivors[0])) == 2, "the brokers' majority keeps serving"
    start = time.monotonic()
    cluster.power_on(holder)  # returns when its systemd is up: MariaDB's unit waits for the state transfer
    synced = until(lambda: cluster.wsrep(holder).get("wsrep_local_state_comment") == "Synced", REJOIN_BOUND_S)
    assert synced is not None, f"{holder} did not rejoin Galera by itself"
    galera = time.monotonic() - start
    assert _count(cluster, holder, "during-outage") == 1, "the write made while it was off reached it"
    brokers = until(lambda: len(cluster.running_brokers(holder)) == 3, REJOIN_BOUND_S, step=2)
    assert brokers is not None, f"{holder} did not rejoin the RabbitMQ cluster by itself"
    rejoined = time.monotonic() - start
    own = cluster.token(cluster.address(holder))
    assert own and "made-during-outage" in cluster.projects(cluster.address(holder), own), "no write lost"
    for db in OVN_DBS:
        assert until(lambda db=db: _ovn_formed(cluster, db), REJOIN_BOUND_S) is not None, f"{holder} in {db}'s Raft"
    made = [n["id"] for n in cluster._keystone().get(
        f"{cluster.api(cluster.vip, 'neutron')}/v2.0/networks?name=made-during-outage",
        headers={"X-Auth-Token": token}, timeout=10).json()["networks"]]
    assert made and all(f"neutron-{n}" in _switches(cluster, holder) for n in made), "its switch reached the holder"
    for network in made:
        _delete_network(cluster, token, network)
    _record(
        cluster, db_unavailable_s=window, api_unavailable_s=window + api, network_write_after_keystone_s=networks,
        galera_rejoin_from_power_on_s=galera, rabbitmq_rejoin_from_power_on_s=rejoined,
    )


def test_haproxy_stopped_on_the_holder_moves_the_shared_address(cluster: Cluster) -> None:
    _healthy(cluster)
    holder = cluster.vip_holders()[0]
    cluster.run(holder, "systemctl", "stop", "haproxy", check=True)
    try:
        moved = until(lambda: (holders := cluster.vip_holders()) != [] and holder not in holders, 20)
        assert moved is not None, f"the address stayed on {holder} without its haproxy"
        assert _write(cluster, holder, "after-move")
        _record(cluster, vip_move_s=moved)
    finally:
        cluster.run(holder, "systemctl", "start", "haproxy", check=True)


def test_two_controllers_lost_the_detectors_fail_and_the_cluster_recovers(cluster: Cluster) -> None:
    """A minority must not take writes: the detector fails here, or it could not fail anywhere."""
    _healthy(cluster)
    last = cluster.hosts[2]
    token = cluster.token(cluster.vip)
    cluster.power_off(*cluster.hosts[:2])
    assert until(lambda: cluster.wsrep(last).get("wsrep_cluster_status") == "non-Primary", 30) is not None
    assert not _write(cluster, last, "minority"), "a lone node of three took a write"
    assert token and not cluster.create_project(cluster.vip, token, "minority-project"), (
        "Keystone wrote a project into a minority's database"
    )
    assert until(lambda: len(cluster.running_brokers(last)) < 2, 60, step=2) is not None
    start = time.monotonic()
    cluster.power_on(*cluster.hosts[:2])
    assert until(lambda: _write(cluster, last, "recovered"), REJOIN_BOUND_S) is not None, (
        "the cluster did not recover when the controllers came back"
    )
    _record(cluster, recovery_from_power_on_s=time.monotonic() - start)
    _healthy(cluster)
    assert all(_count(cluster, h, "minority") == 0 for h in cluster.hosts)


def test_a_new_machine_in_place_of_the_first_controller_joins_the_cluster(cluster: Cluster) -> None:
    """docs/deploy-site.md's replacement: the same name and addresses, an empty disk, the playbook.

    The first controller is the one that bootstrapped Galera and seeds RabbitMQ: new, it must find
    the running members and join them, not start a second cluster beside them.
    """
    _healthy(cluster)
    first, second = cluster.hosts[:2]
    assert _write(cluster, second, "before-replacement")
    uuid = cluster.wsrep(second)["wsrep_cluster_state_uuid"]
    raft = {db: cluster.raft(second, db)["Cluster ID"] for db in OVN_DBS}
    cluster.replace(first)
    assert cluster.run(first, "test", "-e", "/var/lib/mysql").returncode != 0, "a new machine"
    start = time.monotonic()
    result, _ = cluster.playbook("replacement")
    assert result.returncode == 0, result.stdout[-4000:]
    _record(cluster, replacement_deploy_s=time.monotonic() - start)
    _healthy(cluster)
    assert {cluster.wsrep(h)["wsrep_cluster_state_uuid"] for h in cluster.hosts} == {uuid}, "one cluster, the old one"
    assert _count(cluster, first, "before-replacement") == 1, "the new node received the data"
    assert cluster.running_brokers(first) == sorted(f"rabbit@{cluster.address(h)}" for h in cluster.hosts)
    for db in OVN_DBS:  # joined the running cluster, its former self kicked out (3 servers, not 4)
        formed = until(lambda db=db: _ovn_formed(cluster, db), 60)
        assert formed is not None, {h: cluster.raft(h, db) for h in cluster.hosts}
        assert cluster.raft(first, db)["Cluster ID"] == raft[db], f"{first} made a second {db} cluster"
