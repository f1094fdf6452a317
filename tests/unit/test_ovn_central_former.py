"""Role ovn_central: the pattern that finds a replaced member's former self in `cluster/status`.

The status below is what ovsdb-server 3.5 printed for a member that joined at the address of one
that was powered off and removed (recorded with three servers on one machine, here with the
role's TLS addresses): the former server id stays listed at the same address until it is kicked.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import yaml

TASKS = Path(__file__).resolve().parents[2] / "roles" / "ovn_central" / "tasks" / "central.yml"
STATUS = """\
5132
Name: OVN_Northbound
Cluster ID: ce2d (ce2d391d-7599-496e-a2dd-ac0ff941a8b3)
Server ID: 5132 (51324c0c-5a98-47ea-bac4-7d65939853c9)
Address: ssl:10.197.2.11:6643
Status: cluster member
Role: follower
Servers:
    5132 (5132 at ssl:10.197.2.11:6643) (self)
    32c4 (32c4 at ssl:10.197.2.12:6643)
    aa0d (aa0d at ssl:10.197.2.13:6643) last msg 12 ms ago
    0e6e (0e6e at ssl:10.197.2.11:6643)
    0e6f (0e6f at ssl:10.197.2.111:6643)
"""


def _pattern(address: str) -> str:
    """The task's `_former_server`, templated as Ansible would (regex_escape is re.escape)."""
    tasks = yaml.safe_load(TASKS.read_text(encoding="utf-8"))
    task = next(t for t in tasks if t["name"] == "Find former servers at this host's address")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["regex_escape"] = re.escape
    return env.from_string(task["vars"]["_former_server"]).render(ovn_central_address=address)


def test_the_former_server_at_this_address_is_found_and_not_self_nor_a_longer_address() -> None:
    assert re.findall(_pattern("10.197.2.11"), STATUS) == ["0e6e"]


def test_a_member_without_a_former_self_finds_none() -> None:
    """The same cluster as the third member prints it: only its own line is at its address."""
    own = STATUS.replace(") (self)", ")").replace("ssl:10.197.2.13:6643) last", "ssl:10.197.2.13:6643) (self) last")
    assert re.findall(_pattern("10.197.2.13"), own) == []
