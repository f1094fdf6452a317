"""The cloud checks that only read: one pure function per catalogue check id, each comparing
what the cloud has (a `Snapshot`) with what the site model says (`Expected`).

Every function returns a `CheckResult` with `observed` and `expected`, and the findings that
make it fail; the live probes (Keystone lockout, TLS handshakes, tenant isolation) are in
`_probes`; the security-group checks in `_security_groups`. `drift` lists every difference
between the model's tenants and the cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from infra.audit._model import CheckResult, Outcome
from infra.audit.cloud._expected import Expected
from infra.audit.cloud._ovn import ovn_agrees_with_neutron
from infra.audit.cloud._result import check_result
from infra.audit.cloud._security_groups import no_world_open_admin_ports, security_group_rules_dual_stack
from infra.audit.cloud._snapshot import QUOTA_KEYS, Network, Project, Snapshot
from infra.specs.cloud import tag

__all__ = [
    "DRIFT_CHECK",
    "PURE_CHECKS",
    "Drift",
    "admin_role_restricted",
    "check_result",
    "drift",
    "external_networks_as_allowed",
    "image_sharing_approved",
    "network_sharing_approved",
    "no_world_open_admin_ports",
    "one_project_per_agency",
    "ovn_agrees_with_neutron",
    "project_quotas_explicit",
    "provider_networks_match_zones",
    "security_group_rules_dual_stack",
    "tenant_networks_dual_stack",
    "volume_encryption_available",
]

DRIFT_CHECK = "cloud_matches_site_model"
"""Check id of the drift comparison (a finding whenever the cloud differs from the model)."""


def _agency_projects(expected: Expected, snapshot: Snapshot) -> tuple[Project, ...]:
    return snapshot.projects_in(expected.domain)


def _by_name(projects: Iterable[Project]) -> dict[str, Project]:
    return {p.name: p for p in projects}


# --------------------------------------------------------------------------- quotas


def project_quotas_explicit(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-QUOTA-01: every agency project has every governed quota set, none unlimited (-1), and a
    tenant of the model exactly its approved profile."""
    findings: list[dict[str, Any]] = []
    observed: dict[str, Any] = {}
    wanted: dict[str, Any] = {}
    for project in _agency_projects(expected, snapshot):
        spec = expected.tenants.get(project.name)
        quotas = snapshot.quotas.get(project.id)
        observed[project.name] = quotas if quotas is not None else snapshot.quota_errors.get(project.id, "not read")
        wanted[project.name] = {k: dict(v) for k, v in spec.quotas.items()} if spec else "no key unlimited (-1)"
        if quotas is None:
            findings.append({"project": project.name, "problem": "quotas not readable"})
            continue
        for section, keys in QUOTA_KEYS.items():
            for key in keys:
                value = quotas.get(section, {}).get(key)
                if value is None:
                    findings.append({"project": project.name, "quota": f"{section}.{key}", "problem": "not set"})
                elif value < 0:
                    findings.append({"project": project.name, "quota": f"{section}.{key}", "problem": "unlimited"})
                elif spec is not None and spec.quotas.get(section, {}).get(key) != value:
                    findings.append(
                        {
                            "project": project.name,
                            "quota": f"{section}.{key}",
                            "expected": spec.quotas.get(section, {}).get(key),
                            "observed": value,
                        }
                    )
    return check_result(
        "project_quotas_explicit",
        findings,
        {"quotas": observed, "findings": findings},
        wanted,
        "quotas unlimited, unset or not the approved profile",
    )


# --------------------------------------------------------------------------- networks


def _zone_network_name(network: Network, expected: Expected) -> str:
    """The network's name when it is its zone's provider network (same type and physnet as the
    platform spec); otherwise a label no tenant is allowed: another network named like a zone's
    is not the zone's."""
    spec = expected.externals.get(network.name)
    if spec is None or (network.provider_type, network.physnet) == (spec.network_type, spec.physnet):
        return network.name
    return f"{network.name} ({network.id}: {network.provider_type or 'no type'} on {network.physnet or 'no physnet'})"


