"""Adoption figures on the sample site, checked against a hand count of applications.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.reports.adoption import UNKNOWN_KIND, Reason, Share, adoption, app_statuses, quick_share
from infra.schema import Hosting, TenantState
from infra.site import Site, load_site

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample() -> Site:
    return load_site(REPO / "inventories" / "thainguyen")


def test_sample_overall_matches_hand_count(sample: Site) -> None:
    # 17 applications: 11 hosting: cloud (all tenants active), 1 provider, 3 onprem, 2 planned
    figures = adoption(sample.applications, sample.tenants, sample.agencies)
    assert figures.overall == Share(total=17, province=11, domestic=12)
    assert figures.overall.province_share == pytest.approx(11 / 17)
    assert figures.overall.domestic_share == pytest.approx(12 / 17)
    assert dict(figures.by_hosting) == {"cloud": 11, "provider": 1, "onprem": 3, "planned": 2}


def test_sample_per_kind_of_agency(sample: Site) -> None:
    figures = adoption(sample.applications, sample.tenants, sample.agencies)
    assert dict(figures.by_kind) == {
        "commune": Share(1, 0, 0),  # mot-cua-xa
        "department": Share(10, 6, 7),  # vp-ubnd x3, so-khcn x2, so-tc, so-noi-vu, so-yte, so-gddt, so-nnmt
        "public_service_unit": Share(1, 1, 1),  # giai-quyet-tthc
        "shared_platform": Share(5, 4, 4),  # lgsp, du-lieu x2, thainguyen-id on cloud; tro-ly-ao planned
    }


def test_sample_per_owner_agency(sample: Site) -> None:
    figures = adoption(sample.applications, sample.tenants, sample.agencies)
    assert figures.by_agency["vp-ubnd"] == Share(3, 2, 2)
    assert figures.by_agency["so-khcn"] == Share(2, 1, 2)  # C-ThaiNguyen on a provider
    assert figures.by_agency["so-noi-vu"] == Share(1, 0, 0)
    assert sum(s.total for s in figures.by_agency.values()) == 17


def test_sample_reasons_not_on_province_cloud(sample: Site) -> None:
    statuses = {s.id: s for s in app_statuses(sample.applications, sample.tenants, sample.agencies)}
    reasons = {i: (s.reason, s.detail) for i, s in statuses.items() if s.reason is not None}
    assert reasons == {
        "c-thainguyen": (Reason.PROVIDER, "Đám mây của doanh nghiệp viễn thông trong nước (thuê dịch vụ)"),
        "hop-truc-tuyen": (Reason.BLOCKED,
                           "Hardware MCU at the provincial office; needs a media-capable flavor first"),
        "quan-ly-ngan-sach": (Reason.TENANT, "so-tc: approved"),
        "quan-ly-can-bo": (Reason.SECURITY, "Level-3 dossier being re-approved under Decree 331/2026"),
        "tro-ly-ao": (Reason.TENANT, "Waiting for a tenant request"),
        "mot-cua-xa": (Reason.TENANT, "phuong-phan-dinh-phung: requested"),
    }


def test_cloud_app_counts_only_when_its_tenant_is_active(sample: Site) -> None:
    approved = {"state": TenantState.APPROVED}
    tenants = [t.model_copy(update=approved) if t.code == "vp-ubnd" else t for t in sample.tenants]
    statuses = {s.id: s for s in app_statuses(sample.applications, tenants, sample.agencies)}
    assert statuses["qlvb"].province is False
    assert (statuses["qlvb"].reason, statuses["qlvb"].detail) == (Reason.TENANT, "vp-ubnd: approved")
    assert adoption(sample.applications, tenants, sample.agencies).overall == Share(17, 9, 10)


def test_wave_and_unplanned_reasons(sample: Site) -> None:
    apps = [
        a.model_copy(update={"blocker": None, "owner": "so-nnmt"}) if a.id in {"hop-truc-tuyen", "tro-ly-ao"} else a
        for a in sample.applications
    ]
    statuses = {s.id: s for s in app_statuses(apps, sample.tenants, sample.agencies)}
    assert (statuses["hop-truc-tuyen"].reason, statuses["hop-truc-tuyen"].detail) == (Reason.WAVE, "2027-Q1")
    assert statuses["tro-ly-ao"].reason == Reason.UNPLANNED


def test_unknown_owner_is_counted_under_unknown_kind(sample: Site) -> None:
    apps = [a.model_copy(update={"owner": "nobody"}) if a.id == "qlvb" else a for a in sample.applications]
    figures = adoption(apps, sample.tenants, sample.agencies)
    assert figures.unknown_owners == ("nobody",)
    assert figures.by_kind[UNKNOWN_KIND] == Share(1, 1, 1)
    assert figures.overall == Share(17, 11, 12)


@pytest.mark.parametrize("flip", ["", "vp-ubnd", "so-tc", "du-lieu"])
def test_quick_share_agrees_with_app_statuses(sample: Site, flip: str) -> None:
    tenants = [t.model_copy(update={"state": TenantState.RETIRED}) if t.code == flip else t for t in sample.tenants]
    apps = [a.model_copy(update={"hosting": Hosting.PROVIDER, "tenant": None, "provider": "x"})
            if a.id == "lgsp" else a for a in sample.applications]
    from infra.reports.adoption import count_shares

    assert quick_share(apps, tenants) == count_shares(app_statuses(apps, tenants, sample.agencies))
