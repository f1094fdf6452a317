"""The SCS flavor names are the only place a flavor's size is written."""

from __future__ import annotations

import pytest

from infra.specs.flavors import STANDARD_FLAVORS, parse_flavor


def test_parse_flavor_shared_core_without_disk() -> None:
    flavor = parse_flavor("SCS-2V-4")
    assert (flavor.vcpus, flavor.ram_mib, flavor.disk_gb, flavor.cpu_type) == (2, 4096, 0, "shared-core")
    assert flavor.extra_specs == {
        "scs:name-v1": "SCS-2V:4",
        "scs:name-v2": "SCS-2V-4",
        "scs:cpu-type": "shared-core",
        "hw_rng:allowed": "true",
    }


def test_parse_flavor_local_ssd_disk() -> None:
    flavor = parse_flavor("SCS-4V-16-100s")
    assert (flavor.disk_gb, flavor.disk_type, flavor.name_v1) == (100, "ssd", "SCS-4V:16:100s")
    assert flavor.extra_specs["scs:disk0-type"] == "ssd"


@pytest.mark.parametrize("name", ["SCS-0V-4", "scs-2V-4", "SCS-2X-4", "SCS-2V-4-20", "m1.small"])
def test_parse_flavor_refuses_names_outside_the_scheme(name: str) -> None:
    with pytest.raises(ValueError, match=r"does not follow SCS-<vcpus><L\|V\|T\|C>-<RAM GiB>"):
        parse_flavor(name)


def test_standard_flavors_parse_and_are_unique() -> None:
    specs = [parse_flavor(name) for name in STANDARD_FLAVORS]
    assert len({(s.vcpus, s.ram_mib, s.disk_gb, s.cpu_type) for s in specs}) == len(STANDARD_FLAVORS)
