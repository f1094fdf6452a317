"""The allocation ledger: approval allocates against it, validate checks it against the files."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from infra._ledgerfile import HEADER, only_entries, read_fast
from infra.errors import InventoryError, RequestError
from infra.ipam import allocate, used_networks
from infra.ledger import _appendable, init_ledger
from infra.site import load_site
from infra.tenants import approve_tenant, create_tenant, retire_tenant
from infra.validate import check_site
from tests.helpers import edit_yaml, snapshot
from tests.unit.test_tenants import _new

AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=7)))


def _messages(root: Path) -> list[str]:
    return [str(p) for p in check_site(root)]


def _hcc_prefixes(root: Path) -> set[str]:
    return {str(e.prefix) for e in load_site(root).ledger or () if e.tenant == "hcc"}


def test_sample_ledgers_match_their_files() -> None:
    for site in ("inventories/thainguyen", "inventories/aio"):
        assert check_site(site) == [], site


def test_approve_appends_and_keeps_existing_bytes(site_copy: Path) -> None:
    before = (site_copy / "ledger.yml").read_bytes()
    create_tenant(site_copy, _new(), "a@example.org", "new", at=AT)
    approve_tenant(site_copy, "so-xd", "b@example.org", at=AT)
    after = (site_copy / "ledger.yml").read_bytes()
    assert after.startswith(before)
    site = load_site(site_copy)
    tenant = site.tenant("so-xd")
    assert tenant is not None and tenant.allocation is not None
    recorded = {(str(e.prefix), e.network, e.by) for e in site.ledger or () if e.tenant == "so-xd"}
    assert (str(tenant.allocation.ipv4), None, "b@example.org") in recorded
    assert len(recorded) == 1 + 2 * len(tenant.networks)
    assert check_site(site_copy) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_text("", encoding="utf-8"), id="emptied"),
        pytest.param(lambda p: p.write_text("".join(f"# {x}\n" for x in p.read_text().splitlines())), id="commented"),
        pytest.param(lambda p: p.rename(p.with_suffix(".yaml")), id="renamed-yaml"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
    ],
)
def test_a_lost_tenant_file_never_frees_its_addresses(site_copy: Path, damage: object) -> None:
    hcc = _hcc_prefixes(site_copy)
    damage(site_copy / "tenants" / "hcc.yml")  # type: ignore[operator]
    problems = _messages(site_copy)
    assert problems, "validate must not call a site with a lost tenant file valid"
    assert any("hcc" in p for p in problems)
    # and the allocator itself skips the ledger's prefixes, whatever the files say
    shutil.rmtree(site_copy / "tenants")
    (site_copy / "tenants").mkdir()
    bare = load_site(site_copy)
    used4, used6 = used_networks(bare)
    assert hcc <= {str(n) for n in (*used4, *used6)}


def test_deleted_retired_file_is_reported_at_the_ledger(site_copy: Path) -> None:
    retire_tenant(site_copy, "hcc", "a@example.org", "merged", at=AT)
    (site_copy / "tenants" / "hcc.yml").unlink()
    problems = _messages(site_copy)
    assert any(
        p.endswith(
            "(fix: restore the file from git (git log --diff-filter=D -- tenants/hcc.yml shows where it went); "
            "a tenant file is never deleted, retire the tenant instead)"
        )
        and "ledger.yml:" in p
        and "whose file tenants/hcc.yml is missing" in p
        for p in problems
    ), problems


def test_allocation_written_by_hand_is_not_in_the_ledger(site_copy: Path) -> None:
    def widen(doc: object) -> None:
        doc["allocation"]["ipv4"] = "10.64.60.0/22"  # type: ignore[index]

    edit_yaml(site_copy, "tenants/hcc.yml", widen)
    problems = _messages(site_copy)
    assert any("allocation.ipv4: 10.64.60.0/22 is not in the ledger" in p for p in problems), problems


def test_prefix_taken_from_another_tenant_names_its_owner(site_copy: Path) -> None:
    owner = load_site(site_copy).tenant("hcc")
    assert owner is not None and owner.allocation is not None
    theirs = str(owner.allocation.ipv4)

    def steal(doc: object) -> None:
        doc["allocation"]["ipv4"] = theirs  # type: ignore[index]

    other = next(t for t in load_site(site_copy).tenants if t.code != "hcc" and t.allocation is not None)
    edit_yaml(site_copy, f"tenants/{other.code}.yml", steal)
    assert any(f"{theirs} is recorded in the ledger for tenant 'hcc'" in p for p in _messages(site_copy))


def test_missing_ledger_is_a_problem_with_the_fix(site_copy: Path) -> None:
    (site_copy / "ledger.yml").unlink()
    (problem,) = [p for p in _messages(site_copy) if "ledger.yml" in p]
    assert "missing: the allocation ledger" in problem and "hatang ledger init -i" in problem


def test_ledger_entry_edited_by_hand_is_reported(site_copy: Path) -> None:
    text = (site_copy / "ledger.yml").read_text(encoding="utf-8")
    first = text.index('tenant: "', text.index("allocations:"))
    (site_copy / "ledger.yml").write_text(text[:first] + 'tenant: "hcc"' + text[text.index("\n", first) :])
    assert _messages(site_copy), "changing an entry's owner must not pass"


def test_interrupted_approval_gets_the_recorded_prefixes_back(site_copy: Path) -> None:
    create_tenant(site_copy, _new(), "a@example.org", "new", at=AT)
    before = snapshot(site_copy)
    approve_tenant(site_copy, "so-xd", "b@example.org", at=AT)
    approved = load_site(site_copy).tenant("so-xd")
    assert approved is not None
    # the process died after writing the ledger, before the tenant file: put the request back
    (site_copy / "tenants" / "so-xd.yml").write_bytes(before["tenants/so-xd.yml"])
    assert any("run `hatang tenant approve so-xd` to write it back" in p for p in _messages(site_copy))
    approve_tenant(site_copy, "so-xd", "b@example.org", at=AT)
    again = load_site(site_copy).tenant("so-xd")
    assert again is not None and again.allocation == approved.allocation
    assert check_site(site_copy) == []


def test_new_request_cannot_take_a_code_the_ledger_knows(site_copy: Path) -> None:
    retire_tenant(site_copy, "hcc", "a@example.org", "merged", at=AT)
    (site_copy / "tenants" / "hcc.yml").unlink()
    with pytest.raises((RequestError, InventoryError)):
        create_tenant(site_copy, _new("hcc"), "a@example.org", "again", at=AT)
    assert not (site_copy / "tenants" / "hcc.yml").exists()


def test_append_refused_when_the_ledger_was_reformatted(site_copy: Path) -> None:
    path = site_copy / "ledger.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(data, default_flow_style=None, width=4096), encoding="utf-8")
    assert check_site(site_copy) == []  # same content, another layout: still a valid record
    create_tenant(site_copy, _new(), "a@example.org", "new", at=AT)
    before = snapshot(site_copy)
    with pytest.raises(RequestError, match="cannot append"):
        approve_tenant(site_copy, "so-xd", "b@example.org", at=AT)
    assert snapshot(site_copy) == before


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("", True),
        ('  - prefix: "10.0.0.0/24"\n    tenant: "hcc"\n', True),
        ('  - prefix: "10.0.0.0/24"', True),
        ("\n", False),
        ('  - prefix: "10.0.0.0/24"\n  # a note\n', False),
        ('  - prefix: "10.0.0.0/24"\nother: 1\n', False),
        ('  - prefix: "10.0.0.0/24"\r\n', False),
        ('   - prefix: "10.0.0.0/24"\n', False),
        ('  - prefix: "10.0.0.0/24"\u2028    tenant: "hcc"\n', False),
    ],
)
def test_only_entries_is_a_sure_subset_of_appendable(tail: str, expected: bool) -> None:
    assert only_entries(HEADER + tail) is expected
    if expected:
        assert _appendable(HEADER + tail)


def test_ledger_holds_only_allocations(site_copy: Path) -> None:
    path = site_copy / "ledger.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("allocations:", "note: by hand\nallocations:"))
    assert any("ledger.yml" in p and "note" in p for p in _messages(site_copy))


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_init_rebuilds_from_git_history_including_deleted_files(site_copy: Path) -> None:
    hcc = _hcc_prefixes(site_copy)
    _git(site_copy, "init", "-q")
    _git(site_copy, "-c", "user.email=t@example.org", "-c", "user.name=t", "add", ".")
    _git(site_copy, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "site")
    (site_copy / "tenants" / "hcc.yml").unlink()
    _git(site_copy, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qam", "drop hcc")
    (site_copy / "ledger.yml").unlink()
    recovered = init_ledger(site_copy)
    assert hcc <= {str(e.prefix) for e in recovered.entries if e.tenant == "hcc"}
    with pytest.raises(RequestError, match="append-only"):
        init_ledger(site_copy)


def test_allocate_skips_every_recorded_prefix(site_copy: Path) -> None:
    create_tenant(site_copy, _new(), "a@example.org", "new", at=AT)
    site = load_site(site_copy)
    tenant = site.tenant("so-xd")
    assert tenant is not None
    allocation = allocate(site, tenant)
    recorded = {e.prefix for e in site.ledger or ()}
    assert allocation.ipv4 not in recorded
    assert all(n.ipv6 not in recorded for n in allocation.networks.values())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"so-yte"', "so-yte"),
        ('"Nguyễn Văn An"', "Nguyễn Văn An"),
        ('"a\\u00e9\\"b"', 'aé"b'),
        ('"tab\\there"', "tab\there"),
        ('"raw\x01control"', None),
        ('"raw\u2028separator"', None),
    ],
)
def test_read_fast_values_read_as_json_would(value: str, expected: str | None) -> None:
    document = read_fast(f'{HEADER}  - tenant: {value}\n    by: "x"\n')
    found = document["allocations"][0]["tenant"] if document is not None else None
    assert found == expected
