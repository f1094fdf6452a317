"""The VM test host's pieces that need no VM: the recipe, the QEMU network arguments, refusals
before anything starts (the VM itself: tests/vm/test_vm_host.py)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from infra.testhosts import vm


def test_recipe_digest_changes_with_what_goes_in() -> None:
    base = vm.VmRecipe()
    assert base.digest == vm.VmRecipe().digest
    others = [replace(base, packages=(*base.packages, "vim")), replace(base, suite="forky"),
              replace(base, disk_size="4G"), replace(base, customize=base.customize + "true\n")]  # fmt: skip
    assert len({base.digest, *(r.digest for r in others)}) == 5


def test_the_image_has_a_kernel_and_auditd_and_locks_root_out_of_ssh_by_key_only() -> None:
    recipe = vm.VmRecipe()
    assert {"linux-image-cloud-amd64", "auditd", "openssh-server", "sudo"} <= set(recipe.packages)
    assert "authorized_keys" in recipe.customize and "/root/.ssh" not in recipe.customize


def test_user_nic_is_the_vms_own_network_with_only_ssh_forwarded_to_loopback() -> None:
    argv = vm._nic_args(vm.Nic("52:54:00:00:00:01", net=IPv4Interface("10.195.1.1/24")), 0, 2222)
    netdev = argv[1].split(",")
    assert netdev[0] == "user"
    assert {"net=10.195.1.0/24", "host=10.195.1.1", "dhcpstart=10.195.1.11",
            "hostfwd=tcp:127.0.0.1:2222-:22"} <= set(netdev)  # fmt: skip
    assert argv[3] == "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01"


def test_hub_nics_are_a_cable_between_them() -> None:
    one = vm._nic_args(vm.Nic("52:54:00:00:00:02", kind="hub", hub=3), 1, None)
    two = vm._nic_args(vm.Nic("52:54:00:00:00:03", kind="hub", hub=3), 2, None)
    assert (one[1], two[1]) == ("hubport,id=n1,hubid=3", "hubport,id=n2,hubid=3")


def test_boot_refuses_a_vm_without_a_user_nic_before_starting_anything(tmp_path: Path) -> None:
    image = vm.VmImage(tmp_path / "image")
    with pytest.raises(vm.VmError, match="first NIC of a VM must be a user-mode NIC"):
        vm.boot("x", image, tmp_path / "run", [vm.Nic("52:54:00:00:00:04", kind="hub")])
    assert not (tmp_path / "run").exists()
