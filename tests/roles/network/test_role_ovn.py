"""Roles ovn_central and ovn_host on test hosts: OVN from the site model, behind the site firewall.

The lab's two controllers run the OVN databases as one Raft cluster and northd; net01, the
network node, is a gateway chassis. The kernel here has no openvswitch module, so the test
chooses the userspace datapath (ovn_host_datapath_type=netdev), as a real site's inventory would
choose `system`. The host firewall is applied first, so the chassis reaches the Southbound
database only through the site's flows.

Role netzones runs first, as on a real site: net01 is an OVN chassis, so its provider bridges are
not Linux bridges (test_role_netzones.py made them Linux bridges earlier in the session, playing
net01 as a host that is not a chassis: netzones now removes them) and ovn_host creates them in
Open vSwitch with the zone device as a port and the host's address on the bridge's internal port.

The site is a copy of the lab with the flow to the OVN databases added (the lab's own flows.yml is
pinned rule by rule by tests/unit/test_firewall.py); it names the catalogue's service
`ovn-central`, whose ports are read from the catalogue. Geneve's flow is the lab's own
(geneve-tunnels).
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from infra import testhosts
from infra.firewall import ruleset
from infra.hostnet import Attachment, attachments
from infra.services import catalogue
from infra.site import Host, Site
from infra.validate import load_valid_site
from tests.roles.network.conftest import LAB, REPO, Lab

pytestmark = pytest.mark.hosts

HOSTS = "controllers:network"
EXTRA = ("-e", "ovn_host_datapath_type=netdev")
ROLES = Path(__file__).resolve().parents[3] / "roles"


def _ovn_port(name: str) -> int:
    """A port of the OVN databases, from the platform service catalogue."""
    return catalogue().services["ovn-central"].named_ports[name]


def _host(lab: Lab, name: str) -> Host:
    return next(h for h in lab.site.hosts if h.name == name)


def _address(lab: Lab, name: str, kind: str) -> str:
    return next(str(a.ipv4.ip) for a in attachments(lab.site, _host(lab, name)) if a.kind == kind and a.ipv4)


def _chassis(lab: Lab) -> list[str]:
    return [h.name for h in lab.site.hosts if {"compute", "network"} & set(h.groups)]


def _sbctl(lab: Lab, *args: str) -> str:
    argv = ["ovn-sbctl", "--no-leader-only", *args]
    return testhosts.exec_in(lab.container("ctl01"), argv).stdout


def _until(what, check, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, what
            return result
        time.sleep(1)


def _changed(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Host -> changed count from a playbook's recap."""
    return dict(re.findall(r"^(\w+)\s+:.*changed=(\d+)", result.stdout, re.M))


def _bridged(lab: Lab) -> list[tuple[str, Attachment, str]]:
    """(chassis, attachment, bridge) of every provider zone of every chassis."""
    return [(n, a, a.bridge) for n in _chassis(lab) for a in attachments(lab.site, _host(lab, n)) if a.bridge]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The lab site with flows to the OVN databases and between their cluster members."""
    root = tmp_path_factory.mktemp("ovn") / "lab"
    shutil.copytree(LAB, root)
    with (root / "flows.yml").open("a") as flows:
        flows.write(
            "  - {name: ovn-databases, from: api, to: api, groups: [controllers], protocol: tcp, "
            "services: [ovn-central], reason: OVN}\n"
        )
    return load_valid_site(root)


def _playbook(lab: Lab, site: Site, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Lab.playbook, with the site copy as the inventory (the same test hosts: the copy keeps the name)."""
    assert site.name == lab.site.name
    return testhosts.run_playbook(site, [REPO / "playbooks" / name], "--limit", HOSTS, *extra, timeout=None)


@pytest.fixture(scope="module")
def applied(lab, site):  # type: ignore[no-untyped-def]
    firewall = _playbook(lab, site, "firewall.yml")
    assert firewall.returncode == 0, firewall.stdout[-3000:] + firewall.stderr[-2000:]
    start = time.monotonic()
    netzones = _playbook(lab, site, "netzones.yml")
    lab.timings["netzones apply (chassis)"] = time.monotonic() - start
    assert netzones.returncode == 0, netzones.stdout[-4000:] + netzones.stderr[-2000:]
    start = time.monotonic()
    first = _playbook(lab, site, "ovn.yml", *EXTRA)
    lab.timings["ovn apply"] = time.monotonic() - start
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    yield first
    print("timings:", {k: round(v, 1) for k, v in lab.timings.items()})


