"""Role firewall on test hosts: the nftables policy from flows.yml lets flows in, and only them.

ctl01 and ctl02 share the mgmt, api and storage zones of the lab site. A listener on ctl01
answers on ports that flows.yml opens from ctl02's zone to the zone's interface, and nothing
else gets through, in IPv4 and IPv6.
"""

from __future__ import annotations

import re
import time

import pytest

from infra import testhosts
from infra.firewall import ruleset

pytestmark = pytest.mark.hosts

_PROBE = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\n"
    "s.settimeout(2)\n"
    "try:\n"
    "    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
    "except TimeoutError: print('dropped')\n"
    "except ConnectionRefusedError: print('refused')\n"
)
LISTEN_PORTS = (5000, 8080, 9100)


def _probe(container: str, address: str, port: int) -> str:
    return testhosts.exec_in(container, ["python3", "-c", _PROBE, address, str(port)]).stdout.strip()


@pytest.fixture(scope="module")
def applied(lab):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    first = lab.playbook("firewall.yml", "controllers")
    lab.timings["firewall apply"] = time.monotonic() - start
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    target = lab.container("ctl01")
    for port in LISTEN_PORTS:
        testhosts.exec_in(
            target,
            [
                "systemd-run",
                f"--unit=hatang-test-listen-{port}",
                "--collect",
                "python3",
                "-m",
                "http.server",
                "--bind",
                "::",
                str(port),
            ],
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listening = testhosts.exec_in(target, ["ss", "-Hltn"]).stdout
        if all(f":{port} " in listening for port in LISTEN_PORTS):
            break
        time.sleep(0.5)
    yield first
    for port in LISTEN_PORTS:
        testhosts.exec_in(target, ["systemctl", "stop", f"hatang-test-listen-{port}"], check=False)
    print("timings:", {k: round(v, 1) for k, v in lab.timings.items()})


def test_firewall_second_run_changes_nothing(lab, applied) -> None:  # type: ignore[no-untyped-def]
    again = lab.playbook("firewall.yml", "controllers")
    assert again.returncode == 0, again.stdout[-3000:]
    recap = re.findall(r"^(ctl0\d)\s+:.*changed=(\d+)", again.stdout, re.M)
    assert recap and all(changed == "0" for _host, changed in recap), again.stdout[-2000:]


def test_firewall_rules_are_the_flows(lab, applied) -> None:  # type: ignore[no-untyped-def]
    host = next(h for h in lab.site.hosts if h.name == "ctl01")
    loaded = testhosts.exec_in(lab.container("ctl01"), ["nft", "list", "table", "inet", "hatang"]).stdout
    accepts = re.findall(r'accept comment "([^"]+)"', loaded)
    expected = [r.flow for r in ruleset(lab.site, host).rules]
    base = ["established", "loopback", "neighbour-discovery"]
    assert sorted(accepts) == sorted(expected + base)
    assert "policy drop;" in loaded


@pytest.mark.parametrize(
    ("zone", "port", "family", "expected"),
    [
        ("api", 5000, 4, "open"),  # internal-api: api -> api
        ("api", 5000, 6, "open"),
        ("mgmt", 9100, 4, "open"),  # monitoring-exporter: mgmt -> mgmt
        ("mgmt", 9100, 6, "open"),
        ("mgmt", 22, 4, "open"),  # admin-ssh (sshd runs on the test hosts)
        ("api", 9100, 4, "dropped"),  # the exporter flow is for the mgmt interface only
        ("api", 9100, 6, "dropped"),
        ("api", 22, 6, "dropped"),  # SSH only from and on mgmt
        ("mgmt", 8080, 4, "dropped"),  # no flow at all
        ("storage", 5000, 6, "dropped"),
    ],
)
def test_firewall_lets_in_only_flows(lab, applied, zone, port, family, expected) -> None:  # type: ignore[no-untyped-def]
    target = next(h for h in lab.site.hosts if h.name == "ctl01")
    address = str(target.ipv4[zone] if family == 4 else target.ipv6[zone])
    assert _probe(lab.container("ctl02"), address, port) == expected, f"{zone} {address}:{port}"
