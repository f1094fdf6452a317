"""journald decisions of the host checks (HT-LOG-01/02): drop-ins merged in systemd's order,
then the retention judged. (logrotate's retention is `probes.logrotate_retention`.)"""

from __future__ import annotations

import re
from collections.abc import Mapping

from infra.audit import probes
from infra.audit._finding import Finding, to_int

__all__ = ["JOURNALD_DIRS", "is_yes", "journald_finding", "journald_merge", "parse_size"]

JOURNALD_DIRS = (
    "/usr/lib/systemd/journald.conf.d",
    "/usr/local/lib/systemd/journald.conf.d",
    "/run/systemd/journald.conf.d",
    "/etc/systemd/journald.conf.d",
)
"""Drop-in folders, lowest precedence first (systemd.unit(5), journald.conf(5))."""

_JOURNALD_DEFAULT_MAX_USE = 4 * 1024**3
"""journald's ceiling for the default SystemMaxUse (10% of the file system, at most 4G)."""


def journald_merge(main: str | None, dropins: Mapping[str, str]) -> dict[str, str]:
    """The [Journal] settings journald runs with.

    systemd reads the main file, then every `*.conf` drop-in sorted by file name across the
    drop-in folders; a drop-in in a higher-precedence folder (/etc over /run over /usr/local/lib
    over /usr/lib) masks one of the same name. Later assignments win; an empty assignment
    (`SystemMaxUse=`) resets the setting to its default (dropped here).

    Args:
        main: text of journald.conf (None when absent).
        dropins: drop-in path -> text.
    """
    rank = {d: i for i, d in enumerate(JOURNALD_DIRS)}
    chosen: dict[str, tuple[int, str]] = {}
    for path, text in dropins.items():
        folder, _, name = path.rpartition("/")
        if not name.endswith(".conf"):
            continue
        level = rank.get(folder, len(JOURNALD_DIRS))
        if name not in chosen or level >= chosen[name][0]:
            chosen[name] = (level, text)
    values: dict[str, str] = {}
    for text in [main or ""] + [chosen[n][1] for n in sorted(chosen)]:
        section = None
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            if section != "Journal" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if value:
                values[key] = value
            else:
                values.pop(key, None)
    return values


def is_yes(value: str) -> bool:
    """systemd's true for a boolean setting (parse_boolean: 1, yes, y, true, t, on; any case)."""
    return value.strip().lower() in {"1", "yes", "y", "true", "t", "on"}


def parse_size(value: str) -> float | None:
    """journald's sizes (`512M`, `2G`, `1024`) in bytes, None for a percentage or garbage."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGTPE]?)i?B?", value.strip(), re.IGNORECASE)
    if not match:
        return None
    power = " KMGTPE".index(match[2].upper() or " ")
    return float(match[1]) * float(1024**power)


def journald_finding(conf: Mapping[str, str], min_seconds: int) -> Finding:
    """HT-LOG-02: the journal keeps at least `min_seconds` and leaves disk free.

    Decision (the control's parameter is a period, so the configuration must state one):
    - Storage=persistent: a volatile journal keeps nothing across a reboot.
    - MaxRetentionSec set to >= min_seconds. Unset or 0 fails: journald then keeps entries only
      as long as its size limits allow, so the configuration states no retention period at all.
    - SystemKeepFree set (a full disk must not stop logging).
    - No size limit below journald's own ceiling: an explicit SystemMaxUse under 4G (the cap
      of journald's default), or a percentage, makes size the limit that deletes old entries
      first, which no configuration can show lasts min_seconds. A site that measured its log
      rate and needs a smaller journal records a waiver.
    """
    problems: list[str] = []
    storage = conf.get("Storage", "auto")
    if storage != "persistent":
        problems.append(f"Storage={storage}: only Storage=persistent keeps the journal on disk for sure")
    raw = conf.get("MaxRetentionSec")
    seconds = probes.parse_timespan(raw) if raw else None
    if raw is None or seconds == 0:
        problems.append(
            f"MaxRetentionSec={raw or 'unset'}: no retention period is configured, journald keeps entries "
            f"only until its size limit; expected >= {min_seconds}s"
        )
    elif seconds is None or seconds < min_seconds:
        problems.append(f"MaxRetentionSec={raw} is shorter than {min_seconds}s (or malformed)")
    keep_free = conf.get("SystemKeepFree")
    if not keep_free:
        problems.append("SystemKeepFree is not set")
    max_use = conf.get("SystemMaxUse")
    if max_use is not None:
        size = parse_size(max_use)
        if size is None or size < _JOURNALD_DEFAULT_MAX_USE:
            problems.append(
                f"SystemMaxUse={max_use} caps the journal below journald's default ceiling (4G): the oldest "
                "entries are deleted when it is reached, whatever MaxRetentionSec says"
            )
    max_files = to_int(conf.get("SystemMaxFiles"))
    if max_files is not None and max_files < 100:
        problems.append(f"SystemMaxFiles={max_files} (default 100) deletes old journal files early")
    observed = {k: conf.get(k) for k in ("Storage", "MaxRetentionSec", "SystemKeepFree", "SystemMaxUse")}
    return Finding(
        observed,
        {
            "Storage": "persistent",
            "MaxRetentionSec": f">= {min_seconds}s",
            "SystemKeepFree": "set",
            "SystemMaxUse": "unset or >= 4G",
        },
        not problems,
        tuple(problems),
    )
