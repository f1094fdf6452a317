"""HT-AUTH-11 (tasks/sudo.yml)."""


def test_sudo_logging_enabled(host):
    defaults = host.check_output("sudo -l -U root 2>/dev/null | sed -n '/Matching Defaults/,/^$/p'")
    assert "logfile=/var/log/sudo.log" in defaults
    assert "use_pty" in defaults


def test_sudo_logs_a_command(host):
    host.run("sudo -u nobody true")
    assert "COMMAND=/usr/bin/true" in host.file("/var/log/sudo.log").content_string