@pytest.mark.parametrize("playbook", ["netzones.yml", "ovn.yml"])
def test_ovn_second_run_changes_nothing(lab, site, applied, playbook) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    again = _playbook(lab, site, playbook, *EXTRA)
    lab.timings[f"{playbook} re-run"] = time.monotonic() - start
    assert again.returncode == 0, again.stdout[-3000:]
    changed = _changed(again)
    assert sorted(changed) == ["ctl01", "ctl02", "net01"], again.stdout[-2000:]
    assert set(changed.values()) == {"0"}, again.stdout[-2000:]


@pytest.mark.parametrize("name", ["ctl01", "ctl02"])
def test_ovn_databases_listen_on_the_api_address(lab, applied, name) -> None:  # type: ignore[no-untyped-def]
    api = _address(lab, name, "api")
    listening = testhosts.exec_in(lab.container(name), ["ss", "-Hltn"]).stdout
    for port in (_ovn_port("nb"), _ovn_port("sb")):
        assert f"{api}:{port} " in listening, listening


def test_ovn_databases_form_one_cluster_over_the_controllers(lab, applied) -> None:  # type: ignore[no-untyped-def]
    controllers = [h.name for h in lab.site.hosts_in("controllers")]
    for db, ctl in (("OVN_Northbound", "ovnnb_db.ctl"), ("OVN_Southbound", "ovnsb_db.ctl")):

        def status(db=db, ctl=ctl):  # type: ignore[no-untyped-def]
            argv = ["ovn-appctl", "-t", f"/var/run/ovn/{ctl}", "cluster/status", db]
            out = testhosts.exec_in(lab.container("ctl01"), argv).stdout
            members = re.findall(r"ssl:([0-9.]+):\d+", out.split("Servers:")[-1])
            return out if sorted(set(members)) == sorted(_address(lab, c, "api") for c in controllers) else ""

        _until(f"{db}: cluster members are not the controllers' api addresses", status)


CHASSIS_PKI = ("/etc/ovn/hatang-chassis-key.pem", "/etc/ovn/hatang-chassis-cert.pem", "/etc/ovn/hatang-site-ca.pem")
"""net01's key, certificate and the site CA's certificate, as role ovn_host installs them."""


def _list_dbs(lab: Lab, remote: str, pki: tuple[str, str, str] | None) -> subprocess.CompletedProcess[str]:
    """`ovsdb-client list-dbs` from the chassis net01 to a database, with a key, certificate and CA."""
    argv = ["ovsdb-client", "--timeout=15"]
    if pki:
        argv += ["-p", pki[0], "-c", pki[1], "-C", pki[2]]
    return testhosts.exec_in(lab.container("net01"), [*argv, "list-dbs", remote], check=False)


def _foreign_pki(lab: Lab, tmp_path: Path) -> tuple[str, str]:
    """A key and a self-signed certificate of a CA the site does not know, copied into net01."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "net01")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = {
        "foreign-key.pem": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "foreign-cert.pem": cert.public_bytes(serialization.Encoding.PEM),
    }
    for file, data in files.items():
        (tmp_path / file).write_bytes(data)
        testhosts.podman("cp", str(tmp_path / file), f"{lab.container('net01')}:/tmp/{file}")
    return "/tmp/foreign-key.pem", "/tmp/foreign-cert.pem"


def test_ovn_databases_speak_only_tls_with_the_site_ca(lab, applied, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Clients, chassis and Raft peers alike: TLS both ways verified against the site CA, no plain remote."""
    key, cert, ca = CHASSIS_PKI
    for port, db, ctl in (
        (_ovn_port("sb"), "OVN_Southbound", "/var/run/ovn/ovnsb_db.ctl"),
        (_ovn_port("nb"), "OVN_Northbound", "/var/run/ovn/ovnnb_db.ctl"),
    ):
        for name in ("ctl01", "ctl02"):
            server = f"{_address(lab, name, 'api')}:{port}"
            if db == "OVN_Southbound":  # the flows let the chassis reach the Southbound database only
                ok = _list_dbs(lab, f"ssl:{server}", CHASSIS_PKI)
                assert ok.returncode == 0 and db in ok.stdout, (server, ok.stdout, ok.stderr)
                plain = _list_dbs(lab, f"tcp:{server}", None)
                assert plain.returncode != 0 and db not in plain.stdout, (server, plain.stdout)
                foreign_key, foreign_cert = _foreign_pki(lab, tmp_path)
                stranger = _list_dbs(lab, f"ssl:{server}", (foreign_key, foreign_cert, ca))
                assert stranger.returncode != 0 and db not in stranger.stdout, ("a foreign client got in", server)
                distrust = _list_dbs(lab, f"ssl:{server}", (key, cert, foreign_cert))
                assert distrust.returncode != 0 and db not in distrust.stdout, ("the server was not verified", server)
            remotes = testhosts.exec_in(lab.container(name), ["ovs-appctl", "-t", ctl, "ovsdb-server/list-remotes"])
            listed = sorted(remotes.stdout.split())
            assert [r for r in listed if not r.startswith("punix:")] == [f"pssl:{port}:{server.split(':')[0]}"], listed


