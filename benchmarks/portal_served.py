"""The portal as the AIO serves it (roles/portal behind the TLS front): pages under concurrent
agency users, submit to commit, and the portal's memory.

Needs the AIO up and its site applied (`hatang cloud up -i inventories/aio`). Makes a temporary
user of agency so-yte (deleted at the end); each simulated user is its own session (its own
sign-in), all from this machine to https://10.99.2.10:8444/. Prints: each page's median and p95
with `--users` sessions each loading `--rounds` times the tenants' list and a tenant's page (usage
kept 60 s by the portal); one request filed (submit -> the portal's 303 -> the branch on the
AIO's stand-in Git server); the unit's memory before and after.

    .venv/bin/python benchmarks/portal_served.py [--users 20] [--rounds 10]
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra import aio, testhosts
from infra.audit.cloud import connect
from infra.services import catalogue
from infra.specs.cloud import agency_group
from infra.validate import load_valid_site
from tests.conftest import AIO

AGENCY = "so-yte"
CONTAINER = testhosts.container_name("aio", "aio1")
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    median, top = statistics.median(ordered), ordered[-1]
    return f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {top * 1000:.0f} ms"


def _memory() -> str:
    """The portal process's resident memory (a test host's systemd keeps no per-unit memory count)."""
    pid = subprocess.run(["podman", "exec", CONTAINER, "systemctl", "show", "hatang-portal", "-p", "MainPID",
                          "--value"], capture_output=True, text=True, check=True).stdout.strip()
    rss = subprocess.run(["podman", "exec", CONTAINER, "ps", "-o", "rss=", "-p", pid],
                         capture_output=True, text=True, check=True).stdout.strip()
    return f"RSS {int(rss) / 1024:.0f} MiB"


def _post(session: requests.Session, url: str, **fields: str) -> requests.Response:
    form = session.get(url)
    found = TOKEN.search(form.text)
    assert found, form.text[:300]
    return session.post(url.split("?")[0], data={**fields, "csrf_token": found.group(1)}, allow_redirects=False)


def _session(portal: str, cafile: Path, name: str, password: str) -> requests.Session:
    session = requests.Session()
    session.verify = str(cafile)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE wins over verify (requests #3829)
    signed = _post(session, f"{portal}signin", username=name, password=password)
    assert signed.status_code == 303, signed.text[:300]
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    site = load_valid_site(AIO)
    portal = aio.web_urls(site)[catalogue().services["portal"].description]
    paths = aio.AioPaths.for_site(site)
    admin = connect(aio.CLOUD_NAME, paths.clouds_yaml)
    domain = admin.identity.find_domain(site.info.agencies_domain, ignore_missing=False)
    group = admin.identity.find_group(agency_group(AGENCY), domain_id=domain.id, ignore_missing=False)
    name, first = f"hatang-portal-bench-{secrets.token_hex(4)}", f"{secrets.token_urlsafe(18)}Aa1!"
    user = admin.identity.create_user(name=name, domain_id=domain.id, password=first, enabled=True,
                                      email=f"{name}@example.org")
    try:
        admin.identity.add_user_to_group(user, group)
        auth_url = admin.config.get_auth_args()["auth_url"]
        password = f"{secrets.token_urlsafe(18)}Bb2!"
        requests.post(f"{auth_url.rstrip('/')}/users/{user.id}/password", timeout=30, verify=str(paths.cacert),
                      json={"user": {"original_password": first, "password": password}}).raise_for_status()
        time.sleep(1.1)  # Keystone revokes tokens issued in the second of a password change
        print(f"portal {portal}; memory at start: {_memory()}")
        started = time.perf_counter()
        sessions = [_session(portal, paths.cacert, name, password) for _ in range(args.users)]
        each = (time.perf_counter() - started) / args.users
        print(f"{args.users} sign-ins (Keystone), one after another: {each * 1000:.0f} ms each")

        def browse(session: requests.Session) -> dict[str, list[float]]:
            times: dict[str, list[float]] = {"/tenants": [], f"/tenants/{AGENCY}": []}
            for _ in range(args.rounds):
                for page, samples in times.items():
                    begun = time.perf_counter()
                    response = session.get(f"{portal}{page.lstrip('/')}")
                    samples.append(time.perf_counter() - begun)
                    assert response.status_code == 200, (page, response.status_code)
            return times

        started = time.perf_counter()
        with ThreadPoolExecutor(args.users) as pool:
            results = list(pool.map(browse, sessions))
        wall = time.perf_counter() - started
        pages = args.users * args.rounds * 2
        for page in results[0]:
            print(f"{args.users} users x {args.rounds} GET {page}: {_stats([t for r in results for t in r[page]])}")
        print(f"{pages} pages in {wall:.1f} s: {pages / wall:.0f} pages/s")
        code = f"{AGENCY}-b{secrets.token_hex(3)}"
        fields = {"code": code, "name": f"Benchmark {code}", "agency": AGENCY, "security_level": "2",
                  "quota_profile": "S", "applications": "yte-tu-xa", "network_0": "app", "network_0_access": "gov",
                  "reason": "benchmark", "contact_name": name, "contact_email": f"{name}@example.org"}
        begun = time.perf_counter()
        filed = _post(sessions[0], f"{portal}request", **fields)
        answered = time.perf_counter() - begun
        assert filed.status_code == 303, filed.text[:500]
        branch = subprocess.run(["podman", "exec", CONTAINER, "git", "-c", "safe.directory=*", "-C",
                                 str(site.info.services.site_repo), "rev-parse", "--verify", f"request/{code}"],
                                capture_output=True, text=True, check=False)
        assert branch.returncode == 0, branch.stderr
        print(f"submit -> 303 with the branch pushed to the stand-in: {answered * 1000:.0f} ms")
        print(f"memory after: {_memory()}")
    finally:
        admin.identity.delete_user(user, ignore_missing=True)


if __name__ == "__main__":
    main()
