"""roles/baseline's own output passes the host checks' decisions, with the catalogue's parameters.

Each test renders the role's templates with the role's defaults and vars (ansible's template engine,
as the template module would), or plays the role's account tasks (their loops and `when`s evaluated
by ansible) on a stock shadow file, then hands the result to the same pure function the live check
calls (infra/audit/_pam.py, _accounts.py, _journal.py, probes.logrotate_retention) with the
parameters of infra/catalogue/controls/host.yml. Nothing here restates the role's output.

What the role does not write comes from Debian as shipped, labelled as such below: the
pam-auth-update profiles of libpam-runtime (`unix`), libpam-pwquality and libcap2 (`capability`),
the service stacks that include common-* (`login`, `sshd`, `passwd`), logrotate.conf and
journald.conf. pam-auth-update itself is `_pam_auth_update`, a port of Debian's script (its
profile parser, the priority order and create_from_template's `end` jumps). The texts were read
from Debian 12's packages; the Molecule scenario checks the same on Debian 13 containers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from infra.audit import _accounts, _journal, _pam, probes
from infra.audit.hosts import _host
from infra.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "baseline"


def params(control_id: str) -> Mapping[str, Any]:
    return load_catalogue().control(control_id).parameters


# --------------------------------------------------------------------------- the role, rendered


def _trusted(value: Any) -> Any:
    """Role variables as ansible loads them from the role's files: strings may be templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


@cache
def _role_vars() -> dict[str, Any]:
    loader = DataLoader()
    variables: dict[str, Any] = {}
    for name in ("defaults/main.yml", "vars/main.yml", "vars/Debian.yml"):
        variables.update(_trusted(loader.load_from_file(str(ROLE / name))))
    variables["ansible_managed"] = "Ansible managed"
    return variables


def _templar(extra: Mapping[str, Any] | None = None) -> Templar:
    return Templar(loader=DataLoader(), variables={**_role_vars(), **_trusted(dict(extra or {}))})


def render(template: str) -> str:
    """A template of the role, as the template module writes it with the role's defaults."""
    text = (ROLE / "templates" / template).read_text(encoding="utf-8")
    result = _templar().template(trust_as_template(text), escape_backslashes=False)
    assert isinstance(result, str)
    return result


def template(text: str, extra: Mapping[str, Any] | None = None) -> Any:
    """A value of a task (`"{{ ... }}"`), resolved as ansible resolves it."""
    return _templar(extra).template(trust_as_template(text))


def value(expression: str, extra: Mapping[str, Any] | None = None) -> Any:
    """A role variable or expression, resolved as ansible resolves it."""
    return template("{{ " + expression + " }}", extra)


def _tasks(name: str) -> list[dict[str, Any]]:
    tasks = yaml.safe_load((ROLE / "tasks" / name).read_text(encoding="utf-8"))
    assert isinstance(tasks, list)
    return tasks


# --------------------------------------------------------------------------- Debian as shipped

DEBIAN_UNIX_PROFILE = """\
Name: Unix authentication
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_unix.so nullok try_first_pass
Auth-Initial:
\t[success=end default=ignore]\tpam_unix.so nullok
Account-Type: Primary
Account:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Account-Initial:
\t[success=end new_authtok_reqd=done default=ignore]\tpam_unix.so
Session-Type: Additional
Session:
\trequired\tpam_unix.so
Session-Initial:
\trequired\tpam_unix.so
Password-Type: Primary
Password:
\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
\t[success=end default=ignore]\tpam_unix.so obscure yescrypt
"""
"""/usr/share/pam-configs/unix (libpam-runtime)."""

DEBIAN_PWQUALITY_PROFILE = """\
Name: Pwquality password strength checking
Default: yes
Priority: 1024
Conflicts: cracklib
Password-Type: Primary
Password:
\trequisite\t\t\tpam_pwquality.so retry=3
Password-Initial:
\trequisite\t\t\tpam_pwquality.so retry=3
"""
"""/usr/share/pam-configs/pwquality (libpam-pwquality)."""

