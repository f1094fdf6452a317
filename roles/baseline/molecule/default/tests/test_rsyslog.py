"""tasks/rsyslog.yml: beyond HT-LOG-03/05 (test_controls.py), rsyslogd accepts its configuration."""


def test_rsyslog_configuration_valid(host):
    assert host.run("rsyslogd -N1").rc == 0
