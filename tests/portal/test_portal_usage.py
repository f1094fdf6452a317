"""Quota and usage on a tenant's page: parsing the services' answers, the page with a reader that
answers, fails or is absent, the cache, and the errors at start. The same reader against the AIO's
real services is tested in tests/integration/test_aio_portal_usage.py."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli import app as cli
from infra.errors import HatangError
from infra.portal.usage import SHOWN, CloudUsage, ProjectUsage, Use, parse_usage
from infra.quotas import resolve_profile
from infra.site import load_site
from tests.portal.conftest import make_app, signed_in


def _answers(used: int = 1, limit: int = 10) -> dict[str, dict[str, Any]]:
    """The three services' quota details in their native shapes (Neutron says `used`)."""
    nova = {"limit": limit, "in_use": used, "reserved": 0}
    neutron = {"limit": limit, "used": used, "reserved": 0}
    cinder = {"limit": limit, "in_use": used, "reserved": 0, "allocated": 0}
    shape = {"compute": nova, "network": neutron, "volume": cinder}
    return {section: {key: dict(shape[section]) for s, key in SHOWN if s == section} for section in shape}


def test_parse_usage_reads_each_service_in_its_own_shape_in_the_shown_order() -> None:
    answers = _answers(used=3, limit=8)
    answers["compute"]["ram"] = {"limit": 4096, "in_use": 1024, "reserved": 0}
    uses = parse_usage(answers, {"compute": {"cores": 8, "ram": 2048}})
    assert [(u.section, u.key) for u in uses] == list(SHOWN)
    by_key = {u.key: u for u in uses}
    assert (by_key["ram"].limit, by_key["ram"].used, by_key["ram"].approved) == (4096, 1024, 2048)
    assert by_key["ram"].drift and not by_key["cores"].drift
    assert by_key["network"].used == 3  # Neutron's `used`, not `in_use`
    assert by_key["gigabytes"].approved is None and not by_key["gigabytes"].drift


@pytest.mark.parametrize(
    ("section", "key", "entry", "message"),
    [
        ("network", "port", None, "network quota port: not in the cloud's answer"),
        ("network", "port", {"limit": 5, "in_use": 1}, "network quota port: not in the cloud's answer"),  # Nova's word
        ("compute", "cores", {"limit": "yes", "in_use": 1}, "invalid literal"),
        ("compute", "cores", {"limit": True, "in_use": 1}, "compute.cores.limit: not a number: True"),
        ("volume", "volumes", {"limit": 5, "in_use": [1]}, "volume.volumes.in_use: not a number"),
    ],
)
def test_parse_usage_refuses_an_answer_it_cannot_show_truthfully(
    section: str, key: str, entry: dict[str, Any] | None, message: str
) -> None:
    answers = _answers()
    if entry is None:
        del answers[section][key]
    else:
        answers[section][key] = entry
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_usage(answers, {})


@pytest.mark.parametrize(
    ("limit", "used", "percent", "full"),
    [(10, 0, 0, False), (10, 5, 50, False), (10, 10, 100, True), (10, 12, 100, True), (-1, 7, None, False),
     (0, 0, 0, False), (0, 1, 100, True), (3, 1, 33, False)],
)
def test_use_share_and_full(limit: int, used: int, percent: int | None, full: bool) -> None:
    use = Use("compute", "cores", limit, used)
    assert (use.percent, use.full) == (percent, full)


class _Reader:
    """A reader that answers what it is given and records what it was asked."""

    def __init__(self, answer: ProjectUsage | None = None, error: str = "") -> None:
        self.asked: list[tuple[str, dict[str, dict[str, int]]]] = []
        self.answer, self.error = answer, error

    def usage(self, project: str, approved: Mapping[str, Mapping[str, int]]) -> ProjectUsage:
        self.asked.append((project, {k: dict(v) for k, v in approved.items()}))
        if self.error:
            return ProjectUsage(project, "2026-12-04T10:00:00+00:00", error=self.error)
        uses = parse_usage(_answers(used=2, limit=4), approved)
        return ProjectUsage(project, "2026-12-04T10:00:00+00:00", uses)


def _approved(site: Path, code: str) -> dict[str, dict[str, int]]:
    loaded = load_site(site)
    tenant = loaded.tenant(code)
    assert tenant is not None
    return resolve_profile(tenant.quota_profile, loaded.profiles).as_dict()