DEBIAN_CAPABILITY_PROFILE = """\
Name: Inheritable Capabilities Management
Default: yes
Priority: 0
Auth-Type: Additional
Auth-Final:
\toptional\t\t\tpam_cap.so
"""
"""/usr/share/pam-configs/capability (libpam-cap)."""

DEBIAN_PAM_SERVICES = {
    "login": """\
auth       optional   pam_faildelay.so  delay=3000000
auth       requisite  pam_nologin.so
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
session    required     pam_loginuid.so
session    optional   pam_motd.so motd=/run/motd.dynamic
session    optional   pam_motd.so noupdate
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open
session       required   pam_env.so readenv=1
session       required   pam_env.so readenv=1 envfile=/etc/default/locale
@include common-auth
auth       optional   pam_group.so
session    required   pam_limits.so
session    optional   pam_lastlog.so
session    optional   pam_mail.so standard
session    optional   pam_keyinit.so force revoke
@include common-account
@include common-session
@include common-password
""",
    "sshd": """\
@include common-auth
account    required     pam_nologin.so
@include common-account
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close
session    required     pam_loginuid.so
session    optional     pam_keyinit.so force revoke
@include common-session
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    optional     pam_motd.so noupdate
session    optional     pam_mail.so standard noenv # [1]
session    required     pam_limits.so
session    required     pam_env.so # [1]
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open
@include common-password
""",
    "passwd": "@include common-password\n",
}
"""/etc/pam.d/login (login), /etc/pam.d/sshd (openssh-server), /etc/pam.d/passwd (passwd)."""

DEBIAN_LOGROTATE_CONF = """\
# see "man logrotate" for details
# global options do not affect preceding include directives
# rotate log files weekly
weekly
# keep 4 weeks worth of backlogs
rotate 4
# create new (empty) log files after rotating old ones
create
# use date as a suffix of the rotated file
#dateext
# uncomment this if you want your log files compressed
#compress
# packages drop log rotation information into this directory
include /etc/logrotate.d
# system-specific logs may also be configured here.
"""
"""/etc/logrotate.conf (logrotate)."""

DEBIAN_JOURNALD_CONF = """\
[Journal]
#Storage=auto
#Compress=yes
#SystemMaxUse=
#SystemKeepFree=
#SystemMaxFileSize=
#SystemMaxFiles=100
#MaxRetentionSec=0
#ForwardToSyslog=no
"""
"""journald.conf (systemd): every setting commented out, at its default."""

DEBIAN_SHADOW = """\
root:$y$j9T$Wk2jA5mFh1lB0m8Xx2d2r/$ZJt7v8u2bQk9yq3W2r3l8Q1nS8z0mV4cY6pQ2fU1hA7:20300:0:99999:7:::
daemon:*:20300:0:99999:7:::
bin:*:20300:0:99999:7:::
sshd:!:20300::::::
admin:$y$j9T$3vT0mC1x8gQ5pL2aR7nE4./$Qm8yT1pV6cX3bN9kZ2wR5dF7hJ0lS4aG8eU1iO3yP6t:20310:0:99999:7:::
molecule:!:20311:0:99999:7:::
"""
"""/etc/shadow of a Debian install with a root password and a first user (hashes are made up)."""


# --------------------------------------------------------------------------- pam-auth-update


def _pam_profile(text: str) -> dict[str, str]:
    """parse_pam_profile: `Field: value` lines, indented lines appended; `-Final` is the plain field."""
    profile: dict[str, str] = {}
    field = ""
    for raw in text.splitlines(keepends=True):  # as Perl reads them: `Auth:\n` is a field
        match = re.match(r"^(\S+):\s+(.*)\s*$", raw)
        if match:
            field = re.sub(r"-Final$", "", match[1])
            profile[field] = match[2]
        elif raw.strip():
            profile[field] = (profile.get(field, "") + "\n" + raw.strip()).lstrip("\n ")
    return profile


