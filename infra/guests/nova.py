"""Boot the test guest through Nova as a tenant's member, and read what it says (lab only).

`hatang aio guest` and the AIO's guest tests boot it the way agency staff would: a member of the
tenant's project (a throwaway account, exempt from the first-use password change) asks Nova for a
server on the tenant's network; Nova schedules it, libvirt starts QEMU, OVN addresses it, and its
metadata comes on a config drive. What the guest saw comes back from its serial console (Nova's
console log).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from infra.audit.cloud._probes import Prober, strong_password
from infra.guests import Console, Guest, read_console
from infra.guests.glance import KERNEL, RAMDISK, guest_image

__all__ = ["Booted", "Proof", "boot", "console", "flavor", "prove"]


@dataclass(frozen=True)
class Booted:
    """A guest Nova made ACTIVE: its server, port and the member connection that booted it."""

    guest: Guest
    server: Any
    port: Any
    member: Any
    active_after: float
    """Seconds from the create request to ACTIVE."""
    volume: Any = None
    """The volume attached to it (`boot(volume_type=...)`), or None."""

    def address(self, version: int) -> str:
        (found,) = [ip["ip_address"] for ip in self.port.fixed_ips if (":" in ip["ip_address"]) == (version == 6)]
        return str(found)


def flavor(conn: Any) -> Any:
    """The smallest flavor with a local root disk: Nova lets only admins boot an image on a
    flavor without one (the site's others boot from a volume)."""
    local = [f for f in conn.compute.flavors() if (f.disk or 0) > 0]
    if not local:
        raise LookupError("no flavor with a local root disk (fix: the site's flavors, e.g. SCS-2V-4-20s)")
    return min(local, key=lambda f: (f.ram, f.vcpus, f.disk))


def _image_id(conn: Any, name: str) -> str:
    images = list(conn.image.images(name=name))
    if len(images) != 1:
        raise LookupError(f"Glance has {len(images)} images named {name} (fix: hatang aio up uploads them)")
    return str(images[0].id)


@contextlib.contextmanager
def boot(
    conn: Any, project: Any, network: Any, guest: Guest, *, groups: tuple[str, ...] = ("default",),
    timeout: float = 180, volume_type: str | None = None, mark: str = "",
) -> Iterator[Booted]:  # fmt: skip
    """Boot `guest` on `network` as a member of `project` (admin `conn` makes the member and the
    guest's image); the server, image and member are deleted on exit, the server waited for.

    With `volume_type` ("" for the default type), the member also makes a 1 GiB volume of that
    type, attached once the server is ACTIVE: the guest writes `mark` on it (Guest.volume); the
    volume is deleted on exit too.
    """
    prober = Prober.from_connection(conn)
    password = strong_password()
    server = image = volume = None
    try:
        with prober.throwaway_user("guest", password=password) as user:
            prober.grant(user, project.id)
            member = prober.connect_as(user, password, project.id)
            try:
                if volume_type is not None:
                    volume = member.block_storage.create_volume(
                        name=f"hatang-guest-{guest.name}", size=1, volume_type=volume_type or None
                    )
                    volume = member.block_storage.wait_for_status(volume, "available", failures=["error"], wait=120)
                    guest = dataclasses.replace(guest, volume=volume.id, mark=mark)
                image = guest_image(conn, guest, _image_id(conn, KERNEL), _image_id(conn, RAMDISK))
                started = time.monotonic()
                server = member.compute.create_server(
                    name=f"hatang-guest-{guest.name}", image_id=image.id,
                    flavor_id=flavor(member).id,
                    networks=[{"uuid": network.id}], security_groups=[{"name": g} for g in groups],
                    config_drive=True,
                )  # fmt: skip
                server = member.compute.wait_for_server(server, status="ACTIVE", wait=timeout)
                active = time.monotonic() - started
                if volume is not None:
                    member.compute.create_volume_attachment(server, volume_id=volume.id)
                    volume = member.block_storage.wait_for_status(volume, "in-use", failures=["error"], wait=120)
                (port,) = conn.network.ports(device_id=server.id)
                yield Booted(guest, server, port, member, active, volume)
            finally:
                member.close()
    finally:
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, wait=120)
        if volume is not None:
            conn.block_storage.delete_volume(volume, ignore_missing=True, force=True)
            conn.block_storage.wait_for_delete(volume, wait=120)
        if image is not None:
            conn.image.delete_image(image, ignore_missing=True)


def console(booted: Booted) -> Console:
    """What the guest has said so far."""
    output = booted.member.compute.get_server_console_output(booted.server)["output"]
    return read_console(output, booted.guest.name)


@dataclass(frozen=True)
class Proof:
    """What `hatang aio guest` shows: the guest booted, was addressed by OVN, and its router
    answered it in both families."""

    tenant: str
    network: str
    active_after: float
    answered_after: float | None
    addresses: tuple[str, ...]
    expected: tuple[str, ...]
    """The addresses Neutron gave the guest's port."""
    answered: dict[str, bool]
    metadata: dict[str, str] | None = None
    """What the guest read from its config drive (uuid, project, mac)."""
    expected_metadata: dict[str, str] | None = None
    """The server's id, its project's and its port's MAC, as Nova and Neutron have them."""

    @property
    def ok(self) -> bool:
        given = {a.split("/")[0] for a in self.addresses}
        addressed = set(self.expected) <= given and bool(self.answered) and all(self.answered.values())
        return addressed and self.metadata == self.expected_metadata


def prove(conn: Any, domain: str, tenant: str, network_name: str, *, timeout: float = 150) -> Proof:
    """Boot the test guest in the tenant's network; it pings its router's IPv4 and IPv6 addresses
    and reads its metadata (server, project, MAC) from its config drive.

    Raises:
        LookupError: no such tenant project or network, or the guest's boot files are missing.
    """
    found = conn.identity.find_domain(domain)
    project = found and conn.identity.find_project(tenant, domain_id=found.id)
    if not project:
        raise LookupError(f"no project {tenant} in domain {domain} (fix: hatang cloud up creates the tenants)")
    networks = list(conn.network.networks(project_id=project.id, name=network_name))
    if len(networks) != 1:
        raise LookupError(f"tenant {tenant} has {len(networks)} networks named {network_name}")
    gateways = {s.ip_version: s.gateway_ip for s in conn.network.subnets(network_id=networks[0].id)}
    probes = tuple(f"icmp{v}:{gateways[v]}" for v in (4, 6) if gateways.get(v))
    guest = Guest("proof", probes=probes)
    with boot(conn, project, networks[0], guest) as booted:
        started = time.monotonic() - booted.active_after
        answered_after = None
        said = console(booted)
        while time.monotonic() - started < timeout:
            said = console(booted)
            if said.addresses and said.metadata is not None and all(said.last(p) for p in probes):
                answered_after = time.monotonic() - started
                break
            time.sleep(2)
        return Proof(
            tenant=tenant, network=network_name, active_after=booted.active_after, answered_after=answered_after,
            addresses=said.addresses, expected=(booted.address(4), booted.address(6)),
            answered={p: bool(said.last(p)) for p in probes}, metadata=said.metadata,
            expected_metadata={"uuid": booted.server.id, "project": project.id, "mac": booted.port.mac_address},
        )  # fmt: skip
