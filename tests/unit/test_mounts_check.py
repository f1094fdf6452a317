"""HT-FILE-04's decision on the temporary folders' mounts, from probe output as findmnt, systemctl
and the files give it on Debian 13 (the live VM variants: infra/catalogue/violations/host/HT-FILE-04.yml)."""

from __future__ import annotations

import subprocess

import pytest

from infra.audit import _mounts

FSTAB_OK = (
    "/dev/vda / ext4 defaults 0 1\n"
    "tmpfs /tmp tmpfs rw,nosuid,nodev,noexec,mode=1777,size=50%,nr_inodes=1m 0 0\n"
    "tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec,mode=1777 0 0\n"
)
PACKAGED_TMP = (
    "[Mount]\nWhat=tmpfs\nWhere=/tmp\nType=tmpfs\nOptions=mode=1777,strictatime,nosuid,nodev,size=50%%,nr_inodes=1m\n"
)
LIVE_OK = {"/tmp": "/tmp tmpfs rw,nosuid,nodev,noexec,relatime", "/dev/shm": "/dev/shm tmpfs rw,nosuid,nodev,noexec"}


def probe(
    fstab: str = FSTAB_OK,
    live: dict[str, str] | None = None,
    enabled: dict[str, str] | None = None,
    links: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    dropins: dict[str, str] | None = None,
) -> str:
    """Probe output: what `_mounts.mounts_probe()` prints on a host in this state."""
    live = {**LIVE_OK, **(live or {})}
    enabled = {"tmp.mount": "generated", "dev-shm.mount": "generated", **(enabled or {})}
    files = {"/usr/lib/systemd/system/tmp.mount": PACKAGED_TMP, **(files or {})}
    out = f"\x1efstab\n{fstab}"
    for folder, unit in _mounts.FOLDERS.items():
        out += f"\x1elive {folder}\n{live[folder]}\n\x1eenabled {unit}\n{enabled[unit]}\n"
        out += f"\x1elink {unit}\n{(links or {}).get(unit, f'/etc/systemd/system/{unit}')}\n"
        for path, text in {**files, **(dropins or {})}.items():
            if f"/{unit}" in path:
                out += f"\x1e{'dropin' if path.endswith('.conf') else 'file'} {path}\n{text}"
    return out


def problems(output: str) -> tuple[str, ...]:
    return _mounts.mounts_finding(output).problems


