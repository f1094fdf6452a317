"""Deterministic address allocation from the tenant pools.

First fit, lowest address first, against every prefix the ledger records and every allocation
any tenant file holds — retired tenants included, so a prefix once given out is never handed to
another agency, even when its file is emptied or deleted.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from typing import TypeVar

from infra.errors import RequestError
from infra.schema import NetworkAllocation, TenantAllocation, TenantRequest
from infra.site import Site

__all__ = ["PoolExhaustedError", "Spans", "allocate", "first_free", "span", "used_networks"]

N = TypeVar("N", ipaddress.IPv4Network, ipaddress.IPv6Network)
Span = tuple[int, int, int]
"""(IP version, first address, last address) of a prefix, as integers."""


class PoolExhaustedError(RequestError):
    """No free prefix of the wanted size is left in a pool."""


def used_networks(site: Site) -> tuple[list[ipaddress.IPv4Network], list[ipaddress.IPv6Network]]:
    """Every tenant and network prefix ever allocated in the site (all states, ledger included)."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for entry in site.ledger or ():
        if isinstance(entry.prefix, ipaddress.IPv4Network):
            v4.append(entry.prefix)
        else:
            v6.append(entry.prefix)
    for tenant in site.tenants:
        if tenant.allocation is None:
            continue
        v4.append(tenant.allocation.ipv4)
        v6.extend(net.ipv6 for net in tenant.allocation.networks.values())
    return v4, v6


def span(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Span:
    """A prefix as integers: overlap and containment tests on tens of thousands of prefixes
    without `ipaddress`' broadcast_address and subnet_of, which build objects on every call."""
    start = int(net.network_address)
    return net.version, start, start + (1 << (net.max_prefixlen - net.prefixlen)) - 1


class Spans:
    """`span` once per prefix object, for one pass over a site.

    A tenant file's prefixes and the ledger's are the same objects (`infra._prefix`), so the rules
    compute each of the 25,000 spans of a site of 5,000 tenants once, not three or four times. Each
    object is kept while its span is, so no other object can take its id.
    """

    def __init__(self) -> None:
        self._known: dict[int, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Span]] = {}

    def __call__(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Span:
        found = self._known.get(id(net))
        if found is None:
            found = self._known[id(net)] = (net, span(net))
        return found[1]


def first_free(pool: N, prefix: int, used: Iterable[N]) -> N:
    """The lowest prefix of length `prefix` in `pool` overlapping nothing in `used`.

    Raises:
        PoolExhaustedError: when none is left.
    """
    return _first_free(pool, prefix, sorted(map(span, used)))


def _first_free(pool: N, prefix: int, used: list[Span]) -> N:
    """`first_free` against the sorted spans of the used prefixes (sorted once for many calls)."""
    size = 1 << (pool.max_prefixlen - prefix)
    version, start, end = span(pool)
    candidate = start
    for v, low, high in used[bisect.bisect_left(used, (version,)) :]:  # a supernet may start before the pool
        if v != version:
            break
        if high < candidate:
            continue
        if low > candidate + size - 1:
            break
        candidate = -(-(high + 1) // size) * size  # next aligned boundary after the span
    if candidate + size - 1 > end:
        raise PoolExhaustedError(
            f"pool {pool} has no free /{prefix} left; widen the pool in pools.yml or retire nothing "
            "(allocations are never reused)"
        )
    return type(pool)((candidate, prefix))


def _recorded(site: Site, code: str) -> dict[tuple[str | None, int], ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The ledger's prefixes for one tenant by (network, IP version): an approval interrupted
    after the ledger was written gets the same prefixes when it runs again."""
    return {(e.network, e.prefix.version): e.prefix for e in site.ledger or () if e.tenant == code}


def _sorted_spans(nets: list[N]) -> list[Span]:
    """The distinct spans of `nets`, sorted; a prefix both a file and the ledger hold is one object
    (`infra._prefix`), spanned once."""
    return sorted({span(net) for net in {id(net): net for net in nets}.values()})


def allocate(site: Site, tenant: TenantRequest) -> TenantAllocation:
    """The tenant's allocation: existing prefixes kept, missing networks added.

    Deterministic: the same site and request always give the same answer.
    """
    pools = site.pools
    nets4, nets6 = used_networks(site)
    used4, used6 = _sorted_spans(nets4), _sorted_spans(nets6)
    current = tenant.allocation
    recorded = _recorded(site, tenant.code)
    tenant_v4 = current.ipv4 if current else recorded.get((None, 4))
    if not isinstance(tenant_v4, ipaddress.IPv4Network):
        tenant_v4 = _first_free(pools.ipv4, pools.tenant_prefix_v4, used4)
    networks = dict(current.networks) if current else {}
    inside = [n.ipv4 for n in networks.values()]
    for network in tenant.networks:
        if network.name in networks:
            continue
        old4, old6 = recorded.get((network.name, 4)), recorded.get((network.name, 6))
        if isinstance(old4, ipaddress.IPv4Network) and isinstance(old6, ipaddress.IPv6Network):
            networks[network.name] = NetworkAllocation(ipv4=old4, ipv6=old6)  # recorded, not yet in the file
            inside.append(old4)
            continue
        try:
            v4 = first_free(tenant_v4, pools.network_prefix_v4, inside)
        except PoolExhaustedError as exc:
            raise PoolExhaustedError(
                f"tenant prefix {tenant_v4} of {tenant.code} has no room for network "
                f"{network.name!r} (/{pools.network_prefix_v4} each)"
            ) from exc
        v6 = _first_free(pools.ipv6, pools.network_prefix_v6, used6)
        inside.append(v4)
        bisect.insort(used6, span(v6))
        networks[network.name] = NetworkAllocation(ipv4=v4, ipv6=v6)
    return TenantAllocation(ipv4=tenant_v4, networks=networks)
