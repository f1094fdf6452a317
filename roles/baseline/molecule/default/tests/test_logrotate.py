"""HT-LOG-04 (tasks/logrotate.yml)."""

DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}


def test_logrotate_retention_12_months(host):
    config = host.file("/etc/logrotate.d/rsyslog").content_string
    words = config.split()
    assert "/var/log/syslog" in words and "/var/log/auth.log" in words
    rotate = int(words[words.index("rotate") + 1])
    period = next(DAYS[w] for w in words if w in DAYS)
    assert rotate * period >= 365
    assert host.run("logrotate --debug /etc/logrotate.conf").rc == 0
