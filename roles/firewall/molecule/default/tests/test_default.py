"""Role firewall: nftables loaded and dropping by default (the audit's checks), flows commented,
the allowed port answers."""

from __future__ import annotations

import time

import pytest
import testinfra

from infra.audit.hosts import check_functions

PROBE = (
    "import socket,sys\n"
    "s=socket.socket(); s.settimeout(2)\n"
    "try:\n"
    "    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
    "except TimeoutError: print('dropped')\n"
    "except ConnectionRefusedError: print('refused')\n"
)


@pytest.mark.parametrize("check_id", ["firewall_enabled", "firewall_default_drop"])  # HT-FW-02, HT-FW-01
def test_control(host, check, check_id) -> None:
    check_functions()[check_id](host, check)


def test_each_flow_is_one_commented_rule(host) -> None:  # HT-FW-05, HT-FW-03
    table = host.check_output("nft list table inet hatang")
    assert table.count('accept comment "web"') == 1
    assert 'iifname "eth0" tcp dport 8080 accept comment "web"' in table
    assert "tcp dport 22" not in table  # no flow: no rule


@pytest.fixture(scope="module")
def listeners():
    server = testinfra.get_host("podman://hatang-mol-fw-server")
    for port in (8080, 8081):
        server.run(f"systemd-run --unit=mol-listen-{port} --collect python3 -m http.server {port}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(server.socket(f"tcp://0.0.0.0:{p}").is_listening for p in (8080, 8081)):
            break
        time.sleep(0.5)
    yield
    for port in (8080, 8081):
        server.run(f"systemctl stop mol-listen-{port}")


@pytest.mark.parametrize(("port", "expected"), [(8080, "open"), (8081, "dropped")])
def test_only_allowed_port_answers(listeners, port, expected) -> None:
    server = testinfra.get_host("podman://hatang-mol-fw-server")
    address = server.interface("eth0").addresses[0]
    client = testinfra.get_host("podman://hatang-mol-fw-client")
    assert client.check_output(f"python3 -c \"{PROBE}\" {address} {port}") == expected
