"""Capacity figures on the sample site, checked against a hand count of the site files."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.reports.capacity import Resource, Usage, demand, hardware, usage
from infra.site import Site, load_site

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample() -> Site:
    return load_site(REPO / "inventories" / "thainguyen")


def figures(site: Site) -> dict[Resource, Usage]:
    totals = hardware(site.capacity, site.host_specs, site.zones, site.pools)
    return {u.resource: u for u in usage(totals, demand(site.tenants, site.profiles))}


def test_sample_hardware_totals(sample: Site) -> None:
    totals = hardware(sample.capacity, sample.host_specs, sample.zones, sample.pools)
    assert totals == {
        Resource.VCPU: 8 * (64 - 2) * 4,  # 8 compute hosts, 2 cores reserved each, cpu overcommit 4
        Resource.RAM: 8 * (512 - 16),  # GiB, ram overcommit 1
        Resource.VOLUME: 3 * 96000 // 3,  # 3 storage hosts, 3 replicas
        Resource.FLOATING_IP: 2 * (256 - 10 - 1),  # dmz + internet /24s from offset 10, no broadcast
        Resource.TENANT_V4: 2 ** (22 - 12),  # /22s in the /12
        Resource.TENANT_V6: 2 ** (64 - 48),  # /64s in the /48
    }


def test_sample_used_reserved_pending(sample: Site) -> None:
    # active: 5 M (ban-do-so, du-lieu, so-gddt, so-khcn, so-yte) + 4 L (hcc, lgsp, thainguyen-id, vp-ubnd)
    # approved: so-tc (M); requested: two wards (S); retired: so-tttt (S, 1 network)
    got = {r: (u.capacity, u.used, u.reserved, u.free, u.pending) for r, u in figures(sample).items()}
    assert got == {
        Resource.VCPU: (1984, 5 * 50 + 4 * 120, 50, 1984 - 730 - 50, 2 * 20),
        Resource.RAM: (3968, 5 * 100 + 4 * 240, 100, 3968 - 1460 - 100, 2 * 40),
        Resource.VOLUME: (96000, 5 * 4000 + 4 * 10000, 4000, 32000, 2 * 1000),
        Resource.FLOATING_IP: (490, 5 * 4 + 4 * 8, 4, 490 - 52 - 4, 2 * 2),
        Resource.TENANT_V4: (1024, 9, 2, 1013, 2),  # the retired tenant's prefix stays taken
        Resource.TENANT_V6: (65536, 20, 3, 65513, 2),  # networks: active 20, so-tc 2 + so-tttt 1
    }


def test_shares_and_after_pending(sample: Site) -> None:
    vcpu = figures(sample)[Resource.VCPU]
    assert vcpu.committed == 780
    assert vcpu.committed_share == pytest.approx(780 / 1984)
    assert vcpu.after_pending == 1204 - 40


def test_unresolvable_profile_is_left_out_and_named(sample: Site) -> None:
    tenants = [t.model_copy(update={"quota_profile": "XXL"}) if t.code == "hcc" else t for t in sample.tenants]
    result = demand(tenants, sample.profiles)
    assert result.bad_profiles == ("XXL",)
    assert result.amounts[Resource.VCPU] == (730 - 120, 50, 40)
