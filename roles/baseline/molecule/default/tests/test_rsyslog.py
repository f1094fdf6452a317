"""HT-LOG-03, HT-LOG-05 (tasks/rsyslog.yml)."""

from conftest import SYSLOG_SERVERS


def test_syslog_forwarded(host):
    assert host.service("rsyslog").is_running
    config = host.file("/etc/rsyslog.d/60-hatang-forward.conf").content_string
    for server in SYSLOG_SERVERS:
        assert f'target="{server}"' in config
    assert host.run("rsyslogd -N1").rc == 0


def test_log_files_protected(host):
    for path in ("/var/log/syslog", "/var/log/auth.log"):
        log = host.file(path)
        assert log.mode & 0o007 == 0, path
