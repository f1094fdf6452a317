"""The CLI: exit codes (0 ok, 1 findings, 2 bad input), located messages, nothing written on error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from infra.cli import app
from tests.helpers import snapshot

runner = CliRunner()


def test_validate_sample_ok(site_copy: Path) -> None:
    result = runner.invoke(app, ["validate", str(site_copy)])
    assert result.exit_code == 0, result.output
    assert "valid (8 zones, 17 flows, 17 hosts, 13 tenants, 17 applications)" in result.output


def test_validate_errors_exit_2_with_locations(site_copy: Path) -> None:
    zones = site_copy / "zones.yml"
    zones.write_text(zones.read_text(encoding="utf-8").replace("vlan: 11", "vlan: 10"), encoding="utf-8")
    hcc = site_copy / "tenants" / "hcc.yml"
    hcc.write_text(hcc.read_text(encoding="utf-8").replace("agency: ttpvhcc", "agency: nobody"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(site_copy)])
    assert result.exit_code == 2
    assert "thainguyen/tenants/hcc.yml:4: agency: unknown agency 'nobody'" in result.stderr
    assert "thainguyen/zones.yml:14: zones.1.vlan: duplicate VLAN ids: 10" in result.stderr
    assert "problem(s); nothing was changed." in result.stderr
    assert "Traceback" not in result.output


def test_validate_missing_folder_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no such inventory folder" in result.stderr


def test_validate_missing_file_exit_2(site_copy: Path) -> None:
    (site_copy / "flows.yml").unlink()
    result = runner.invoke(app, ["validate", str(site_copy)])
    assert result.exit_code == 2
    assert "missing site file(s): flows.yml" in result.stderr


def test_plan_json(site_copy: Path) -> None:
    result = runner.invoke(app, ["plan", str(site_copy), "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["site"] == "thainguyen"
    assert plan["tenant_states"] == {"active": 9, "approved": 1, "requested": 2, "retired": 1}
    vcpus = next(r for r in plan["capacity"] if r["resource"] == "vcpus")
    assert vcpus == {
        "resource": "vcpus",
        "capacity": 1984,
        "approved": 780,
        "pending": 40,
        "free": 1204,
        "used_percent": 39.3,
    }
    assert plan["applications"]["on_cloud"] == 11 and plan["applications"]["total"] == 17


def test_plan_table(site_copy: Path) -> None:
    result = runner.invoke(app, ["plan", str(site_copy)])
    assert result.exit_code == 0
    assert "Capacity" in result.stdout and "Applications on this cloud: 11 of 17" in result.stdout


def test_tenant_new_approve_flow(site_copy: Path) -> None:
    new = runner.invoke(
        app,
        [
            "tenant",
            "new",
            "-i",
            str(site_copy),
            "--code",
            "so-xd",
            "--agency",
            "so-khcn",
            "--name",
            "Sở Xây dựng",
            "--level",
            "2",
            "--profile",
            "S",
            "--contact",
            "Nguyễn An <an@example.org>",
            "--network",
            "app:gov",
            "--by",
            "t@example.org",
        ],
    )
    assert new.exit_code == 0, new.output
    approve = runner.invoke(app, ["tenant", "approve", "so-xd", "-i", str(site_copy), "--by", "t@example.org"])
    assert approve.exit_code == 0 and "so-xd: approved, 10.64.44.0/22" in approve.stdout
    again = runner.invoke(app, ["tenant", "approve", "so-xd", "-i", str(site_copy), "--by", "t@example.org"])
    assert again.exit_code == 0 and "(no change)" in again.stdout


def test_tenant_new_without_terminal_names_missing_flags(site_copy: Path) -> None:
    before = snapshot(site_copy)
    result = runner.invoke(app, ["tenant", "new", "-i", str(site_copy), "--code", "so-xd"], input="")
    assert result.exit_code == 2
    assert "--agency, --name, --level, --profile, --contact, --network: missing" in result.stderr
    assert snapshot(site_copy) == before


def test_tenant_new_bad_contact(site_copy: Path) -> None:
    result = runner.invoke(
        app,
        [
            "tenant",
            "new",
            "-i",
            str(site_copy),
            "--code",
            "so-xd",
            "--agency",
            "so-khcn",
            "--name",
            "X",
            "--level",
            "2",
            "--profile",
            "S",
            "--contact",
            "an@example.org",
            "--network",
            "app",
        ],
    )
    assert result.exit_code == 2
    assert "--contact: 'an@example.org' is not a contact (fix: write 'Name <email>'" in result.stderr


def test_tenant_retire_requires_reason(site_copy: Path) -> None:
    result = runner.invoke(app, ["tenant", "retire", "so-tc", "-i", str(site_copy)])
    assert result.exit_code == 2
    assert "Missing option '--reason'" in result.output


def test_tenant_reject_exit_codes(site_copy: Path) -> None:
    argv = ["tenant", "reject", "phuong-duc-xuan", "-i", str(site_copy), "--by", "t@example.org"]
    result = runner.invoke(app, [*argv, "--reason", "trùng với hcc"])
    assert result.exit_code == 0 and result.stdout.strip() == "phuong-duc-xuan: requested -> rejected", result.output
    again = runner.invoke(app, [*argv, "--reason", "trùng với hcc"])
    assert again.exit_code == 0 and again.stdout.strip() == "phuong-duc-xuan: already rejected (no change)"
    before = snapshot(site_copy)
    approve = runner.invoke(app, ["tenant", "approve", *argv[2:]])
    assert approve.exit_code == 2 and "is rejected (fix: file a new request with a new code)" in approve.stderr
    assert snapshot(site_copy) == before


def test_tenant_reject_refusals_exit_2_and_write_nothing(site_copy: Path) -> None:
    before = snapshot(site_copy)
    missing = runner.invoke(app, ["tenant", "reject", "phuong-duc-xuan", "-i", str(site_copy)])
    assert missing.exit_code == 2 and "Missing option '--reason'" in missing.output
    blank = runner.invoke(app, ["tenant", "reject", "phuong-duc-xuan", "-i", str(site_copy), "--reason", " "])
    assert blank.exit_code == 2
    assert blank.stderr.startswith("error: --reason: a rejection needs a reason the agency will read (fix: ")
    approved = runner.invoke(app, ["tenant", "reject", "so-tc", "-i", str(site_copy), "--reason", "x"])
    assert approved.exit_code == 2 and "only a requested tenant can be rejected (fix: " in approved.stderr
    unknown = runner.invoke(app, ["tenant", "reject", "nope", "-i", str(site_copy), "--reason", "x"])
    assert unknown.exit_code == 2 and "no tenant 'nope'" in unknown.stderr
    assert snapshot(site_copy) == before


def test_tenant_list_filters_by_state(site_copy: Path) -> None:
    runner.invoke(app, ["tenant", "reject", "phuong-duc-xuan", "-i", str(site_copy), "--reason", "x", "--by", "t@x.vn"])
    rejected = runner.invoke(app, ["tenant", "list", "-i", str(site_copy), "--state", "rejected"])
    rows = [line for line in rejected.stdout.splitlines() if line.startswith("│")]
    assert rejected.exit_code == 0 and len(rows) == 1 and "│ phuong-duc-x" in rows[0] and "rejected" in rows[0]
    both = runner.invoke(app, ["tenant", "list", "-i", str(site_copy), "--state", "requested", "--state", "retired"])
    states = sorted(line.split("│")[3].strip() for line in both.stdout.splitlines() if line.startswith("│"))
    assert states == ["requested", "retired"]
    bad = runner.invoke(app, ["tenant", "list", "-i", str(site_copy), "--state", "pending"])
    assert bad.exit_code == 2 and "'pending' is not one of" in bad.output


def test_tenant_list_and_show(site_copy: Path) -> None:
    listed = runner.invoke(app, ["tenant", "list", "-i", str(site_copy)])
    assert listed.exit_code == 0 and "so-tttt" in listed.stdout
    shown = runner.invoke(app, ["tenant", "show", "hcc", "-i", str(site_copy)])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["allocation"]["ipv4"] == "10.64.12.0/22"
    missing = runner.invoke(app, ["tenant", "show", "nope", "-i", str(site_copy)])
    assert missing.exit_code == 2 and "'nope': no such tenant" in missing.stderr


def test_console_script_runs(site_copy: Path) -> None:
    hatang = Path(sys.executable).with_name("hatang")
    result = subprocess.run([str(hatang), "validate", str(site_copy)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
