"""Test hosts planned from the site model (no podman needed), and the image recipe's tag."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import testhosts
from infra.testhosts import DEFAULT_RECIPE, LimitError, plan
from tests.conftest import REPO
from tests.unit._lab import lab_site


def test_plan_one_network_per_zone_in_use() -> None:
    planned = plan(lab_site(), "controllers")
    assert [n.name for n in planned.networks] == ["hatang-lab-mgmt", "hatang-lab-api", "hatang-lab-storage"]
    assert [h.container for h in planned.hosts] == ["hatang-lab-ctl01", "hatang-lab-ctl02"]


def test_plan_only_mgmt_routes_out() -> None:
    planned = plan(lab_site())
    assert {n.zone: n.internal for n in planned.networks} == {
        "mgmt": False, "api": True, "storage": True, "overlay": True, "dmz": True,
    }


def test_plan_gateway_is_the_zones_or_the_last_free_address() -> None:
    nets = {n.zone: n for n in plan(lab_site()).networks}
    assert (str(nets["mgmt"].gateway4), str(nets["mgmt"].gateway6)) == ("10.199.1.1", "fd99:ab:0:11::1")
    assert (str(nets["api"].gateway4), str(nets["api"].gateway6)) == ("10.199.2.254", "fd99:ab:0:12::fe")


def test_plan_names_interfaces_after_zones_with_both_addresses() -> None:
    ctl01 = plan(lab_site(), "ctl01").hosts[0]
    assert [a.option() for a in ctl01.attachments] == [
        "hatang-lab-mgmt:ip=10.199.1.11,ip6=fd99:ab:0:11::b,interface_name=mgmt",
        "hatang-lab-api:ip=10.199.2.11,ip6=fd99:ab:0:12::b,interface_name=api",
        "hatang-lab-storage:ip=10.199.3.11,ip6=fd99:ab:0:13::b,interface_name=storage",
    ]


def test_plan_limit_accepts_groups_and_hosts() -> None:
    assert [h.host for h in plan(lab_site(), "network,ctl02").hosts] == ["ctl02", "net01"]


def test_plan_limit_unknown_name_says_what_exists() -> None:
    with pytest.raises(LimitError) as exc:
        plan(lab_site(), "web")
    assert str(exc.value) == (
        "--limit 'web' is neither a host group nor a host "
        "(use one of: controllers, ctl01, ctl02, net01, network)"
    )


def test_recipe_tag_follows_the_recipe() -> None:
    more = dataclasses.replace(DEFAULT_RECIPE, packages=(*DEFAULT_RECIPE.packages, "curl"))
    assert DEFAULT_RECIPE.digest == dataclasses.replace(DEFAULT_RECIPE).digest
    assert more.digest != DEFAULT_RECIPE.digest
    assert DEFAULT_RECIPE.image == f"localhost/hatang-testhost:{DEFAULT_RECIPE.digest}"


def test_run_flags_are_the_documented_ones() -> None:
    assert "--privileged" not in testhosts.RUN_FLAGS
    assert testhosts.RUN_FLAGS == (
        "--systemd=always", "--cap-add", "NET_ADMIN,NET_RAW", "--security-opt", "unmask=/proc/sys",
    )


def test_the_testhosts_inventory_puts_each_host_in_its_container(tmp_path: Path) -> None:
    """Read after the site's, as `hatang testhosts up` prints it: Ansible's own view of a host has its
    container as ansible_host, written out (Mitogen does not template it), the podman connection and
    the lab's mirror (not the site's, which only the site's hosts reach); the site's vars stay."""
    site = lab_site()
    overlay = testhosts.write_ansible_inventory(site, tmp_path / ".hatang" / "testhosts" / "lab.yml")
    tool = Path(sys.executable).parent / "ansible-inventory"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    shown = subprocess.run([str(tool), "-i", str(site.root), "-i", str(overlay), "--list"], cwd=REPO, env=env,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert shown.returncode == 0 and "WARNING" not in shown.stderr, shown.stderr
    hostvars = json.loads(shown.stdout)["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(h.name for h in site.hosts)
    ctl01 = {k: (v["__ansible_unsafe"] if isinstance(v, dict) and "__ansible_unsafe" in v else v)
             for k, v in hostvars["ctl01"].items()}  # fmt: skip
    assert (ctl01["ansible_host"], ctl01["ansible_connection"]) == ("hatang-lab-ctl01", "podman")
    assert ctl01["baseline_apt_mirror"] == testhosts.LAB_APT_MIRROR == "http://deb.debian.org/debian"
    assert ctl01["baseline_apt_security_mirror"] == "http://deb.debian.org/debian-security"
    assert "hatang_zones" in ctl01  # the site plugin's variables are still there
    assert "{{" not in overlay.read_text(encoding="utf-8")


def test_playbooks_against_test_hosts_run_with_mitogen() -> None:
    env = testhosts.ansible_env()
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()
    assert env["ANSIBLE_CONFIG"] == str(REPO / "ansible.cfg")


def test_plan_leaves_out_zones_a_host_only_bridges() -> None:
    net01 = plan(lab_site(), "net01")
    assert "hatang-lab-gov" not in {n.name for n in net01.networks}
    assert [a.device for a in net01.hosts[0].attachments] == ["mgmt", "api", "overlay", "dmz"]


def test_plan_gives_ovn_chassis_the_tun_device_and_no_one_else() -> None:
    """Open vSwitch's userspace datapath opens taps: a host with an overlay address or a provider
    bridge gets /dev/net/tun, a controller without either gets nothing (its container is kept)."""
    hosts = {h.host: h for h in plan(lab_site()).hosts}
    assert hosts["net01"].devices == ("/dev/net/tun",)
    assert hosts["ctl01"].devices == ()


def test_spec_digest_changes_with_devices_only_for_hosts_that_have_them() -> None:
    ctl01 = plan(lab_site(), "ctl01").hosts[0]
    with_tun = dataclasses.replace(ctl01, devices=("/dev/net/tun",))
    assert testhosts._spec(ctl01, "img") != testhosts._spec(with_tun, "img")
    assert testhosts._spec(ctl01, "img") == testhosts._spec(dataclasses.replace(ctl01), "img")


def test_plan_lets_storage_hosts_wait_for_asynchronous_io_and_no_one_else() -> None:
    """A Ceph OSD's BlueStore waits with io_pgetevents, which podman's default profile refuses:
    the AIO (a storage host) gets it, the role-test lab (no storage host) keeps the default."""
    from infra.site import load_site
    from tests.conftest import AIO

    assert [h.syscalls for h in plan(load_site(AIO)).hosts] == [("io_pgetevents",)]
    assert {h.syscalls for h in plan(lab_site()).hosts} == {()}
    aio1 = plan(load_site(AIO)).hosts[0]
    assert testhosts._spec(aio1, "img") != testhosts._spec(dataclasses.replace(aio1, syscalls=()), "img")


def test_seccomp_profile_is_podmans_with_the_extra_calls(tmp_path: Path) -> None:
    default = tmp_path / "seccomp.json"
    podman_like = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["kexec_load", "io_pgetevents"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
    ]}  # fmt: skip
    default.write_text(json.dumps(podman_like))
    profile = testhosts.seccomp_profile(["io_pgetevents"], default)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO", "everything else stays refused"
    assert profile["syscalls"] == [
        {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["io_pgetevents"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "hatang test host"},
    ]
    for broken in ("", "{}", "[1]"):
        default.write_text(broken)
        with pytest.raises(testhosts.PodmanError, match="podman's default seccomp profile"):
            testhosts.seccomp_profile(["io_pgetevents"], default)
    podmans = json.loads(testhosts.DEFAULT_SECCOMP.read_text(encoding="utf-8"))
    refused = {name for rule in podmans["syscalls"] if rule["action"] != "SCMP_ACT_ALLOW" for name in rule["names"]}
    assert "io_pgetevents" in refused, "podman's own profile refuses it (else the lab's addition is not needed)"
