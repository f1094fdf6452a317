"""Volumes in Ceph, attached to guests (marker `aio`).

A member of a tenant makes a volume, as agency staff would in the dashboard: Cinder's RBD driver
makes it an image in the AIO's Ceph pool; Nova attaches it to the member's guest, whose QEMU
reads and writes it in Ceph (librbd, with the client key libvirt keeps). The guest writes a mark
on its start; the test reads the same bytes straight from Ceph, as the storage holds them. A
volume of the `encrypted` type is LUKS-formatted by Cinder with a key from Barbican and opened by
QEMU: the guest reads its mark back, while Ceph holds only the LUKS header and ciphertext.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from infra import testhosts
from infra.guests import Guest
from infra.guests.nova import boot, console
from tests.integration._wire import CONTAINER, project_of, until
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

LUKS_MAGIC = b"LUKS\xba\xbe"

_READ = """
import base64, rados, rbd
with rados.Rados(conffile="/etc/ceph/ceph.conf") as cluster, cluster.open_ioctx("volumes") as pool:
    with rbd.Image(pool, "volume-{volume}", read_only=True) as image:
        print(base64.b64encode(image.read(0, {size})).decode())
"""


def stored_bytes(volume_id: str, size: int = 8 << 20) -> bytes:
    """The volume's first bytes as Ceph stores them (the AIO host's admin key, not the guest's)."""
    out = testhosts.exec_in(CONTAINER, ["python3", "-c", _READ.format(volume=volume_id, size=size)], timeout=60)
    return base64.b64decode(out.stdout)


@pytest.mark.parametrize("volume_type", ["", "encrypted"], ids=["default-type", "encrypted-type"])
def test_a_members_volume_is_written_by_its_guest_into_ceph(applied: AioCloud, volume_type: str) -> None:
    conn = applied.conn
    project = project_of(conn, "so-yte")
    (network,) = conn.network.networks(project_id=project.id, name="app")
    mark = f"hatang-mark-{secrets.token_hex(6)}"
    name = "v-luks" if volume_type else "v-plain"
    with boot(conn, project, network, Guest(name), volume_type=volume_type, mark=mark) as booted:
        assert booted.volume is not None and booted.volume.status == "in-use"
        volume = conn.block_storage.get_volume(booted.volume.id)
        assert volume.host.endswith("#ceph"), f"Cinder put it on the RBD backend: {volume.host}"
        assert volume.is_encrypted == bool(volume_type)

        until("the guest wrote on its volume", lambda: {"wrote", "missing"} & set(console(booted).disk), 180)
        said = console(booted).disk
        assert said.get("wrote") == mark, f"the guest read its mark back from the disk: {said}"
        stored = stored_bytes(volume.id)
        if volume_type:
            assert stored.startswith(LUKS_MAGIC), "Cinder formatted the encrypted volume with LUKS"
            assert mark.encode() not in stored, "Ceph holds only ciphertext of what the guest wrote"
        else:
            assert said.get("found") == "blank", "a new volume is empty"
            assert stored.startswith(mark.encode()), "what the guest wrote is in Ceph, in clear"