def _pam_auth_update(profiles: Mapping[str, str], enabled: Iterable[str]) -> dict[str, str]:
    """/etc/pam.d/common-{auth,account,password,session} as pam-auth-update writes them.

    Profiles run in priority order (ties: name, descending); a module's `<Type>-Initial` lines
    replace its `<Type>` lines when it is the first of its block; `end` in a control becomes the
    number of lines left in the block (plus the fallback `pam_deny` for the primary block).
    """
    parsed = {name: _pam_profile(text) for name, text in profiles.items()}
    by_name = sorted(set(enabled), reverse=True)
    chosen = sorted(by_name, key=lambda n: -int(parsed[n]["Priority"]))
    files: dict[str, str] = {}
    for kind in ("auth", "account", "password", "session"):
        field = kind.capitalize()
        blocks: dict[str, list[str]] = {}
        for block in ("Primary", "Additional"):
            lines: list[str] = []
            for position, name in enumerate(n for n in chosen if parsed[n].get(f"{field}-Type") == block):
                body = parsed[name].get(f"{field}-Initial") if position == 0 else None
                lines += [line for line in (body or parsed[name][field]).split("\n") if line]
            count = len(lines) - (block == "Additional")
            out = []
            for line in lines:
                match = re.match(r"^((\[[^]]+\]|\w+)\s+\S+)\s*(.*)", line)
                assert match, line
                out.append(f"{kind}\t{match[1].replace('end', str(count))} {match[3]}".rstrip())
                count -= 1
            if block == "Primary" and not out:
                out = [f"{kind}\t[default=1]\t\t\tpam_permit.so"]
            blocks[block] = out
        files[f"/etc/pam.d/common-{kind}"] = "\n".join([
            '# here are the per-package modules (the "Primary" block)',
            *blocks["Primary"],
            "# here's the fallback if no module succeeds",
            f"{kind}\trequisite\t\t\tpam_deny.so",
            f"{kind}\trequired\t\t\tpam_permit.so",
            '# and here are more per-package modules (the "Additional" block)',
            *blocks["Additional"],
            "# end of pam-auth-update config",
            "",
        ])  # fmt: skip
    return files


def _role_pam_profiles() -> dict[str, str]:
    """The profiles tasks/pam.yml writes to the pam-configs folder, rendered."""
    task = next(t for t in _tasks("pam.yml") if "pam-configs" in str(t.get("ansible.builtin.template", {}).get("src")))
    return {name: render(f"usr/share/pam-configs/{name}.j2") for name in task["loop"]}


def _role_unix_profile() -> str:
    """Debian's unix profile after tasks/pam.yml's `replace` on it (Ansible's: re.sub, MULTILINE)."""
    task = next(t for t in _tasks("pam.yml") if str(t.get("ansible.builtin.replace", {}).get("path")).endswith("/unix"))
    edit = task["ansible.builtin.replace"]
    return re.sub(edit["regexp"], edit["replace"], DEBIAN_UNIX_PROFILE, flags=re.MULTILINE)


def _role_pam_enabled() -> list[str]:
    """The profiles tasks/pam.yml enables (`pam-auth-update --package --enable ...`)."""
    task = next(t for t in _tasks("pam.yml") if "pam-auth-update" in str(t.get("ansible.builtin.command")))
    words = str(task["ansible.builtin.command"]["cmd"]).split()
    return words[words.index("--enable") + 1 :]


@cache
def pam_files() -> dict[str, str]:
    """The host's PAM and module configuration files after the role: path -> text."""
    profiles = {
        "unix": _role_unix_profile(),
        "pwquality": DEBIAN_PWQUALITY_PROFILE,
        "capability": DEBIAN_CAPABILITY_PROFILE,
        **_role_pam_profiles(),
    }
    defaults = [n for n, text in profiles.items() if _pam_profile(text).get("Default") == "yes"]
    files = _pam_auth_update(profiles, [*defaults, *_role_pam_enabled()])
    files.update({f"/etc/pam.d/{name}": text for name, text in DEBIAN_PAM_SERVICES.items()})
    files["/etc/security/faillock.conf"] = render("etc/security/faillock.conf.j2")
    files["/etc/security/pwhistory.conf"] = render("etc/security/pwhistory.conf.j2")
    return files


