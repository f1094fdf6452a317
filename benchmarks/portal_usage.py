"""What reading quota and usage from the cloud costs a tenant's page in the portal, on the AIO.

Needs the AIO up and its site applied (`hatang cloud up -i inventories/aio`). Makes a temporary
user in `portal-usage-readers` (deleted at the end), then prints: a cold reading (a token scoped to
the project, then Nova's, Neutron's and Cinder's quota details), a page with a cold reading, and a
page with a kept one (`ttl`).

    .venv/bin/python benchmarks/portal_usage.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra import aio
from infra.audit.cloud import connect
from infra.portal.usage import CloudUsage
from infra.site import load_site
from infra.specs.cloud import USAGE_READERS_GROUP
from infra.validate import load_valid_site
from tests.conftest import AIO, LOCAL_STATE
from tests.portal.conftest import make_app, signed_in


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    admin = connect(aio.CLOUD_NAME, aio.AioPaths.for_site(load_valid_site(AIO)).clouds_yaml)
    domain_name = load_site(AIO).info.agencies_domain
    domain = admin.identity.find_domain(domain_name, ignore_missing=False)
    group = admin.identity.find_group(USAGE_READERS_GROUP, domain_id=domain.id, ignore_missing=False)
    name, first = f"hatang-usage-bench-{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    user = admin.identity.create_user(name=name, domain_id=domain.id, password=first, enabled=True)
    try:
        admin.identity.add_user_to_group(user, group)
        auth_url, cacert = admin.config.get_auth_args()["auth_url"], admin.config.config.get("cacert")
        password = f"{secrets.token_urlsafe(18)}Aa1!"
        requests.post(f"{auth_url.rstrip('/')}/users/{user.id}/password", timeout=30, verify=cacert,
                      json={"user": {"original_password": first, "password": password}}).raise_for_status()
        time.sleep(1.1)
        with tempfile.TemporaryDirectory() as scratch:
            clouds = Path(scratch) / "clouds.yaml"
            clouds.write_text(yaml.safe_dump({"clouds": {"reader": {
                "auth": {"auth_url": auth_url, "username": name, "password": password, "user_domain_name": domain_name},
                "cacert": cacert, "identity_api_version": 3}}}))
            cold = CloudUsage("reader", domain_name, clouds, ttl=0)
            readings = []
            for _ in range(rounds):
                started = time.perf_counter()
                reading = cold.usage("so-yte", {})
                readings.append(time.perf_counter() - started)
                assert not reading.error, reading.error
            print(f"cold reading of one project ({rounds} rounds): {_ms(readings)}")
            site = Path(scratch) / "aio"
            shutil.copytree(AIO, site, ignore=LOCAL_STATE)
            for label, reader in (("cold", cold), ("kept (ttl 60 s)", CloudUsage("reader", domain_name, clouds))):
                client = signed_in(make_app(site, Path(scratch) / f"state-{len(label)}", usage=reader), "binh")
                pages = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    assert 'id="usage"' in client.get("/tenants/so-yte").text
                    pages.append(time.perf_counter() - started)
                print(f"GET /tenants/so-yte, reading {label}: {_ms(pages)}")
            without = signed_in(make_app(site, Path(scratch) / "state-none"), "binh")
            pages = []
            for _ in range(rounds):
                started = time.perf_counter()
                without.get("/tenants/so-yte")
                pages.append(time.perf_counter() - started)
            print(f"GET /tenants/so-yte without usage: {_ms(pages)}")
    finally:
        admin.identity.delete_user(user, ignore_missing=True)


if __name__ == "__main__":
    main()
