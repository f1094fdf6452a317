"""tasks/ssh.yml: beyond HT-SSH-01..13 (test_controls.py), sshd runs with the role's configuration
and listens where the inventory says: on the mgmt address(es), or everywhere on a host without a
mgmt zone (the router)."""

from infra.audit.hosts import _host


def test_sshd_running(host):
    assert host.service("ssh").is_running


def test_sshd_listens_where_the_inventory_says(host, hatang_host_facts):
    wanted = {f"{address}:22" for address in hatang_host_facts.mgmt_addresses} or {"0.0.0.0:22", "[::]:22"}
    assert set(_host.sshd(host)["listenaddress"]) == wanted