def _stacks(kind: str, services: tuple[str, ...]) -> dict[str, list[_pam.PamRule]]:
    return {s: _pam.pam_rules(s, kind, pam_files().get) for s in services}


# --------------------------------------------------------------------------- accounts, played


def _shadow_entries(text: str) -> dict[str, list[str]]:
    """getent shadow as the getent module returns it: name -> the fields after the name."""
    return {line.split(":")[0]: line.split(":")[1:] for line in text.splitlines() if line}


_USER_FIELDS = {"password_expire_min": 2, "password_expire_max": 3, "password_expire_account_disable": 5}
"""Which getent shadow field each ansible.builtin.user option sets (chage -m, -M; usermod -f)."""


def play_account_tasks(shadow: str) -> tuple[str, list[str]]:
    """tasks/accounts.yml's user tasks on `shadow`: each loop and `when` evaluated by ansible, each
    option written to its field as chage/usermod would. Returns the new shadow and the changes."""
    entries = _shadow_entries(shadow)
    changes: list[str] = []
    for task in _tasks("accounts.yml"):
        module = task.get("ansible.builtin.user") or {}
        options = set(_USER_FIELDS) & set(module)
        if not options:
            continue
        facts = {"ansible_facts": {"getent_shadow": {k: list(v) for k, v in entries.items()}}}
        for item in template(task["loop"], facts):
            scope = {**facts, "item": item}
            conditions = task.get("when", [])
            if all(value(f"({c})", scope) for c in ([conditions] if isinstance(conditions, str) else conditions)):
                for option in options:
                    entries[item["key"]][_USER_FIELDS[option]] = str(template(module[option], scope))
                    changes.append(f"{task['name']}: {item['key']}")
    return "".join(f"{name}:{':'.join(fields)}\n" for name, fields in entries.items()), changes


def useradd_defaults() -> str:
    """`useradd -D` after tasks/login_defs.yml set INACTIVE in /etc/default/useradd."""
    task = next(t for t in _tasks("login_defs.yml")
                if (t.get("ansible.builtin.lineinfile") or {}).get("path") == "/etc/default/useradd")
    line = template(task["ansible.builtin.lineinfile"]["line"])
    assert str(line).startswith("INACTIVE="), line
    return f"GROUP=100\nHOME=/home\n{line}\nEXPIRE=\nSHELL=/bin/sh\nSKEL=/etc/skel\nCREATE_MAIL_SPOOL=no\n"


DEBIAN_PWQUALITY_CONF = """\
# Configuration for systemwide password quality limits
# Defaults:
#
# difok = 1
#
# minlen = 8
#
# dcredit = 0
# ucredit = 0
# lcredit = 0
# ocredit = 0
#
# minclass = 0
# maxrepeat = 0
# maxsequence = 0
# dictcheck = 1
# usercheck = 1
# enforcing = 1
# retry = 1
# enforce_for_root
"""


def play_lineinfile(text: str, task_file: str, path: str) -> str:
    """The lineinfile tasks of `task_file` on `path` applied to `text` as the module does: the last
    line matching `regexp` is replaced, else the line is added at the end."""
    lines = text.splitlines()
    for task in _tasks(task_file):
        module = task.get("ansible.builtin.lineinfile") or {}
        loop = task.get("loop", [None])
        for item in template(loop) if isinstance(loop, str) else loop:
            scope = {"item": item} if item is not None else {}
            if "path" not in module or template(module["path"], scope) != path:
                continue
            pattern, line = template(module["regexp"], scope), str(template(module["line"], scope))
            found = [i for i, old in enumerate(lines) if re.search(pattern, old)]
            if found:
                lines[found[-1]] = line
            else:
                lines.append(line)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the tests