def _external_access(expected: Expected, snapshot: Snapshot) -> dict[str, set[str]]:
    """External network name -> project names (or '*') it is attachable to by RBAC."""
    out: dict[str, set[str]] = {_zone_network_name(n, expected): set() for n in snapshot.networks if n.external}
    for r in snapshot.rbac:
        if r.object_type == "network" and r.action == "access_as_external":
            network = snapshot.network(r.object_id)
            name = _zone_network_name(network, expected) if network is not None else f"unknown network {r.object_id}"
            out.setdefault(name, set()).add(snapshot.project_name(r.target))
    return out


def external_networks_as_allowed(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-NET-01: an external network is attachable (RBAC access_as_external, or a router
    gateway) only by the tenants whose request asks for it, never by everyone ('*')."""
    access = _external_access(expected, snapshot)
    allowed: dict[str, set[str]] = {name: set() for name in [*expected.externals, *access]}
    for code in expected.tenants:
        for name in expected.allowed_externals(code):
            allowed.setdefault(name, set()).add(code)
    findings = []
    for name, targets in sorted(access.items()):
        for target in sorted(targets - allowed.get(name, set())):
            why = "every project ('*')" if target == "*" else "not asked for by the tenant's request"
            findings.append({"network": name, "project": target, "via": "rbac access_as_external", "problem": why})
    agency_ids = {p.id for p in _agency_projects(expected, snapshot)}
    for router in snapshot.routers:
        if not router.gateway_network_id or router.project_id not in agency_ids:
            continue
        gateway = snapshot.network(router.gateway_network_id)
        name = _zone_network_name(gateway, expected) if gateway else f"unknown network {router.gateway_network_id}"
        project = snapshot.project_name(router.project_id)
        if project not in allowed.get(name, set()):
            findings.append(
                {"network": name, "project": project, "via": f"router {router.name}", "problem": "not allowed"}
            )
    return check_result(
        "external_networks_as_allowed",
        findings,
        {"attachable_by": {k: sorted(v) for k, v in sorted(access.items())}, "findings": findings},
        {"attachable_by": {k: sorted(v) for k, v in sorted(allowed.items())}},
        "external networks attachable by projects whose request does not allow it",
    )


def tenant_networks_dual_stack(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-NET-02: every network of an agency project has an IPv4 and an IPv6 subnet."""
    findings = []
    observed: dict[str, dict[str, list[int]]] = {}
    for project in _agency_projects(expected, snapshot):
        for network in snapshot.owned(project.id):
            if network.external:
                continue
            versions = sorted({s.ip_version for s in snapshot.subnets_of(network.id)})
            observed.setdefault(project.name, {})[network.name] = versions
            missing = [f"IPv{v}" for v in (4, 6) if v not in versions]
            if missing:
                findings.append({"project": project.name, "network": network.name, "missing": missing})
    return check_result(
        "tenant_networks_dual_stack",
        findings,
        {"ip_versions": observed, "findings": findings},
        {"ip_versions": "[4, 6] on every tenant network"},
        "tenant networks without both an IPv4 and an IPv6 subnet",
    )


def provider_networks_match_zones(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-NET-03: provider (flat/VLAN) and external networks are exactly the zones' networks.

    A zone's network is created not external; Neutron makes it external with the first tenant's
    grant (infra/stacks/platform_components.ExternalNetwork): external exactly when a tenant of
    the model is granted it.
    """
    granted = {name for code in expected.tenants for name in expected.allowed_externals(code)}
    observed: dict[str, dict[str, Any]] = {}
    for n in snapshot.networks:
        if n.external or n.provider_type in {"flat", "vlan"}:
            observed[n.name] = {
                "network_type": n.provider_type,
                "physnet": n.physnet,
                "segmentation_id": n.segmentation_id if n.provider_type == "vlan" else None,
                "external": n.external,
                "cidrs": sorted(s.cidr for s in snapshot.subnets_of(n.id)),
            }
    wanted = {
        name: {
            "network_type": ext.network_type,
            "physnet": ext.physnet,
            "segmentation_id": ext.segmentation_id,
            "external": name in granted,
            "cidrs": sorted([str(ext.ipv4), str(ext.ipv6)]),
        }
        for name, ext in expected.externals.items()
    }
    findings: list[dict[str, Any]] = []
    names = [n.name for n in snapshot.networks if n.external or n.provider_type in {"flat", "vlan"} or n.name in wanted]
    for name in sorted({n for n in names if names.count(n) > 1}):
        findings.append({"network": name, "problem": f"{names.count(name)} networks carry this name"})
    for name in sorted(set(observed) | set(wanted)):
        if name not in wanted:
            findings.append({"network": name, "problem": "provider network of no zone"})
        elif name not in observed:
            findings.append({"network": name, "problem": "missing"})
        elif observed[name] != wanted[name]:
            diff = {k: {"expected": v, "observed": observed[name].get(k)} for k, v in wanted[name].items()
                    if observed[name].get(k) != v}  # fmt: skip
            findings.append({"network": name, "problem": "differs", "differences": diff})
    return check_result(
        "provider_networks_match_zones",
        findings,
        {"provider_networks": observed, "findings": findings},
        {"provider_networks": wanted},
        "provider networks that are not the site's zones",
    )


def network_sharing_approved(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-NET-04: nothing is shared between projects (the site model approves no sharing):
    no network marked shared, no RBAC access_as_shared of any object."""
    findings: list[dict[str, Any]] = [
        {"network": n.name, "owner": snapshot.project_name(n.project_id), "problem": "shared with every project"}
        for n in snapshot.networks
        if n.shared
    ]
    for r in snapshot.rbac:
        if r.action == "access_as_shared":
            name = snapshot.network_name(r.object_id) if r.object_type == "network" else r.object_id
            findings.append(
                {
                    "object": f"{r.object_type} {name}",
                    "owner": snapshot.project_name(r.project_id),
                    "shared_with": snapshot.project_name(r.target),
                    "rbac": r.id,
                }
            )
    return check_result(
        "network_sharing_approved",
        findings,
        {},
        {"findings": []},
        "objects shared between projects without approval in the site model",
    )


def image_sharing_approved(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-IMG-01: a public or community image belongs to the platform, never to an agency project."""
    agency = {p.id: p.name for p in _agency_projects(expected, snapshot)}
    findings = [
        {"image": i.name, "id": i.id, "owner": agency[i.owner], "visibility": i.visibility}
        for i in snapshot.images
        if i.visibility in {"public", "community"} and i.owner in agency
    ]
    public = sorted(f"{i.name} ({snapshot.project_name(i.owner)})" for i in snapshot.images if i.visibility == "public")
    return check_result(
        "image_sharing_approved",
        findings,
        {"public_images": public},
        {"findings": []},
        "images published by agency projects",
    )


# --------------------------------------------------------------------------- identity


def one_project_per_agency(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-ID-02: each tenant of the model has one project in the agencies domain, tagged with
    its agency and level; the domain holds no other project."""
    projects = _agency_projects(expected, snapshot)
    by_name = _by_name(projects)
    findings: list[dict[str, Any]] = []
    observed = {p.name: sorted(t for t in p.tags if t.startswith("hatang:")) for p in projects}
    wanted = {
        code: sorted([tag("agency", spec.agency), tag("level", spec.level)]) for code, spec in expected.tenants.items()
    }
    if expected.domain not in snapshot.domains:
        findings.append({"domain": expected.domain, "problem": "agencies domain missing"})
    for code, tags in wanted.items():
        project = by_name.get(code)
        if project is None:
            findings.append({"project": code, "problem": "missing"})
            continue
        missing = [t for t in tags if t not in project.tags]
        if missing:
            findings.append({"project": code, "problem": "tags missing", "tags": missing})
    for project in projects:
        if project.name not in wanted:
            findings.append({"project": project.name, "problem": "not a tenant of the site model"})
    return check_result(
        "one_project_per_agency",
        findings,
        {"projects": observed, "findings": findings},
        {"projects": wanted},
        "agency projects missing, untagged or unknown to the site model",
    )


def admin_role_restricted(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-ID-03: no user or group of the agencies domain holds admin, and admin is granted on
    no agency project (Keystone's admin is cloud-wide). Holders are read directly and
    effectively (group membership, inheritance) for admin and every role implying it."""
    domain_id = snapshot.domains.get(expected.domain)
    agency = {p.id for p in _agency_projects(expected, snapshot)}
    findings = []
    holders = []
    for a in snapshot.admin_assignments:
        holder = f"user {a.user}" if a.user else f"group {a.group}"
        scope = (
            "system" if a.system else f"project {snapshot.project_name(a.project_id)}" if a.project_id
            else f"domain {a.domain_id}"
        )  # fmt: skip
        holders.append(f"{holder} on {scope}")
        if domain_id is not None and a.holder_domain_id == domain_id:
            findings.append({"holder": holder, "scope": scope, "problem": "an agency account holds admin"})
        elif a.project_id in agency or (domain_id is not None and a.domain_id == domain_id):
            findings.append({"holder": holder, "scope": scope, "problem": "admin granted on an agency project"})
    if snapshot.admin_errors:
        return CheckResult(
            "admin_role_restricted",
            Outcome.ERROR,
            {"admin_holders": sorted(holders), "findings": findings, "not_read": list(snapshot.admin_errors)},
            None,
            "; ".join(snapshot.admin_errors),
        )
    return check_result(
        "admin_role_restricted",
        findings,
        {"admin_holders": sorted(holders), "findings": findings},
        {"admin_holders": f"operator and service accounts outside domain {expected.domain}"},
        "admin held by agency accounts or on agency projects",
    )


def volume_encryption_available(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """HC-VOL-01: at least one volume type encrypts at rest."""
    observed = {vt.name: vt.encrypted for vt in snapshot.volume_types}
    findings = [] if any(observed.values()) else [{"problem": "no encrypted volume type"}]
    return check_result(
        "volume_encryption_available",
        findings,
        {"volume_types": observed},
        {"encrypted_volume_types": ">= 1"},
        "no volume type with encryption",
    )


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True, order=True)
class Drift:
    """One difference between the site model and the cloud."""

    tenant: str
    item: str
    problem: str
    expected: Any = None
    observed: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "item": self.item,
            "problem": self.problem,
            "expected": self.expected,
            "observed": self.observed,
        }


def _tenant_drift(code: str, project: Project, expected: Expected, snapshot: Snapshot) -> list[Drift]:
    spec = expected.tenants[code]
    out: list[Drift] = []
    if project.enabled != spec.enabled:
        out.append(Drift(code, "project", "enabled differs", spec.enabled, project.enabled))
    networks = {n.name: n for n in snapshot.owned(project.id) if not n.external}
    wanted = {n.name: n for n in spec.networks}
    for name in sorted(set(networks) - set(wanted)):
        out.append(Drift(code, f"network {name}", "not in the site model", None, networks[name].id))
    for name, net in sorted(wanted.items()):
        network = networks.get(name)
        if network is None:
            out.append(Drift(code, f"network {name}", "missing", f"{net.ipv4} {net.ipv6}", None))
            continue
        subnets = {s.name: s.cidr for s in snapshot.subnets_of(network.id)}
        want = {f"{name}-v4": str(net.ipv4), f"{name}-v6": str(net.ipv6)}
        for sub in sorted(set(subnets) | set(want)):
            if sub not in want:
                out.append(Drift(code, f"subnet {sub}", "not in the site model", None, subnets[sub]))
            elif sub not in subnets:
                out.append(Drift(code, f"subnet {sub}", "missing", want[sub], None))
            elif subnets[sub] != want[sub]:
                out.append(Drift(code, f"subnet {sub}", "CIDR differs from the allocation", want[sub], subnets[sub]))
    quotas = snapshot.quotas.get(project.id)
    if quotas is None:
        out.append(Drift(code, "quotas", "not readable", None, snapshot.quota_errors.get(project.id)))
    else:
        for section, keys in QUOTA_KEYS.items():
            for key in keys:
                want_value = spec.quotas.get(section, {}).get(key)
                have = quotas.get(section, {}).get(key)
                if want_value != have:
                    out.append(Drift(code, f"quota {section}.{key}", "differs from the profile", want_value, have))
    routers = {r.name: r for r in snapshot.routers if r.project_id == project.id}
    want_routers = {f"{code}-{r.access.value}": r.external_network for r in spec.routers}
    for name in sorted(set(routers) | set(want_routers)):
        if name not in want_routers:
            out.append(Drift(code, f"router {name}", "not in the site model", None, routers[name].id))
        elif name not in routers:
            out.append(Drift(code, f"router {name}", "missing", want_routers[name], None))
        else:
            gateway = routers[name].gateway_network_id
            have_gw = snapshot.network_name(gateway) if gateway else None
            if have_gw != want_routers[name]:
                out.append(Drift(code, f"router {name}", "gateway differs", want_routers[name], have_gw))
    access = _external_access(expected, snapshot)
    have_ext = {name for name, targets in access.items() if code in targets}
    want_ext = expected.allowed_externals(code)
    for name in sorted(want_ext - have_ext):
        out.append(Drift(code, f"external {name}", "access_as_external missing", code, None))
    for name in sorted(have_ext - want_ext):
        out.append(Drift(code, f"external {name}", "access_as_external not in the site model", None, code))
    return out


def drift(expected: Expected, snapshot: Snapshot) -> list[Drift]:
    """Every difference between the tenants of the model and the agency projects of the cloud:
    projects (present, enabled), networks, subnets and their CIDRs, quotas, routers and their
    gateways, external access. Sorted; empty when the cloud is what the model says."""
    projects = _by_name(_agency_projects(expected, snapshot))
    out: list[Drift] = []
    if expected.domain not in snapshot.domains:
        return [Drift("*", f"domain {expected.domain}", "missing")]
    for code in sorted(expected.tenants):
        project = projects.get(code)
        if project is None:
            out.append(Drift(code, "project", "missing", "present", None))
        else:
            out.extend(_tenant_drift(code, project, expected, snapshot))
    for name, project in sorted(projects.items()):
        if name in expected.removed:
            out.append(Drift(name, "project", "retired past its grace period but still present", None, project.id))
        elif name in expected.requested:
            out.append(Drift(name, "project", "exists before the request was approved", None, project.id))
        elif name not in expected.tenants:
            out.append(Drift(name, "project", "not in the site model", None, project.id))
    return sorted(out)


def drift_check(expected: Expected, snapshot: Snapshot) -> CheckResult:
    """The drift as a check: a finding per difference."""
    found = [d.to_dict() for d in drift(expected, snapshot)]
    return check_result(
        DRIFT_CHECK,
        found,
        {"tenants": sorted(p.name for p in _agency_projects(expected, snapshot))},
        {"findings": [], "tenants": sorted(expected.tenants)},
        "differences between the site model and the cloud",
    )


PureCheck = Callable[[Expected, Snapshot], CheckResult]

PURE_CHECKS: dict[str, PureCheck] = {
    "project_quotas_explicit": project_quotas_explicit,
    "no_world_open_admin_ports": no_world_open_admin_ports,
    "security_group_rules_dual_stack": security_group_rules_dual_stack,
    "external_networks_as_allowed": external_networks_as_allowed,
    "tenant_networks_dual_stack": tenant_networks_dual_stack,
    "provider_networks_match_zones": provider_networks_match_zones,
    "network_sharing_approved": network_sharing_approved,
    "image_sharing_approved": image_sharing_approved,
    "one_project_per_agency": one_project_per_agency,
    "admin_role_restricted": admin_role_restricted,
    "volume_encryption_available": volume_encryption_available,
    "ovn_agrees_with_neutron": ovn_agrees_with_neutron,
    DRIFT_CHECK: drift_check,
}
"""Check id -> function, for the checks that read the snapshot only."""
