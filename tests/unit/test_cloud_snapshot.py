"""Reading the cloud into a snapshot (`_snapshot`), against a fake openstacksdk connection: who
holds admin however they got it, and what ports and address groups say about security groups."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from infra.audit.cloud._snapshot import Port, RoleAssignment, _address_groups, _admin_assignments, _ports

ADMIN, SUPER, MEMBER = "r-admin", "r-super", "r-member"


class FakeIdentity:
    """Keystone with admin, a role `superuser` implying it, and member (implied by admin)."""

    def __init__(self, direct: dict[str, list[Any]], effective: dict[str, list[Any]], inferences: Any = None) -> None:
        self.direct, self.effective = direct, effective
        self.inferences = inferences if inferences is not None else [
            {"prior_role": {"id": SUPER, "name": "superuser"}, "implies": [{"id": ADMIN, "name": "admin"}]},
            {"prior_role": {"id": ADMIN, "name": "admin"}, "implies": [{"id": MEMBER, "name": "member"}]},
        ]  # fmt: skip
        self.paths: list[str] = []

    def find_role(self, name: str) -> Any:
        return SimpleNamespace(id=ADMIN) if name == "admin" else None

    def get_endpoint_data(self) -> Any:
        return SimpleNamespace(url="https://aio.example:5000")

    def get(self, path: str) -> Any:
        self.paths.append(path)
        if self.inferences == "forbidden":
            return SimpleNamespace(status_code=403, text="forbidden", json=lambda: {})
        return SimpleNamespace(status_code=200, text="", json=lambda: {"role_inferences": self.inferences})

    def role_assignments(self, role_id: str, effective: bool = False) -> list[Any]:
        return (self.effective if effective else self.direct).get(role_id, [])

    def get_user(self, ident: str) -> Any:
        return SimpleNamespace(domain_id="dom-agencies" if ident.startswith("agency") else "default")

    def get_group(self, ident: str) -> Any:
        return SimpleNamespace(domain_id="default")


def _a(user: str | None = None, group: str | None = None, project: str | None = None) -> Any:
    return SimpleNamespace(
        user={"id": user} if user else None,
        group={"id": group} if group else None,
        scope={"project": {"id": project}} if project else {},
    )


def test_admin_through_an_operator_group_or_an_implied_role_is_read() -> None:
    identity = FakeIdentity(
        direct={ADMIN: [_a(user="op", project="p-admin"), _a(group="g-ops", project="p-admin")],
                SUPER: [_a(user="agency-boss", project="p-admin")]},
        effective={ADMIN: [_a(user="op", project="p-admin"), _a(user="agency-clerk", project="p-admin")]},
    )  # fmt: skip
    errors: list[str] = []
    found = _admin_assignments(SimpleNamespace(identity=identity), errors)
    assert errors == []
    assert identity.paths == ["https://aio.example:5000/v3/role_inferences"]
    assert found == (
        RoleAssignment("admin", user="op", holder_domain_id="default", project_id="p-admin"),
        RoleAssignment("admin", group="g-ops", holder_domain_id="default", project_id="p-admin"),
        RoleAssignment("admin", user="agency-clerk", holder_domain_id="dom-agencies", project_id="p-admin"),
        RoleAssignment("superuser", user="agency-boss", holder_domain_id="dom-agencies", project_id="p-admin"),
    )


def test_implied_roles_are_followed_transitively() -> None:
    chain = [
        {"prior_role": {"id": "r-a", "name": "a"}, "implies": [{"id": "r-b"}]},
        {"prior_role": {"id": "r-b", "name": "b"}, "implies": [{"id": ADMIN}]},
    ]
    identity = FakeIdentity(direct={"r-a": [_a(user="agency-x", project="p-1")]}, effective={}, inferences=chain)
    found = _admin_assignments(SimpleNamespace(identity=identity), [])
    assert [(a.role, a.user) for a in found] == [("a", "agency-x")]


def test_unreadable_implied_roles_are_an_error_not_a_pass() -> None:
    errors: list[str] = []
    identity = FakeIdentity(direct={ADMIN: [_a(user="op", project="p-admin")]}, effective={}, inferences="forbidden")
    found = _admin_assignments(SimpleNamespace(identity=identity), errors)
    assert [a.user for a in found] == ["op"]
    assert len(errors) == 1 and errors[0].startswith("implied roles not readable: RuntimeError: GET ")


def test_ports_read_groups_addresses_and_port_security() -> None:
    raw = SimpleNamespace(
        id="pt-1", project_id="p-1", network_id="n-1", device_owner="compute:nova", security_group_ids=["sg-1"],
        fixed_ips=[{"ip_address": "10.0.0.5", "subnet_id": "s"}], allowed_address_pairs=[{"ip_address": "0.0.0.0/0"}],
        is_port_security_enabled=False,
    )  # fmt: skip
    unset = SimpleNamespace(
        id="pt-2", project_id=None, network_id="n-1", device_owner=None, security_group_ids=None, fixed_ips=None,
        allowed_address_pairs=None, is_port_security_enabled=None,
    )  # fmt: skip
    net = SimpleNamespace(ports=lambda: [raw, unset])
    assert _ports(net) == (
        Port("pt-1", "p-1", "n-1", "compute:nova", ("sg-1",), ("10.0.0.5",), ("0.0.0.0/0",), False),
        Port("pt-2", "", "n-1", "", (), (), (), True),  # unknown port security: Neutron's default, on
    )


@pytest.mark.parametrize("net", [SimpleNamespace(), SimpleNamespace(address_groups=lambda: 1 / 0)])
def test_address_groups_absent_or_unsupported_read_as_none(net: Any) -> None:
    assert _address_groups(net) == ()