def test_baseline_pam_locks_accounts_after_failures() -> None:
    """HT-AUTH-01: faillock preauth guards, authfail counts, deny and unlock_time in range."""
    p = params("HT-AUTH-01")
    stacks = _stacks("auth", _host.AUTH_SERVICES)
    finding = _pam.faillock_finding(stacks, pam_files().get, p["max_deny"], p["min_unlock_time"])
    assert finding.ok, finding.problems


@pytest.mark.parametrize(("control", "key"), [("HT-AUTH-02", "minlen"), ("HT-AUTH-03", "minclass")])
def test_baseline_pwquality_guards_password_changes(control: str, key: str) -> None:
    """HT-AUTH-02/03: pam_pwquality guards every password stack with the role's pwquality.conf, and
    a drop-in cannot weaken it (libpwquality reads pwquality.conf last)."""
    main = play_lineinfile(DEBIAN_PWQUALITY_CONF, "pam.yml", "/etc/security/pwquality.conf")
    assert "\nenforce_for_root\n" in main and "\nmaxsequence = 3\n" in main
    stacks = _stacks("password", _host.PASSWORD_SERVICES)
    finding = _pam.pwquality_finding(stacks, main, [f"{key} = 1\n"], key, params(control)["min"])
    assert finding.ok, finding.problems


@pytest.mark.parametrize(("control", "key", "param"), [("HT-AUTH-04", "PASS_MAX_DAYS", "max"),
                                                      ("HT-AUTH-05", "PASS_MIN_DAYS", "min")])
def test_baseline_password_ages(control: str, key: str, param: str) -> None:
    """HT-AUTH-04/05: login.defs and, after the role's account tasks, every existing account with a
    usable password (Debian's install leaves them at 0 and 99999 days) meet the check."""
    login_defs = probes.parse_keyvalues(render("etc/login.defs.j2"))
    limit = params(control)[param]
    assert not _accounts.age_finding(login_defs, DEBIAN_SHADOW, key, limit).ok
    for before in (DEBIAN_SHADOW, DEBIAN_SHADOW.replace(":20310:0:99999:", ":20310:0:0:")):  # 0: expired daily
        shadow, _ = play_account_tasks(before)
        finding = _accounts.age_finding(login_defs, shadow, key, limit)
        assert finding.ok, finding.problems


def test_baseline_removes_every_package_the_check_looks_for() -> None:
    """HT-PKG-03: the role's removal list is the control's list (a package only one of them names
    is either left on hardened hosts or never audited)."""
    assert sorted(value("baseline_insecure_packages")) == sorted(params("HT-PKG-03")["packages"])


def test_baseline_restricts_every_cron_folder_the_check_looks_at() -> None:
    """HT-FILE-02: the folders the role makes root-only are the ones the check judges."""
    from infra.audit.hosts.test_file import _CRON_DIRS

    assert tuple(value("_baseline_cron_dirs")) == _CRON_DIRS


def test_baseline_pam_unix_refuses_empty_passwords() -> None:
    """HT-AUTH-12: no pam_unix line of the auth stacks lets an empty password in; Debian's has nullok."""
    assert "nullok" in DEBIAN_UNIX_PROFILE and "pam_unix.so try_first_pass" in _role_unix_profile()
    assert _pam.nullok_lines(_stacks("auth", _host.AUTH_SERVICES)) == []


def test_baseline_pwhistory_guards_password_changes() -> None:
    """HT-AUTH-06: pam_pwhistory guards every password stack, remember from its line."""
    stacks = _stacks("password", _host.PASSWORD_SERVICES)
    finding = _pam.pwhistory_finding(stacks, pam_files().get, params("HT-AUTH-06")["min"])
    assert finding.ok, finding.problems


