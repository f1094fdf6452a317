"""HT-PKG-01, HT-PKG-02, HT-PKG-03 (tasks/apt_sources.yml, unattended_upgrades.yml, insecure_services.yml)."""

from conftest import MIRROR


def test_apt_sources_site_mirror_only(host):
    uris = host.check_output(
        "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | sed -n 's/^URIs: *//p'"
    ).split()
    assert uris and all(uri.startswith(MIRROR.rsplit("/", 1)[0]) for uri in uris)
    assert not host.file("/etc/apt/sources.list").exists


def test_apt_still_works(host):
    assert host.run("apt-get -q update").rc == 0


def test_security_updates_automatic(host):
    assert host.package("unattended-upgrades").is_installed
    assert host.service("unattended-upgrades").is_enabled
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic


def test_insecure_services_absent(host):
    for package in ("telnetd", "rsh-server", "nis", "vsftpd", "tftpd-hpa", "xinetd"):
        assert not host.package(package).is_installed, package
