"""infra.aio without podman: what the AIO derives from the site model and the roles."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from infra import aio, guests, testhosts
from infra.services import catalogue
from infra.site import load_site
from tests.conftest import AIO


def test_aio_packages_are_read_from_the_role_defaults() -> None:
    packages = aio.aio_packages()
    for package in ("mariadb-server", "keystone", "nova-api", "neutron-api", "cinder-api", "openstack-dashboard"):
        assert package in packages
    assert {"nova-compute", "nova-compute-qemu"} <= set(packages), "libvirt with QEMU's emulation (GUEST_VARS)"
    assert "nova-compute-kvm" not in packages
    assert {"openvswitch-switch", "ovn-host", "ovn-central", "neutron-ovn-maintenance-worker"} <= set(packages)
    assert "cinder-volume" not in packages, "the fake volume driver needs no LVM or iSCSI packages"
    assert list(packages) == sorted(set(packages))


def test_aio_packages_render_names_from_the_role_defaults() -> None:
    packages = aio.aio_packages()
    assert "python3-mysqldb" in packages, "neutron_db_driver and keystone_db_driver default to mysqldb"
    assert not [p for p in packages if "{" in p], "every package name is rendered"


def test_aio_packages_undefined_variable_names_the_role(tmp_path: Path) -> None:
    (tmp_path / "neutron" / "defaults").mkdir(parents=True)
    (tmp_path / "neutron" / "defaults" / "main.yml").write_text(
        "neutron_packages: [\"python3-{{ neutron_db_drivr }}\"]\n", encoding="utf-8"
    )
    with pytest.raises(aio.AioError, match=r"main\.yml: neutron_packages: cannot render .*neutron_db_drivr"):
        aio.aio_packages(tmp_path)


def test_aio_packages_unreadable_defaults_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "keystone" / "defaults").mkdir(parents=True)
    bad = tmp_path / "keystone" / "defaults" / "main.yml"
    bad.write_text("keystone_packages: [unclosed\n", encoding="utf-8")
    with pytest.raises(aio.AioError, match=r"keystone/defaults/main\.yml: cannot read"):
        aio.aio_packages(tmp_path)


def test_aio_image_recipe_adds_packages_and_disables_units() -> None:
    recipe = aio.image_recipe()
    assert recipe.image.startswith("localhost/hatang-aio:")
    assert set(testhosts.DEFAULT_RECIPE.packages) <= set(recipe.packages)
    assert "keystone" in recipe.packages
    assert 'disable "$unit"' in recipe.customize and "keystone.service" in recipe.customize
    assert {"nova-compute", "nova-compute-qemu"} <= set(recipe.packages), "Nova boots QEMU guests"
    assert "nova-compute.service" in recipe.customize, "the packaged unit waits for the role"
    assert 'mask polkit.service' in recipe.customize, "polkit fails in a container"
    assert set(guests.GUEST_PACKAGES) <= set(recipe.packages), "the test guest is built in the AIO"


def test_group_packages_put_each_services_packages_on_its_group() -> None:
    roles = catalogue().roles()
    controllers = aio.group_packages("controllers", roles)
    compute = aio.group_packages("compute", roles)
    storage = aio.group_packages("storage", roles)
    assert {"nova-api", "cinder-api", "galera-4", "keepalived"} <= set(controllers), "clustered services included"
    assert {"nova-compute", "cinder-volume", "ceph-osd", "ovn-host"}.isdisjoint(controllers)
    assert {"nova-compute", "ovn-host"} <= set(compute) and "nova-api" not in compute
    assert {"ceph-mon", "ceph-osd", "cinder-volume"} <= set(storage), "a role's packages when the service has none"
    assert "cinder-api" not in storage
    assert list(controllers) == sorted(set(controllers))


def test_group_packages_only_of_the_roles_asked_for() -> None:
    found = aio.group_packages("controllers", ("keystone", "memcached"))
    assert "keystone" in found and "memcached" in found
    assert "nova-api" not in found and "mariadb-server" not in found


def test_group_packages_undefined_variable_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "cinder" / "defaults").mkdir(parents=True)
    (tmp_path / "cinder" / "defaults" / "main.yml").write_text(
        "cinder_volume_packages: [\"python3-{{ undefined_driver }}\"]\n", encoding="utf-8"
    )
    with pytest.raises(aio.AioError, match=r"cinder_volume_packages: cannot render .*undefined_driver"):
        aio.group_packages("storage", ("cinder",), tmp_path)


def test_preinstalled_recipe_disables_the_units_of_every_service() -> None:
    recipe = aio.preinstalled_recipe("localhost/hatang-x", ("keepalived", "mariadb-server"))
    assert recipe.image.startswith("localhost/hatang-x:")
    assert {"keepalived", "mariadb-server"} <= set(recipe.packages)
    assert set(testhosts.DEFAULT_RECIPE.packages) <= set(recipe.packages)
    assert "keepalived.service" in recipe.customize, "a clustered service's unit too"
    assert "ceph-mon@" not in recipe.customize, "templates have no instance to disable"


def test_aio_api_address_is_the_controllers_api_zone_address() -> None:
    assert aio.api_address(load_site(AIO)) == "10.99.2.10"


def test_aio_api_address_without_api_zone_says_what_is_missing(aio_copy: Path) -> None:
    zones = aio_copy / "zones.yml"
    zones.write_text(zones.read_text(encoding="utf-8").replace("kind: api", "kind: other"), encoding="utf-8")
    with pytest.raises(aio.AioError, match="needs a zone of kind 'api'"):
        aio.api_address(load_site(aio_copy))


def test_aio_extra_vars_carry_connection_and_local_paths(tmp_path: Path) -> None:
    site = load_site(AIO)
    paths = aio.AioPaths(tmp_path / "aio")
    found = aio.extra_vars(site, paths)
    assert "hatang_region" not in found, "site facts come from the inventory plugin, not from the AIO"
    assert (found["ansible_user"], found["hatang_local_cacert"]) == (aio.OPERATOR, str(paths.cacert.resolve()))
    assert "hatang_nova_compute_driver" not in found, "Nova's libvirt driver, as on a real site"
    assert found["nova_libvirt_virt_type"] == "qemu", "no KVM acceleration here"
    assert "CAP_SYS_ADMIN" not in found["nova_conf_overrides"]["nova_sys_admin"]["capabilities"]
    assert found["ovn_host_datapath_type"] == "netdev", "no openvswitch kernel module here"
    assert "hatang_cinder_volume_driver" not in found, "volumes in Ceph (RBD), as on a real site"
    assert found["ceph_osd_paths"] == ["/var/lib/ceph/osd-disk-0"], "no spare disk in a container: a file"
    assert found["hatang_secrets_dir"].endswith("aio/secrets")
    assert found["hatang_clouds_yaml"].endswith("aio/clouds.yaml")
    assert found["ansible_ssh_private_key_file"] == str(paths.ssh_key)


@pytest.mark.parametrize(("owner", "refused"), [("", False), ("SELF", False), ("/elsewhere/.hatang/aio", True)])
def test_an_aio_deployed_from_another_checkout_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, owner: str, refused: bool
) -> None:
    """Its services hold the other checkout's passwords: say so first, not after a failed deploy."""
    import subprocess

    paths = aio.AioPaths.for_site(load_site(AIO), tmp_path)
    calls: list[list[str]] = []
    found = str(paths.root.resolve()) if owner == "SELF" else owner

    def fake_exec(container: str, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        rc = 0 if argv[0] != "cat" or found else 1
        return subprocess.CompletedProcess(argv, rc, stdout=found + "\n" if argv[0] == "cat" else "", stderr="")

    monkeypatch.setattr(testhosts, "exec_in", fake_exec)
    if refused:
        with pytest.raises(aio.AioError, match=r"deployed from another checkout \(/elsewhere/.hatang/aio\).*aio down"):
            aio._claim("hatang-aio-aio1", paths)
        assert len(calls) == 1  # nothing written
    else:
        aio._claim("hatang-aio-aio1", paths)
        assert len(calls) == (2 if not owner else 1)  # a new AIO is marked as ours


def test_aio_web_urls_are_the_catalogue_web_sites_on_the_api_address() -> None:
    assert aio.web_urls(load_site(AIO)) == {
        "Dashboard (Horizon) where agency staff use their projects": "https://10.99.2.10:8443/",
        "Agencies' portal (hatang portal) where agency staff request and follow their tenants": "https://10.99.2.10:8444/",
    }


def test_aio_status_of_a_container_whose_processes_are_gone_says_how_to_bring_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restored machine shows the container "Up" while nothing runs in it: no unit answers."""
    from typer.testing import CliRunner

    from infra.cli import app

    gone = aio.AioStatus("hatang-aio-aio1", "running", {"hatang-aio-api": ["10.99.2.10"]}, (), None)
    monkeypatch.setattr(aio, "status", lambda site, state_base=None: gone)
    result = CliRunner().invoke(app, ["aio", "status", "-i", str(AIO)])
    assert result.exit_code == 0
    assert "no unit answers: the container's processes are gone" in result.output
    assert f"hatang aio down -i {AIO}, then hatang aio up -i {AIO}" in result.output
    assert "Dashboard (Horizon)" not in result.output  # nothing serves it


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True).stdout


def _site_in_repo(tmp_path: Path) -> Path:
    top = tmp_path / "repo"
    shutil.copytree(AIO, top / "inventories" / "aio")
    _git(top, "init", "--quiet", "--initial-branch", "work")
    _git(top, "add", ".")
    _git(top, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "site")
    return top


def test_aio_bundles_the_checked_out_branch_for_the_portal(tmp_path: Path) -> None:
    top = _site_in_repo(tmp_path)
    paths = aio.AioPaths(tmp_path / "state")
    paths.root.mkdir()
    assert aio._bundle_site(load_site(top / "inventories" / "aio"), paths) == "work"
    heads = _git(top, "bundle", "list-heads", str(paths.site_bundle))
    assert heads == f"{_git(top, 'rev-parse', 'HEAD').strip()} refs/heads/work\n"
    assert paths.site_bundle.stat().st_mode & 0o077 == 0
    assert aio.extra_vars(load_site(AIO), paths, "work")["portal_site_repo_branch"] == "work"


def test_aio_refuses_a_detached_head_for_the_portal(tmp_path: Path) -> None:
    top = _site_in_repo(tmp_path)
    _git(top, "checkout", "--quiet", "--detach")
    paths = aio.AioPaths(tmp_path / "state")
    paths.root.mkdir()
    with pytest.raises(aio.AioError, match=r"checked-out branch, and none is .*fix: git switch <branch>"):
        aio._bundle_site(load_site(top / "inventories" / "aio"), paths)
    assert not paths.site_bundle.exists()
