"""The lab site `ha`: three controllers, a compute and a storage host on test hosts, deployed once for the module.

The site's own playbook deploys Ceph on the storage host, the shared services (MariaDB Galera, the
RabbitMQ cluster, memcached, keepalived, the TLS front), Keystone, Barbican, Placement, Glance,
OVN's databases and Neutron, the compute host's OVN chassis, Nova and Cinder, limited by tags to
those roles (`_ha.DEPLOYED`); Horizon and the portal follow (docs/deploy-site.md, "Not yet").
Secrets, the site CA among them, go to a folder of the session.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import testhosts
from infra.validate import load_valid_site
from tests.cluster._ha import CONTROLLER_IMAGE, LAB, Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The lab's hosts, up and deployed for the module, removed after it (memory for the AIO)."""
    with Path("/run/lock/hatang-tests-ha.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        site = load_valid_site(LAB)
        try:
            found = Cluster(site, tmp_path_factory.mktemp("ha-secrets"))
            start = time.monotonic()
            testhosts.up(site, limit="controllers", recipe=CONTROLLER_IMAGE)
            testhosts.up(site, limit="compute,storage")
            found.figures["hosts_up_s"] = time.monotonic() - start
            start = time.monotonic()
            result, _ = found.playbook("first-deploy")
            found.figures["first_deploy_s"] = time.monotonic() - start
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
            yield found
        finally:
            testhosts.down(site.name)
