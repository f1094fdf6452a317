"""HT-TIME-*: chrony runs and uses the site's NTP servers only."""

from __future__ import annotations

from typing import Any

from infra.audit import probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def test_chrony_running(host: Any, check: Check) -> None:
    """chrony installed, enabled and active."""
    observed = {"installed": "chrony" in _host.installed(host), **_host.service(host, "chrony")}
    check.expect(observed, {"installed": True, "enabled": True, "active": True})


def test_chrony_uses_site_ntp(host: Any, check: Check) -> None:
    """chrony's sources (chrony.conf, conf.d, sources.d) are the site's services.ntp, nothing else."""
    text = (_host.read(host, "/etc/chrony/chrony.conf") or "") + "\n"
    text += _host.read_glob(host, "/etc/chrony/conf.d/*.conf")
    text += _host.read_glob(host, "/etc/chrony/sources.d/*.sources")
    observed = sorted(set(probes.chrony_sources(text)))
    check.expect(observed, sorted(check.facts.ntp))
