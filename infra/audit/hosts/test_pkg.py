"""HT-PKG-*: package sources, automatic security updates, legacy services."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from infra.audit import probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check

APT_TARGETS = "apt-get indextargets --no-release-info --format '$(REPO_URI)'"
"""The repositories of every index APT would fetch, from the sources as APT itself parses them (deb822
continuation lines, Dir::Etc::sourcelist and sourceparts set anywhere); no network needed."""


def test_apt_sources_site_mirror_only(host: Any, check: Check) -> None:
    """APT sources name only the site's apt_mirror: in the usual files, and in the repositories APT
    itself would fetch from (`apt-get indextargets`), which also fails on sources APT cannot read."""
    text = (_host.read(host, "/etc/apt/sources.list") or "") + "\n"
    text += _host.read_glob(host, "/etc/apt/sources.list.d/*.list")
    text += _host.read_glob(host, "/etc/apt/sources.list.d/*.sources")
    listed = host.run(APT_TARGETS)
    from_apt = set(listed.stdout.split()) if listed.rc == 0 else set()
    uris = sorted({u.rstrip("/") for u in {*probes.apt_uris(text), *from_apt}})
    mirror = urlsplit(check.facts.apt_mirror)
    foreign = [u for u in uris if urlsplit(u)[:2] != mirror[:2]]
    unreadable = "" if listed.rc == 0 else (listed.stderr.strip().splitlines() or [f"exit {listed.rc}"])[-1]
    check.expect(
        {"sources": uris, "apt cannot read its sources": unreadable},
        {"sources": f"only {mirror.scheme}://{mirror.netloc}/…", "apt cannot read its sources": ""},
        ok=bool(uris) and not foreign and not unreadable,
    )


PERIODIC = ("APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade")
"""The two jobs apt.systemd.daily must run: fresh package lists, then the upgrade."""
ORIGINS = ("Unattended-Upgrade::Origins-Pattern", "Unattended-Upgrade::Allowed-Origins")
"""Where unattended-upgrades finds what it may upgrade: empty, it upgrades nothing."""
TIMERS = ("apt-daily.timer", "apt-daily-upgrade.timer")
"""What starts apt.systemd.daily: the configuration is right for nothing if neither fires."""


def test_security_updates_automatic(host: Any, check: Check) -> None:
    """unattended-upgrades installed; in the configuration as APT merges it (`apt-config dump`)
    APT::Periodic::Enable not off, Update-Package-Lists and Unattended-Upgrade on, and a security
    origin among Unattended-Upgrade's Origins-Pattern or Allowed-Origins; apt's daily timers
    enabled and active."""
    installed = "unattended-upgrades" in _host.installed(host)
    config = probes.apt_config(host.run("apt-config dump").stdout)

    def one(key: str) -> str | None:
        values = config.get(key)
        return values[-1] if values else None

    origins = [o for key in ORIGINS for o in config.get(key, [])]
    security = sorted(o for o in origins if "security" in o.lower())
    timers = {t: _host.service(host, t) for t in TIMERS}
    observed = {
        "installed": installed,
        "APT::Periodic::Enable": one("APT::Periodic::Enable"),
        **{key: one(key) for key in PERIODIC},
        "security origins": security,
        "timers": timers,
    }
    expected = {
        "installed": True,
        "APT::Periodic::Enable": "unset or on",
        **{key: "1 (days) or more" for key in PERIODIC},
        "security origins": "at least one",
        "timers": {t: {"enabled": True, "active": True} for t in TIMERS},
    }
    ok = (
        installed
        and not probes.apt_interval_off(one("APT::Periodic::Enable"))
        and all(probes.apt_interval_on(one(key)) for key in PERIODIC)
        and bool(security)
        and all(state["enabled"] and state["active"] for state in timers.values())
    )
    check.expect(observed, expected, ok=ok)


def test_insecure_services_absent(host: Any, check: Check) -> None:
    """None of `packages` has its files on disk (installed, or unpacked and never configured)."""
    present = sorted(set(check.params["packages"]) & _host.on_disk(host))
    check.expect(present, [])
