"""Texts shared by the charts and the tables, kept free of matplotlib (Markdown and JSON need them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from infra.policy import port_ranges
from infra.reports.capacity import Resource
from infra.reports.i18n import N_
from infra.schema import Flow

__all__ = ["RESOURCE_LABELS", "flow_summary"]

RESOURCE_LABELS: Mapping[Resource, str] = {
    Resource.VCPU: N_("vCPU"),
    Resource.RAM: N_("RAM (GiB)"),
    Resource.VOLUME: N_("Volumes (GB)"),
    Resource.FLOATING_IP: N_("Floating IPs"),
    Resource.TENANT_V4: N_("Tenant IPv4 prefixes"),
    Resource.TENANT_V6: N_("Tenant IPv6 /64s"),
}
"""Chart and table labels of the resources (message ids of the catalogue)."""


def _ports(flow: Flow) -> str:
    ranges = port_ranges(flow)
    return flow.protocol if not ranges else f"{flow.protocol} {','.join(str(r) for r in ranges)}"


def flow_summary(flows: Sequence[Flow], limit: int = 24) -> str:
    """The flows of one (from, to) pair in a few characters, e.g. 'tcp 443,5000; icmp'."""
    text = "; ".join(_ports(f) for f in flows)
    return text if len(text) <= limit else text[: limit - 1] + "…"
