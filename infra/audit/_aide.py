"""HT-FILE-03: AIDE's baseline of the host's files, read as the daily check uses it.

The check does not run `aide --check` (a full hash of /usr, many seconds); it asks what the daily
job would do: its settings (/etc/default/aide, sourced by Debian's dailyaidecheck), the
configuration's verdict on the files an intruder alters first (`aide --path-check`, which follows
every include and rule order), and whether the database holds them.
"""

from __future__ import annotations

import re
import shlex

from infra.audit._finding import Finding

__all__ = ["CRITICAL_PATHS", "DEFAULTS", "PROBE", "SECTION", "aide_finding"]

DEFAULTS = "/etc/default/aide"
_DEFAULT_CONFIG = "/etc/aide/aide.conf"
# Account and privilege files, sshd, sudo, su, PAM and the audit tools (CIS 6.1.3's list).
CRITICAL_PATHS = (
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/pam.d/common-auth",
    "/etc/ssh/sshd_config", "/usr/sbin/sshd", "/usr/bin/sudo", "/usr/bin/su", "/usr/sbin/auditctl",
    "/usr/sbin/auditd", "/usr/sbin/augenrules", "/usr/sbin/ausearch", "/usr/sbin/aureport",
)  # fmt: skip
# A file counts as watched when its rule compares permissions, owner, group, size and a strong hash.
_WANTED_ATTRS = frozenset({"p", "u", "g", "s"})
_STRONG_HASHES = frozenset({"sha256", "sha512", "sha512_256", "sha3_256", "sha3_512"})
SECTION = "\x1e"
_ALTERNATION = "|".join(p.replace(".", "\\.") for p in CRITICAL_PATHS)
# A dry `aide --init` limited to the paths walks the file system as the daily check does, and at
# log level `rule` says for each file it reaches which rule selects it (or which excludes it).
_LIMIT = f"^({_ALTERNATION})$"
_VERDICT_LINES = f"^\\[.\\] .=[^:]*:({_ALTERNATION}): "

# One round trip. Settings are read with sed, not sourced: the audit runs no code from the host.
PROBE = "; ".join([
    "printf '\\036package\\n'; dpkg-query -W -f='${Status}' aide 2>&1; echo",
    f"printf '\\036defaults\\n'; cat {DEFAULTS} 2>/dev/null",
    "cfg=$(sed -n 's/^[[:space:]]*CONFIG=[\"'\\'']\\{0,1\\}\\([^\"'\\'' ]*\\).*/\\1/p' "
    f"{DEFAULTS} 2>/dev/null | tail -n 1); cfg=${{cfg:-{_DEFAULT_CONFIG}}}",
    "db=$(grep '^database_in[[:space:]]*=[[:space:]]*file:/' \"$cfg\" 2>/dev/null | head -n 1 | cut -d: -f2)",
    "printf '\\036database %s\\n' \"$db\"",
    "[ -n \"$db\" ] && [ -f \"$db\" ] && stat -c '%U %G %a %s' \"$db\" && zcat -f \"$db\" | grep -E '^(@@db_spec |("
    + _ALTERNATION + ") )' | awk '/^@@/ {print; next} {print $1, $2, $3}'",
    "printf '\\036paths %s\\n' \"$cfg\"",
    # Verdicts on stdout only: aide's worker threads log to stderr and would cut lines in two.
    f"out=$(aide --config=\"$cfg\" --dry-init --limit='{_LIMIT}' --log-level=rule 2>/dev/null); rc=$?",
    f"printf '%s\\n' \"$out\" | grep -E '{_VERDICT_LINES}'",
    "[ $rc = 0 ] || aide --config=\"$cfg\" --config-check 2>&1 | grep -v '^WARNING' | head -n 3",
    "echo \"aide exited $rc\"",
    "printf '\\036timer\\n'; systemctl is-enabled dailyaidecheck.timer; systemctl is-active dailyaidecheck.timer; "
    "systemctl show -p ExecStart --value dailyaidecheck.service",
])  # fmt: skip


def _sections(text: str) -> dict[str, tuple[str, str]]:
    """Section name -> (its header's argument, its body)."""
    found = {}
    for chunk in text.split(SECTION)[1:]:
        header, _, body = chunk.partition("\n")
        name, _, arg = header.partition(" ")
        found[name] = (arg.strip(), body)
    return found


