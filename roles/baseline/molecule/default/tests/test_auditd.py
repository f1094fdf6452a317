"""tasks/auditd.yml: auditd cannot run in a container (HT-AUDIT-01 is not checkable there), but the
role installs and enables it for the next boot on a VM."""


def test_auditd_installed_and_enabled(host):
    assert host.package("auditd").is_installed
    assert host.service("auditd").is_enabled
