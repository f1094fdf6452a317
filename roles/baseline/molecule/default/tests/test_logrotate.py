"""tasks/logrotate.yml: beyond HT-LOG-04 (test_controls.py, /var/log/syslog), logrotate.conf with
its includes, as logrotate reads it, keeps every file the role rotates for the catalogue's period
(the host check's decision), and logrotate accepts it."""

from conftest import params, read

from infra.audit import probes
from infra.audit.hosts import _host

ROTATED = [
    "/var/log/syslog", "/var/log/mail.log", "/var/log/kern.log", "/var/log/auth.log", "/var/log/user.log",
    "/var/log/cron.log", "/var/log/sudo.log",
]  # fmt: skip
"""vars/Debian.yml _baseline_rsyslog_files and the default baseline_sudo_logfile."""


def test_logrotate_retention_12_months(host):
    text = read(host, "/etc/logrotate.conf")
    assert text is not None
    minimum = params("HT-LOG-04")["min_days"]
    for path in ROTATED:
        days, how = probes.logrotate_retention(text, path, lambda target: _host.read_tree(host, target))
        assert days is not None and days >= minimum, f"{path}: {how}"
    assert host.run("logrotate --debug /etc/logrotate.conf").rc == 0
