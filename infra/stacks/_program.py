"""What both programs' `main()` share: reading the stack config and loading the site."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pulumi_openstack as openstack

import pulumi
from infra.errors import HatangError, InventoryError
from infra.site import Site, load_site
from infra.validate import validate_site

__all__ = ["CONFIG_NAMESPACE", "ProgramConfigError", "as_of", "load_program_site", "provider"]

CONFIG_NAMESPACE = "hatang"
"""Stack config keys: hatang:inventory (required), hatang:cloud, hatang:asOf (optional)."""


class ProgramConfigError(HatangError):
    """The stack's config does not name a usable site for this stack."""


def load_program_site(*, lenient: bool = False) -> Site:
    """The site named by `hatang:inventory`, checked against the stack name.

    Args:
        lenient: log site problems as warnings instead of refusing (offline plan only: the
            policy pack then names the resources a problem would produce).

    Raises:
        ProgramConfigError: the stack renders another site.
        InventoryError: the site is invalid (unless lenient).
    """
    config = pulumi.Config(CONFIG_NAMESPACE)
    inventory = Path(config.require("inventory"))
    site = load_site(inventory)
    stack = pulumi.get_stack()
    if site.name != stack:
        raise ProgramConfigError(
            f"stack {stack!r} would render site {site.name!r} ({inventory}); the stack name is the site "
            f"name: set hatang:inventory to inventories/{stack} in Pulumi.{stack}.yaml"
        )
    problems = validate_site(site)
    if problems and not lenient:
        raise InventoryError(problems)
    for problem in problems:
        pulumi.log.warn(f"site problem (rendered anyway, offline plan): {problem}")
    return site


def as_of() -> datetime:
    """The moment retirement grace periods are measured against (`hatang:asOf`, default now)."""
    value = pulumi.Config(CONFIG_NAMESPACE).get("asOf")
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProgramConfigError(
            f"hatang:asOf {value!r} is not an ISO date-time, e.g. 2026-11-28T00:00:00+07:00"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def provider(site: Site) -> openstack.Provider:
    """The OpenStack provider for the site's region; auth from clouds.yaml (`hatang:cloud`)."""
    return openstack.Provider(
        "openstack",
        cloud=pulumi.Config(CONFIG_NAMESPACE).get("cloud"),
        region=site.info.region,
    )
