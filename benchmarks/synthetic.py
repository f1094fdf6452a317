"""Synthetic sites for benchmarks: the sample site's infrastructure with N generated tenants.

Usage: python benchmarks/synthetic.py N OUTDIR

Every generated tenant is approved with a real allocation (computed like `hatang tenant approve`
would, sequentially and first fit), hosts two applications, and the pools and hardware are
widened so that the site stays valid at any size up to 16,000 tenants.
"""

from __future__ import annotations

import ipaddress
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from infra.ledger import flatten, render
from infra.schema import LedgerEntry, TenantAllocation

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "inventories" / "thainguyen"
KINDS = ("department", "commune", "public_service_unit", "shared_platform")
PROFILES = ("S", "M", "S", "M", "L")


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False), encoding="utf-8")


def generate(count: int, target: Path) -> Path:
    """Write a valid site with `count` tenants to `target` and return it."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("tenants"))
    (target / "tenants").mkdir()
    _dump(
        target / "pools.yml",
        {
            "ipv4": "10.64.0.0/10",
            "tenant_prefix_v4": 24,
            "network_prefix_v4": 26,
            "ipv6": "fdb4:7e10:8000::/48",
            "network_prefix_v6": 64,
        },
    )
    capacity = yaml.safe_load((target / "capacity.yml").read_text(encoding="utf-8"))
    capacity["groups"]["compute"] = {"cores": 64 * max(1, count // 10), "ram_gb": 512 * max(1, count // 10)}
    capacity["groups"]["storage"] = {"disk_gb": 96000 * max(1, count // 10)}
    _dump(target / "capacity.yml", capacity)

    pool4 = ipaddress.IPv4Network("10.64.0.0/10").subnets(new_prefix=24)
    pool6 = ipaddress.IPv6Network("fdb4:7e10:8000::/48").subnets(new_prefix=64)
    agencies, applications, ledger = [], [], []
    for index in range(count):
        code = f"agency-{index:05d}"
        kind = KINDS[index % len(KINDS)]
        level = 2 + index % 2
        agencies.append({"code": code, "kind": kind, "name": f"Cơ quan số {index}", "name_en": f"Agency {index}"})
        apps = [f"app-{index:05d}-{n}" for n in range(2)]
        for n, app_id in enumerate(apps):
            applications.append(
                {
                    "id": app_id,
                    "name": f"Ứng dụng {index}-{n}",
                    "name_en": f"Application {index}-{n}",
                    "owner": code,
                    "security_level": level,
                    "hosting": "cloud" if n == 0 else "onprem",
                    **({"tenant": code} if n == 0 else {"wave": "2027-Q1"}),
                }
            )
        prefix = next(pool4)
        subnets = prefix.subnets(new_prefix=26)
        networks = {name: {"ipv4": str(next(subnets)), "ipv6": str(next(pool6))} for name in ("app", "db")}
        tenant = {
            "code": code,
            "agency": code,
            "name": f"Dự án của cơ quan số {index}",
            "security_level": level,
            "quota_profile": PROFILES[index % len(PROFILES)],
            "contacts": [{"name": "Người liên hệ", "email": f"contact{index}@example.org", "role": "requester"}],
            "networks": [{"name": "app", "access": ["gov"]}, {"name": "db", "access": []}],
            "applications": [apps[0]],
            "state": "active",
            "history": [
                {"state": "requested", "at": "2026-01-05T09:00:00+07:00", "by": "a@example.org", "reason": "new"},
                {"state": "approved", "at": "2026-02-05T09:00:00+07:00", "by": "b@example.org", "reason": "ok"},
                {"state": "active", "at": "2026-03-05T09:00:00+07:00", "by": "b@example.org", "reason": "deployed"},
            ],
            "allocation": {"ipv4": str(prefix), "networks": networks},
        }
        _dump(target / "tenants" / f"{code}.yml", tenant)
        allocation = TenantAllocation.model_validate(tenant["allocation"])
        ledger += [
            LedgerEntry(prefix=p, tenant=code, network=n, at="2026-02-05T09:00:00+07:00", by="b@example.org")
            for p, n in flatten(allocation)
        ]
    _dump(target / "agencies.yml", {"agencies": agencies})
    _dump(target / "applications.yml", {"applications": applications})
    (target / "ledger.yml").write_text(render(ledger), encoding="utf-8")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.exit("usage: synthetic.py N OUTDIR")
    print(generate(int(sys.argv[1]), Path(sys.argv[2])))
