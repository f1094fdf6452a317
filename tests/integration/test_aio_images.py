"""Images in Ceph (marker `aio`): Glance's RBD store, the store every controller of a site shares.

An image uploaded through Glance's API becomes an RBD image of the `images` pool, read back
through the API byte for byte and gone from Ceph when the image is deleted; nothing lands in
the host's file store. The guest images `hatang aio up` uploads live there too.
"""

from __future__ import annotations

import hashlib
import secrets

import pytest

from infra import testhosts
from tests.integration._wire import CONTAINER
from tests.integration.conftest import AioCloud

pytestmark = pytest.mark.aio

POOL = "images"
FILE_STORE = "/var/lib/glance/images"


def rbd_images() -> set[str]:
    """The names of the RBD images in the pool, as the AIO host's admin sees them in Ceph."""
    out = testhosts.exec_in(CONTAINER, ["rbd", "-p", POOL, "ls"], timeout=60)
    return set(out.stdout.split())


def file_store() -> set[str]:
    return set(testhosts.exec_in(CONTAINER, ["ls", "-A", FILE_STORE], timeout=30).stdout.split())


def test_an_uploaded_image_is_an_rbd_image_in_ceph_and_leaves_with_it(aio_cloud: AioCloud) -> None:
    conn = aio_cloud.conn
    data = secrets.token_bytes(3 << 20)
    image = conn.image.create_image(
        name=f"t-rbd-{secrets.token_hex(4)}", data=data, disk_format="raw", container_format="bare",
        visibility="private", wait=True,
    )  # fmt: skip
    try:
        stored = conn.image.get(f"/images/{image.id}").json()  # `stores`: the raw API's field
        assert stored["status"] == "active"
        assert stored["stores"] == "rbd", f"Glance's default store: {stored['stores']}"
        assert image.id in rbd_images(), "the image is an RBD image named by its id"
        assert image.id not in file_store(), "nothing in the host's file store"
        read = b"".join(conn.image.download_image(image, stream=True).iter_content(1 << 20))
        assert hashlib.sha256(read).digest() == hashlib.sha256(data).digest(), "the bytes come back from Ceph"
    finally:
        conn.image.delete_image(image.id, ignore_missing=True)
    assert image.id not in rbd_images(), "deleting the image deletes its data in Ceph"


def test_the_guest_images_the_aio_uploads_live_in_ceph(aio_cloud: AioCloud) -> None:
    in_ceph = rbd_images()
    guests = [i for i in aio_cloud.conn.image.images() if i.name.startswith("hatang-guest-")]
    assert guests, "hatang aio up uploads the guest's kernel and initramfs"
    for image in guests:
        assert image.id in in_ceph, f"{image.name} is not in Ceph's {POOL} pool"
