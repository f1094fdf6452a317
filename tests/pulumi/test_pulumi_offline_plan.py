"""`hatang plan --resources`: the sample passes; each kind of violation fails naming resource and rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.offline_plan import NOTICE, build_resource_plan, diff_plans, plan_json
from tests.conftest import AIO
from tests.helpers import edit_yaml
from tests.pulumi.conftest import NOW


def test_sample_site_passes_the_policy_pack(site_copy: Path) -> None:
    plan = build_resource_plan(site_copy, now=NOW)
    assert (plan.violations, plan.duplicates, plan.problems, plan.failed) == ([], [], [], False)
    owners = set(plan.owners.values())
    assert {"vp-ubnd", "thainguyen-id", "(platform)"} <= owners and "so-tttt" not in owners


def _world_ssh(doc: Any) -> None:
    doc["flows"].append({"name": "world-ssh", "from": "any", "to": "tenants", "protocol": "tcp", "ports": [22],
                         "reason": "mistake"})


def _subnet_outside(doc: Any) -> None:
    doc["allocation"]["networks"]["app"]["ipv4"] = "10.99.4.0/24"


def _missing_quota_key(doc: Any) -> None:
    del doc["profiles"]["S"]["network"]["subnetpool"]


@pytest.mark.parametrize(
    ("file", "change", "policy", "resource"),
    [
        ("flows.yml", _world_ssh, "no-world-open-admin-ports", "SecGroupRule::so-gddt-sg-from-any-world-ssh-22-v4"),
        ("tenants/vp-ubnd.yml", _subnet_outside, "tenant-subnets-in-pools", "Subnet::vp-ubnd-net-app-v4"),
        ("profiles.yml", _missing_quota_key, "tenant-quotas-explicit", "QuotaV2::vp-ubnd-quota-network"),
    ],
)
def test_violation_fails_naming_resource_and_rule(site_copy: Path, file: str, change: Any, policy: str,
                                                  resource: str) -> None:
    edit_yaml(site_copy, file, change)
    plan = build_resource_plan(site_copy, now=NOW)
    assert plan.failed
    assert any(v.policy == policy and v.urn.endswith(resource) for v in plan.violations), plan.violations
    assert plan.problems  # the model's validator names the file and field too


def test_cli_plan_resources_exit_codes(site_copy: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["plan", "--resources", str(site_copy)])
    assert ok.exit_code == 0, ok.output
    assert "NOT a `pulumi preview`" in ok.output and "vp-ubnd" in ok.output
    edit_yaml(site_copy, "flows.yml", _world_ssh)
    bad = runner.invoke(app, ["plan", "--resources", str(site_copy)])
    # the site itself is invalid (the validator refuses world-open admin ports before the policy
    # pack could): bad input, exit 2, with the located problem and nothing rendered
    assert bad.exit_code == 2
    assert "flows.yml:" in bad.stderr and "nothing was changed" in bad.stderr
    assert "NOT a `pulumi preview`" not in bad.stdout


def test_cli_plan_resources_json_and_against(aio_copy: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["plan", "--resources", "--format", "json", str(aio_copy)])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["notice"] == NOTICE and data["site"] == "aio" and data["violations"] == []
    before = tmp_path / "before.json"
    before.write_text(first.stdout, encoding="utf-8")
    edit_yaml(aio_copy, "tenants/so-yte.yml", lambda d: d.__setitem__("quota_profile", "M"))
    second = runner.invoke(app, ["plan", "--resources", "--against", str(before), str(aio_copy)])
    assert second.exit_code == 0, second.output
    assert "~ change  so-yte: QuotaSetV2 so-yte-quota-compute" in second.output
    assert "0 to add, 2 to change, 0 to remove" in second.output


def test_diff_plans_adds_and_removes(aio_copy: Path) -> None:
    before = plan_json(build_resource_plan(AIO, now=NOW))
    edit_yaml(aio_copy, "tenants/so-yte.yml", lambda d: d.__setitem__("state", "retired") or d["history"].append(
        {"state": "retired", "at": "2026-11-20T10:00:00+07:00", "by": "t@aio.example", "reason": "test"}))
    after = plan_json(build_resource_plan(aio_copy, now=NOW))
    diff = diff_plans(before, after)
    assert not diff.added and not diff.removed
    project = next(r for r, delta in diff.changed if r["name"] == "so-yte-project")
    delta = dict(next(d for r, d in diff.changed if r is project))
    assert delta["enabled"] == (True, False) and delta["(protect)"] == (True, False)
    gone = plan_json(build_resource_plan(aio_copy, now=NOW.replace(year=2027, month=6)))
    assert any(r["owner"] == "so-yte" for r in diff_plans(after, gone).removed)
