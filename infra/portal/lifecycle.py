"""What an agency follows: each tenant's lifecycle, read from the site model (never from the cloud)."""

from __future__ import annotations

from dataclasses import dataclass

from infra.quotas import ProfileError, resolve_profile
from infra.schema import TenantRequest, TenantState
from infra.site import Site

__all__ = [
    "MAIN_PATH",
    "REJECTED_PATH",
    "STATES",
    "NetworkView",
    "ProfileView",
    "TenantView",
    "profile_view",
    "profiles",
    "tenant_view",
    "tenant_views",
]

STATES = tuple(TenantState)
"""Every state: the filters and date columns of the list."""

MAIN_PATH = (TenantState.REQUESTED, TenantState.APPROVED, TenantState.ACTIVE, TenantState.RETIRED)
"""requested → approved → active → retired: the lifecycle of a tenant that was not rejected."""

REJECTED_PATH = (TenantState.REQUESTED, TenantState.REJECTED)
"""requested → rejected: the whole lifecycle of a rejected request (final)."""


@dataclass(frozen=True)
class NetworkView:
    """One tenant network with the subnets its approval allocated (empty until approved)."""

    name: str
    access: tuple[str, ...]
    ipv4: str = ""
    ipv6: str = ""


@dataclass(frozen=True)
class TenantView:
    """One tenant as the portal shows it: no contact addresses or phone numbers."""

    code: str
    name: str
    agency: str
    agency_name: str
    security_level: int
    quota_profile: str
    state: str
    reached: dict[str, str]
    """State -> date it was first reached (YYYY-MM-DD), for the states reached so far."""
    ipv4: str
    networks: tuple[NetworkView, ...]
    applications: tuple[str, ...]
    contacts: tuple[str, ...]
    """Contact names and roles only."""
    history: tuple[tuple[str, str, str, str], ...]
    """(state, at, by, reason) in order."""
    branch: str = ""
    """The git branch the request waits on; '' when it is in the site folder."""
    rejected: str = ""
    """Why a reviewer rejected the request (the reason of its `rejected` entry); '' when not rejected."""

    @property
    def pending(self) -> bool:
        """Waiting for a reviewer: in state requested."""
        return self.state == TenantState.REQUESTED.value

    @property
    def path(self) -> tuple[str, ...]:
        """The states of this tenant's lifecycle, in order: the rejected path or the main one."""
        chosen = REJECTED_PATH if self.state == TenantState.REJECTED.value else MAIN_PATH
        return tuple(s.value for s in chosen)


@dataclass(frozen=True)
class ProfileView:
    """A quota profile with what it means in vCPU, RAM and storage."""

    name: str
    description: str
    vcpus: int
    ram_gib: float
    volume_gb: int
    instances: int


def tenant_view(site: Site, tenant: TenantRequest, branch: str = "") -> TenantView:
    """The portal's view of one tenant (on `branch` when not in the site folder yet)."""
    agency = site.agency(tenant.agency)
    reached: dict[str, str] = {}
    for change in tenant.history:
        reached.setdefault(change.state.value, change.at.date().isoformat())
    rejected = tenant.history[-1].reason if tenant.state == TenantState.REJECTED else ""
    allocated = tenant.allocation.networks if tenant.allocation is not None else {}
    networks = tuple(
        NetworkView(
            name=n.name,
            access=tuple(a.value for a in n.access),
            ipv4=str(allocated[n.name].ipv4) if n.name in allocated else "",
            ipv6=str(allocated[n.name].ipv6) if n.name in allocated else "",
        )
        for n in tenant.networks
    )
    return TenantView(
        code=tenant.code,
        name=tenant.name,
        agency=tenant.agency,
        agency_name=agency.name if agency is not None else tenant.agency,
        security_level=tenant.security_level,
        quota_profile=tenant.quota_profile,
        state=tenant.state.value,
        reached=reached,
        ipv4=str(tenant.allocation.ipv4) if tenant.allocation is not None else "",
        networks=networks,
        applications=tenant.applications,
        contacts=tuple(f"{c.name} ({c.role})" for c in tenant.contacts),
        history=tuple((c.state.value, c.at.isoformat(), c.by, c.reason) for c in tenant.history),
        branch=branch,
        rejected=rejected,
    )


def tenant_views(site: Site) -> list[TenantView]:
    """Every tenant of the site, by code."""
    return [tenant_view(site, t) for t in sorted(site.tenants, key=lambda t: t.code)]


def profile_view(site: Site, name: str) -> ProfileView | None:
    """Profile `name` with its size from the site model; None when it does not resolve
    (`hatang validate` reports why)."""
    profile = site.profiles.get(name)
    if profile is None:
        return None
    try:
        quotas = resolve_profile(name, site.profiles)
    except ProfileError:
        return None
    return ProfileView(
        name=name,
        description=profile.description,
        vcpus=quotas.compute.cores,
        ram_gib=round(quotas.compute.ram / 1024, 1),
        volume_gb=quotas.volume.gigabytes,
        instances=quotas.compute.instances,
    )


def profiles(site: Site) -> list[ProfileView]:
    """The quota profiles an agency can choose, with their size; unresolvable ones are left out."""
    return [view for name in sorted(site.profiles) if (view := profile_view(site, name)) is not None]
