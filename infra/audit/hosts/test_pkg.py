"""HT-PKG-*: package sources, automatic security updates, legacy services."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from infra.audit import probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def test_apt_sources_site_mirror_only(host: Any, check: Check) -> None:
    """APT sources (sources.list, .list and .sources files) name only the site's apt_mirror."""
    text = (_host.read(host, "/etc/apt/sources.list") or "") + "\n"
    text += _host.read_glob(host, "/etc/apt/sources.list.d/*.list")
    text += _host.read_glob(host, "/etc/apt/sources.list.d/*.sources")
    uris = sorted(set(probes.apt_uris(text)))
    mirror = urlsplit(check.facts.apt_mirror)
    foreign = [u for u in uris if urlsplit(u)[:2] != mirror[:2]]
    check.expect(
        {"sources": uris},
        {"sources": f"only {mirror.scheme}://{mirror.netloc}/…"},
        ok=bool(uris) and not foreign,
    )


def test_security_updates_automatic(host: Any, check: Check) -> None:
    """unattended-upgrades installed and APT::Periodic::Unattended-Upgrade on."""
    installed = "unattended-upgrades" in _host.installed(host)
    dump = host.run("apt-config dump APT::Periodic::Unattended-Upgrade").stdout
    enabled = '"1"' in dump
    check.expect(
        {"installed": installed, "APT::Periodic::Unattended-Upgrade": enabled},
        {"installed": True, "APT::Periodic::Unattended-Upgrade": True},
    )


def test_insecure_services_absent(host: Any, check: Check) -> None:
    """None of `packages` has its files on disk (installed, or unpacked and never configured)."""
    present = sorted(set(check.params["packages"]) & _host.on_disk(host))
    check.expect(present, [])