def test_baseline_accounts_disable_inactive_passwords() -> None:
    """HT-AUTH-07: after the role's tasks, useradd -D and every account with a usable password
    expire and go inactive within the maximum; a second run changes nothing (idempotent)."""
    maximum = params("HT-AUTH-07")["max"]
    assert not _accounts.inactive_finding(useradd_defaults(), DEBIAN_SHADOW, maximum).ok
    shadow, changes = play_account_tasks(DEBIAN_SHADOW)
    finding = _accounts.inactive_finding(useradd_defaults(), shadow, maximum)
    assert finding.ok, finding.problems
    assert {c.rsplit(": ", 1)[1] for c in changes} == {"root", "admin"}
    assert play_account_tasks(shadow) == (shadow, [])


def test_baseline_password_hashes_are_strong() -> None:
    """HT-AUTH-14: login.defs, pam_unix in common-password and the stored hashes."""
    login_defs = probes.parse_keyvalues(render("etc/login.defs.j2"))
    rules = _stacks("password", ("common-password",))["common-password"]
    finding = _accounts.password_hash_finding(login_defs, rules, DEBIAN_SHADOW, params("HT-AUTH-14")["allowed"])
    assert finding.ok, finding.problems


def test_baseline_weak_hash_assert_agrees_with_the_check() -> None:
    """HT-AUTH-14: the accounts the role's assert names are those the check fails."""
    samples = {
        "yescrypt": "$y$j9T$salt$hash",
        "sha512": "$6$salt$hash",
        "sha512_rounds": "$6$rounds=65536$salt$hash",
        "sha512_few": "$6$rounds=1000$salt$hash",
        "sha256": "$5$salt$hash",
        "md5": "$1$salt$hash",
        "md5_locked": "!$1$salt$hash",
        "bcrypt": "$2b$10$salthash",
        "gost": "$gy$j9T$salt$hash",
        "des": "abJnggxhB/yWI",
        "locked": "!",
        "disabled": "*",
        "locked_disabled": "!*",
        "empty": "",
        "yescrypt_locked": "!$y$j9T$salt$hash",
    }
    allowed = {a.upper() for a in params("HT-AUTH-14")["allowed"]}
    expected = sorted(n for n, pw in samples.items() if _accounts.shadow_hash_method(pw) not in (None, *allowed))
    getent = {name: [pw, "20300", "0", "99999", "7", "", "", ""] for name, pw in samples.items()}
    assert value("_baseline_weak_hash_accounts", {"ansible_facts": {"getent_shadow": getent}}) == expected


def _limits(rule: _pam.PamRule) -> bool:
    return rule.module == "pam_limits.so" and rule.arg("conf") is None


def test_login_sessions_apply_the_limits_files() -> None:
    """HT-AUTH-15: sshd's and login's session stacks on the hardened host run pam_limits on every
    way to success (the core limit of the role's limits.d file reaches every login)."""
    for service, rules in _stacks("session", ("sshd", "login")).items():
        assert _pam.pam_runs_unskipped(rules, _limits, "pam_limits") == [], service


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t.replace("session    required     pam_limits.so", "#session    required     pam_limits.so"),
         "pam_limits is not in the stack"),
        (lambda t: t.replace("session    required     pam_limits.so", "session    optional     pam_limits.so"),
         "pam_limits fails and the stack still succeeds"),
        (lambda t: t.replace("session    required     pam_limits.so",
                             "session    required     pam_limits.so conf=/etc/security/ops-limits.conf"),
         "pam_limits is not in the stack"),
        (lambda t: t.replace("session    optional     pam_mail.so standard noenv # [1]",
                             "session    sufficient   pam_permit.so"),
         "can end it first"),
        (lambda t: t.replace("session    optional     pam_mail.so standard noenv # [1]",
                             "session    [success=1 default=ignore]   pam_succeed_if.so user ingroup ops"),
         "jumps over it"),
    ],
    ids=["commented", "optional", "other-conf-file", "sufficient-before", "jump-over"],
)  # fmt: skip
def test_sshd_session_stacks_that_skip_the_limits_are_caught(edit: Callable[[str], str], problem: str) -> None:
    files = dict(pam_files()) | {"/etc/pam.d/sshd": edit(DEBIAN_PAM_SERVICES["sshd"])}
    rules = _pam.pam_rules("sshd", "session", files.get)
    found = _pam.pam_runs_unskipped(rules, _limits, "pam_limits")
    assert len(found) == 1 and problem in found[0], found


