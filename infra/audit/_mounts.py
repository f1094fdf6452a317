"""Whether the shared temporary folders (/tmp, /dev/shm) are mounted nodev, nosuid and noexec,
now and at the next boot.

Now: the mount that holds the folder, the top one when several are stacked (`findmnt -T`), so a
folder left on the root file system is judged by the root file system's options. At the next
boot: the unit systemd will mount it with, read from the files as systemd would load them — a
unit in /etc/systemd/system first (a link to /dev/null: masked, nothing mounted), else the
entries of /etc/fstab (systemd-fstab-generator makes the unit from them), else the packaged
unit if it is enabled (Debian 13's tmp.mount); then every drop-in, in name order with /etc's
file shadowing a packaged one of the same name, the last `Options=` winning (an empty one
clears). /dev/shm with no unit keeps systemd's built-in mount, which has no noexec.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from infra.audit._finding import Finding

__all__ = [
    "FOLDERS", "REQUIRED", "BootMount", "boot_mount", "missing_flags", "mounts_finding", "mounts_probe", "parse_probe",
]  # fmt: skip

FOLDERS = {"/tmp": "tmp.mount", "/dev/shm": "dev-shm.mount"}
"""Each folder and the unit systemd mounts it with."""

REQUIRED = ("nodev", "nosuid", "noexec")

_FLAGS = {"dev": "nodev", "suid": "nosuid", "exec": "noexec"}
_IMPLIED = {
    "defaults": {"dev": True, "suid": True, "exec": True},
    "user": {"dev": False, "suid": False, "exec": False},
    "users": {"dev": False, "suid": False, "exec": False},
    "owner": {"dev": False, "suid": False},
    "group": {"dev": False, "suid": False},
}
"""Options that set several flags at once (mount(8)): a later `defaults` gives back exec."""


def missing_flags(options: Iterable[str]) -> list[str]:
    """Which of nodev, nosuid, noexec the options leave unset, read as mount(8) does: left to
    right, the last word wins (`noexec,exec` executes), `defaults` resets to dev,suid,exec."""
    allowed = {"dev": True, "suid": True, "exec": True}
    for option in options:
        if option in _IMPLIED:
            allowed |= _IMPLIED[option]
        elif option in _FLAGS:
            allowed[option] = True
        elif option.startswith("no") and option[2:] in _FLAGS:
            allowed[option[2:]] = False
    return [_FLAGS[flag] for flag in ("dev", "suid", "exec") if allowed[flag]]

_UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system")
_SEP = "\x1e"


def mounts_probe() -> str:
    """One shell command printing, between record separators, the live mounts, /etc/fstab, each
    unit's files and drop-ins, where the /etc unit links and whether the unit is enabled."""
    parts = ["printf '\\036fstab\\n'; cat /etc/fstab 2>/dev/null"]
    for folder, unit in FOLDERS.items():
        parts.append(f"printf '\\036live {folder}\\n'; findmnt -rnu -o TARGET,FSTYPE,OPTIONS -T {folder}")
        parts.append(f"printf '\\036enabled {unit}\\n'; systemctl is-enabled {unit} 2>/dev/null")
        parts.append(f"printf '\\036link {unit}\\n'; readlink -f /etc/systemd/system/{unit} 2>/dev/null")
        for folder_of_units in _UNIT_DIRS:
            path = f"{folder_of_units}/{unit}"
            parts.append(f"[ -f {path} ] && {{ printf '\\036file {path}\\n'; cat {path}; }}")
            show = "{ printf '\\036dropin %s\\n' \"$f\"; cat \"$f\"; }"
            parts.append(f'for f in {path}.d/*.conf; do [ -f "$f" ] && {show}; done')
    return "; ".join(parts) + "; true"


def parse_probe(output: str) -> dict[str, str]:
    """Section title -> its text."""
    sections: dict[str, str] = {}
    for chunk in output.split(_SEP)[1:]:
        title, _, body = chunk.partition("\n")
        sections[title.strip()] = body
    return sections


@dataclass(frozen=True)
class BootMount:
    """How systemd will mount a folder at the next boot."""

    source: str
    """Where the options come from (a file, /etc/fstab, or systemd's built-in mount)."""
    options: tuple[str, ...] | None
    """None: nothing is mounted on the folder (it stays on the file system holding it)."""