def test_ovn_a_remote_added_in_the_database_opens_nothing(lab, applied) -> None:  # type: ignore[no-untyped-def]
    """`ovn-sbctl set-connection ptcp:...` is replicated to every member; none of them listens on it."""
    stray = _ovn_port("sb") + 10000
    ctl01 = lab.container("ctl01")
    testhosts.exec_in(ctl01, ["ovn-sbctl", "--no-leader-only", "set-connection", f"ptcp:{stray}"])
    try:
        _until("the connection row is not replicated", lambda: f"ptcp:{stray}" in testhosts.exec_in(
            lab.container("ctl02"), ["ovn-sbctl", "--no-leader-only", "get-connection"]).stdout)
        time.sleep(3)
        for name in ("ctl01", "ctl02"):
            listening = testhosts.exec_in(lab.container(name), ["ss", "-Hltn"]).stdout
            assert f":{stray} " not in listening, (name, listening)
    finally:
        testhosts.exec_in(ctl01, ["ovn-sbctl", "--no-leader-only", "del-connection"])


def test_ovn_chassis_registered_with_overlay_encap_ip(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name in _chassis(lab):
        overlay = _address(lab, name, "overlay")

        def shown(name=name, overlay=overlay):  # type: ignore[no-untyped-def]
            out = _sbctl(lab, "show")
            block = re.search(rf'^Chassis "?{name}"?\n((?: {{4}}.*\n?)*)', out, re.M)
            return block and "Encap geneve\n" in block.group(1) and f'ip: "{overlay}"' in block.group(1)

        _until(f"chassis {name} with geneve on {overlay} not in ovn-sbctl show", shown)


def test_ovn_chassis_settings_come_from_the_site_model(lab, applied) -> None:  # type: ignore[no-untyped-def]
    sb_port = _ovn_port("sb")
    remotes = ",".join(f"ssl:{_address(lab, h.name, 'api')}:{sb_port}" for h in lab.site.hosts_in("controllers"))
    for name in _chassis(lab):
        host = _host(lab, name)
        mappings = ",".join(
            f"{z.provider.physnet}:{z.provider.bridge}"
            for z in lab.site.zones
            if z.provider and z.name in {a.zone for a in attachments(lab.site, host)}
        )
        ids = testhosts.exec_in(lab.container(name), ["ovs-vsctl", "get", "open", ".", "external_ids"]).stdout
        expected = {
            "system-id": name,
            "ovn-remote": remotes,
            "ovn-encap-type": "geneve",
            "ovn-encap-ip": _address(lab, name, "overlay"),
            "ovn-bridge-datapath-type": "netdev",
            "ovn-bridge-mappings": mappings,
        }
        if "network" in host.groups:
            expected["ovn-cms-options"] = "enable-chassis-as-gw"
        for key, value in expected.items():
            assert re.search(rf'(^|[{{ ]){re.escape(key)}="?{re.escape(value)}"?[,}}]', ids), (key, value, ids)
        assert mappings  # the lab's network node carries provider zones


def test_ovn_br_int_uses_the_userspace_datapath(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name in _chassis(lab):
        argv = ["ovs-vsctl", "--if-exists", "get", "bridge", "br-int", "datapath_type"]
        _until(
            f"{name}: br-int missing or not netdev",
            lambda name=name, argv=argv: testhosts.exec_in(lab.container(name), argv).stdout.strip() == "netdev",
        )
        # the userspace datapath really opened (it needs /dev/net/tun in the container)
        dpif = testhosts.exec_in(lab.container(name), ["ovs-appctl", "dpif/show"]).stdout
        assert "netdev@ovs-netdev" in dpif and "br-int:" in dpif, dpif


def test_ovn_provider_bridges_exist_with_the_chassis_datapath(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name in _chassis(lab):
        host = _host(lab, name)
        for a in attachments(lab.site, host):
            if a.bridge is None:
                continue
            argv = ["ovs-vsctl", "get", "bridge", a.bridge, "datapath_type"]
            assert testhosts.exec_in(lab.container(name), argv).stdout.strip() == "netdev", a.bridge
            dpif = testhosts.exec_in(lab.container(name), ["ovs-appctl", "dpif/show"]).stdout
            assert f"{a.bridge}:" in dpif, dpif


def test_ovn_provider_bridges_are_not_linux_bridges(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name, _a, bridge in _bridged(lab):
        container = lab.container(name)
        linux = testhosts.exec_in(container, ["test", "-e", f"/sys/class/net/{bridge}/bridge"], check=False)
        assert linux.returncode != 0, f"{name}: {bridge} is a Linux bridge"
        netdev = testhosts.exec_in(container, ["test", "-e", f"/etc/systemd/network/20-{bridge}.netdev"], check=False)
        assert netdev.returncode != 0, f"{name}: netzones still defines {bridge} for systemd-networkd"
        kind = testhosts.exec_in(container, ["ip", "-d", "-o", "link", "show", bridge]).stdout
        assert " bridge " not in kind and "master" not in kind, kind


def test_ovn_zone_device_is_a_port_of_its_provider_bridge(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name, a, bridge in _bridged(lab):
        container = lab.container(name)
        owner = testhosts.exec_in(container, ["ovs-vsctl", "port-to-br", a.device]).stdout.strip()
        assert owner == bridge, (name, a.device, owner)
        error = testhosts.exec_in(container, ["ovs-vsctl", "get", "interface", a.device, "error"]).stdout.strip()
        if a.ipv4 is None:
            # a zone the host only bridges has no podman network, so no device in the container
            # (on hardware netzones makes its VLAN netdev): Open vSwitch keeps the port, unopened
            assert "No such device" in error, (name, a.device, error)
            continue
        assert error in ("[]", ""), (name, a.device, error)
        dpif = testhosts.exec_in(container, ["ovs-appctl", "dpif/show"]).stdout
        assert re.search(rf"^\s+{re.escape(a.device)} \d+/\d+: \(system\)", dpif, re.M), dpif


def test_ovn_host_address_on_the_provider_bridge(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name, a, bridge in _bridged(lab):
        container = lab.container(name)
        on_bridge = testhosts.exec_in(container, ["ip", "-br", "addr", "show", bridge]).stdout
        on_device = testhosts.exec_in(container, ["ip", "-br", "addr", "show", a.device], check=False).stdout
        assert str(a.ipv4.ip if a.ipv4 else "no-address") not in on_device, on_device
        if a.ipv4 is None or a.ipv6 is None:  # bridge only: the host has no address in the zone
            site_addresses = [w for w in on_bridge.split()[2:] if not w.startswith("fe80:")]
            assert site_addresses == [], on_bridge
            continue
        assert str(a.ipv4) in on_bridge and str(a.ipv6) in on_bridge, on_bridge
        # the zone's traffic leaves through Open vSwitch: bridge port -> zone device -> the podman
        # network's gateway
        gateway = next(n.gateway4 for n in testhosts.plan(lab.site, name).networks if n.zone == a.zone)
        ping = testhosts.exec_in(container, ["ping", "-c1", "-W3", "-I", bridge, str(gateway)], check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr


def test_ovn_gateway_chassis_carry_enable_chassis_as_gw(lab, applied) -> None:  # type: ignore[no-untyped-def]
    for name in _chassis(lab):
        gateway = "network" in _host(lab, name).groups

        def seen(name=name):  # type: ignore[no-untyped-def]
            return _sbctl(lab, "--columns=other_config", "find", "Chassis", f"name={name}")

        out = _until(f"chassis {name} not in the Southbound database", seen)
        assert ("enable-chassis-as-gw" in out) == gateway, out


def test_ovn_flows_open_the_southbound_and_geneve(lab, site, applied) -> None:  # type: ignore[no-untyped-def]
    """The firewall the fixture applied lets the chassis in: SB from api, Geneve between overlays."""
    sb_port = _ovn_port("sb")
    for ctl in site.hosts_in("controllers"):
        api = next(a for a in attachments(site, ctl) if a.kind == "api")
        rules = [r.match for r in ruleset(site, ctl).rules]
        assert any(f'iifname "{api.device}" tcp dport' in m and str(sb_port) in m for m in rules), rules
    for name in _chassis(lab):
        overlay = next(a for a in attachments(lab.site, _host(lab, name)) if a.kind == "overlay")
        rules = [r.match for r in ruleset(site, _host(lab, name)).rules]
        assert any(f'iifname "{overlay.device}" udp dport' in m and "6081" in m for m in rules), rules
    loaded = testhosts.exec_in(lab.container("ctl01"), ["nft", "list", "table", "inet", "hatang"]).stdout
    assert 'comment "ovn-databases"' in loaded
