"""HT-TIME-*: chrony runs and uses the site's NTP servers only."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from infra.audit import probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def test_chrony_running(host: Any, check: Check) -> None:
    """chrony installed, enabled and active."""
    observed = {"installed": "chrony" in _host.installed(host), **_host.service(host, "chrony")}
    check.expect(observed, {"installed": True, "enabled": True, "active": True})


_SAFE_GLOB = re.compile(r"^/[A-Za-z0-9_./*?\[\]-]+$")
"""A glob the audit will expand on the host: an absolute path of plain characters, nothing a shell
would read as more than a pattern."""


def _chrony_config(host: Any) -> tuple[str, list[str]]:
    """chrony.conf and every file chronyd reads because of it (include, confdir, sourcedir, also
    inside the included files); and the globs not followed, which the check cannot vouch for."""
    texts, refused, seen = [], [], set()
    todo = [_host.read(host, "/etc/chrony/chrony.conf") or ""]
    while todo:
        text = todo.pop()
        texts.append(text)
        for pattern in probes.chrony_includes(text):
            if pattern in seen:
                continue
            seen.add(pattern)
            if _SAFE_GLOB.match(pattern) and len(seen) <= 64:
                todo.append(_host.read_glob(host, pattern))
            else:
                refused.append(pattern)
    return "\n".join(texts), refused


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def test_chrony_uses_site_ntp(host: Any, check: Check) -> None:
    """chrony's sources are the site's services.ntp, nothing else: those of chrony.conf and of every
    file it makes chronyd read (include, confdir, sourcedir), and those the running chronyd uses
    (`chronyc -n sources`: a source added at run time is in no file)."""
    text, refused = _chrony_config(host)
    configured = sorted({_canonical(a) for a in probes.chrony_sources(text)})
    running = host.run("chronyc -n sources")
    live = sorted(set(probes.chronyc_sources(running.stdout))) if running.rc == 0 else []
    site = sorted({_canonical(str(a)) for a in check.facts.ntp})
    check.expect(
        {"configured": configured, "running": live, "not followed": refused},
        {"configured": site, "running": f"within {site}", "not followed": []},
        ok=configured == site and set(live) <= set(site) and not refused,
    )