def _row(page: str, section: str, key: str) -> str:
    match = re.search(rf'<tr id="usage-{section}-{key}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"no usage row {section}.{key}"
    return match.group(0)


def test_tenant_page_shows_usage_against_the_cloud_limit_and_the_approved_profile(site: Path, state: Path) -> None:
    reader = _Reader()
    page = signed_in(make_app(site, state, usage=reader), "binh").get("/tenants/so-yte").text
    approved = _approved(site, "so-yte")
    assert reader.asked == [("so-yte", approved)]  # the profile the site approved, resolved
    cores = _row(page, "compute", "cores")
    assert '<td class="used">2</td>' in cores and '<td class="limit">4</td>' in cores and "50%" in cores
    assert 'id="usage-read-at">2026-12-04T10:00:00+00:00' in page
    drifting = [key for section, key in SHOWN if approved[section][key] != 4]
    assert drifting, "the fake cloud's limit 4 should differ from some approved value"
    for section, key in SHOWN:
        row = _row(page, section, key)
        assert ("drift" in row.split(">")[0]) == (key in drifting), row
    assert 'id="usage-drift"' in page


def test_a_full_quota_is_marked_and_no_drift_means_no_warning(site: Path, state: Path) -> None:
    approved = _approved(site, "so-yte")

    class Exact(_Reader):
        def usage(self, project: str, approved_: Mapping[str, Mapping[str, int]]) -> ProjectUsage:
            answers = {s: {k: {"limit": v, "in_use": v, "used": v} for k, v in keys.items()}
                       for s, keys in approved.items()}
            return ProjectUsage(project, "now", parse_usage(answers, approved_))

    page = signed_in(make_app(site, state, usage=Exact()), "binh").get("/tenants/so-yte").text
    assert 'class="full"' in _row(page, "compute", "cores")
    assert 'id="usage-drift"' not in page and " drift" not in page


def test_a_failed_reading_is_a_message_on_the_page_not_an_error_page(site: Path, state: Path) -> None:
    reader = _Reader(error="cannot connect as 'reader': <script>alert(1)</script>")
    response = signed_in(make_app(site, state, usage=reader), "binh").get("/tenants/so-yte")
    assert response.status_code == 200
    assert 'id="usage-error"' in response.text and "&lt;script&gt;alert(1)" in response.text
    assert "<script>alert(1)" not in response.text
    assert 'id="usage"' not in response.text


def test_usage_is_not_read_for_another_agency_nor_for_a_request_nor_without_a_reader(
    site: Path, state: Path
) -> None:
    reader = _Reader()
    client = signed_in(make_app(site, state, usage=reader), "binh")
    assert client.get("/tenants/so-khcn").status_code == 404  # another agency's tenant: not found, not read
    assert reader.asked == []
    request = site / "tenants" / "so-yte.yml"
    data = yaml.safe_load(request.read_text())
    data["state"] = "requested"
    data["history"] = data["history"][:1]
    data.pop("allocation", None)
    request.write_text(yaml.safe_dump(data, allow_unicode=True))
    page = client.get("/tenants/so-yte").text
    assert reader.asked == [] and 'id="usage-none"' in page and "no project in the cloud" in page
    without = signed_in(make_app(site, state), "binh").get("/tenants/so-yte").text
    assert 'id="usage-none"' in without and "--usage-cloud" in without


def _clouds_yaml(tmp_path: Path, auth_url: str = "http://127.0.0.1:9/v3") -> Path:
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"reader": {
        "auth": {"auth_url": auth_url, "username": "u", "password": "p", "user_domain_name": "agencies"},
        "identity_api_version": 3,
    }}}))
    return path


def test_reader_keeps_a_reading_for_its_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = CloudUsage("reader", "agencies", _clouds_yaml(tmp_path), ttl=60)
    reads: list[str] = []

    def read(project: str) -> ProjectUsage:
        reads.append(project)
        return ProjectUsage(project, "t", parse_usage(_answers(used=len(reads)), {}))

    monkeypatch.setattr(reader, "_read", read)
    first = reader.usage("so-yte", {"compute": {"cores": 10}})
    second = reader.usage("so-yte", {"compute": {"cores": 9}})
    assert reads == ["so-yte"] and first.uses[0].used == second.uses[0].used == 1
    assert (first.uses[0].drift, second.uses[0].drift) == (False, True)  # the approved values are not cached
    reader.usage("so-khcn", {})
    assert reads == ["so-yte", "so-khcn"]
    reader.ttl = 0
    reader.usage("so-yte", {})
    assert reads == ["so-yte", "so-khcn", "so-yte"]


def test_reader_reads_a_project_once_for_pages_asking_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = CloudUsage("reader", "agencies", _clouds_yaml(tmp_path), ttl=60)
    reads: list[str] = []

    def read(project: str) -> ProjectUsage:
        reads.append(project)
        time.sleep(0.3)  # a cold reading takes ~0.4 s on the AIO
        return ProjectUsage(project, "t", parse_usage(_answers(used=len(reads)), {}))

    monkeypatch.setattr(reader, "_read", read)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda p: reader.usage(p, {}), ["so-yte"] * 6 + ["so-khcn"] * 2))
    assert sorted(reads) == ["so-khcn", "so-yte"]  # one reading each, however many pages waited for it
    assert {g.project for g in got} == {"so-yte", "so-khcn"} and all(not g.error for g in got)


def test_an_unreachable_cloud_is_an_error_message_within_the_timeout(tmp_path: Path) -> None:
    reader = CloudUsage("reader", "agencies", _clouds_yaml(tmp_path), timeout=5)
    started = time.monotonic()
    reading = reader.usage("so-yte", {})
    assert time.monotonic() - started < 30
    assert reading.uses == () and reading.error.startswith("Keystone did not answer 'reader': "), reading.error


def test_an_unknown_cloud_or_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(HatangError, match=r"no cloud 'other' to read usage with \(known: reader; fix: "):
        CloudUsage("other", "agencies", _clouds_yaml(tmp_path))
    with pytest.raises(HatangError, match=r"no such clouds\.yaml"):
        CloudUsage("reader", "agencies", tmp_path / "missing.yaml")


def test_portal_command_refuses_a_bad_usage_cloud_with_exit_2(site: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.yml"
    users.write_text("users: {}\n")
    result = CliRunner().invoke(cli, [
        "portal", "--site", str(site), "--users", str(users), "--usage-cloud", "reader",
        "--clouds-yaml", str(tmp_path / "missing.yaml"), "--port", "1",
    ])
    assert result.exit_code == 2, result.output
    assert "missing.yaml: no such clouds.yaml" in result.stderr