def _defaults(text: str) -> dict[str, str]:
    """The last plain assignment of each variable in /etc/default/aide, quotes removed."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"\s*([A-Z_]+)=(.*)$", line)
        if match:
            try:
                words = shlex.split(match.group(2), comments=True)
            except ValueError:
                words = [match.group(2)]
            values[match.group(1)] = " ".join(words)
    return values


def _path_verdicts(text: str) -> tuple[dict[str, str], str]:
    """Path -> aide's verdict on it (`[x] ... selective rule: ...`), and what went wrong with aide
    ('' when it exited 0)."""
    verdicts: dict[str, str] = {}
    errors = []
    for line in filter(None, map(str.strip, text.splitlines())):
        match = re.match(r"\[[x ]\] \w=[^:]*:(\S+?): ", line)
        if match:
            verdicts[match.group(1)] = line
        elif line != "aide exited 0":
            errors.append(line)
    return verdicts, "; ".join(errors)


def _rule_problem(path: str, verdict: str | None) -> str | None:
    if verdict is None:
        return f"{path} is left out of the daily check: aide's walk does not reach it"
    if verdict.startswith("[ ]"):
        return f"{path} is left out of the daily check: {verdict.partition(': ')[2]}"
    rule = re.search(r"rule: '\S+ \S+ (\S+)'", verdict)
    attrs = set(rule.group(1).split("+")) if rule else set()
    missing = sorted(_WANTED_ATTRS - attrs) + ([] if attrs & _STRONG_HASHES else ["a SHA-2/SHA-3 hash"])
    if missing:
        return f"{path} is watched without {', '.join(missing)}: {verdict.partition(': ')[2]}"
    return None


def _database_problems(database: str, body: str) -> tuple[dict[str, object], list[str]]:
    lines = [line for line in body.splitlines() if line.strip()]
    if not database:
        return {"database": "no database_in=file:/... in the configuration"}, ["the configuration names no database"]
    if not lines:
        return {"database": f"{database}: absent"}, [f"no baseline: {database} does not exist"]
    owner, group, mode, size = ([*lines[0].split(), "", "", "0", "0"])[:4]
    problems = []
    if owner != "root" or int(mode or "0", 8) & 0o077:
        problems.append(f"{database} is {owner}:{group} {mode}: anyone but root may read or rewrite the baseline")
    spec = next((line.split()[1:] for line in lines[1:] if line.startswith("@@db_spec")), [])
    recorded = {line.split()[0] for line in lines[1:] if line.startswith("/")}
    absent = [p for p in CRITICAL_PATHS if p not in recorded]
    if not spec:
        problems.append(f"{database} ({size} bytes) is not an AIDE database")
    elif not set(spec) & _STRONG_HASHES:
        problems.append(f"{database} records no SHA-2/SHA-3 hash (columns: {' '.join(spec)})")
    if spec and absent:
        problems.append(f"{database} does not hold {', '.join(absent)}")
    observed: dict[str, object] = {
        "database": database, "owner": f"{owner}:{group} {mode}", "bytes": size, "missing": absent,
    }  # fmt: skip
    return observed, problems


def aide_finding(probe_output: str) -> Finding:
    """HT-FILE-03 from the PROBE's output: aide installed; the daily timer enabled and running
    Debian's dailyaidecheck with `check` or `update` and no extra arguments; its configuration
    watching every CRITICAL_PATH with permissions, owner, group, size and a strong hash; its
    database root's alone and holding them."""
    sections = _sections(probe_output)
    problems: list[str] = []
    package = sections.get("package", ("", ""))[1].strip()
    if package != "install ok installed":
        problems.append(f"aide is not installed ({package or 'dpkg does not know it'})")
    settings = _defaults(sections.get("defaults", ("", ""))[1])
    command = settings.get("COMMAND") or "check"
    if command not in {"check", "update"}:
        problems.append(f"{DEFAULTS}: COMMAND={command}: the daily job must run aide --check or --update")
    if settings.get("AIDEARGS"):
        problems.append(f"{DEFAULTS}: AIDEARGS={settings['AIDEARGS']}: extra arguments can narrow the daily check")
    database, body = sections.get("database", ("", ""))
    db_observed, db_problems = _database_problems(database, body)
    problems += db_problems
    config, paths_text = sections.get("paths", (_DEFAULT_CONFIG, ""))
    verdicts, aide_error = _path_verdicts(paths_text)
    if aide_error:
        problems.append(f"aide cannot read its configuration {config}: {aide_error[:300]}")
    else:
        problems += filter(None, (_rule_problem(p, verdicts.get(p)) for p in CRITICAL_PATHS))
    timer = sections.get("timer", ("", ""))[1].split("\n", 2)
    enabled, active, exec_start = ([*timer, "", "", ""])[:3]
    if enabled.strip() != "enabled" or active.strip() != "active":
        problems.append(f"dailyaidecheck.timer is {enabled.strip() or '?'} and {active.strip() or '?'}")
    if "path=/usr/share/aide/bin/dailyaidecheck " not in exec_start:
        problems.append(f"dailyaidecheck.service does not run Debian's dailyaidecheck: {exec_start.strip()[:160]}")
    observed = {
        "package": package, "config": config, "daily": {"timer": f"{enabled.strip()}, {active.strip()}",
                                                          "command": command},
        **db_observed,
    }  # fmt: skip
    expected = {
        "package": "install ok installed", "daily": {"timer": "enabled, active", "command": "check or update"},
        "watched": f"{len(CRITICAL_PATHS)} files with p+u+g+s and a SHA-2/SHA-3 hash, in config and database",
    }  # fmt: skip
    return Finding(observed, expected, not problems, tuple(problems))
