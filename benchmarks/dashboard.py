"""Benchmark: the AIO's dashboard (Horizon behind the TLS front) under concurrent agency users.

A throwaway member of so-yte (no first-use password change: a benchmark user) signs in; then, for
each size N, N threads each open N_REQUESTS pages at once: the sign-in page (no session) and the
project's overview (a signed-in page: Keystone, Nova, Neutron and Cinder are asked for the
quotas and usage). Printed per size and page: median and 95th-percentile seconds, and requests per
second; then the sign-in time and the dashboard's memory (its uwsgi processes' RSS).
Loopback/podman network only. Needs the AIO up with its tenants (scripts/quickstart).
Usage: python benchmarks/dashboard.py [SIZES...]   (default: 1 5 20)
"""

from __future__ import annotations

import concurrent.futures
import re
import secrets
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra import aio, testhosts
from infra.audit.cloud import connect
from infra.validate import load_valid_site

SITE = load_valid_site(Path(__file__).resolve().parents[1] / "inventories" / "aio")
N_REQUESTS = 5
"""Pages each simulated user opens, one after the other."""


def _session(cafile: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace the AIO's CA
    session.verify = cafile
    return session


def _sign_in(base: str, cafile: str, name: str, password: str) -> tuple[requests.Session, float]:
    session = _session(cafile)
    started = time.perf_counter()
    page = session.get(f"{base}auth/login/", timeout=60).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    answer = session.post(f"{base}auth/login/", timeout=120, headers={"Referer": f"{base}auth/login/"}, data={
        "csrfmiddlewaretoken": token.group(1), "username": name, "password": password,
        "domain": SITE.info.agencies_domain, "region": "default",
    })
    assert "/project/" in answer.url, f"sign-in failed: ended at {answer.url}"
    return session, time.perf_counter() - started


def _user_pages(session: requests.Session, url: str) -> list[float]:
    times = []
    for _ in range(N_REQUESTS):
        started = time.perf_counter()
        answer = session.get(url, timeout=120)
        answer.raise_for_status()
        times.append(time.perf_counter() - started)
    return times


def _load(sessions: list[requests.Session], url: str) -> tuple[list[float], float]:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(sessions)) as pool:
        results = list(pool.map(lambda s: _user_pages(s, url), sessions))
    return [t for r in results for t in r], time.perf_counter() - started


def _rss_mib(container: str) -> float:
    out = testhosts.exec_in(container, ["ps", "-C", "uwsgi_python3,uwsgi", "-o", "rss=,args="]).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if "horizon" in line) / 1024


def main(sizes: list[int]) -> None:
    paths = aio.AioPaths.for_site(SITE)
    (base,) = aio.web_urls(SITE).values()
    cafile = str(paths.cacert)
    conn = connect(aio.CLOUD_NAME, paths.clouds_yaml)
    domain = conn.identity.find_domain(SITE.info.agencies_domain, ignore_missing=False)
    group = conn.identity.find_group("so-yte-members", domain_id=domain.id, ignore_missing=False)
    name, first_password = f"hatang-bench-{secrets.token_hex(4)}", f"{secrets.token_urlsafe(18)}Aa1!"
    user = conn.identity.create_user(name=name, domain_id=domain.id, password=first_password, enabled=True)
    password = f"{secrets.token_urlsafe(18)}Bb2!"
    # Keystone wants a new password at first use: the user changes it, as in the dashboard
    keystone = conn.config.get_auth_args()["auth_url"].rstrip("/").removesuffix("/v3")
    _session(cafile).post(f"{keystone}/v3/users/{user.id}/password", timeout=60, json={
        "user": {"password": password, "original_password": first_password}}).raise_for_status()
    time.sleep(1.1)  # Keystone revokes tokens issued in the second of a password change
    container = f"hatang-{SITE.name}-{SITE.hosts[0].name}"
    try:
        conn.identity.add_user_to_group(user, group)
        first, signed_in = _sign_in(base, cafile, name, password)
        print(f"dashboard {base}: sign-in {signed_in:.2f} s; memory {_rss_mib(container):.0f} MiB before load")
        print(f"{'users':>5} {'page':<10} {'median s':>9} {'p95 s':>7} {'req/s':>6}")
        for size in sizes:
            anonymous = [_session(cafile) for _ in range(size)]
            for page, sessions, url in (
                ("sign-in", anonymous, f"{base}auth/login/"),
                ("overview", [first] * size, f"{base}project/"),
            ):
                times, wall = _load(sessions, url)
                p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
                print(f"{size:>5} {page:<10} {statistics.median(times):>9.3f} {p95:>7.3f} {len(times) / wall:>6.1f}")
        print(f"memory after load: {_rss_mib(container):.0f} MiB (uwsgi, horizon)")
    finally:
        conn.identity.delete_user(user, ignore_missing=True)
        conn.close()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 5, 20])
