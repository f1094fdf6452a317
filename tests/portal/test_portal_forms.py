"""The request form's submission: the same code as `hatang tenant new`, every problem at its field."""

from __future__ import annotations

from pathlib import Path

from infra.portal.forms import GENERAL, RequestForm, submit
from tests.helpers import snapshot


def _form(**changes: object) -> RequestForm:
    fields: dict[str, object] = {
        "code": "so-yte-hsba",
        "agency": "so-yte",
        "name": "Hồ sơ bệnh án điện tử",
        "security_level": "2",
        "quota_profile": "S",
        "contact_name": "Trần Thị Bình",
        "contact_email": "binh.tt@soyte.example",
        "reason": "Bệnh án điện tử",
        "applications": ("yte-tu-xa",),
        "network_names": ("app", "", ""),
        "network_access": (("gov",), (), ()),
    }
    fields.update(changes)
    return RequestForm(**fields)  # type: ignore[arg-type]


def test_submit_valid_writes_the_request_file(site: Path) -> None:
    outcome = submit(site, _form())
    assert outcome.errors == {}
    assert outcome.change is not None and outcome.change.path == site / "tenants" / "so-yte-hsba.yml"
    text = outcome.change.path.read_text(encoding="utf-8")
    assert "state: requested" in text and "by: binh.tt@soyte.example" in text


def test_submit_blank_rows_are_left_out_and_rows_map_to_their_fields(site: Path) -> None:
    outcome = submit(site, _form(network_names=("", "Web", "db"), network_access=((), ("gov",), ("internet",))))
    assert outcome.change is None
    assert set(outcome.errors) == {"network_1", "network_2"}
    assert "(got 'Web')" in outcome.errors["network_1"][0]
    assert outcome.errors["network_2"] == (
        "the site has no external internet provider network "
        "(fix: remove the access or add the zone with provider.external in zones.yml)",
    )


def test_submit_shows_every_problem_at_once_and_writes_nothing(site: Path) -> None:
    before = snapshot(site)
    outcome = submit(
        site,
        _form(
            code="Bad Code",
            name="",
            contact_email="nope",
            security_level="1",
            applications=("yte-tu-xa",),
            network_names=("Web", "app", ""),
            network_access=(("gov",), ("gov", "dmz"), ()),
            reason="",
        ),
    )
    assert outcome.change is None
    assert sorted(outcome.errors) == ["code", "contact_email", "name", "network_0", "reason", "security_level"]
    assert outcome.errors["security_level"] == (
        "level 1 is below its application 'yte-tu-xa' (level 2) (fix: raise security_level to at least 2)",
    )
    assert outcome.errors["code"][0].startswith("String should match pattern")
    assert snapshot(site) == before


def test_submit_existing_code_refused_at_the_code_field(site: Path) -> None:
    before = snapshot(site)
    outcome = submit(site, _form(code="so-yte", name="Khác"))
    assert outcome.errors == {"code": ("exists; codes are never reused (fix: choose another --code)",)}
    assert snapshot(site) == before


def test_submit_unknown_choices_from_a_forged_post_refused(site: Path) -> None:
    outcome = submit(site, _form(agency="nobody", quota_profile="XXL", applications=("nope",), security_level="9"))
    assert outcome.change is None
    assert outcome.errors["agency"] == (
        "unknown agency 'nobody' (fix: add it to agencies.yml or fix the code)",
    )
    assert outcome.errors["quota_profile"] == ("unknown quota profile 'XXL' (fix: use one of: M, S)",)
    assert outcome.errors["applications"] == (
        "unknown application 'nope' (fix: add it to applications.yml or fix the id)",
    )
    assert outcome.errors["security_level"][0].startswith("Input should be less than or equal to 5 (got 9)")


def test_submit_long_values_are_cut_short_in_messages(site: Path) -> None:
    outcome = submit(site, _form(code="X" * 500))
    (message,) = outcome.errors["code"]
    assert "(got 'XXXXXXXXXX" in message and "X" * 61 not in message and "…" in message


def test_submit_problem_of_the_site_itself_is_general(site: Path) -> None:
    profiles = site / "profiles.yml"
    profiles.write_text(profiles.read_text(encoding="utf-8").replace("cores: 4,", "cores: 4, bogus: 1,", 1))
    before = snapshot(site)
    outcome = submit(site, _form())
    assert outcome.change is None
    assert list(outcome.errors) == [GENERAL]
    assert "profiles.yml" in outcome.errors[GENERAL][0]
    assert snapshot(site) == before


def test_submit_list_rule_and_item_problem_both_shown(site: Path) -> None:
    outcome = submit(site, _form(security_level="4", applications=("yte-tu-xa", "nope")))
    assert outcome.errors["applications"] == (
        "a level-4 tenant hosts 2 systems (fix: level 4 and 5 systems get one project each "
        "(Decree 331/2026 Art. 30.8: logical separation))",
        "unknown application 'nope' (fix: add it to applications.yml or fix the id)",
    )
