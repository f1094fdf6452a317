"""The real Pulumi engine against the AIO (marker `aio`): what engineers run, end to end.

`hatang cloud` drives the engine built by scripts/pulumi-tools with the repository's programs, the
OpenStack plugin talking to the AIO's Keystone/Neutron/Nova/Cinder through its TLS front, and the
CrossGuard pack inside the engine. Proven here: `up` then `preview` changes nothing; a tenant's
whole life (approved -> created, quota edited -> updated in place, a mistaken removal refused by
`protect` with nothing deleted, retired -> project disabled, past its grace period -> deleted);
a change made by hand in the cloud is drift (exit 1) and `up --refresh` undoes it; a mandatory
policy violation stops `up` before anything is created; `destroy` refuses protected resources;
`up` skips the stacks of tenants unchanged since their last `up` (`--refresh` runs them all).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra import engine
from infra.cli import app
from infra.quotas import resolve_profile
from infra.site import load_site
from infra.tenants import retire_tenant
from infra.validate import load_valid_site
from tests.conftest import AIO, REPO
from tests.integration.conftest import AioCloud, cloud_cli

pytestmark = pytest.mark.aio

SUBJECT = "phuong-mau"  # the AIO agency without a tenant: the lifecycle's subject
SMALL = "so-yte"
BY = "test@aio.example"


def _counts(out: str, stack: str, operation: str) -> dict[str, int]:
    """The change counts `hatang cloud` printed for a stack: `platform`, `tenants` (every tenant's
    stack summed) or `tenants/<code>` (one tenant's stack)."""
    line = re.search(rf"^aio/{stack}: {operation}: (.*)$", out, re.MULTILINE)
    assert line, out
    return {kind: int(n) for kind, n in re.findall(r"([a-z-]+) (\d+)", line.group(1))}


def _project(conn: Any, code: str) -> Any:
    domain = conn.identity.find_domain("agencies", ignore_missing=False)
    return conn.identity.find_project(code, domain_id=domain.id)


# --------------------------------------------------------------------------- idempotence


def test_up_then_the_readme_preview_changes_nothing(applied: AioCloud) -> None:
    """The README's `hatang cloud preview`, as written, from a shell with no virtualenv activated."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (line,) = [line for line in readme.splitlines() if "hatang cloud preview" in line]
    command = line.split("#", 1)[0]
    result = subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ.get("HOME", "/root"),
             **{k: v for k, v in os.environ.items() if k.startswith("HATANG_")}},
    )  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    for stack in engine.STACKS:
        counts = _counts(result.stdout, stack, "preview")
        assert set(counts) == {"same"} and counts["same"] > 30, result.stdout
    assert "hatang@v0.0.1" in result.stderr, "the policy pack did not run inside the engine"


# --------------------------------------------------------------------------- a tenant's life


def _subject_site(tmp_path: Path) -> Path:
    """A copy of the AIO site with the subject's request filed and approved, as an approver does."""
    root = tmp_path / "aio"
    shutil.copytree(AIO, root)
    for args in (
        ["new", "--code", SUBJECT, "--agency", SUBJECT, "--name", "UBND phường mẫu (thử vòng đời)", "--level", "2",
         "--profile", "S", "--contact", f"Kỹ sư <{BY}>", "--network", "app:dmz"],
        ["approve", SUBJECT],
    ):  # fmt: skip
        result = CliRunner().invoke(app, ["tenant", *args, "-i", str(root), "--by", BY])
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def subject_site(applied: AioCloud, tmp_path: Path) -> Iterator[Path]:
    """The subject's site; afterwards the subject is gone from the cloud and the state, whatever happened."""
    root = _subject_site(tmp_path)
    yield root
    retire_tenant(root, SUBJECT, by=BY, reason="test cleanup")  # nothing to do when the test retired it
    for later in ([], ["--as-of", (datetime.now(UTC) + timedelta(days=3650)).isoformat()]):
        code, out, err = cloud_cli(applied, "up", "--stack", "tenants", "--refresh", *later, inventory=root)
        assert code == 0, out + err


def test_tenant_lifecycle_through_the_engine(applied: AioCloud, subject_site: Path) -> None:
    conn, root = applied.conn, subject_site
    site = load_site(root)
    subject = site.tenant(SUBJECT)
    assert subject is not None and subject.allocation is not None

    # approved -> `up` creates the whole tenant, at the addresses the ledger recorded
    code, out, err = cloud_cli(applied, "up", "--stack", "tenants", inventory=root)
    assert code == 0, out + err
    counts = _counts(out, "tenants", "up")
    assert counts.get("create", 0) >= 25 and set(counts) == {"create", "same"}, out
    project = _project(conn, SUBJECT)
    assert project is not None and project.is_enabled
    cidrs = {s.cidr for s in conn.network.subnets(project_id=project.id)}
    app = subject.allocation.networks["app"]
    assert cidrs == {str(app.ipv4), str(app.ipv6)}

    # a quota profile edited by hand in the request -> updated in place, nothing replaced
    path = root / "tenants" / f"{SUBJECT}.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("quota_profile: S", "quota_profile: M"), encoding="utf-8")
    code, out, err = cloud_cli(applied, "up", "--stack", "tenants", inventory=root)
    assert code == 0, out + err
    assert set(_counts(out, "tenants", "up")) == {"update", "same"}, out
    # the other tenants' stacks, applied by the up above with this site, are not run again
    assert f"aio/tenants/{SMALL}: up: unchanged (skipped)" in out.splitlines(), out
    wanted = resolve_profile("M", load_site(root).profiles)
    assert conn.compute.get_quota_set(project.id).instances == wanted.compute.instances
    assert _project(conn, SUBJECT).id == project.id

    # the request and its ledger entries removed by mistake -> `protect` refuses, nothing deleted
    gone = root.parent / "gone"
    shutil.copytree(root, gone)
    (gone / "tenants" / f"{SUBJECT}.yml").unlink()
    ledger = (gone / "ledger.yml").read_text(encoding="utf-8")
    (gone / "ledger.yml").write_text(ledger[: ledger.index(f'tenant: "{SUBJECT}"')].rsplit("  - ", 1)[0],
                                     encoding="utf-8")  # fmt: skip
    assert load_valid_site(gone).tenant(SUBJECT) is None  # a site validate cannot tell from a true one
    before = _inventory(conn, project.id)
    code, out, err = cloud_cli(applied, "up", "--stack", "tenants", inventory=gone)
    assert code == 2, out + err
    assert "protected resource" in err and f"{SUBJECT}-net-app" in err and "nothing was changed" in err, err
    assert _inventory(conn, project.id) == before

    # retired -> the project is disabled and kept (the grace period)
    retire_tenant(root, SUBJECT, by=BY, reason="lifecycle test")
    code, out, err = cloud_cli(applied, "up", "--stack", "tenants", inventory=root)
    assert code == 0, out + err
    assert _project(conn, SUBJECT).is_enabled is False
    assert _inventory(conn, project.id) == before

    # past the grace period -> preview shows the removal (exit 1), up deletes every resource
    later = (datetime.now(UTC) + timedelta(days=load_site(root).info.retire_grace_days + 1)).isoformat()
    code, out, err = cloud_cli(applied, "preview", "--stack", "tenants", "--as-of", later, inventory=root)
    assert code == 1, out + err
    # everything its own stack created but the stack itself (its state, removed by the next up)
    assert _counts(out, f"tenants/{SUBJECT}", "preview")["delete"] == counts["create"] - 1, out
    code, out, err = cloud_cli(applied, "up", "--stack", "tenants", "--as-of", later, inventory=root)
    assert code == 0, out + err
    states = engine.Workspace.of(site).backend / ".pulumi" / "stacks" / "hatang-tenants"
    assert not (states / f"aio.{SUBJECT}.json").exists() and (states / f"aio.{SMALL}.json").exists()
    assert _project(conn, SUBJECT) is None
    assert not list(conn.network.networks(project_id=project.id))
    assert not list(conn.identity.groups(name=f"{SUBJECT}-admins"))

    # and the AIO's own site is exactly what the cloud holds again
    code, out, err = cloud_cli(applied, "preview", "--stack", "tenants")
    assert code == 0, out + err


def _inventory(conn: Any, project_id: str) -> dict[str, list[str]]:
    """What the tenant owns in Neutron and Keystone, by name."""
    return {
        "networks": sorted(n.name for n in conn.network.networks(project_id=project_id)),
        "subnets": sorted(s.cidr for s in conn.network.subnets(project_id=project_id)),
        "routers": sorted(r.name for r in conn.network.routers(project_id=project_id)),
        "rules": sorted(r.id for r in conn.network.security_group_rules(project_id=project_id)),
        "groups": sorted(g.name for g in conn.identity.groups() if g.name.startswith(f"{SUBJECT}-")),
        "roles": sorted(
            f"{a.group['id'] if a.group else a.user['id']}:{a.role['id']}"
            for a in conn.identity.role_assignments(scope_project_id=project_id)
        ),
    }


# --------------------------------------------------------------------------- drift


def _quota_by_hand(conn: Any, project: Any) -> None:
    conn.compute.update_quota_set(project.id, instances=97)


def _rule_deleted_by_hand(conn: Any, project: Any) -> None:
    group = next(iter(conn.network.security_groups(project_id=project.id, name="from-dmz")))
    rule = next(r for r in conn.network.security_group_rules(security_group_id=group.id) if r.direction == "ingress")
    conn.network.delete_security_group_rule(rule)


def _project_disabled_by_hand(conn: Any, project: Any) -> None:
    conn.identity.update_project(project, is_enabled=False)


@pytest.mark.parametrize("change", [_quota_by_hand, _rule_deleted_by_hand, _project_disabled_by_hand])
def test_hand_change_in_the_cloud_is_drift_and_up_undoes_it(
    applied: AioCloud, change: Callable[[Any, Any], None]
) -> None:
    conn = applied.conn
    project = _project(conn, SMALL)
    rules = sorted(r.id for r in conn.network.security_group_rules(project_id=project.id))
    change(conn, project)
    try:
        code, out, err = cloud_cli(applied, "preview", "--stack", "tenants")
        assert code == 1, out + err
        counts = _counts(out, "tenants", "preview")
        assert counts.get("update", 0) + counts.get("create", 0) >= 1, out
        assert "drift" in err
    finally:
        code, out, err = cloud_cli(applied, "up", "--stack", "tenants", "--refresh")
    assert code == 0, out + err
    code, out, err = cloud_cli(applied, "preview", "--stack", "tenants")
    assert code == 0, out + err
    tenant = load_site(AIO).tenant(SMALL)
    assert tenant is not None
    wanted = resolve_profile(tenant.quota_profile, load_site(AIO).profiles)
    assert conn.compute.get_quota_set(project.id).instances == wanted.compute.instances
    assert _project(conn, SMALL).is_enabled
    assert len(list(conn.network.security_group_rules(project_id=project.id))) == len(rules)


# --------------------------------------------------------------------------- the pack and protect

VIOLATIONS = {
    "ssh-from-any-ipv4": 'protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0", '
    'ethertype="IPv4"',
    "every-port-from-any-ipv6": 'protocol="tcp", remote_ip_prefix="::/0", ethertype="IPv6"',
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_mandatory_policy_violation_stops_up_before_anything_is_created(
    aio_cloud: AioCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A program that opens an admin port to the world (a code regression the site cannot express):
    the pack inside the engine refuses it and the cloud never sees the security group."""
    program = tmp_path / "program"
    program.mkdir()
    group = f"hatang-policy-probe-{name}"
    (program / "__main__.py").write_text(
        "import pulumi\nimport pulumi_openstack as openstack\n"
        "from infra.stacks._program import load_program_site, provider\n"
        "opts = pulumi.ResourceOptions(provider=provider(load_program_site()))\n"
        f"group = openstack.networking.SecGroup('probe', name='{group}', opts=opts)\n"
        "openstack.networking.SecGroupRule('probe-rule', direction='ingress', security_group_id=group.id, "
        f"{VIOLATIONS[name]}, opts=opts)\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(engine.PolicyViolationError, match="no-world-open-admin-ports"):
        engine.run(load_valid_site(AIO), "tenants", "up", cloud=aio_cloud.cloud, clouds_yaml=aio_cloud.clouds_yaml,
                   program=program)  # fmt: skip
    assert not list(aio_cloud.conn.network.security_groups(name=group))


def test_destroy_refuses_protected_resources_and_deletes_nothing(applied: AioCloud) -> None:
    project = _project(applied.conn, SMALL)
    before = {
        "rules": sorted(r.id for r in applied.conn.network.security_group_rules(project_id=project.id)),
        "routers": sorted(r.id for r in applied.conn.network.routers(project_id=project.id)),
    }
    code, out, err = cloud_cli(applied, "destroy", "--stack", "tenants")
    assert code == 2, out + err
    assert "protected resource" in err and f"{SMALL}-project" in err and "nothing was changed" in err, err
    after = {
        "rules": sorted(r.id for r in applied.conn.network.security_group_rules(project_id=project.id)),
        "routers": sorted(r.id for r in applied.conn.network.routers(project_id=project.id)),
    }
    assert after == before


# --------------------------------------------------------------------------- empty states


def test_engine_previews_both_stacks_from_an_empty_state(
    aio_cloud: AioCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path))
    code, out, err = cloud_cli(aio_cloud, "preview")
    assert code == 1, out + err  # an empty state: everything is to be created, which is a change
    assert _counts(out, "platform", "preview")["create"] >= 30, out
    assert _counts(out, "tenants", "preview")["create"] >= 60, out
    assert "[mandatory]" not in err
    assert "so-khcn" in err and "so-yte" in err  # the tenants program's output names the AIO's tenants


def test_engine_refresh_of_an_empty_state_changes_nothing(
    aio_cloud: AioCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATANG_STATE_DIR", str(tmp_path))
    code, out, err = cloud_cli(aio_cloud, "refresh", "--stack", "platform")
    assert code == 0, out + err
    assert "aio/platform: refresh:" in out


# --------------------------------------------------------------------------- one stack per tenant


def test_each_tenant_has_its_own_stack_and_can_be_run_alone(applied: AioCloud) -> None:
    site = load_valid_site(AIO)
    states = engine.Workspace.of(site).backend / ".pulumi" / "stacks" / "hatang-tenants"
    assert sorted(p.name for p in states.glob("*.json")) == sorted(f"aio.{t.code}.json" for t in site.tenants)
    code, out, err = cloud_cli(applied, "preview", "--stack", "tenants", "--tenant", SMALL)
    assert code == 0, out + err
    assert _counts(out, f"tenants/{SMALL}", "preview")["same"] > 20, out
    assert "aio/tenants/so-khcn" not in out, out  # the other tenant's stack was not run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "tenants", "--tenant", "no-such-agency"], "no-such-agency: no such tenant stack"),
        (["--tenant", SMALL], "applies to the tenants stack"),
    ],
)
def test_a_tenant_the_site_does_not_have_is_refused(applied: AioCloud, args: list[str], message: str) -> None:
    code, out, err = cloud_cli(applied, "up", *args)
    assert code == 2, out + err
    assert message in err and "Traceback" not in out + err, err


def test_the_pack_in_the_engine_knows_the_platform_zone_networks(applied: AioCloud) -> None:
    """The engine does not tell the pack which zone a network id is: `hatang cloud` passes the
    platform's export as the pack's config (level3-internet-only-via-dmz judges gateways by it)."""
    config = engine.Workspace.of(load_valid_site(AIO)).project_dir("tenants") / "policy-config.json"
    ids = json.loads(config.read_text(encoding="utf-8"))["level3-internet-only-via-dmz"]["externalNetworkIds"]
    for zone in ("gov", "dmz"):
        (network,) = applied.conn.network.networks(tags=["hatang:scope=platform", f"hatang:zone={zone}"])
        assert ids[zone] == network.id
