"""infra.audit._kmod: the verdict on blocked kernel modules, from what modprobe and the kernel print."""

from __future__ import annotations

import pytest

from infra.audit._kmod import KmodState, kmod_finding, kmod_probe, parse_kmod_probe

MODULES = ["udf", "usb-storage"]
KO = "/lib/modules/6.12.0-1-cloud-amd64/kernel"


def _output(dry_runs: dict[str, str], showconfig: str, loaded: str = "") -> str:
    parts = [f"\x1edry-run {name}\n{text}" for name, text in dry_runs.items()]
    return "".join(parts) + f"\x1eshowconfig\n{showconfig}\x1eloaded\n{loaded}"


HARDENED = _output(
    {"udf": "install /bin/false\n", "usb-storage": "install /bin/false\n"},
    "install udf /bin/false\nblacklist udf\ninstall usb_storage /bin/false\nblacklist usb_storage\n",
)


def _verdict(stdout: str, in_container: bool = False) -> tuple[dict[str, object], bool]:
    observed, _, ok = kmod_finding(parse_kmod_probe(stdout, MODULES), in_container)
    return observed, ok


def test_kmod_probe_asks_modprobe_for_each_module() -> None:
    script = kmod_probe(MODULES)
    assert "modprobe -n -v 'udf'" in script and "modprobe -n -v 'usb-storage'" in script
    assert "modprobe --showconfig" in script and "/proc/modules" in script


def test_kmod_hardened_host_passes() -> None:
    observed, ok = _verdict(HARDENED)
    assert ok, observed
    assert observed == dict.fromkeys(MODULES, "blocked, blacklisted, not loaded")


def test_kmod_dependencies_loaded_before_the_blocking_install_are_allowed() -> None:
    stdout = HARDENED.replace(
        "dry-run udf\ninstall /bin/false", f"dry-run udf\ninsmod {KO}/lib/crc-itu-t.ko.xz\ninstall /bin/false"
    )
    assert _verdict(stdout)[1]


@pytest.mark.parametrize(
    "dry_run",
    [
        f"insmod {KO}/fs/udf/udf.ko.xz\n",
        "install /sbin/modprobe --ignore-install udf\n",
        'install /bin/sh -c "logger x; /bin/false"\n',
        "install /bin/false --and-more\n",
        "modprobe: FATAL: Module udf not found in directory /lib/modules/6.18\n",
        "sh: 1: modprobe: not found\n",
    ],
)
def test_kmod_module_not_blocked_fails(dry_run: str) -> None:
    stdout = HARDENED.replace("dry-run udf\ninstall /bin/false\n", f"dry-run udf\n{dry_run}")
    observed, ok = _verdict(stdout)
    assert not ok
    assert observed["udf"] == [f"modprobe would run: {dry_run.strip()}"]


def test_kmod_no_dry_run_output_fails() -> None:
    observed, ok = _verdict(HARDENED.replace("dry-run udf\ninstall /bin/false\n", "dry-run udf\n"))
    assert not ok and observed["udf"] == ["modprobe would run: nothing (no output)"]


def test_kmod_builtin_module_cannot_be_blocked() -> None:
    stdout = HARDENED.replace("dry-run udf\ninstall /bin/false\n", "dry-run udf\nbuiltin udf\n")
    assert _verdict(stdout)[0]["udf"] == ["built into the kernel"]


def test_kmod_blacklist_is_matched_in_the_kernels_spelling() -> None:
    assert parse_kmod_probe(HARDENED, MODULES)["usb-storage"].blacklisted
    stdout = HARDENED.replace("blacklist usb_storage\n", "# blacklist usb_storage\nblacklist usb_storage_x\n")
    observed, ok = _verdict(stdout)
    assert not ok and observed["usb-storage"] == ["not blacklisted"]


def test_kmod_loaded_module_fails_on_a_vm_not_in_a_container() -> None:
    stdout = HARDENED + "udf\next4\n"
    observed, ok = _verdict(stdout)
    assert not ok and observed["udf"] == ["loaded"]
    observed, ok = _verdict(stdout, in_container=True)
    assert ok and observed["udf"] == "blocked, blacklisted"


def test_kmod_own_file_counts_only_for_its_own_module() -> None:
    state = KmodState(
        "usb-storage", (f"insmod {KO}/drivers/usb/storage/usb-storage.ko", "install /bin/false"), True, False
    )
    assert state.loads_itself and not state.blocked
    other = KmodState("udf", (f"insmod {KO}/lib/crc-itu-t.ko", "install /usr/bin/true"), True, False)
    assert not other.loads_itself and other.blocked


def test_kmod_every_problem_of_a_module_is_listed() -> None:
    stdout = _output({"udf": f"insmod {KO}/fs/udf/udf.ko\n", "usb-storage": "install /bin/false\n"},
                     "blacklist usb_storage\n", "udf\n")  # fmt: skip
    observed, ok = _verdict(stdout)
    assert not ok
    assert observed["udf"] == [f"modprobe would run: insmod {KO}/fs/udf/udf.ko", "not blacklisted", "loaded"]
    assert observed["usb-storage"] == "blocked, blacklisted, not loaded"