def _fstab_entries(fstab: str, folder: str) -> list[tuple[str, ...]]:
    """The options of every /etc/fstab line that mounts `folder` (comments and blank lines out)."""
    found = []
    for line in fstab.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 4 and posixpath.normpath(fields[1].replace("\\040", " ")) == folder:
            found.append(tuple(fields[3].split(",")))
    return found


def _unit_options(text: str, options: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """`options` after the `Options=` lines of a unit file's [Mount] section (the last one wins)."""
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Mount]" and line.startswith("Options") and "=" in line:
            key, _, value = line.partition("=")
            if key.strip() == "Options":
                options = tuple(o for o in value.strip().split(",") if o)
    return options


def boot_mount(sections: Mapping[str, str], folder: str) -> BootMount:
    """The unit that mounts `folder` at the next boot and its options, as systemd loads them."""
    unit = FOLDERS[folder]
    enabled = sections.get(f"enabled {unit}", "").strip()
    if sections.get(f"link {unit}", "").strip() == "/dev/null" or enabled.startswith("masked"):
        return BootMount(f"{unit} masked", None)
    local = f"/etc/systemd/system/{unit}"
    fstab = _fstab_entries(sections.get("fstab", ""), folder)
    options: tuple[str, ...] | None
    if f"file {local}" in sections:
        source, options = local, _unit_options(sections[f"file {local}"], ())
    elif fstab:
        if any("noauto" in entry for entry in fstab):
            return BootMount(f"/etc/fstab mounts {folder} noauto", None)
        # The generator makes the unit from the first line and refuses the others: each is judged.
        worst = max(fstab, key=lambda entry: len(missing_flags(entry)))
        source, options = "/etc/fstab" + (f" ({len(fstab)} lines)" if len(fstab) > 1 else ""), worst
    else:
        packaged = f"/usr/lib/systemd/system/{unit}"
        if f"file {packaged}" in sections and enabled in ("enabled", "static", "enabled-runtime", "alias", "indirect"):
            source, options = packaged, _unit_options(sections[f"file {packaged}"], ())
        elif folder == "/dev/shm":
            return BootMount("systemd's built-in /dev/shm mount", ("rw", "nosuid", "nodev"))
        else:
            return BootMount(f"no unit and no /etc/fstab line mounts {folder}", None)
    dropins: dict[str, str] = {}
    for title, text in sections.items():
        kind, _, path = title.partition(" ")
        if kind == "dropin" and path.startswith(tuple(f"{d}/{unit}.d/" for d in _UNIT_DIRS)):
            name = posixpath.basename(path)
            if path.startswith("/etc/") or name not in dropins:  # /etc's file shadows the packaged one
                dropins[name] = text
    for name in sorted(dropins):
        options = _unit_options(dropins[name], options)
    if dropins:
        source += " + drop-ins " + ", ".join(sorted(dropins))
    return BootMount(source, options)


def _live(sections: Mapping[str, str], folder: str) -> tuple[str, tuple[str, ...]]:
    """(the mount point holding `folder`, its options); the last line is the top mount."""
    lines = [line.split() for line in sections.get(f"live {folder}", "").splitlines() if line.strip()]
    if not lines or len(lines[-1]) < 3:
        return "", ()
    target, _, options = lines[-1][:3]
    return target.replace("\\x20", " "), tuple(options.split(","))


def mounts_finding(output: str) -> Finding:
    """Both folders nodev, nosuid and noexec now and at the next boot."""
    sections = parse_probe(output)
    observed: dict[str, object] = {}
    problems: list[str] = []
    for folder in FOLDERS:
        target, live = _live(sections, folder)
        boot = boot_mount(sections, folder)
        observed[folder] = {
            "now": {"mount point": target or "unknown", "options": ",".join(live)},
            "next boot": {"from": boot.source, "options": None if boot.options is None else ",".join(boot.options)},
        }
        if not target:
            problems.append(f"{folder}: findmnt did not show the mount holding it")
        elif missing := missing_flags(live):
            on = "" if target == folder else f" (it is not a mount of its own: {target} holds it)"
            problems.append(f"{folder} is mounted without {', '.join(missing)} now{on}")
        if boot.options is None:
            problems.append(f"{folder}: nothing mounts it at the next boot ({boot.source})")
        elif missing := missing_flags(boot.options):
            problems.append(f"{folder} will be mounted without {', '.join(missing)} at the next boot ({boot.source})")
    expected = {folder: f"mounted {','.join(REQUIRED)} now and at the next boot" for folder in FOLDERS}
    return Finding(observed, expected, not problems, tuple(problems))
