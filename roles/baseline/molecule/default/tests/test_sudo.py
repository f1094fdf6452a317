"""tasks/sudo.yml: beyond HT-AUTH-11 (test_controls.py), sudo writes a command to its log."""


def test_sudo_logs_a_command(host):
    host.run("sudo -u nobody true")
    assert "COMMAND=/usr/bin/true" in host.file("/var/log/sudo.log").content_string
