"""The test guest's command line and console reading (infra/guests), without booting one."""

from __future__ import annotations

import pytest

from infra.guests import SOURCES, Guest, qemu_argv, read_console


def test_guest_kernel_args_carry_what_init_reads() -> None:
    guest = Guest("a", listen=(80, 8080), probes=("icmp4:10.0.0.2", "tcp:fd00::2:80"), spoof="10.0.0.9/24")
    assert guest.kernel_args() == (
        "console=ttyS0 quiet panic=-1 hatang.name=a hatang.listen=80,8080 "
        "hatang.probe=icmp4:10.0.0.2,tcp:fd00::2:80 hatang.spoof=10.0.0.9/24"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "A b"}, "name 'A b': lowercase letters, digits and '-', 31 at most"),
        ({"name": "a", "listen": (0,)}, "listen port 0: 1-65535"),
        ({"name": "a", "probes": ("udp:10.0.0.1:53",)}, "probe 'udp:10.0.0.1:53': icmp4:ADDR"),
        ({"name": "a", "probes": ("icmp4:1.2.3.4 rm -rf",)}, "probe 'icmp4:1.2.3.4 rm -rf'"),
        ({"name": "a", "probes": ("spoof4:10.0.0.1",)}, "spoof4 probes need spoof=ADDR/LEN"),
        ({"name": "a", "spoof": "10.0.0.9"}, "spoof '10.0.0.9': an IPv4 ADDR/LEN"),
        ({"name": "a", "volume": "5f0c2a1b"}, "volume and mark go together"),
        ({"name": "a", "mark": "m-1"}, "volume and mark go together"),
        ({"name": "a", "volume": "5F0C2A1B;reboot", "mark": "m"}, "volume '5F0C2A1B;reboot': a volume id"),
        ({"name": "a", "volume": "5f0c2a1b", "mark": "a b"}, "mark 'a b': letters, digits and '-', 60 at most"),
        ({"name": "a", "volume": "5f0c2a1b", "mark": "m" * 61}, "mark 'm{61}': letters"),
    ],
)
def test_guest_refuses_what_the_init_cannot_read(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^guest .*" + message.replace("(", r"\(").replace("*", r"\*")):
        Guest(**kwargs)  # type: ignore[arg-type]


def test_guest_kernel_args_name_the_volume_and_the_mark() -> None:
    guest = Guest("v", volume="5f0c2a1b-0000-4000-8000-00000000000a", mark="hatang-v-1")
    assert guest.kernel_args().endswith(" hatang.disk=5f0c2a1b-0000-4000-8000-00000000000a:hatang-v-1")
    assert "sd_mod" in (SOURCES / "build.sh").read_text(encoding="utf-8"), "the SCSI disk driver is in the initramfs"


def test_qemu_argv_keeps_libvirts_tap_and_the_guest_computes_checksums() -> None:
    argv = qemu_argv(Guest("a"), "/k", "/i", "tap-a", "52:54:00:00:00:0a")
    # the tap as libvirt opens it (offload header on): the guest must not leave checksums to the
    # host, or OVS's userspace datapath forwards TCP with incomplete ones (docs/networking.md)
    assert "tap,id=net0,ifname=tap-a,script=no,downscript=no" in argv
    assert "insmod /lib/modules/virtio_net.ko csum=0 gso=0" in (SOURCES / "init.sh").read_text(encoding="utf-8")
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert argv[argv.index("-append") + 1] == Guest("a").kernel_args()


def test_read_console_keeps_only_the_named_guest_lines() -> None:
    text = "\n".join(
        [
            "\x1b[?7l\x1b[2JHATANG a boot",
            "[   48.7] rcu: INFO: rcu_preempt self-detected stall on CPU",
            "HATANG a dhcp4 ok",
            "HATANG a addr 10.0.0.10/24 fd00:a::5054:ff:fe00:a/64 \r",
            "HATANG a metadata uuid=5f0c project=9a1b mac=fa:16:3e:00:00:0a",
            "HATANG b round=1 probe=icmp4:10.0.0.10 ok",
            "HATANG a round=1 probe=tcp:10.0.0.11:8080 fail",
            "HATANG a round=2 probe=tcp:10.0.0.11:8080 ok",
            "HATANG a round=3 probe=tcp:10.0.0.11:8080 fail",
        ]
    )
    console = read_console(text, "a")
    assert console.booted and console.dhcp4
    assert console.addresses == ("10.0.0.10/24", "fd00:a::5054:ff:fe00:a/64")
    assert console.metadata == {"uuid": "5f0c", "project": "9a1b", "mac": "fa:16:3e:00:00:0a"}
    assert console.probes["tcp:10.0.0.11:8080"] == [(1, False), (2, True), (3, False)]
    assert console.last("tcp:10.0.0.11:8080") is False
    assert console.after("tcp:10.0.0.11:8080", 1) == [True, False]
    assert console.rounds("tcp:10.0.0.11:8080") == 3
    assert "icmp4:10.0.0.10" not in console.probes
    assert console.last("icmp4:10.0.0.10") is None and console.rounds("icmp4:10.0.0.10") == 0


def test_read_console_before_boot_knows_nothing() -> None:
    console = read_console("SeaBIOS (version 1.16.3)\nBooting from ROM...", "a")
    assert not console.booted and console.dhcp4 is None and console.addresses == ()
    assert console.metadata is None, "not read yet is not 'none found'"


def test_read_console_a_guest_without_a_config_drive_says_so() -> None:
    assert read_console("HATANG a metadata none", "a").metadata == {}


def test_read_console_reads_what_the_guest_found_and_wrote_on_its_volume() -> None:
    text = "HATANG a disk 5f0c2a1b found blank\nHATANG b disk 5f0c2a1b found x\nHATANG a disk 5f0c2a1b wrote m-1\n"
    assert read_console(text, "a").disk == {"found": "blank", "wrote": "m-1"}
    assert read_console("HATANG a disk 5f0c2a1b missing", "a").disk == {"missing": ""}
    assert read_console("HATANG a boot", "a").disk == {}, "nothing said is not 'missing'"
