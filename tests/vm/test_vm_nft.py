"""Firewall rulesets that only a kernel with every nftables module can load (issue 15).

tests/unit/test_fw_evasions.py loads each crafted ruleset variant with nft, in a throwaway network
namespace, and checks that what nft lists back gives the audit the same findings as the crafted
JSON. This machine's kernel has no loadable modules and no nft_queue, so the variants that need
one are loaded here instead, in the VM's own kernel (Debian's, which has them all).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from infra.audit import _fwcheck
from infra.audit._facts import host_facts
from infra.testhosts import vm
from tests.unit._lab import lab_site
from tests.unit.test_fw_evasions import NEEDS_A_FULL_KERNEL, _findings, _rendered, fw_variants

pytestmark = pytest.mark.vm

HOST = "ctl01"
MAC = "52:54:00:19:31:00"
NETWORK = IPv4Interface("10.190.250.1/24")
"""The VM's own network (QEMU's user network): it only carries SSH."""


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vm.Vm]:
    image = vm.ensure_vm_image()
    booted = vm.boot("vmnft", image, Path(tmp_path_factory.mktemp("vmnft")), [vm.Nic(MAC, net=NETWORK)])
    yield booted
    booted.stop()


@pytest.mark.parametrize("variant", [p for p in fw_variants() if p.id in NEEDS_A_FULL_KERNEL])
def test_fw_variant_the_machine_cannot_load_loads_in_the_vm(machine: vm.Vm, variant: object) -> None:
    site = lab_site()
    facts, zones = host_facts(site, HOST), _fwcheck.zones_of_host(site, HOST)
    doc = variant(_rendered(site, HOST))  # type: ignore[operator]
    listed = machine.ssh(
        f"cat > /root/variant.json <<'JSON'\n{json.dumps(doc)}\nJSON\n"
        "unshare -n sh -c 'nft -j -f /root/variant.json && nft -j list ruleset'",
        check=False,
    )
    assert listed.returncode == 0, f"nft refused the crafted ruleset: {listed.stderr[-1500:]}"
    assert _findings(json.loads(listed.stdout), facts, zones) == _findings(doc, facts, zones)
