"""What the cloud should have, derived from the site model (pure: the same specs the Pulumi
programs render, so the audit and the programs cannot disagree)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from infra.site import Site
from infra.specs.cloud import ExternalNetworkSpec, TenantSpec, platform_spec, tenants_plan

__all__ = ["WORLD", "Expected", "expected_from_site", "prefix_label"]

WORLD = "world"
"""Label of 0.0.0.0/0 and ::/0 (and of a rule without a remote: any address)."""


@dataclass(frozen=True)
class Expected:
    """The site's view of the cloud: tenants the programs declare, provider networks, prefixes."""

    site: str
    domain: str
    tenants: Mapping[str, TenantSpec]
    """Project name (tenant code) -> spec; approved, active and retired-in-grace tenants."""
    removed: tuple[str, ...]
    """Retired tenants past their grace period: their projects must be gone."""
    requested: tuple[str, ...]
    """Requested tenants: no project yet."""
    externals: Mapping[str, ExternalNetworkSpec]
    """Provider network name -> spec."""
    prefixes: Mapping[str, str]
    """Every prefix the model knows (both families) -> the label its counterpart shares."""

    def allowed_externals(self, code: str) -> set[str]:
        """Names of the external networks tenant `code` may attach to (its request's access)."""
        spec = self.tenants.get(code)
        return {r.external_network for r in spec.routers} if spec else set()


def _prefixes(site: Site, specs: Mapping[str, TenantSpec]) -> dict[str, str]:
    labels: dict[str, str] = {"0.0.0.0/0": WORLD, "::/0": WORLD}
    for zone in site.zones:
        labels[str(zone.ipv4)] = labels[str(zone.ipv6)] = f"zone:{zone.name}"
    labels[str(site.pools.ipv4)] = labels[str(site.pools.ipv6)] = "tenants"
    for spec in specs.values():
        for net in spec.networks:
            labels[str(net.ipv4)] = labels[str(net.ipv6)] = f"tenant:{spec.code}:{net.name}"
    return labels


def prefix_label(prefix: str | None, prefixes: Mapping[str, str]) -> str:
    """The family-neutral label of a rule's remote prefix ('other:v4'/'other:v6' when unknown)."""
    if prefix is None:
        return WORLD
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return f"other:{prefix}"
    return prefixes.get(str(network), f"other:v{network.version}")


def expected_from_site(site: Site, now: datetime) -> Expected:
    """The expectations for `site` as of `now` (retirement grace periods are measured to it)."""
    plan = tenants_plan(site, now)
    specs = {spec.code: spec for spec in plan.tenants}
    platform = platform_spec(site)
    return Expected(
        site=site.name,
        domain=site.info.agencies_domain,
        tenants=specs,
        removed=tuple(code for code, _ in plan.removed),
        requested=tuple(code for code, _ in plan.skipped),
        externals={ext.name: ext for ext in platform.externals},
        prefixes=_prefixes(site, specs),
    )
