"""IPAM: first fit, deterministic, never reusing a prefix, a clear error when a pool runs out."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from infra.ipam import PoolExhaustedError, allocate, first_free
from infra.site import load_site


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_first_free_lowest_gap() -> None:
    pool = net("10.0.0.0/16")
    used = [net("10.0.0.0/22"), net("10.0.8.0/22")]
    assert first_free(pool, 22, used) == net("10.0.4.0/22")


def test_first_free_skips_partial_overlap_to_aligned_boundary() -> None:
    pool = net("10.0.0.0/16")
    assert first_free(pool, 22, [net("10.0.1.0/24")]) == net("10.0.4.0/22")


def test_first_free_ignores_networks_outside_pool() -> None:
    assert first_free(net("10.1.0.0/16"), 24, [net("10.0.0.0/24")]) == net("10.1.0.0/24")


def test_first_free_exhausted() -> None:
    pool = net("10.0.0.0/23")
    with pytest.raises(PoolExhaustedError, match=r"pool 10.0.0.0/23 has no free /24 left"):
        first_free(pool, 24, [net("10.0.0.0/24"), net("10.0.1.0/24")])


def test_first_free_supernet_starting_before_the_pool_fills_it() -> None:
    with pytest.raises(PoolExhaustedError, match=r"pool 10.0.4.0/22 has no free /24 left"):
        first_free(net("10.0.4.0/22"), 24, [net("10.0.0.0/16"), net("10.9.0.0/24")])


def test_first_free_v6() -> None:
    pool = ipaddress.IPv6Network("fd00:1::/48")
    used = [ipaddress.IPv6Network("fd00:1::/64")]
    assert first_free(pool, 64, used) == ipaddress.IPv6Network("fd00:1:0:1::/64")


def test_allocate_is_deterministic(site_copy: Path) -> None:
    site = load_site(site_copy)
    tenant = site.tenant("phuong-duc-xuan")
    assert tenant is not None
    first, second = allocate(site, tenant), allocate(site, tenant)
    assert first == second
    # the retired so-tttt keeps 10.64.0.0/22; the next free /22 after every live allocation
    assert str(first.ipv4) == "10.64.44.0/22"
    assert str(first.networks["app"].ipv4) == "10.64.44.0/24"
    assert str(first.networks["app"].ipv6) == "fdb4:7e10:8000:17::/64"


def test_allocate_never_reuses_retired_prefix(site_copy: Path) -> None:
    site = load_site(site_copy)
    retired = site.tenant("so-tttt")
    assert retired is not None and retired.allocation is not None
    tenant = site.tenant("phuong-phan-dinh-phung")
    assert tenant is not None
    allocation = allocate(site, tenant)
    assert not allocation.ipv4.overlaps(retired.allocation.ipv4)
    assert all(
        not n.ipv6.overlaps(r.ipv6) for n in allocation.networks.values() for r in retired.allocation.networks.values()
    )


def test_allocate_keeps_existing_and_adds_new_network(site_copy: Path) -> None:
    site = load_site(site_copy)
    tenant = site.tenant("so-tc")
    assert tenant is not None and tenant.allocation is not None
    from infra.schema import TenantNetwork

    grown = tenant.model_copy(update={"networks": (*tenant.networks, TenantNetwork(name="backup"))})
    allocation = allocate(site, grown)
    assert allocation.ipv4 == tenant.allocation.ipv4
    assert allocation.networks["app"] == tenant.allocation.networks["app"]
    assert str(allocation.networks["backup"].ipv4) == "10.64.42.0/24"


def test_allocate_tenant_prefix_full(site_copy: Path) -> None:
    site = load_site(site_copy)
    tenant = site.tenant("so-tc")
    assert tenant is not None
    from infra.schema import TenantNetwork

    extra = tuple(TenantNetwork(name=f"n{i}") for i in range(3))
    with pytest.raises(PoolExhaustedError, match=r"tenant prefix 10.64.40.0/22 of so-tc has no room for network 'n2'"):
        allocate(site, tenant.model_copy(update={"networks": (*tenant.networks, *extra)}))
