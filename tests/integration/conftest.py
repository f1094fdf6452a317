"""The AIO cloud and the site applied to it by the real Pulumi engine, shared by the AIO tests.

`applied` runs what an engineer runs, `hatang cloud up -i inventories/aio --refresh`: the
repository's platform and tenants programs through the engine built by scripts/pulumi-tools, the
policy pack inside it, state under `.hatang/pulumi/aio` (the quick start's state, so a second run
changes nothing). `--refresh` reads the cloud first, so resources a test deleted by hand (or a
recreated AIO) are created again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra import aio as aio_module
from infra.audit.cloud import CloudError, connect
from infra.cli import app
from infra.validate import load_valid_site
from tests.conftest import AIO


@dataclass(frozen=True)
class AioCloud:
    clouds_yaml: Path
    cloud: str
    conn: Any


def cloud_cli(cloud: AioCloud, *args: str, inventory: Path = AIO) -> tuple[int, str, str]:
    """`hatang cloud ARGS -i INVENTORY` on the AIO: exit code, stdout, stderr."""
    result = CliRunner().invoke(
        app, ["cloud", *args, "-i", str(inventory), "--clouds-yaml", str(cloud.clouds_yaml), "--cloud", cloud.cloud]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def aio_cloud() -> Iterator[AioCloud]:
    """The AIO's admin connection; the AIO brought up by the code under test when it is not up."""
    given = os.environ.get("HATANG_AIO_CLOUDS_YAML")
    path = Path(given) if given else aio_module.AioPaths.for_site(load_valid_site(AIO)).clouds_yaml
    if not path.is_file():
        path = aio_module.up(load_valid_site(AIO)).clouds_yaml
    name = os.environ.get("HATANG_AIO_CLOUD", aio_module.CLOUD_NAME)
    try:
        conn = connect(name, path)
    except CloudError as exc:
        pytest.fail(f"the AIO cloud is not reachable: {exc}")
    yield AioCloud(path, name, conn)
    conn.close()


@pytest.fixture(scope="session")
def applied(aio_cloud: AioCloud) -> AioCloud:
    """The AIO site's platform and tenants, applied by `hatang cloud up` (idempotent)."""
    code, out, err = cloud_cli(aio_cloud, "up", "--refresh")
    assert code == 0, out + err
    return aio_cloud


@pytest.fixture
def plugs(applied: AioCloud) -> Iterator[Any]:
    """Endpoints on the AIO's OVN (tests/integration/_wire.py), removed when the test ends."""
    from tests.integration._wire import wire

    with wire(applied.conn) as made:
        yield made