def test_baseline_sudo_logs_and_asks_again_within_the_limit() -> None:
    """HT-AUTH-11: the role's sudoers file, as `sudo -l` lists its Defaults, logs to the role's
    file on a pty and keeps an authentication 0..max minutes."""
    text = render("etc/sudoers.d/hatang-logging.j2")
    entries = ", ".join(line.removeprefix("Defaults ") for line in text.splitlines() if line.startswith("Defaults "))
    found = probes.sudo_defaults(f"Matching Defaults entries for root on h:\n    {entries}\n\nUser root may run:\n")
    assert found == {"logfile": value("baseline_sudo_logfile"), "use_pty": True, "log_allowed": True,
                     "timestamp_timeout": float(value("baseline_sudo_timestamp_timeout"))}  # fmt: skip
    assert 0 <= float(value("baseline_sudo_timestamp_timeout")) <= params("HT-AUTH-11")["max_timestamp_timeout"]


def test_baseline_journald_keeps_the_retention_period() -> None:
    """HT-LOG-01/02: journald.conf and the role's drop-in as systemd merges them; the main file
    alone (all a scanner like OpenSCAP's CIS content reads) says the same."""
    dropin = render("etc/systemd/journald.conf.d/60-hatang.conf.j2")
    main = play_lineinfile(DEBIAN_JOURNALD_CONF, "journald.yml", "/etc/systemd/journald.conf")
    merged = _journal.journald_merge(main, {"/etc/systemd/journald.conf.d/60-hatang.conf": dropin})
    assert merged.get("Storage") == "persistent"
    finding = _journal.journald_finding(merged, params("HT-LOG-02")["min_seconds"])
    assert finding.ok, finding.problems
    alone = _journal.journald_merge(main, {})
    assert alone == merged and (alone["Compress"], alone["ForwardToSyslog"]) == ("yes", "yes")
    assert main.count("[Journal]") == 1 and "#Storage=" not in main


def test_baseline_logrotate_keeps_the_retention_period() -> None:
    """HT-LOG-04: logrotate.conf including the role's files keeps every rotated log long enough."""
    tree = {
        "/etc/logrotate.d/rsyslog": render("etc/logrotate.d/rsyslog.j2"),
        "/etc/logrotate.d/hatang-sudo": render("etc/logrotate.d/hatang-sudo.j2"),
    }

    def include(target: str) -> dict[str, str] | None:
        found = {p: t for p, t in tree.items() if p == target or p.startswith(target.rstrip("/") + "/")}
        return found or None

    minimum = params("HT-LOG-04")["min_days"]
    paths = [*value("_baseline_rsyslog_files"), value("baseline_sudo_logfile")]
    assert "/var/log/syslog" in paths
    for path in paths:
        days, how = probes.logrotate_retention(DEBIAN_LOGROTATE_CONF, path, include)
        assert days is not None and days >= minimum, f"{path}: {how}"


@pytest.mark.parametrize("path", ["/etc/profile", "/etc/bash.bashrc"])
def test_baseline_shell_start_files_set_the_umask(path: str) -> None:
    """HT-AUTH-08: the role's line in a shell's start file is the control's umask (Debian ships none)."""
    text = play_lineinfile('if [ "$PS1" ]; then\n  PS1="\\\\u@\\\\h:\\\\w\\\\$ "\nfi\n', "login_defs.yml", path)
    assert probes.shell_umasks(text) == [params("HT-AUTH-08")["umask"]]
