"""Quota profiles resolved through inheritance, and capacity arithmetic.

Every quota key is explicit after resolution: an unset Neutron quota in the Pulumi provider
becomes 0, and an unlimited (-1) one defeats capacity planning, so neither is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from infra.schema import Capacity, Profile, QuotaCompute, QuotaNetwork, QuotaVolume

__all__ = ["CapacityTotals", "ProfileError", "Quotas", "capacity_totals", "resolve_profile"]

SECTIONS: dict[str, type[QuotaCompute] | type[QuotaNetwork] | type[QuotaVolume]] = {
    "compute": QuotaCompute,
    "network": QuotaNetwork,
    "volume": QuotaVolume,
}


class ProfileError(ValueError):
    """A profile cannot be resolved: a cycle, an unknown parent, or missing/unknown keys."""


@dataclass(frozen=True)
class Quotas:
    compute: QuotaCompute
    network: QuotaNetwork
    volume: QuotaVolume

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "compute": self.compute.model_dump(),
            "network": self.network.model_dump(),
            "volume": self.volume.model_dump(),
        }


def _chain(name: str, profiles: Mapping[str, Profile]) -> list[Profile]:
    chain: list[Profile] = []
    seen: list[str] = []
    current: str | None = name
    while current is not None:
        if current in seen:
            raise ProfileError(f"inheritance cycle: {' -> '.join([*seen, current])}")
        if current not in profiles:
            raise ProfileError(f"unknown profile {current!r}; known: {', '.join(sorted(profiles))}")
        seen.append(current)
        chain.append(profiles[current])
        current = profiles[current].inherits
    return list(reversed(chain))


def resolve_profile(name: str, profiles: Mapping[str, Profile]) -> Quotas:
    """Merge a profile over its ancestors and check every key is set, none unlimited.

    Raises:
        ProfileError: naming the profile, section and keys at fault.
    """
    merged: dict[str, dict[str, int]] = {section: {} for section in SECTIONS}
    for profile in _chain(name, profiles):
        for section in SECTIONS:
            merged[section].update(getattr(profile, section))
    resolved = {}
    for section, model in SECTIONS.items():
        values = merged[section]
        unknown = sorted(set(values) - set(model.model_fields))
        missing = sorted(set(model.model_fields) - set(values))
        if unknown:
            raise ProfileError(
                f"{section}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(model.model_fields))}"
            )
        if missing:
            raise ProfileError(f"{section}: missing key(s) {', '.join(missing)} (every quota is explicit)")
        try:
            resolved[section] = model.model_validate(values)
        except ValidationError as exc:
            bad = ", ".join(f"{e['loc'][0]}={e['input']}" for e in exc.errors())
            raise ProfileError(f"{section}: negative/unlimited value(s) {bad}; use a number >= 0") from exc
    return Quotas(**resolved)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CapacityTotals:
    """What the hardware can give tenants, overcommit included."""

    vcpus: int
    ram_mb: int
    volume_gb: int


def capacity_totals(capacity: Capacity, hosts_per_group: Mapping[str, int]) -> CapacityTotals:
    """Sum per-host hardware over the hosts of each group, minus host reserves, times overcommit."""
    cores = ram_gb = disk_gb = 0
    for group, spec in capacity.groups.items():
        count = hosts_per_group.get(group, 0)
        if spec.cores:
            cores += count * max(spec.cores - capacity.reserved_cores, 0)
            ram_gb += count * max(spec.ram_gb - capacity.reserved_ram_gb, 0)
        disk_gb += count * spec.disk_gb
    return CapacityTotals(
        vcpus=int(cores * capacity.overcommit.cpu),
        ram_mb=int(ram_gb * 1024 * capacity.overcommit.ram),
        volume_gb=int(disk_gb / capacity.storage_replicas * capacity.overcommit.disk),
    )
