"""Tenant lifecycle commands edit request files in place, keep comments, and refuse cleanly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.errors import InventoryError, RequestError
from infra.schema import TenantState
from infra.site import display_path, load_site
from infra.tenants import (
    NewTenant,
    activate_tenant,
    approve_tenant,
    create_tenant,
    reject_tenant,
    retire_tenant,
    set_profile,
)
from infra.validate import check_site
from tests.helpers import snapshot

AT = datetime(2026, 11, 28, 9, 0, tzinfo=timezone(timedelta(hours=7)))
BY = "reviewer@example.org"


def test_approve_allocates_and_keeps_comments(site_copy: Path) -> None:
    path = site_copy / "tenants" / "phuong-duc-xuan.yml"
    before = path.read_text(encoding="utf-8")
    change = approve_tenant(site_copy, "phuong-duc-xuan", BY, "ok", at=AT)
    after = path.read_text(encoding="utf-8")
    assert change.changed
    assert after.startswith(before.split("state:")[0]), "the header, comments and fields before state are kept"
    assert "state: approved" in after
    assert "  ipv4: 10.64.44.0/22\n" in after
    assert "app: {ipv4: 10.64.44.0/24, ipv6: fdb4:7e10:8000:17::/64}" in after
    assert "    at: '2026-11-28T09:00:00+07:00'\n    by: reviewer@example.org\n" in after
    assert check_site(site_copy) == []


def test_approve_twice_changes_nothing(site_copy: Path) -> None:
    approve_tenant(site_copy, "phuong-duc-xuan", BY, at=AT)
    before = snapshot(site_copy)
    change = approve_tenant(site_copy, "phuong-duc-xuan", BY, at=AT + timedelta(days=1))
    assert not change.changed
    assert snapshot(site_copy) == before


def test_approve_two_requests_get_distinct_prefixes(site_copy: Path) -> None:
    approve_tenant(site_copy, "phuong-duc-xuan", BY, at=AT)
    approve_tenant(site_copy, "phuong-phan-dinh-phung", BY, at=AT)
    text = (site_copy / "tenants" / "phuong-phan-dinh-phung.yml").read_text(encoding="utf-8")
    assert "  ipv4: 10.64.48.0/22\n" in text
    assert check_site(site_copy) == []


def test_approve_refused_on_invalid_site_writes_nothing(site_copy: Path) -> None:
    zones = site_copy / "zones.yml"
    zones.write_text(zones.read_text(encoding="utf-8").replace("vlan: 11", "vlan: 10"), encoding="utf-8")
    before = snapshot(site_copy)
    with pytest.raises(InventoryError, match="duplicate VLAN ids"):
        approve_tenant(site_copy, "phuong-duc-xuan", BY, at=AT)
    assert snapshot(site_copy) == before


def test_approve_unknown_tenant(site_copy: Path) -> None:
    with pytest.raises(RequestError, match=r"no tenant 'so-abc'"):
        approve_tenant(site_copy, "so-abc", BY)


def test_approve_retired_refused(site_copy: Path) -> None:
    with pytest.raises(RequestError, match=r"tenant 'so-tttt' is retired"):
        approve_tenant(site_copy, "so-tttt", BY)


def test_pool_exhausted_refused_and_nothing_written(site_copy: Path) -> None:
    pools = site_copy / "pools.yml"
    pools.write_text(pools.read_text(encoding="utf-8").replace("10.64.0.0/12", "10.64.0.0/18"), encoding="utf-8")
    # a /18 holds 16 /22s: 11 are allocated; fill the other 5 with copies of a request
    template = (site_copy / "tenants" / "phuong-phan-dinh-phung.yml").read_text(encoding="utf-8")
    for index in range(5):
        code = f"xa-mau-{index}"
        (site_copy / "tenants" / f"{code}.yml").write_text(
            template.replace("phuong-phan-dinh-phung", code)
            .replace("UBND phường Phan Đình Phùng", f"Xã mẫu {index}")
            .replace("agency: " + code, "agency: phuong-phan-dinh-phung"),
            encoding="utf-8",
        )
        approve_tenant(site_copy, code, BY, at=AT)
    before = snapshot(site_copy)
    with pytest.raises(RequestError, match=r"pool 10.64.0.0/18 has no free /22 left"):
        approve_tenant(site_copy, "phuong-phan-dinh-phung", BY, at=AT)
    assert snapshot(site_copy) == before


def test_activate_and_retire(site_copy: Path) -> None:
    assert activate_tenant(site_copy, "so-tc", BY, at=AT).changed
    change = retire_tenant(site_copy, "so-tc", BY, "merged", at=AT + timedelta(days=1))
    assert change.summary == "so-tc: active -> retired"
    text = (site_copy / "tenants" / "so-tc.yml").read_text(encoding="utf-8")
    assert "state: retired" in text and "ipv4: 10.64.40.0/22" in text, "retiring keeps the allocation"
    assert check_site(site_copy) == []


def test_activate_requested_refused(site_copy: Path) -> None:
    with pytest.raises(RequestError, match="only a approved tenant can become active"):
        activate_tenant(site_copy, "phuong-duc-xuan", BY)


def _new(code: str = "so-xd", **changes: object) -> NewTenant:
    fields: dict[str, object] = {
        "code": code,
        "agency": "so-khcn",
        "name": "Sở Xây dựng",
        "security_level": 2,
        "quota_profile": "S",
        "contacts": ({"name": "Nguyễn An", "email": "an@example.org", "role": "requester"},),
        "networks": ({"name": "app", "access": ["gov"]},),
    }
    fields.update(changes)
    return NewTenant(**fields)  # type: ignore[arg-type]


def test_create_writes_valid_request(site_copy: Path) -> None:
    change = create_tenant(site_copy, _new(), BY, "new system", at=AT)
    assert change.path == site_copy / "tenants" / "so-xd.yml"
    assert check_site(site_copy) == []
    assert "state: requested" in change.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["?0", "-x", ":x", "[x]", "&x", "!x", "%x", "@x", "`x", "#x"])
def test_create_quotes_text_starting_with_an_indicator(site_copy: Path, name: str) -> None:
    contact = {"name": name, "email": "an@example.org", "role": "requester"}
    create_tenant(site_copy, _new(name=name, contacts=(contact,)), BY, name, at=AT)
    tenant = load_site(site_copy).tenant("so-xd")
    assert tenant is not None and (tenant.name, tenant.contacts[0].name) == (name, name)


def test_create_existing_code_refused(site_copy: Path) -> None:
    with pytest.raises(RequestError, match="codes are never reused"):
        create_tenant(site_copy, _new("so-tttt"), BY, "again")


def test_create_invalid_request_writes_nothing(site_copy: Path) -> None:
    before = snapshot(site_copy)
    with pytest.raises(InventoryError) as info:
        create_tenant(site_copy, _new(security_level=4, quota_profile="XXL", agency="nobody"), BY, "bad")
    messages = sorted(p.message for p in info.value.problems)
    assert messages == ["unknown agency 'nobody'", "unknown quota profile 'XXL'"]
    assert snapshot(site_copy) == before


# --------------------------------------------------------------------------- reject


def test_reject_requested_tenant_records_who_and_why(site_copy: Path) -> None:
    ledger = (site_copy / "ledger.yml").read_bytes()
    change = reject_tenant(site_copy, "phuong-duc-xuan", BY, "cần cấp độ 3", at=AT)
    assert (change.changed, change.summary) == (True, "phuong-duc-xuan: requested -> rejected")
    tenant = load_site(site_copy).tenant("phuong-duc-xuan")
    assert tenant is not None and tenant.state == TenantState.REJECTED and tenant.allocation is None
    last = tenant.history[-1]
    assert (last.state, last.at, last.by, last.reason) == (TenantState.REJECTED, AT, BY, "cần cấp độ 3")
    assert (site_copy / "ledger.yml").read_bytes() == ledger, "a rejected request gets no addresses"
    assert check_site(site_copy) == []


def test_reject_twice_changes_nothing(site_copy: Path) -> None:
    reject_tenant(site_copy, "phuong-duc-xuan", BY, "no", at=AT)
    before = snapshot(site_copy)
    change = reject_tenant(site_copy, "phuong-duc-xuan", BY, "again", at=AT + timedelta(days=1))
    assert (change.changed, change.summary) == (False, "phuong-duc-xuan: already rejected")
    assert snapshot(site_copy) == before


@pytest.mark.parametrize(
    ("code", "state", "fix"),
    [
        ("so-tc", "approved", "an approved tenant is taken back with `hatang tenant retire so-tc --reason …`"),
        ("hcc", "active", "an active tenant is taken back with `hatang tenant retire hcc --reason …`"),
        ("so-tttt", "retired", "nothing to do: it was approved, and is retired already"),
    ],
)
def test_reject_refused_past_requested_writes_nothing(site_copy: Path, code: str, state: str, fix: str) -> None:
    before = snapshot(site_copy)
    with pytest.raises(RequestError) as info:
        reject_tenant(site_copy, code, BY, "too late", at=AT)
    path = display_path(site_copy / "tenants" / f"{code}.yml")
    assert str(info.value) == (
        f"{path}: state: tenant {code!r} is {state}; only a requested tenant can be rejected (fix: {fix})"
    )
    assert snapshot(site_copy) == before


def test_reject_unknown_tenant(site_copy: Path) -> None:
    before = snapshot(site_copy)
    with pytest.raises(RequestError, match=r"no tenant 'so-abc' \(known: "):
        reject_tenant(site_copy, "so-abc", BY, "no such request")
    assert snapshot(site_copy) == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_reject_needs_a_reason(site_copy: Path, reason: str) -> None:
    before = snapshot(site_copy)
    with pytest.raises(RequestError) as info:
        reject_tenant(site_copy, "phuong-duc-xuan", BY, reason)
    assert str(info.value) == (
        "--reason: a rejection needs a reason the agency will read (fix: say why, e.g. --reason 'cần cấp độ 3')"
    )
    assert snapshot(site_copy) == before


def test_reject_refuses_a_multi_line_reason(site_copy: Path) -> None:
    with pytest.raises(RequestError, match=r"^--reason: must be one line of printable text"):
        reject_tenant(site_copy, "phuong-duc-xuan", BY, "one\ntwo")


def test_rejected_request_is_final(site_copy: Path) -> None:
    reject_tenant(site_copy, "phuong-duc-xuan", BY, "duplicate of hcc", at=AT)
    before = snapshot(site_copy)
    path = display_path(site_copy / "tenants" / "phuong-duc-xuan.yml")
    with pytest.raises(RequestError) as approving:
        approve_tenant(site_copy, "phuong-duc-xuan", BY)
    assert str(approving.value) == (
        f"{path}: state: tenant 'phuong-duc-xuan' is rejected (fix: file a new request with a new code)"
    )
    with pytest.raises(RequestError, match="tenant 'phuong-duc-xuan' is rejected; only a approved tenant can"):
        activate_tenant(site_copy, "phuong-duc-xuan", BY)
    with pytest.raises(RequestError, match="tenant 'phuong-duc-xuan' is rejected; only a approved or active"):
        retire_tenant(site_copy, "phuong-duc-xuan", BY, "gone")
    assert snapshot(site_copy) == before


def test_rejected_code_is_not_requested_again(site_copy: Path) -> None:
    reject_tenant(site_copy, "phuong-duc-xuan", BY, "wrong profile", at=AT)
    with pytest.raises(RequestError) as info:
        create_tenant(site_copy, _new("phuong-duc-xuan"), BY, "again")
    assert str(info.value) == (
        f"{display_path(site_copy / 'tenants' / 'phuong-duc-xuan.yml')}: code: 'phuong-duc-xuan' was rejected; the "
        "file is the record of that decision and codes are never reused (fix: choose another --code)"
    )


def test_reject_refused_when_an_interrupted_approval_recorded_addresses(site_copy: Path) -> None:
    path = site_copy / "tenants" / "phuong-duc-xuan.yml"
    request = path.read_bytes()
    approve_tenant(site_copy, "phuong-duc-xuan", BY, at=AT)
    path.write_bytes(request)  # as if killed after the ledger was written, before the file
    before = snapshot(site_copy)
    with pytest.raises(RequestError) as info:
        reject_tenant(site_copy, "phuong-duc-xuan", BY, "late")
    assert str(info.value) == (
        f"{display_path(site_copy / 'ledger.yml')}: tenant 'phuong-duc-xuan' holds 10.64.44.0/22, "
        "10.64.44.0/24, fdb4:7e10:8000:17::/64: an approval was interrupted, and a request with addresses is not "
        "rejected (fix: `hatang tenant approve phuong-duc-xuan` to finish it, then "
        "`hatang tenant retire phuong-duc-xuan`)"
    )
    assert snapshot(site_copy) == before


def test_set_profile_moves_quota_and_records_why(site_copy: Path) -> None:
    path = site_copy / "tenants" / "so-tc.yml"
    before, ledger = path.read_text(encoding="utf-8"), (site_copy / "ledger.yml").read_bytes()
    change = set_profile(site_copy, "so-tc", "L", BY, "yes", at=AT + timedelta(days=400))
    assert change.summary == "so-tc: quota profile M -> L" and change.changed
    tenant = load_site(site_copy).tenant("so-tc")
    assert tenant is not None and tenant.quota_profile == "L" and tenant.state == TenantState.APPROVED
    last = tenant.history[-1]
    assert (last.state, last.by, last.reason) == (TenantState.APPROVED, BY, "quota profile M -> L: yes")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(before.splitlines()[0]), "comments kept"
    assert text[text.index("allocation:"):] == before[before.index("allocation:"):], "allocation kept"
    assert (site_copy / "ledger.yml").read_bytes() == ledger, "addresses do not depend on the profile"
    assert check_site(site_copy) == []


def test_set_profile_to_the_same_profile_changes_nothing(site_copy: Path) -> None:
    before = snapshot(site_copy)
    change = set_profile(site_copy, "so-tc", "M", BY, "again")
    assert (change.changed, change.summary) == (False, "so-tc: already on quota profile M")
    assert snapshot(site_copy) == before


@pytest.mark.parametrize(
    ("code", "profile", "reason", "error", "message"),
    [
        ("so-tc", "XXL", "more", InventoryError,
         "quota_profile: unknown quota profile 'XXL' (fix: use one of: L, M, S, XL)"),
        ("so-tc", "yes", "more", InventoryError, "quota_profile: unknown quota profile 'yes' (fix: use one of: L,"),
        ("so-tc", "x y", "more", InventoryError, "quota_profile: String should match pattern"),
        ("so-tc", "L", " ", RequestError, "--reason: a profile change needs a reason (fix: say why"),
        ("so-tc", "L", "a\nb", RequestError, "--reason: "),
        ("phuong-duc-xuan", "L", "more", RequestError,
         "is requested; only an approved or active tenant's quota profile can change (fix: reject the request"),
        ("so-tttt", "L", "more", RequestError, "is retired; only an approved or active tenant's quota profile"),
        ("nope", "L", "more", RequestError, "no tenant 'nope'"),
    ],
)
def test_set_profile_refused_writes_nothing(
    site_copy: Path, code: str, profile: str, reason: str, error: type[Exception], message: str
) -> None:
    before = snapshot(site_copy)
    with pytest.raises(error) as refused:
        set_profile(site_copy, code, profile, BY, reason)
    assert message in str(refused.value)
    assert snapshot(site_copy) == before


def test_set_profile_refused_when_the_quotas_no_longer_fit_the_hardware(site_copy: Path) -> None:
    profiles = site_copy / "profiles.yml"
    profiles.write_text(
        profiles.read_text(encoding="utf-8")
        + "  HUGE:\n    description: More than the hardware\n    inherits: XL\n    compute: {cores: 100000}\n",
        encoding="utf-8",
    )
    before = snapshot(site_copy)
    with pytest.raises(InventoryError, match=r"capacity.yml:\d+: groups: approved quotas need \d+ vCPU but the"):
        set_profile(site_copy, "so-tc", "HUGE", BY, "grow")
    assert snapshot(site_copy) == before


def test_cli_set_profile_exit_codes(site_copy: Path) -> None:
    runner = CliRunner()
    argv = ["tenant", "set-profile", "so-tc", "L", "-i", str(site_copy), "--by", BY]
    done = runner.invoke(app, [*argv, "--reason", "thêm máy chủ"])
    assert done.exit_code == 0 and done.stdout.strip() == "so-tc: quota profile M -> L", done.output
    again = runner.invoke(app, [*argv, "--reason", "thêm máy chủ"])
    assert again.exit_code == 0 and again.stdout.strip() == "so-tc: already on quota profile L (no change)"
    before = snapshot(site_copy)
    missing = runner.invoke(app, argv)
    assert missing.exit_code == 2 and "Missing option '--reason'" in missing.output
    unknown = runner.invoke(app, ["tenant", "set-profile", "so-tc", "XXL", "-i", str(site_copy), "--reason", "x"])
    assert unknown.exit_code == 2 and "unknown quota profile 'XXL'" in unknown.stderr
    assert snapshot(site_copy) == before
