"""HT-LOG-01, HT-LOG-02 (tasks/journald.yml)."""


def journald(host):
    out = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    values = {}
    for line in out.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_journald_persistent(host):
    assert journald(host)["Storage"] == "persistent"
    assert host.file("/var/log/journal").is_directory


def test_journald_retention_12_months(host):
    values = journald(host)
    assert values["MaxRetentionSec"] in {"1year", "0"}
    assert values.get("SystemKeepFree")
