"""Every validation rule: one failing input each, with the located message a user sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.errors import Problem
from infra.validate import check_site
from tests.helpers import append_at, delete_at, edit_yaml, set_at

Mutation = tuple[str, Callable[[Any], None]]


def _problems(root: Path) -> list[Problem]:
    return check_site(root)


def test_sample_site_is_valid(site_copy: Path) -> None:
    assert _problems(site_copy) == []


CASES: list[tuple[str, str, Callable[[Any], None], str, str, str]] = [
    # (id, file, mutation, expected file suffix, expected field, message fragment)
    (
        "schema-unknown-key",
        "zones.yml",
        set_at("zones", 0, "colour", value="red"),
        "zones.yml",
        "zones.0.colour",
        "Extra inputs are not permitted",
    ),
    (
        "schema-bad-cidr",
        "zones.yml",
        set_at("zones", 1, "ipv4", value="10.20.1.7/24"),
        "zones.yml",
        "zones.1.ipv4",
        "has host bits set",
    ),
    ("schema-missing", "site.yml", delete_at("region"), "site.yml", "region", "Field required"),
    # the portal clones it: a word, a relative path or a URL with a space is not something git clones
    *(
        (f"schema-site-repo-{i}", "site.yml", set_at("services", "site_repo", value=bad), "site.yml",
         "services.site_repo", "should match pattern")
        for i, bad in enumerate(["yes", "git/site.git", "https://git.example/a site.git", "/srv/git/"])
    ),
    # the controllers' shared address: there when several share the APIs, free, in the api zone only
    ("vip-missing", "zones.yml", delete_at("zones", 2, "vip4"), "zones.yml", "zones.2.vip4",
     "3 controllers share the APIs but the api zone has no vip4"),
    ("vip-word", "zones.yml", set_at("zones", 2, "vip4", value="yes"), "zones.yml", "zones.2.vip4",
     "Expected 4 octets in 'yes'"),
    ("vip-outside", "zones.yml", set_at("zones", 2, "vip4", value="10.20.9.10"), "zones.yml", "zones.2.vip4",
     "is not a host address of 10.20.2.0/24"),
    ("vip-network-address", "zones.yml", set_at("zones", 2, "vip4", value="10.20.2.0"), "zones.yml",
     "zones.2.vip4", "is not a host address of 10.20.2.0/24"),
    ("vip-a-host", "zones.yml", set_at("zones", 2, "vip4", value="10.20.2.12"), "zones.yml", "zones.2.vip4",
     "is ctl02's address"),
    ("vip-elsewhere", "zones.yml", set_at("zones", 1, "vip4", value="10.20.1.200"), "zones.yml", "zones.1.vip4",
     "vip4 on a mgmt zone"),
    (
        "schema-bad-level",
        "tenants/hcc.yml",
        set_at("security_level", value=7),
        "tenants/hcc.yml",
        "security_level",
        "less than or equal to 5",
    ),
    (
        "schema-bad-code",
        "tenants/hcc.yml",
        set_at("networks", 0, "name", value="Web Tier"),
        "tenants/hcc.yml",
        "networks.0.name",
        "should match pattern",
    ),
    (
        "flow-unknown-zone",
        "flows.yml",
        set_at("flows", 0, "from", value="backoffice"),
        "flows.yml",
        "flows.0.from",
        "unknown zone 'backoffice'",
    ),
    (
        "flow-unknown-group",
        "flows.yml",
        set_at("flows", 3, "groups", value=["bastions"]),
        "flows.yml",
        "flows.3.groups.0",
        "unknown host group 'bastions'",
    ),
    (
        "flow-world-ssh",
        "flows.yml",
        set_at("flows", 11, "ports", value=[22, 443]),
        "flows.yml",
        "flows.11.ports",
        "opens ssh port 22 to the world",
    ),
    (
        "flow-gov-internet",
        "flows.yml",
        append_at(
            "flows",
            value={
                "name": "bad-bridge",
                "from": "gov",
                "to": "internet",
                "protocol": "tcp",
                "ports": [443],
                "reason": "x",
            },
        ),
        "flows.yml",
        "flows.17",
        "must never be bridged to the internet",
    ),
    (
        "flow-tcp-without-ports",
        "flows.yml",
        delete_at("flows", 0, "ports"),
        "flows.yml",
        "flows.0.ports",
        "a tcp flow needs ports",
    ),
    (
        "host-unknown-group",
        "hosts.yml",
        set_at("hosts", 1, "groups", value=["controller"]),
        "hosts.yml",
        "hosts.1.groups.0",
        "unknown host group 'controller'",
    ),
    (
        "host-address-outside-zone",
        "hosts.yml",
        set_at("hosts", 1, "addresses", "mgmt", value="10.20.2.11"),
        "hosts.yml",
        "hosts.1.addresses.mgmt",
        "10.20.2.11 is not a host address of 10.20.1.0/24",
    ),
    (
        "host-duplicate-address",
        "hosts.yml",
        set_at("hosts", 2, "addresses", "mgmt", value="10.20.1.11"),
        "hosts.yml",
        "hosts.2.addresses.mgmt",
        "already used by ctl01",
    ),
    (
        "host-missing-zone-address",
        "hosts.yml",
        delete_at("hosts", 1, "addresses", "api"),
        "hosts.yml",
        "hosts.1.addresses",
        "no address in zone 'api'",
    ),
    (
        "host-unknown-az",
        "hosts.yml",
        set_at("hosts", 6, "az", value="az9"),
        "hosts.yml",
        "hosts.6.az",
        "unknown availability zone 'az9'",
    ),
    (
        "zone-overlap-v4",
        "zones.yml",
        set_at("zones", 2, "ipv4", value="10.20.0.0/23"),
        "zones.yml",
        "zones.2.ipv4",
        "overlaps 10.20.0.0/24 (zone oob)",
    ),
    (
        "zone-overlap-v6",
        "zones.yml",
        set_at("zones", 2, "ipv6", value="fdb4:7e10:1:11::/64"),
        "zones.yml",
        "zones.2.ipv6",
        "overlaps fdb4:7e10:1:11::/64 (zone mgmt)",
    ),
    (
        "zone-overlaps-pool",
        "pools.yml",
        set_at("ipv4", value="10.0.0.0/8"),
        "pools.yml",
        "ipv4",
        "(the tenant IPv4 pool) overlaps",
    ),
    (
        "zone-duplicate-vlan",
        "zones.yml",
        set_at("zones", 1, "vlan", value=10),
        "zones.yml",
        "zones.1.vlan",
        "duplicate VLAN ids: 10",
    ),
    (
        "zone-duplicate-name",
        "zones.yml",
        set_at("zones", 1, "name", value="oob"),
        "zones.yml",
        "zones.1.name",
        "duplicate zone names: oob",
    ),
    (
        "zone-duplicate-kind",
        "zones.yml",
        set_at("zones", 6, "kind", value="dmz"),
        "zones.yml",
        "zones.6.kind",
        "duplicate zone kinds (one zone per kind, except 'other'): dmz",
    ),
    (
        "zone-missing-kind",
        "zones.yml",
        set_at("zones", 7, "kind", value="other"),
        "zones.yml",
        "zones",
        "no zone of kind 'gov'",
    ),
    (
        "zone-gateway-outside",
        "zones.yml",
        set_at("zones", 1, "gateway4", value="10.20.9.1"),
        "zones.yml",
        "zones.1.gateway4",
        "gateway 10.20.9.1 is outside 10.20.1.0/24",
    ),
    (
        "zone-v6-not-64",
        "zones.yml",
        set_at("zones", 1, "ipv6", value="fdb4:7e10:1:11::/80"),
        "zones.yml",
        "zones.1.ipv6",
        "is not a /64",
    ),
    (
        "alloc-outside-pool",
        "tenants/hcc.yml",
        set_at("allocation", "ipv4", value="10.200.12.0/22"),
        "tenants/hcc.yml",
        "allocation.ipv4",
        "outside the tenant pool 10.64.0.0/12",
    ),
    (
        "alloc-overlap",
        "tenants/hcc.yml",
        set_at("allocation", "networks", "web", "ipv6", value="fdb4:7e10:8000:1::/64"),
        "tenants/hcc.yml",
        "allocation.networks.web.ipv6",
        "overlaps fdb4:7e10:8000:1::/64 (tenant vp-ubnd network app)",
    ),
    (
        "alloc-net-outside-tenant",
        "tenants/hcc.yml",
        set_at("allocation", "networks", "web", "ipv4", value="10.64.40.0/24"),
        "tenants/hcc.yml",
        "allocation.networks.web.ipv4",
        "outside the tenant prefix 10.64.12.0/22",
    ),
    (
        "alloc-reused-after-retire",
        "tenants/hcc.yml",
        set_at("allocation", "networks", "web", "ipv6", value="fdb4:7e10:8000::/64"),
        "tenants/hcc.yml",
        "allocation.networks.web.ipv6",
        "(tenant so-tttt network app)",
    ),
    (
        "tenant-unknown-agency",
        "tenants/hcc.yml",
        set_at("agency", value="so-xyz"),
        "tenants/hcc.yml",
        "agency",
        "unknown agency 'so-xyz'",
    ),
    (
        "tenant-unknown-profile",
        "tenants/hcc.yml",
        set_at("quota_profile", value="XXL"),
        "tenants/hcc.yml",
        "quota_profile",
        "unknown quota profile 'XXL'",
    ),
    (
        "tenant-unknown-app",
        "tenants/hcc.yml",
        set_at("applications", value=["giai-quyet-tthc", "nope"]),
        "tenants/hcc.yml",
        "applications.1",
        "unknown application 'nope'",
    ),
    (
        "tenant-level3-direct-internet",
        "tenants/hcc.yml",
        set_at("networks", 0, "access", value=["internet"]),
        "tenants/hcc.yml",
        "networks.0.access",
        "a level-3 tenant may not reach the internet directly",
    ),
    (
        "tenant-gov-and-internet",
        "tenants/ban-do-so.yml",
        set_at("networks", 0, "access", value=["gov", "internet"]),
        "tenants/ban-do-so.yml",
        "networks.0.access",
        "would bridge them",
    ),
    (
        "tenant-level4-two-systems",
        "tenants/thainguyen-id.yml",
        set_at("applications", value=["thainguyen-id", "lgsp"]),
        "tenants/thainguyen-id.yml",
        "applications",
        "a level-4 tenant hosts 2 systems",
    ),
    (
        "tenant-level-below-app",
        "tenants/so-gddt.yml",
        set_at("applications", value=["hoc-tap-truc-tuyen", "lgsp"]),
        "tenants/so-gddt.yml",
        "security_level",
        "below its application 'lgsp' (level 3)",
    ),
    (
        "tenant-duplicate-network",
        "tenants/hcc.yml",
        set_at("networks", 1, "name", value="web"),
        "tenants/hcc.yml",
        "networks.1.name",
        "duplicate network name 'web'",
    ),
    (
        "tenant-state-history",
        "tenants/hcc.yml",
        set_at("state", value="approved"),
        "tenants/hcc.yml",
        "state",
        "differs from the last history entry 'active'",
    ),
    (
        "tenant-active-no-allocation",
        "tenants/hcc.yml",
        delete_at("allocation"),
        "tenants/hcc.yml",
        "allocation",
        "a active tenant has no address allocation",
    ),
    (
        "tenant-rejected-allocation",
        "tenants/hcc.yml",
        lambda doc: (
            set_at("state", value="rejected")(doc),
            append_at("history", value={"state": "rejected", "at": "2026-11-30T09:00:00+07:00", "by": "x@x.vn",
                                       "reason": "by hand"})(doc),
        ),
        "tenants/hcc.yml",
        "allocation",
        "a rejected request holds no allocation (it was never approved)",
    ),
    (
        "tenant-file-name",
        "tenants/hcc.yml",
        set_at("code", value="hcc-tinh"),
        "tenants/hcc.yml",
        "code",
        "differs from the file name",
    ),
    (
        "app-unknown-owner",
        "applications.yml",
        set_at("applications", 0, "owner", value="so-xyz"),
        "applications.yml",
        "applications.0.owner",
        "unknown owner agency 'so-xyz'",
    ),
    (
        "app-unknown-tenant",
        "applications.yml",
        set_at("applications", 0, "tenant", value="nobody"),
        "applications.yml",
        "applications.0.tenant",
        "unknown tenant 'nobody'",
    ),
    (
        "app-tenant-not-listing",
        "applications.yml",
        set_at("applications", 0, "tenant", value="so-khcn"),
        "applications.yml",
        "applications.0.tenant",
        "does not list application 'qlvb'",
    ),
    (
        "app-provider-name",
        "applications.yml",
        delete_at("applications", 9, "provider"),
        "applications.yml",
        "applications.9.provider",
        "needs the provider's name",
    ),
    (
        "profile-missing-key",
        "profiles.yml",
        delete_at("profiles", "S", "network", "rbac_policy"),
        "profiles.yml",
        "profiles.S",
        "network: missing key(s) rbac_policy",
    ),
    (
        "profile-unlimited",
        "profiles.yml",
        set_at("profiles", "M", "compute", "cores", value=-1),
        "profiles.yml",
        "profiles.M",
        "negative/unlimited value(s) cores=-1",
    ),
    (
        "profile-cycle",
        "profiles.yml",
        set_at("profiles", "S", "inherits", value="XL"),
        "profiles.yml",
        "profiles.S",
        "inheritance cycle",
    ),
    (
        "capacity-over",
        "capacity.yml",
        set_at("groups", "compute", "cores", value=8),
        "capacity.yml",
        "groups",
        "approved quotas need 780 vCPU but the hardware gives 192 (over by 588 vCPU",
    ),
    (
        "uplink-unknown-zone",
        "site.yml",
        set_at("uplinks", 0, "zone", value="wan"),
        "site.yml",
        "uplinks.0.zone",
        "unknown zone 'wan'",
    ),
]


@pytest.mark.parametrize(
    ("file", "mutation", "want_file", "want_field", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_rule_reports_located_problem(
    site_copy: Path, file: str, mutation: Callable[[Any], None], want_file: str, want_field: str, fragment: str
) -> None:
    edit_yaml(site_copy, file, mutation)
    problems = _problems(site_copy)
    matching = [p for p in problems if p.file.endswith(want_file) and p.field == want_field and fragment in p.message]
    assert matching, f"no problem at {want_file}:{want_field} containing {fragment!r}; got:\n" + "\n".join(
        map(str, problems)
    )
    assert all(p.line for p in matching), f"problem has no line number: {matching}"
    assert all(p.hint for p in matching), f"problem has no fix hint: {matching}"


def test_all_errors_reported_at_once(site_copy: Path) -> None:
    edit_yaml(site_copy, "zones.yml", set_at("zones", 1, "vlan", value=10))
    edit_yaml(site_copy, "tenants/hcc.yml", set_at("agency", value="so-xyz"))
    edit_yaml(site_copy, "applications.yml", set_at("applications", 0, "owner", value="so-xyz"))
    problems = _problems(site_copy)
    files = {p.file.split("thainguyen/", 1)[1] for p in problems}
    assert {"zones.yml", "tenants/hcc.yml", "applications.yml"} <= files


def test_schema_errors_in_several_files_reported_together(site_copy: Path) -> None:
    edit_yaml(site_copy, "zones.yml", set_at("zones", 0, "vlan", value=5000))
    edit_yaml(site_copy, "tenants/hcc.yml", set_at("security_level", value=0))
    problems = _problems(site_copy)
    assert {p.field for p in problems} >= {"zones.0.vlan", "security_level"}


def test_problem_message_exact(site_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(site_copy.parent)
    edit_yaml(site_copy, "tenants/hcc.yml", set_at("agency", value="so-xyz"))
    (problem,) = _problems(site_copy)
    assert str(problem) == (
        "thainguyen/tenants/hcc.yml:4: agency: unknown agency 'so-xyz' (fix: add it to agencies.yml or fix the code)"
    )


def test_yaml_syntax_error_located(site_copy: Path) -> None:
    (site_copy / "flows.yml").write_text("flows:\n  - name: [unclosed\n", encoding="utf-8")
    problems = _problems(site_copy)
    assert any(p.file.endswith("flows.yml") and "YAML syntax error" in p.message and p.line for p in problems)


def test_reserved_project_code_refused(site_copy: Path) -> None:
    edit_yaml(site_copy, "tenants/hcc.yml", set_at("code", value="admin"))
    (site_copy / "tenants" / "hcc.yml").rename(site_copy / "tenants" / "admin.yml")
    edit_yaml(site_copy, "applications.yml", set_at("applications", 3, "tenant", value="admin"))
    messages = [p.message for p in _problems(site_copy)]
    assert "'admin' is reserved by Keystone deployments" in messages
    # the rename moved hcc's addresses to a new code: the ledger says so too
    assert "10.64.12.0/22 is recorded in the ledger for tenant 'hcc'" in messages


def test_vip_on_a_lone_controller_is_refused(aio_copy: Path) -> None:
    """One controller has nothing to share: a vip4 would be served by haproxy with no VRRP behind it."""
    edit_yaml(aio_copy, "zones.yml", set_at("zones", 2, "vip4", value="10.99.2.200"))
    problems = [p for p in _problems(aio_copy) if p.field == "zones.2.vip4"]
    assert [p.message for p in problems] == ["vip4 with 1 controller: nothing to share"]
    assert problems[0].hint.startswith("remove vip4")
