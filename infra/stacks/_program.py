"""What both programs' `main()` share: reading the stack config and loading the site."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Collection, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

import pulumi_openstack as openstack

import pulumi
from infra.errors import HatangError, InventoryError, Problem
from infra.site import Site, load_site
from infra.validate import validate_site

__all__ = [
    "CONFIG_NAMESPACE",
    "ProgramConfigError",
    "as_of",
    "load_program_site",
    "preloaded",
    "provider",
    "stack_site",
    "stack_tenant",
]

CONFIG_NAMESPACE = "hatang"
"""Stack config keys: hatang:inventory (required), hatang:cloud, hatang:asOf (optional)."""


class ProgramConfigError(HatangError):
    """The stack's config does not name a usable site for this stack."""


@dataclasses.dataclass(frozen=True)
class _Preloaded:
    site: Site
    problems: tuple[Problem, ...]
    tenants: frozenset[str] | None


_PRELOADED: ContextVar[_Preloaded | None] = ContextVar("hatang_preloaded_site", default=None)


@contextlib.contextmanager
def preloaded(site: Site, problems: Collection[Problem], tenants: Collection[str] | None = None) -> Iterator[None]:
    """Let the programs use a site already loaded and validated (offline plan only).

    Reading and validating a 1,000-tenant site takes ~0.75 s, and the offline plan runs the programs
    several times. Used only while `hatang:inventory` names `site.root`.

    Args:
        site: the site `hatang:inventory` names.
        problems: `validate_site(site)`.
        tenants: declare only these tenants (codes): the offline plan runs the tenants program
            on batches of a large site's tenants in worker processes. Validation still sees all.
    """
    token = _PRELOADED.set(_Preloaded(site, tuple(problems), None if tenants is None else frozenset(tenants)))
    try:
        yield
    finally:
        _PRELOADED.reset(token)


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
    given = _PRELOADED.get()
    if given is not None and given.site.root != inventory:
        given = None
    site = given.site if given is not None else load_site(inventory)
    stack = pulumi.get_stack()
    if site.name != stack_site(stack):
        raise ProgramConfigError(
            f"stack {stack!r} would render site {site.name!r} ({inventory}); the stack name is the site "
            f"name (a tenant's stack: <site>.<tenant code>): set hatang:inventory to "
            f"inventories/{stack_site(stack)} in Pulumi.{stack}.yaml"
        )
    problems = list(given.problems) if given is not None else validate_site(site)
    if problems and not lenient:
        raise InventoryError(problems)
    for problem in problems:
        pulumi.log.warn(f"site problem (rendered anyway, offline plan): {problem}")
    if given is not None and given.tenants is not None:
        site = dataclasses.replace(site, tenants=tuple(t for t in site.tenants if t.code in given.tenants))
    return site


def stack_site(stack: str) -> str:
    """The site a stack renders: `<site>`, or `<site>.<tenant code>` for one tenant's stack."""
    return stack.partition(".")[0]


def stack_tenant(stack: str) -> str | None:
    """The tenant a tenants stack renders alone (`<site>.<code>`), or None for every tenant."""
    return stack.partition(".")[2] or None


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
