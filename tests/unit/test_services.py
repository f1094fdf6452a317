"""The platform service catalogue: the project's own file, and messages for invalid entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.services import CatalogueError, catalogue, load_catalogue

VALID = """\
services:
  mariadb:
    description: Database
    role: mariadb
    group: controllers
    ports: [3306]
    units: {mariadb: database}
  keystone:
    description: Identity API
    role: keystone
    group: controllers
    api: {port: 5000, type: identity}
    databases: [keystone]
    units: {keystone: identity API}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "services.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_catalogue_of_the_project_is_valid_and_in_deployment_order() -> None:
    found = catalogue()
    assert found.roles() == (
        "ceph", "mariadb", "rabbitmq", "memcached", "keepalived", "tls_front", "keystone", "barbican", "placement",
        "glance", "ovn_central", "neutron", "ovn_host", "nova", "cinder", "horizon", "portal",
    )
    assert "keepalived" not in found.roles(clustered=False), "a lone controller shares no address"
    assert "keepalived" not in found.units(clustered=False)
    assert found.unit_of("mariadb-cluster") == "mariadb", "Galera's replication runs inside MariaDB"
    assert found.port_owners()[5000] == "keystone"
    assert found.services["nova"].api is not None and found.services["nova"].api.path == "/v2.1"


def test_catalogue_loopback_port_is_claimed_but_reached_by_no_flow() -> None:
    """Open vSwitch's database listens on 127.0.0.1 of every chassis: written once, opened nowhere."""
    found = catalogue()
    ovs = found.services["ovn-controller"]
    assert (ovs.named_ports, ovs.loopback, ovs.loopback_ports) == ({"ovsdb": 6640}, ("ovsdb",), (6640,))
    assert ovs.all_ports == ()
    assert ovs.listens() == (("udp", 6081),)
    assert found.port_owners()[6640] == "ovn-controller"


def test_catalogue_api_port_comes_first(tmp_path: Path) -> None:
    text = VALID.replace("api: {port: 5000, type: identity}", "api: {port: 5000, type: identity}\n    ports: [35357]")
    assert load_catalogue(_write(tmp_path, text)).services["keystone"].all_ports == (5000, 35357)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "api: {port: 5000", "api: {port: 70000",
            "services.yml:12: services.keystone.api.port: Input should be less than or equal to 65535 "
            "(got 70000) (fix: use a value <= 65535)",
        ),
        (
            "api: {port: 5000", "api: {port: '5000'",
            "services.yml:12: services.keystone.api.port: Input should be a valid integer (got '5000') "
            "(fix: write a whole number without quotes, e.g. 3)",
        ),
        (
            "    role: keystone\n", "",
            "services.yml:8: services.keystone.role: Field required (fix: add this field)",
        ),
        (
            "    databases: [keystone]\n", "    database: [keystone]\n",
            "services.yml:13: services.keystone.database: Extra inputs are not permitted "
            "(fix: remove it, or check its spelling against the documented fields)",
        ),
        (
            "api: {port: 5000", "api: {port: 3306",
            "services.yml:12: services.keystone.api.port: port 3306 is already taken by service 'mariadb' "
            "(fix: write each fact once)",
        ),
        (
            "units: {keystone: identity API}", "units: {mariadb: identity API}",
            "services.yml:14: services.keystone.units.mariadb: unit 'mariadb' is already taken by service "
            "'mariadb' (fix: write each fact once)",
        ),
        (
            "api: {port: 5000, type: identity}", "api: {port: 5000, type: identity}\n    ports: [5000]",
            "services.yml:13: services.keystone.ports.0: port 5000 is already taken by service 'keystone' "
            "(fix: write each fact once)",
        ),
        (
            "    ports: [3306]\n", "    ports: [3306]\n    named_ports: {admin: 3307}\n    loopback: [admn]\n",
            "services.yml:8: services.mariadb.loopback: admn is not among its named_ports (admin): a loopback "
            "port is written in named_ports and named here (got ['admn']) (fix: see this field in docs/services.md)",
        ),
        (
            "    ports: [3306]\n", "    ports: [3306]\n    named_ports: {admin: 3307}\n    loopback: [admin, admin]\n",
            "services.yml:8: services.mariadb.loopback: a named port is listed twice (got ['admin', 'admin']) "
            "(fix: see this field in docs/services.md)",
        ),
        (
            "    ports: [3306]\n", "    ports: [3306]\n    named_ports: {admin: 5000}\n    loopback: [admin]\n",
            "services.yml:14: services.keystone.api.port: port 5000 is already taken by service 'mariadb' "
            "(fix: write each fact once)",
        ),
        (
            "api: {port: 5000", "api: {port: 5000, path: v3",
            "services.yml:12: services.keystone.api.path: String should match pattern '^(/[A-Za-z0-9._-]+)*$' "
            "(got 'v3') (fix: match the pattern ^(/[A-Za-z0-9._-]+)*$)",
        ),
        (
            ", type: identity}", "}",
            "services.yml:12: services.keystone.api.type: Field required (fix: add this field)",
        ),
        (
            "type: identity}", "type: Identity}",
            "services.yml:12: services.keystone.api.type: String should match pattern "
            "'^[a-z][a-z0-9-]{0,61}[a-z0-9]$' (got 'Identity') (fix: use lower-case ASCII letters, digits and '-' "
            "(2-63 characters, starting with a letter))",
        ),
        (
            "api: {port: 5000, type: identity}", "api: {port: 5000, type: identity}\n    web: {port: 8443}",
            "services.yml:13: services.keystone.web: a service has an api or a web site, not both: "
            "the TLS front serves one port per service (got {'port': 8443}) (fix: see this field in docs/services.md)",
        ),
        (
            "api: {port: 5000, type: identity}", "web: {port: 3306}",
            "services.yml:12: services.keystone.web.port: port 3306 is already taken by service 'mariadb' "
            "(fix: write each fact once)",
        ),
        (
            "    group: controllers\n    api", "    group: controllers\n    zone: dmz-ish\n    api",
            "services.yml:12: services.keystone.zone: Input should be 'oob', 'mgmt', 'api', 'storage', "
            "'overlay', 'dmz', 'internet', 'gov' or 'other' (got 'dmz-ish') (fix: use one of: 'oob', 'mgmt', "
            "'api', 'storage', 'overlay', 'dmz', 'internet', 'gov' or 'other')",
        ),
    ],
)
def test_catalogue_invalid_entry_is_located(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in VALID
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(_write(tmp_path, VALID.replace(old, new, 1)))
    assert str(exc.value) == expected


def test_catalogue_unreadable_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(_write(tmp_path, "services:\n  a: [\n"))
    assert str(exc.value).startswith("services.yml:")


def test_catalogue_port_range_is_every_port_of_it_and_in_order(tmp_path: Path) -> None:
    osd = catalogue().services["ceph-osd"]
    assert osd.port_range is not None and osd.all_ports == tuple(range(osd.port_range[0], osd.port_range[1] + 1))
    text = VALID.replace(
        "api: {port: 5000, type: identity}", "api: {port: 5000, type: identity}\n    port_range: [7300, 6800]"
    )
    with pytest.raises(CatalogueError, match=r"the range's first port \(7300\) is after its last \(6800\)"):
        load_catalogue(_write(tmp_path, text))
