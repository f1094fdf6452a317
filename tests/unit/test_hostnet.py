"""A host's zone attachments: names, bridges and both address families from the site model."""

from __future__ import annotations

import ipaddress

import pytest

from infra.hostnet import InterfaceNameError, attachments, device_name
from infra.schema import Zone
from tests.unit._lab import host, lab_site


def test_attachments_follow_zone_order_and_addresses() -> None:
    site = lab_site()
    found = attachments(site, host(site, "ctl01"))
    assert [a.zone for a in found] == ["mgmt", "api", "storage"]
    mgmt = found[0]
    assert mgmt.ipv4 == ipaddress.IPv4Interface("10.199.1.11/24")
    assert mgmt.ipv6 == ipaddress.IPv6Interface("fd99:ab:0:11::b/64")
    assert (mgmt.device, mgmt.bridge, mgmt.interface, mgmt.vlan) == ("mgmt", None, "mgmt", 11)
    assert str(mgmt.gateway4) == "10.199.1.1"


def test_attachments_provider_zone_addresses_sit_on_the_bridge() -> None:
    site = lab_site()
    dmz = next(a for a in attachments(site, host(site, "net01")) if a.zone == "dmz")
    assert (dmz.device, dmz.bridge, dmz.interface) == ("dmz", "br-dmz", "br-dmz")
    assert dmz.interfaces == ("dmz", "br-dmz")
    assert dmz.ipv6 == ipaddress.IPv6Interface("fd99:ab:0:100::15/64")


def test_device_name_refuses_names_longer_than_ifnamsiz() -> None:
    zone = Zone.model_validate(
        {"name": "a-very-long-zone-name", "kind": "other", "purpose": "x", "vlan": 5,
         "ipv4": "10.0.0.0/24", "ipv6": "fd00::/64"}
    )
    with pytest.raises(InterfaceNameError) as exc:
        device_name(zone)
    assert str(exc.value) == (
        "zones.yml: zone 'a-very-long-zone-name': the name is longer than 15 characters and "
        "cannot name the zone's interface on the hosts (fix: shorten the zone name)"
    )


def test_attachments_bridge_only_zone_has_no_address() -> None:
    site = lab_site()
    gov = next(a for a in attachments(site, host(site, "net01")) if a.zone == "gov")
    assert (gov.device, gov.bridge, gov.ipv4, gov.ipv6, gov.gateway4) == ("gov", "br-gov", None, None, None)
    assert "gov" not in {a.zone for a in attachments(site, host(site, "ctl01"))}