def test_the_hardened_state_passes() -> None:
    finding = _mounts.mounts_finding(probe())
    assert finding.ok, finding.problems
    assert finding.observed["/tmp"]["next boot"]["from"] == "/etc/fstab"


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ("rw,nosuid,nodev,noexec", []),
        ("rw,nosuid,nodev,noexec,exec", ["noexec"]),  # the last word wins
        ("nosuid,nodev,noexec,defaults", ["nodev", "nosuid", "noexec"]),  # defaults gives them back
        ("defaults,nosuid,nodev,noexec", []),
        ("users", []),  # implies noexec, nosuid, nodev
        ("users,exec,suid", ["nosuid", "noexec"]),
        ("owner", ["noexec"]),
        ("rw,relatime", ["nodev", "nosuid", "noexec"]),
    ],
)
def test_options_read_as_mount_reads_them(options: str, missing: list[str]) -> None:
    assert _mounts.missing_flags(options.split(",")) == missing


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(
            {"live": {"/tmp": "/tmp tmpfs rw,nosuid,nodev,relatime"}},
            "/tmp is mounted without noexec now",
            id="second-tmpfs-over-tmp",
        ),
        pytest.param(
            {"live": {"/tmp": "/ ext4 rw,relatime"}},
            "/tmp is mounted without nodev, nosuid, noexec now (it is not a mount of its own: / holds it)",
            id="tmp-on-the-root-file-system",
        ),
        pytest.param(
            {"fstab": FSTAB_OK.replace("noexec,mode=1777,size", "noexec,mode=1777,exec,size")},
            "/tmp will be mounted without noexec at the next boot (/etc/fstab)",
            id="fstab-exec-later-in-the-line",
        ),
        pytest.param(
            {"fstab": FSTAB_OK.replace("nr_inodes=1m 0", "nr_inodes=1m,defaults 0")},
            "/tmp will be mounted without nodev, nosuid, noexec at the next boot (/etc/fstab)",
            id="fstab-defaults-at-the-end",
        ),
        pytest.param(
            {"dropins": {"/etc/systemd/system/tmp.mount.d/ops.conf": "[Mount]\nOptions=mode=1777,nosuid,nodev\n"}},
            "/tmp will be mounted without noexec at the next boot (/etc/fstab + drop-ins ops.conf)",
            id="drop-in-replaces-the-options",
        ),
        pytest.param(
            {"dropins": {"/usr/lib/systemd/system/tmp.mount.d/vendor.conf": "[Mount]\nOptions=\n"}},
            "/tmp will be mounted without nodev, nosuid, noexec at the next boot (/etc/fstab + drop-ins vendor.conf)",
            id="packaged-drop-in-clears-the-options",
        ),
        pytest.param(
            {"fstab": FSTAB_OK.replace("tmpfs /dev/shm", "#tmpfs /dev/shm")},
            "/dev/shm will be mounted without noexec at the next boot (systemd's built-in /dev/shm mount)",
            id="dev-shm-line-commented-out",
        ),
        pytest.param(
            {"fstab": FSTAB_OK.replace("tmpfs /tmp", "# tmpfs /tmp"), "enabled": {"tmp.mount": "enabled"}},
            "/tmp will be mounted without noexec at the next boot (/usr/lib/systemd/system/tmp.mount)",
            id="fstab-line-gone-debian-tmp-mount-back",
        ),
        pytest.param(
            {"fstab": FSTAB_OK.replace("tmpfs /tmp", "# tmpfs /tmp"), "enabled": {"tmp.mount": "disabled"}},
            "/tmp: nothing mounts it at the next boot (no unit and no /etc/fstab line mounts /tmp)",
            id="no-line-and-tmp-mount-disabled",
        ),
        pytest.param(
            {"links": {"tmp.mount": "/dev/null"}, "enabled": {"tmp.mount": "masked"}},
            "/tmp: nothing mounts it at the next boot (tmp.mount masked)",
            id="tmp-mount-masked-over-the-fstab-line",
        ),
        pytest.param(
            {"fstab": FSTAB_OK.replace("nr_inodes=1m 0", "nr_inodes=1m,noauto 0")},
            "/tmp: nothing mounts it at the next boot (/etc/fstab mounts /tmp noauto)",
            id="noauto",
        ),
        pytest.param(
            {"fstab": FSTAB_OK + "tmpfs /tmp/ tmpfs rw,mode=1777 0 0\n"},
            "/tmp will be mounted without nodev, nosuid, noexec at the next boot (/etc/fstab (2 lines))",
            id="second-fstab-line-with-a-slash",
        ),
        pytest.param(
            {"files": {"/etc/systemd/system/tmp.mount": "[Mount]\nWhat=tmpfs\nWhere=/tmp\nOptions=mode=1777\n"}},
            "/tmp will be mounted without nodev, nosuid, noexec at the next boot (/etc/systemd/system/tmp.mount)",
            id="local-unit-beats-fstab",
        ),
        pytest.param(
            {"live": {"/dev/shm": "/dev/shm tmpfs rw,nosuid,nodev"}},
            "/dev/shm is mounted without noexec now",
            id="dev-shm-remounted-exec",
        ),
        pytest.param({"live": {"/tmp": ""}}, "/tmp: findmnt did not show the mount holding it", id="findmnt-silent"),
    ],
)
def test_each_violation_is_named(state: dict[str, object], expected: str) -> None:
    found = problems(probe(**state))  # type: ignore[arg-type]
    assert expected in found, found


def test_what_wins_where_systemd_says_so() -> None:
    """/etc's drop-in shadows the packaged one of the same name; an /etc unit with the right
    options beats a wrong fstab line; an empty Options= followed by a right one is right."""
    shadowed = {
        "/usr/lib/systemd/system/tmp.mount.d/same.conf": "[Mount]\nOptions=mode=1777\n",
        "/etc/systemd/system/tmp.mount.d/same.conf": "[Unit]\nDescription=x\n",
    }
    assert not problems(probe(dropins=shadowed))
    local = {"/etc/systemd/system/tmp.mount": "[Mount]\nOptions=mode=1777,nosuid,nodev,noexec\n"}
    assert not problems(probe(fstab=FSTAB_OK.replace("noexec,mode=1777,size", "mode=1777,size"), files=local))
    cleared = {"/etc/systemd/system/tmp.mount.d/a.conf": "[Mount]\nOptions=\nOptions=nosuid,nodev,noexec\n"}
    assert not problems(probe(dropins=cleared))
    other_section = {"/etc/systemd/system/tmp.mount.d/a.conf": "[Unit]\nOptions=mode=1777\n"}
    assert not problems(probe(dropins=other_section))


def test_the_probe_is_one_valid_shell_command() -> None:
    """It runs here (whatever this machine mounts) and every section it prints is parsed."""
    done = subprocess.run(["/bin/sh", "-c", _mounts.mounts_probe()], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    sections = _mounts.parse_probe(done.stdout)
    assert {"fstab", "live /tmp", "live /dev/shm", "enabled tmp.mount", "link dev-shm.mount"} <= set(sections)
    assert sections["live /tmp"].split()[0].startswith("/")
