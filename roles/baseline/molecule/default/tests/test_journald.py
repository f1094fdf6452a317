"""HT-LOG-01, HT-LOG-02 (tasks/journald.yml): journald.conf and its drop-ins as systemd merges
them, judged by the host check's decision with the catalogue's parameters."""

from conftest import journald, params

from infra.audit import _journal


def test_journald_persistent(host):
    assert journald(host).get("Storage") == "persistent"
    assert host.file("/var/log/journal").is_directory


def test_journald_retention_12_months(host):
    finding = _journal.journald_finding(journald(host), params("HT-LOG-02")["min_seconds"])
    assert finding.ok, finding.problems
