"""HT-TIME-*: chrony runs and uses the site's NTP servers only."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from infra.audit import probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def test_chrony_running(host: Any, check: Check) -> None:
    """chrony installed, enabled and active, and its sources online (`chronyc activity`): a
    source set offline (`chronyc offline`, or `offline` in the configuration) is never polled,
    so a running chronyd with no source online synchronises nothing."""
    observed: dict[str, Any] = {"installed": "chrony" in _host.installed(host), **_host.service(host, "chrony")}
    rc, activity, _ = _host.run(host, "chronyc activity")
    sources = probes.chronyc_activity(activity) if rc == 0 else None
    observed["sources"] = sources if sources is not None else "chronyc cannot talk to chronyd"
    online = sources is not None and sources["online"] > 0 and sources["offline"] == 0
    check.expect(
        observed,
        {"installed": True, "enabled": True, "active": True, "sources": "online, none offline"},
        ok=all(observed[k] is True for k in ("installed", "enabled", "active")) and online,
    )


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
