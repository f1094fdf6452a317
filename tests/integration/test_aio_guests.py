"""Guests booted by Nova on the AIO: libvirt, QEMU's emulation, OVN (marker `aio`).

A member of a tenant boots the project's test guest (infra/guests) in the tenant's network, as
agency staff would in the dashboard: Nova schedules it on the AIO's compute host, libvirt starts
QEMU, os-vif plugs its tap into `br-int`, OVN gives it its addresses. The guest reports on its
serial console (Nova's console log); an endpoint of the same tenant (tests/integration/_wire.py)
talks to it, and stops reaching it when the rule it relies on is deleted.
"""

from __future__ import annotations

import re
import time

import pytest
from typer.testing import CliRunner

from infra import testhosts
from infra.cli import app
from infra.guests import Guest
from infra.guests.nova import boot, console
from tests.integration._wire import CONTAINER, Wire, default_group, project_of, until
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

PORT = 8080


def test_a_members_guest_gets_its_addresses_from_ovn_and_answers_while_its_rule_allows(plugs: Wire) -> None:
    conn = plugs.conn
    project = project_of(conn, "so-yte")
    (network,) = conn.network.networks(project_id=project.id, name="app")
    cidrs = {s.ip_version: s.cidr for s in conn.network.subnets(network_id=network.id)}
    web = plugs.group(project, [
        {"ethertype": f"IPv{v}", "protocol": "tcp", "port_range_min": PORT, "port_range_max": PORT,
         "remote_ip_prefix": cidrs[v]}
        for v in (4, 6)
    ])  # fmt: skip
    peer = plugs.plug(project, network, [default_group(conn, project)])
    with boot(conn, project, network, Guest("g-yte", listen=(PORT,)), groups=(web.name,)) as booted:
        started = time.monotonic() - booted.active_after
        assert booted.port.project_id == project.id, "the guest's port is the tenant's"
        assert booted.port.binding_host_id == "aio1"
        ports = testhosts.exec_in(CONTAINER, "ovs-vsctl list-ports br-int").stdout.split()
        assert f"tap{booted.port.id[:11]}" in ports, "os-vif plugged the guest's tap into br-int"

        until("the guest's addresses on its console", lambda: bool(console(booted).addresses), 120)
        said = console(booted)
        assert said.booted and said.dhcp4, said
        given = {a.split("/")[0] for a in said.addresses}
        assert {booted.address(4), booted.address(6)} <= given, (said.addresses, booted.port.fixed_ips)
        until("the guest's metadata on its console", lambda: console(booted).metadata is not None, 30)
        own = {"uuid": booted.server.id, "project": project.id, "mac": booted.port.mac_address}
        assert console(booted).metadata == own, "its config drive describes this server, project and port"

        until("the guest answers on its port, IPv4", lambda: peer.reaches(booted.address(4), PORT), 60)
        assert peer.reaches(booted.address(6), PORT)
        print(f"\nguest: ACTIVE after {booted.active_after:.1f} s, answered after {time.monotonic() - started:.1f} s")

        # The failing variant: without the rule that admits the port, nothing reaches it.
        for rule in list(conn.network.security_group_rules(security_group_id=web.id, direction="ingress")):
            conn.network.delete_security_group_rule(rule)
        until("the port closed once its rule is gone", lambda: not peer.reaches(booted.address(4), PORT), 20)
        assert not peer.reaches(booted.address(6), PORT)


def test_hatang_aio_guest_proves_a_guest_answers(applied: AioCloud) -> None:
    """The quick start's last step: a guest booted in so-yte pings its router in both families."""
    result = CliRunner().invoke(app, ["aio", "guest"])
    assert result.exit_code == 0, result.output
    assert "icmp4:10.128.4.1: answered" in result.stdout and "icmp6:fd99:aa10:8000:2::: answered" in result.stdout
    for key in ("uuid", "project", "mac"):
        assert re.search(rf"metadata {key}: \S+ as Nova/Neutron say", result.stdout), result.stdout


def test_hatang_aio_guest_names_a_missing_tenant(applied: AioCloud) -> None:
    result = CliRunner().invoke(app, ["aio", "guest", "--tenant", "so-khong-co"])
    assert result.exit_code == 2
    assert "no project so-khong-co in domain agencies" in result.stderr
