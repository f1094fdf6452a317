"""Quota profiles resolve through inheritance to explicit values; capacity arithmetic."""

from __future__ import annotations

import pytest

from infra.quotas import ProfileError, capacity_totals, resolve_profile
from infra.schema import Capacity, Profile
from infra.site import load_site
from tests.conftest import SAMPLE


def test_inheritance_overrides_single_keys() -> None:
    profiles = load_site(SAMPLE).profiles
    xl = resolve_profile("XL", profiles)
    assert xl.compute.cores == 300, "XL's own value"
    assert xl.network.router == 4, "from L"
    assert xl.network.security_group == 10, "from S, through M and L"
    assert xl.volume.per_volume_gigabytes == 2000


def test_unknown_parent() -> None:
    profiles = {"A": Profile(description="a", inherits="B")}
    with pytest.raises(ProfileError, match="unknown profile 'B'; known: A"):
        resolve_profile("A", profiles)


def test_unknown_key() -> None:
    s = load_site(SAMPLE).profiles["S"]
    bad = s.model_copy(update={"compute": {**s.compute, "gpus": 1}})
    with pytest.raises(ProfileError, match="compute: unknown key"):
        resolve_profile("S", {"S": bad})


def test_capacity_totals_with_reserve_and_overcommit() -> None:
    capacity = Capacity.model_validate(
        {
            "overcommit": {"cpu": 4.0, "ram": 1.5, "disk": 1.0},
            "reserved_cores": 2,
            "reserved_ram_gb": 16,
            "storage_replicas": 3,
            "groups": {"compute": {"cores": 32, "ram_gb": 256}, "storage": {"disk_gb": 3000}},
        }
    )
    totals = capacity_totals(capacity, {"compute": 2, "storage": 3})
    assert totals.vcpus == 2 * 30 * 4
    assert totals.ram_mb == int(2 * 240 * 1024 * 1.5)
    assert totals.volume_gb == 3000
