"""Host check decisions (infra/audit/_pam.py, _accounts.py, _journal.py, _sshd.py and
probes.logrotate_retention) against the texts that used to pass while violating the control
(issue 15), and a compliant text each."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from infra.audit import _accounts, _finding, _journal, _pam, _sshd, probes

# --------------------------------------------------------------------------- PAM fixtures

AUTH_OK = """\
# /etc/pam.d/common-auth as pam-auth-update writes it with the faillock profiles
auth\trequisite\t\t\tpam_faillock.so preauth
auth\t[success=2 default=ignore]\tpam_unix.so nullok
auth\t[default=die]\t\t\tpam_faillock.so authfail
auth\trequisite\t\t\tpam_deny.so
auth\trequired\t\t\tpam_permit.so
auth\toptional\t\t\tpam_cap.so
"""
LOGIN = """\
auth       optional   pam_faildelay.so  delay=3000000
auth       requisite  pam_nologin.so
@include common-auth
account    required   pam_nologin.so
"""
FAILLOCK_CONF = "# defaults\ndeny = 5\nunlock_time = 900\n"
PASSWORD_OK = """\
password\trequisite\t\t\tpam_pwquality.so retry=3
password\trequisite\t\t\tpam_pwhistory.so use_authtok
password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
password\trequisite\t\t\tpam_deny.so
password\trequired\t\t\tpam_permit.so
"""
PWQUALITY_DROPIN = "minlen = 14\nminclass = 3\n"
PWQUALITY_MAIN = "# minlen = 8\n# minclass = 0\n"
PWHISTORY_CONF = "remember = 5\nenforce_for_root\n"


def _reader(files: Mapping[str, str]) -> _pam.PamReader:
    return lambda path: files.get(path)


def _files(**stacks: str) -> dict[str, str]:
    files = {
        "/etc/pam.d/common-auth": AUTH_OK,
        "/etc/pam.d/login": LOGIN,
        "/etc/pam.d/common-password": PASSWORD_OK,
        "/etc/pam.d/passwd": "@include common-password\n",
        "/etc/security/faillock.conf": FAILLOCK_CONF,
        "/etc/security/pwhistory.conf": PWHISTORY_CONF,
    }
    for name, text in stacks.items():
        files[f"/etc/pam.d/{name.replace('_', '-')}"] = text
    return files


def _faillock(files: Mapping[str, str]) -> _finding.Finding:
    read = _reader(files)
    stacks = {s: _pam.pam_rules(s, "auth", read) for s in ("common-auth", "login")}
    return _pam.faillock_finding(stacks, read, max_deny=5, min_unlock=900)


# --------------------------------------------------------------------------- PAM parsing


def test_pam_rules_follow_include_and_skip_comments() -> None:
    rules = _pam.pam_rules("login", "auth", _reader(_files()))
    assert [r.module for r in rules] == [
        "pam_faildelay.so", "pam_nologin.so", "pam_faillock.so", "pam_unix.so", "pam_faillock.so",
        "pam_deny.so", "pam_permit.so", "pam_cap.so",
    ]  # fmt: skip
    assert rules[2].where == "/etc/pam.d/common-auth:2"
    assert rules[3].actions == {"success": "2", "default": "ignore"}


def test_pam_rules_line_continuation_and_module_path() -> None:
    text = "auth requisite \\\n   /usr/lib/x86_64-linux-gnu/security/pam_faillock.so preauth\n"
    text += "auth required pam_permit.so\n"
    rules = _pam.pam_rules("x", "auth", _reader({"/etc/pam.d/x": text}))
    assert [(r.module, r.args, r.where) for r in rules] == [
        ("pam_faillock.so", ("preauth",), "/etc/pam.d/x:1"),
        ("pam_permit.so", (), "/etc/pam.d/x:3"),
    ]


def test_pam_rules_comment_cuts_continuation() -> None:
    text = "#auth requisite pam_faillock.so preauth \\\nauth required pam_permit.so\n"
    rules = _pam.pam_rules("x", "auth", _reader({"/etc/pam.d/x": text}))
    assert [r.module for r in rules] == ["pam_permit.so"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"/etc/pam.d/x": "@include gone\n"}, "/etc/pam.d/gone: absent or not readable"),
        ({"/etc/pam.d/x": "auth include x\n"}, "includes nest deeper"),
        ({"/etc/pam.d/x": "auth [success=1 default] pam_unix.so\n"}, "malformed control item 'default'"),
        ({"/etc/pam.d/x": "auth sometimes pam_unix.so\n"}, "unknown control 'sometimes'"),
    ],
)
def test_pam_rules_unreadable_stacks_raise(files: dict[str, str], message: str) -> None:
    with pytest.raises(_pam.PamError, match=message):
        _pam.pam_rules("x", "auth", _reader(files))


# --------------------------------------------------------------------------- HT-AUTH-01


def test_faillock_compliant_stack_passes() -> None:
    finding = _faillock(_files())
    assert finding.ok, finding.problems
    assert finding.observed == {
        "stacks": {"common-auth": "enforced", "login": "enforced"},
        "deny": 5,
        "unlock_time": 900,
    }


@pytest.mark.parametrize(
    ("common_auth", "problem"),
    [
        # the evasion: commented-out lines matched a substring search
        (
            AUTH_OK.replace("auth\trequisite\t\t\tpam_faillock", "#auth\trequisite\t\t\tpam_faillock").replace(
                "auth\t[default=die]", "#auth\t[default=die]"
            ),
            "common-auth: pam_faillock preauth is not in the stack",
        ),
        (
            AUTH_OK.replace("requisite\t\t\tpam_faillock.so preauth", "optional pam_faillock.so preauth"),
            "common-auth: pam_faillock preauth fails and the stack still succeeds",
        ),
        (
            "auth sufficient pam_permit.so\n" + AUTH_OK,
            "common-auth: the stack succeeds without running pam_faillock preauth: "
            "/etc/pam.d/common-auth:1 `auth sufficient pam_permit.so` ends the stack with success before it",
        ),
        (
            "auth [success=1 default=ignore] pam_succeed_if.so user ingroup admins\n" + AUTH_OK,
            "common-auth: the stack succeeds without running pam_faillock preauth: /etc/pam.d/common-auth:1 "
            "`auth [success=1 default=ignore] pam_succeed_if.so user ingroup admins` jumps over it",
        ),
        (
            AUTH_OK.replace(
                "[default=die]\t\t\tpam_faillock.so authfail", "[default=ignore] pam_faillock.so authfail"
            ).replace("auth\trequisite\t\t\tpam_deny.so\n", ""),
            "common-auth: a wrong password ends the stack in success",
        ),
        (
            AUTH_OK.replace("pam_faillock.so authfail", "pam_faillock.so authfail deny=10"),
            "common-auth: /etc/pam.d/common-auth:4 runs with deny=10, expected 1..5",
        ),
        (
            AUTH_OK.replace("pam_faillock.so preauth", "pam_faillock.so preauth unlock_time=60"),
            "common-auth: /etc/pam.d/common-auth:2 runs with unlock_time=60, expected 0 (never) or >= 900",
        ),
    ],
)
def test_faillock_evasions_fail(common_auth: str, problem: str) -> None:
    finding = _faillock(_files(common_auth=common_auth))
    assert not finding.ok
    assert any(p.startswith(problem) for p in finding.problems), finding.problems
    assert finding.observed["stacks"]["common-auth"] == "not enforced"


def test_faillock_service_that_skips_common_auth_fails() -> None:
    login = "auth sufficient pam_permit.so\n" + LOGIN
    finding = _faillock(_files(login=login))
    assert finding.observed["stacks"] == {"common-auth": "enforced", "login": "not enforced"}


@pytest.mark.parametrize(
    ("conf", "line_option", "ok"),
    [
        ("deny = 10\nunlock_time = 900\n", "deny=3", True),  # the PAM line wins over faillock.conf
        ("deny = 3\nunlock_time = 900\n", "deny=10", False),
        ("", "", False),  # module defaults: deny=3 but unlock_time=600
        ("deny = 3\nunlock_time = never\n", "", True),
    ],
)
def test_faillock_line_options_override_conf(conf: str, line_option: str, ok: bool) -> None:
    auth = AUTH_OK.replace("pam_faillock.so preauth", f"pam_faillock.so preauth {line_option}").replace(
        "pam_faillock.so authfail", f"pam_faillock.so authfail {line_option}"
    )
    files = _files(common_auth=auth)
    files["/etc/security/faillock.conf"] = conf
    assert _faillock(files).ok is ok


# --------------------------------------------------------------------------- HT-AUTH-02/03/06


def _pwquality(files: Mapping[str, str], main: str, dropins: list[str], key: str = "minlen") -> _finding.Finding:
    read = _reader(files)
    stacks = {s: _pam.pam_rules(s, "password", read) for s in ("common-password", "passwd")}
    return _pam.pwquality_finding(stacks, main, dropins, key, 12 if key == "minlen" else 3)


def test_pwquality_compliant_passes() -> None:
    assert _pwquality(_files(), PWQUALITY_MAIN, [PWQUALITY_DROPIN]).ok
    assert _pwquality(_files(), PWQUALITY_MAIN, [PWQUALITY_DROPIN], "minclass").ok


@pytest.mark.parametrize(
    ("password", "main", "dropins", "problem"),
    [
        # the evasion: a commented-out line
        (
            PASSWORD_OK.replace("password\trequisite\t\t\tpam_pwquality", "#password\trequisite\t\t\tpam_pwquality"),
            PWQUALITY_MAIN,
            [PWQUALITY_DROPIN],
            "common-password: pam_pwquality is not in the stack",
        ),
        (
            PASSWORD_OK.replace("requisite\t\t\tpam_pwquality.so", "optional pam_pwquality.so"),
            PWQUALITY_MAIN,
            [PWQUALITY_DROPIN],
            "common-password: pam_pwquality fails and the stack still succeeds",
        ),
        (
            "password sufficient pam_permit.so\n" + PASSWORD_OK,
            PWQUALITY_MAIN,
            [PWQUALITY_DROPIN],
            "common-password: the stack succeeds without running pam_pwquality: /etc/pam.d/common-password:1 "
            "`password sufficient pam_permit.so` ends the stack with success before it",
        ),
        (
            PASSWORD_OK.replace("pam_pwquality.so retry=3", "pam_pwquality.so retry=3 minlen=8"),
            PWQUALITY_MAIN,
            [PWQUALITY_DROPIN],
            "common-password: /etc/pam.d/common-password:1 runs with minlen=8, expected >= 12",
        ),
        (
            PASSWORD_OK,
            "minlen = 8\n",  # pwquality.conf is read AFTER the drop-ins, so it wins
            [PWQUALITY_DROPIN],
            "common-password: /etc/pam.d/common-password:1 runs with minlen=8, expected >= 12",
        ),
        (
            PASSWORD_OK,
            PWQUALITY_MAIN,
            [PWQUALITY_DROPIN, "enforcing = 0\n"],
            "common-password: /etc/pam.d/common-password:1 runs with enforcing=0 (weak passwords only warned about)",
        ),
        (PASSWORD_OK, "", [], "common-password: /etc/pam.d/common-password:1 runs with minlen=9, expected >= 12"),
    ],
)
def test_pwquality_evasions_fail(password: str, main: str, dropins: list[str], problem: str) -> None:
    finding = _pwquality(_files(common_password=password), main, dropins)
    assert not finding.ok
    assert any(p.startswith(problem) for p in finding.problems), finding.problems


def test_pwquality_later_dropin_wins_and_clamps() -> None:
    rule = _pam.pam_rules("common-password", "password", _reader(_files()))[0]
    assert _pam.pwquality_settings(rule, None, ["minlen = 14\n", "minlen = 4\nminclass = 9\n"])["minlen"] == "6"
    assert _pam.pwquality_settings(rule, None, ["minclass = 9\n"])["minclass"] == "4"


def _pwhistory(files: Mapping[str, str]) -> _finding.Finding:
    read = _reader(files)
    stacks = {s: _pam.pam_rules(s, "password", read) for s in ("common-password", "passwd")}
    return _pam.pwhistory_finding(stacks, read, 5)


def test_pwhistory_compliant_passes() -> None:
    assert _pwhistory(_files()).ok


@pytest.mark.parametrize(
    ("password", "conf", "problem"),
    [
        (
            PASSWORD_OK.replace("password\trequisite\t\t\tpam_pwhistory", "# password\trequisite\t\t\tpam_pwhistory"),
            PWHISTORY_CONF,
            "common-password: pam_pwhistory is not in the stack",
        ),
        (
            PASSWORD_OK.replace("requisite\t\t\tpam_pwhistory.so", "[success=ok default=ignore] pam_pwhistory.so"),
            PWHISTORY_CONF,
            "common-password: pam_pwhistory fails and the stack still succeeds",
        ),
        (
            PASSWORD_OK.replace("pam_pwhistory.so use_authtok", "pam_pwhistory.so use_authtok remember=2"),
            PWHISTORY_CONF,
            "common-password: /etc/pam.d/common-password:2 runs with remember=2, expected >= 5",
        ),
        (
            PASSWORD_OK,
            "remember = 0\n",
            "common-password: /etc/pam.d/common-password:2 runs with remember=0, expected >= 5",
        ),
    ],
)
def test_pwhistory_evasions_fail(password: str, conf: str, problem: str) -> None:
    files = _files(common_password=password)
    files["/etc/security/pwhistory.conf"] = conf
    finding = _pwhistory(files)
    assert not finding.ok
    assert any(p.startswith(problem) for p in finding.problems), finding.problems


def test_nullok_lines_each_once_whatever_includes_it() -> None:
    read = _reader(_files(sshd="auth sufficient pam_unix.so nullok_secure\n@include common-auth\n"))
    stacks = {s: _pam.pam_rules(s, "auth", read) for s in ("common-auth", "login", "sshd")}
    assert _pam.nullok_lines(stacks) == [
        "/etc/pam.d/common-auth:3 `auth [success=2 default=ignore] pam_unix.so nullok` "
        "lets an empty password in (nullok)",
        "/etc/pam.d/sshd:1 `auth sufficient pam_unix.so nullok_secure` lets an empty password in (nullok)",
    ]
    without = _files(common_auth=AUTH_OK.replace(" nullok", ""))
    assert _pam.nullok_lines({"common-auth": _pam.pam_rules("common-auth", "auth", _reader(without))}) == []


# --------------------------------------------------------------------------- su (HT-AUTH-16)

SU_OK = """\
auth       sufficient pam_rootok.so
auth       required   pam_wheel.so use_uid group=sugroup
# auth       sufficient pam_wheel.so trust
session    required   pam_limits.so
@include common-auth
"""
GROUPS_OK = "root:x:0:\nsudo:x:27:admin\nsugroup:x:996:\n"
ACCOUNTS = "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n"


def _su(su: str, groups: str = GROUPS_OK, passwd: str = ACCOUNTS) -> _finding.Finding:
    rules = _pam.pam_rules("su", "auth", _reader(_files(su=su)))
    return _accounts.su_restriction_finding(rules, groups, passwd)


def test_su_restricted_to_an_empty_group_passes() -> None:
    finding = _su(SU_OK)
    assert finding.ok, finding.problems
    assert finding.observed == {"su groups": {"sugroup": []}}


def test_su_group_that_does_not_exist_refuses_everyone() -> None:
    assert _su(SU_OK, groups="root:x:0:\n").ok


@pytest.mark.parametrize(
    ("su", "groups", "passwd", "problem"),
    [
        (SU_OK.replace("auth       required   pam_wheel", "# auth required pam_wheel"), GROUPS_OK, ACCOUNTS,
         "pam_wheel is not in the stack"),
        (SU_OK, GROUPS_OK.replace("sugroup:x:996:", "sugroup:x:996:ops,admin"), ACCOUNTS,
         "group sugroup of /etc/pam.d/su:2 `auth required pam_wheel.so use_uid group=sugroup` has members: admin, ops"),
        (SU_OK, GROUPS_OK, ACCOUNTS + "suops:x:1001:996::/home/suops:/bin/bash\n", "has members: suops"),
        (SU_OK.replace("required   pam_wheel", "optional   pam_wheel"), GROUPS_OK, ACCOUNTS,
         "pam_wheel fails and the stack still succeeds"),
        (SU_OK.replace("pam_rootok.so\n", "pam_rootok.so\nauth sufficient pam_permit.so\n"), GROUPS_OK, ACCOUNTS,
         "the stack succeeds without running pam_wheel"),
        (SU_OK.replace("pam_rootok.so\n", "pam_rootok.so\nauth [success=1 default=ignore] pam_succeed_if.so uid > 0\n"),
         GROUPS_OK, ACCOUNTS, "the stack succeeds without running pam_wheel"),
        (SU_OK.replace("group=sugroup", "group=sugroup root_only"), GROUPS_OK, ACCOUNTS, "guards only su to root"),
        (SU_OK.replace(" use_uid", ""), GROUPS_OK, ACCOUNTS, "not the caller (no use_uid)"),
        (SU_OK.replace(" group=sugroup", ""), GROUPS_OK, ACCOUNTS, "group root of"),
        (SU_OK.replace(" group=sugroup", ""), GROUPS_OK + "wheel:x:10:ops\n", ACCOUNTS, "group wheel of"),
        (SU_OK.replace("use_uid", "deny use_uid"), GROUPS_OK, ACCOUNTS, "pam_wheel is not in the stack"),
    ],
)  # fmt: skip
def test_su_evasions_fail(su: str, groups: str, passwd: str, problem: str) -> None:
    finding = _su(su, groups, passwd)
    assert not finding.ok
    assert any(problem in p for p in finding.problems), finding.problems


def test_su_rootok_succeeds_for_any_caller_of_a_daemon() -> None:
    """pam_rootok fails for a user running su, but succeeds for every caller of a root daemon."""
    rules = _pam.pam_rules("su", "auth", _reader(_files(su=SU_OK)))
    wheel = lambda rule: rule.module == "pam_wheel.so"  # noqa: E731
    assert _pam.pam_guarded(rules, wheel, "pam_wheel", unprivileged_caller=True) == []
    assert _pam.pam_guarded(rules, wheel, "pam_wheel")[0].startswith("the stack succeeds without running pam_wheel")


# --------------------------------------------------------------------------- shadow

SHADOW_OK = """\
root:*:19800:0:99999:7:::
daemon:*:19800:0:99999:7:::
sshd:!:19800::::::
admin:$y$j9T$abcdefghijklmnopqrstu$abcdefghijklmnopqrstuvwxyz0123456789ABCDEF:19800:1:90:7:30::
locked:!$y$j9T$abc$def:19800:1:90:7:::
"""


@pytest.mark.parametrize(
    ("uid", "counted"),
    [("0", True), ("00", True), ("+0", True), (" 0", True), ("-0", True), ("0x0", False), ("1000", False),
     ("", False)],
)
def test_uid0_accounts_read_the_uid_as_a_number(uid: str, counted: bool) -> None:
    passwd = f"root:x:0:0:root:/root:/bin/bash\nops:x:{uid}:0:ops:/root:/bin/bash\n# ops:x:0:0\nshort:x\n"
    assert _accounts.uid0_accounts(passwd) == (["ops", "root"] if counted else ["root"])


def test_uid0_accounts_skip_leading_blanks_as_the_system_does() -> None:
    """`  lead:x:0:...` is account `lead` with uid 0 to glibc (`id -u lead` is 0); `#cmt:x:0:...` is no account."""
    passwd = "root:x:0:0::/root:/bin/bash\n  lead:x:0:0::/root:/bin/bash\n#cmt:x:0:0::/root:/bin/bash\n"
    assert _accounts.uid0_accounts(passwd) == ["lead", "root"]


PASSWD_OK = "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n#old::1:1::/:/bin/sh\n"


def test_no_empty_passwords_compliant_passes() -> None:
    assert _accounts.empty_password_accounts(SHADOW_OK).ok
    assert _accounts.empty_password_accounts(SHADOW_OK, PASSWD_OK, []).ok  # a comment line is no account


@pytest.mark.parametrize(
    ("passwd", "empty_hashes", "problem"),
    [
        (PASSWD_OK + "kiosk::1001:1001::/:/bin/bash\n", [],
         "kiosk has an empty password field in /etc/passwd (not x: /etc/shadow is not read)"),
        (PASSWD_OK + "  kiosk::1001:1001::/:/bin/bash\n", [],
         "kiosk has an empty password field in /etc/passwd (not x: /etc/shadow is not read)"),
        (PASSWD_OK, ["visitor"], "visitor has a hash of the empty string in /etc/shadow"),
    ],
)
def test_no_empty_passwords_outside_the_shadow_field_fail(passwd: str, empty_hashes: list[str], problem: str) -> None:
    finding = _accounts.empty_password_accounts(SHADOW_OK, passwd, empty_hashes)
    assert not finding.ok
    assert finding.problems == (problem,)


@pytest.mark.parametrize(
    ("shadow", "problem"),
    [
        (None, "/etc/shadow is absent or not readable by the audit"),  # the evasion: unreadable became ""
        ("", "/etc/shadow has no line for root: empty, truncated or not readable"),
        ("daemon:*:19800:0:99999:7:::\n", "/etc/shadow has no line for root: empty, truncated or not readable"),
        (SHADOW_OK + "guest::19800:0:99999:7:::\n", "guest has an empty password in /etc/shadow"),
        ("root:*:1\n", "/etc/shadow has a malformed line for 'root' (3 fields, expected 9)"),
    ],
)
def test_no_empty_passwords_evasions_fail(shadow: str | None, problem: str) -> None:
    finding = _accounts.empty_password_accounts(shadow)
    assert not finding.ok
    assert problem in finding.problems


LOGIN_DEFS_OK = {"ENCRYPT_METHOD": "YESCRYPT"}


def _hash(login_defs: Mapping[str, str], password: str, shadow: str | None) -> _finding.Finding:
    rules = _pam.pam_rules("common-password", "password", _reader(_files(common_password=password)))
    return _accounts.password_hash_finding(login_defs, rules, shadow, ["SHA512", "YESCRYPT"])


def test_password_hash_compliant_passes() -> None:
    finding = _hash(LOGIN_DEFS_OK, PASSWORD_OK, SHADOW_OK)
    assert finding.ok, finding.problems
    assert finding.observed["pam_unix"] == {"/etc/pam.d/common-password:3": "YESCRYPT"}


@pytest.mark.parametrize(
    ("login_defs", "password", "shadow", "problem"),
    [
        ({"ENCRYPT_METHOD": "MD5"}, PASSWORD_OK, SHADOW_OK, "/etc/login.defs ENCRYPT_METHOD is MD5"),
        # the evasion: login.defs strong, PAM hashes with md5
        (
            LOGIN_DEFS_OK,
            PASSWORD_OK.replace("try_first_pass yescrypt", "try_first_pass md5"),
            SHADOW_OK,
            "/etc/pam.d/common-password:3 pam_unix hashes with MD5",
        ),
        (
            LOGIN_DEFS_OK,
            PASSWORD_OK.replace("try_first_pass yescrypt", "try_first_pass sha512 md5"),
            SHADOW_OK,
            "/etc/pam.d/common-password:3 pam_unix hashes with SHA512+MD5",
        ),
        (
            LOGIN_DEFS_OK,
            PASSWORD_OK.replace("try_first_pass yescrypt", "try_first_pass sha512 rounds=1000"),
            SHADOW_OK,
            "/etc/pam.d/common-password:3 pam_unix hashes with SHA512 (rounds=1000)",
        ),
        (  # no method on the line: pam_unix uses login.defs
            {"ENCRYPT_METHOD": "SHA256"},
            PASSWORD_OK.replace("try_first_pass yescrypt", "try_first_pass"),
            SHADOW_OK,
            "/etc/pam.d/common-password:3 pam_unix hashes with SHA256",
        ),
        (LOGIN_DEFS_OK, PASSWORD_OK, SHADOW_OK + "old:$1$salt$abcdefghijklmnopqrstuv:1:0:90:7:30::\n", "old has a MD5"),
        (LOGIN_DEFS_OK, PASSWORD_OK, SHADOW_OK + "des:abJnggxhB/yWI:1:0:90:7:30::\n", "des has a DES hash"),
        (LOGIN_DEFS_OK, PASSWORD_OK, SHADOW_OK + "gone:!$1$salt$abcdef:1:0:90:7:30::\n", "gone has a MD5 hash"),
        (LOGIN_DEFS_OK, PASSWORD_OK, None, "/etc/shadow is absent or not readable by the audit"),
        (
            LOGIN_DEFS_OK,
            PASSWORD_OK.replace("password\t[success=1 default=ignore]\tpam_unix.so", "#"),
            SHADOW_OK,
            "pam_unix is not in the password stack",
        ),
    ],
)
def test_password_hash_evasions_fail(
    login_defs: Mapping[str, str], password: str, shadow: str | None, problem: str
) -> None:
    finding = _hash(login_defs, password, shadow)
    assert not finding.ok
    assert any(problem in p for p in finding.problems), finding.problems


@pytest.mark.parametrize(
    ("field", "method"),
    [
        ("$6$salt$hash", "SHA512"),
        ("$6$rounds=1000$salt$hash", "SHA512 (rounds=1000)"),
        ("$y$j9T$a$b", "YESCRYPT"),
        ("$5$a$b", "SHA256"),
        ("$2b$10$abc", "BCRYPT"),
        ("!", None),
        ("*", None),
        ("!*", None),
        ("", None),
    ],
)
def test_shadow_hash_method(field: str, method: str | None) -> None:
    assert _accounts.shadow_hash_method(field) == method


AGES_OK = {"PASS_MAX_DAYS": "90", "PASS_MIN_DAYS": "1"}
ADMIN = "admin:$y$j9T$abcdefghijklmnopqrstu$abcdefghijklmnopqrstuvwxyz0123456789ABCDEF:19800:1:90:7:30::"


@pytest.mark.parametrize("key", ["PASS_MAX_DAYS", "PASS_MIN_DAYS"])
def test_password_ages_compliant_pass(key: str) -> None:
    """Locked (`!`) and disabled (`*`) accounts never log in with a password: their ages do not count."""
    finding = _accounts.age_finding(AGES_OK, SHADOW_OK, key, 90 if key == "PASS_MAX_DAYS" else 1)
    assert finding.ok, finding.problems


@pytest.mark.parametrize(
    ("key", "login_defs", "admin", "problem"),
    [
        ("PASS_MAX_DAYS", {"PASS_MAX_DAYS": "365"}, ADMIN, "login.defs PASS_MAX_DAYS=365 for new accounts"),
        ("PASS_MAX_DAYS", {}, ADMIN, "login.defs PASS_MAX_DAYS=None"),
        ("PASS_MAX_DAYS", AGES_OK, ADMIN.replace(":1:90:", ":1:99999:"), "and max_days=99999"),
        ("PASS_MAX_DAYS", AGES_OK, ADMIN.replace(":1:90:", ":1::"), "admin has a password and max_days=unset"),
        ("PASS_MAX_DAYS", AGES_OK, ADMIN.replace(":1:90:", ":1:0:"), "admin has a password and max_days=0"),
        ("PASS_MAX_DAYS", AGES_OK, ADMIN.replace(":1:90:", ":1:ninety:"), "max_days=ninety"),
        ("PASS_MIN_DAYS", {"PASS_MIN_DAYS": "0"}, ADMIN, "login.defs PASS_MIN_DAYS=0 for new accounts"),
        ("PASS_MIN_DAYS", AGES_OK, ADMIN.replace(":1:90:", ":0:90:"), "admin has a password and min_days=0"),
        ("PASS_MIN_DAYS", AGES_OK, ADMIN.replace(":1:90:", "::90:"), "admin has a password and min_days=unset"),
    ],
)
def test_password_ages_evasions_fail(key: str, login_defs: dict[str, str], admin: str, problem: str) -> None:
    shadow = SHADOW_OK.replace(ADMIN, admin)
    finding = _accounts.age_finding({**AGES_OK, **login_defs} if login_defs else {}, shadow, key,
                                    90 if key == "PASS_MAX_DAYS" else 1)
    assert not finding.ok
    assert any(problem in p for p in finding.problems), finding.problems


@pytest.mark.parametrize("shadow", [None, "", "daemon:*:19800:0:99999:7:::\n"])
def test_password_ages_unreadable_shadow_fails(shadow: str | None) -> None:
    assert not _accounts.age_finding(AGES_OK, shadow, "PASS_MAX_DAYS", 90).ok


USERADD_OK = "GROUP=100\nHOME=/home\nINACTIVE=30\nEXPIRE=\nSHELL=/bin/sh\n"


def test_inactive_compliant_passes() -> None:
    finding = _accounts.inactive_finding(USERADD_OK, SHADOW_OK, 35)
    assert finding.ok, finding.problems


@pytest.mark.parametrize(
    ("useradd", "shadow", "problem"),
    [
        # the evasion: the default is right but an existing account never goes inactive
        (USERADD_OK, SHADOW_OK + "bob:$6$s$h:19800:1:90:7:::\n", "bob has a password and inactive=unset"),
        (USERADD_OK, SHADOW_OK + "bob:$6$s$h:19800:1:90:7:60::\n", "bob has a password and inactive=60"),
        (USERADD_OK, SHADOW_OK + "bob:$6$s$h:19800:1:99999:7:30::\n", "bob has a password that never expires"),
        (USERADD_OK.replace("INACTIVE=30", "INACTIVE=-1"), SHADOW_OK, "useradd -D INACTIVE=-1 for new accounts"),
        (USERADD_OK, None, "/etc/shadow is absent or not readable by the audit"),
    ],
)
def test_inactive_evasions_fail(useradd: str, shadow: str | None, problem: str) -> None:
    finding = _accounts.inactive_finding(useradd, shadow, 35)
    assert not finding.ok
    assert any(problem in p for p in finding.problems), finding.problems


# --------------------------------------------------------------------------- HT-LOG-04

LOGROTATE_CONF = "weekly\nrotate 4\ncreate\ninclude /etc/logrotate.d\n"
RSYSLOG_OK = """\
/var/log/syslog
/var/log/auth.log
{
\trotate 56
\tweekly
\tmissingok
\tpostrotate
\t\t/usr/lib/rsyslog/rsyslog-rotate rotate 1
\tendscript
}
"""


def _include(files: Mapping[str, str]) -> probes.LogrotateInclude:
    def read(target: str) -> dict[str, str] | None:
        found = {p: t for p, t in files.items() if p == target or p.startswith(target.rstrip("/") + "/")}
        return found or None

    return read


def _logrotate(main: str, files: Mapping[str, str]) -> tuple[float | None, str]:
    return probes.logrotate_retention(main, "/var/log/syslog", _include(files))


def test_logrotate_compliant_via_include_passes() -> None:
    days, how = _logrotate(LOGROTATE_CONF, {"/etc/logrotate.d/rsyslog": RSYSLOG_OK})
    assert (days, how) == (392, "rotate 56 x weekly")


@pytest.mark.parametrize(
    ("main", "files", "days", "how"),
    [
        # the evasion: maxage longer than rotate x period was reported as the history
        (
            LOGROTATE_CONF,
            {"/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("rotate 56", "rotate 4\n\tmaxage 400")},
            28,
            "rotate 4 x weekly",
        ),
        (
            LOGROTATE_CONF,
            {"/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("weekly", "maxage 90\n\tweekly")},
            90,
            "maxage 90 (shorter than rotate 56 x weekly)",
        ),
        (
            LOGROTATE_CONF,
            {"/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("rotate 56", "rotate 0")},
            0,
            "rotate 0 x weekly",
        ),
        (
            LOGROTATE_CONF,
            {"/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("\tweekly\n", "\tsize 100M\n")},
            None,
            "/var/log/syslog: rotated by size only, history unknown",
        ),
        (
            LOGROTATE_CONF,
            {"/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("\tweekly\n", "\tweekly\n\tmaxsize 10M\n")},
            None,
            "/var/log/syslog: maxsize 10M may rotate before the weekly period, history unknown",
        ),
        (  # a global `daily` in an earlier included file changes the default of later stanzas
            LOGROTATE_CONF,
            {
                "/etc/logrotate.d/00-evil": "daily\n",
                "/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("\tweekly\n", ""),
            },
            56,
            "rotate 56 x daily",
        ),
        (  # the first stanza naming the file applies (glob), the later compliant one is a duplicate
            LOGROTATE_CONF,
            {"/etc/logrotate.d/00-all": "/var/log/sys* {\n  rotate 2\n}\n", "/etc/logrotate.d/rsyslog": RSYSLOG_OK},
            14,
            "rotate 2 x weekly",
        ),
        (LOGROTATE_CONF, {}, None, "include /etc/logrotate.d cannot be read"),
        ("rotate 56\n/var/log/syslog {\n}\n", {}, None, "/var/log/syslog: no rotation period"),
    ],
)
def test_logrotate_evasions(main: str, files: Mapping[str, str], days: float | None, how: str) -> None:
    found_days, found_how = _logrotate(main, files)
    assert found_days == days
    assert found_how.startswith(how)


def test_logrotate_taboo_files_are_skipped() -> None:
    files = {
        "/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("rotate 56", "rotate 4"),
        "/etc/logrotate.d/00-rsyslog.dpkg-old": RSYSLOG_OK,
    }
    assert _logrotate(LOGROTATE_CONF, files)[0] == 28


def test_logrotate_rotate_unlimited_is_cut_by_maxage() -> None:
    files = {"/etc/logrotate.d/rsyslog": RSYSLOG_OK.replace("rotate 56", "rotate -1\n\tmaxage 400")}
    assert _logrotate(LOGROTATE_CONF, files) == (400, "maxage 400 (shorter than rotate -1 x weekly)")


# --------------------------------------------------------------------------- HT-LOG-02

JOURNALD_OK = "[Journal]\nStorage=persistent\nMaxRetentionSec=1year\nSystemKeepFree=2G\n"
ETC = "/etc/systemd/journald.conf.d"
USR = "/usr/lib/systemd/journald.conf.d"


def test_journald_compliant_passes() -> None:
    conf = _journal.journald_merge("#[Journal]\n#Storage=auto\n", {f"{ETC}/60-hatang.conf": JOURNALD_OK})
    assert _journal.journald_finding(conf, 31536000).ok


@pytest.mark.parametrize(
    ("main", "dropins", "problem"),
    [
        # the evasion: nothing limits retention by time, only by size
        ("[Journal]\nStorage=persistent\nSystemKeepFree=2G\n", {}, "MaxRetentionSec=unset: no retention period"),
        (JOURNALD_OK.replace("1year", "0"), {}, "MaxRetentionSec=0: no retention period"),
        (JOURNALD_OK + "SystemMaxUse=500M\n", {}, "SystemMaxUse=500M caps the journal"),
        (JOURNALD_OK + "SystemMaxUse=5%\n", {}, "SystemMaxUse=5% caps the journal"),
        (JOURNALD_OK, {f"{ETC}/99-local.conf": "[Journal]\nMaxRetentionSec=1month\n"}, "MaxRetentionSec=1month"),
        (JOURNALD_OK, {f"{ETC}/10-a.conf": "[Journal]\nStorage=volatile\n"}, "Storage=volatile"),
        (JOURNALD_OK, {f"{ETC}/10-a.conf": "[Journal]\nSystemKeepFree=\n"}, "SystemKeepFree is not set"),
        (JOURNALD_OK, {f"{ETC}/10-a.conf": "[Journal]\nSystemMaxFiles=5\n"}, "SystemMaxFiles=5"),
    ],
)
def test_journald_evasions_fail(main: str, dropins: dict[str, str], problem: str) -> None:
    finding = _journal.journald_finding(_journal.journald_merge(main, dropins), 31536000)
    assert not finding.ok
    assert any(p.startswith(problem) for p in finding.problems), finding.problems


def test_journald_merge_order_and_masking() -> None:
    dropins = {
        f"{USR}/50-vendor.conf": "[Journal]\nMaxRetentionSec=1week\n",
        f"{ETC}/50-vendor.conf": "[Journal]\nMaxRetentionSec=2year\n",  # masks the /usr/lib one
        f"{USR}/70-later.conf": "[Journal]\nSystemKeepFree=1G\n",
        f"{ETC}/README": "[Journal]\nStorage=none\n",
        f"{ETC}/80-other.conf": "[Upload]\nStorage=none\n",
    }
    conf = _journal.journald_merge(JOURNALD_OK, dropins)
    assert conf == {"Storage": "persistent", "MaxRetentionSec": "2year", "SystemKeepFree": "1G"}


def test_journald_big_size_cap_passes() -> None:
    conf = _journal.journald_merge(JOURNALD_OK + "SystemMaxUse=20G\n", {})
    assert _journal.journald_finding(conf, 31536000).ok


# --------------------------------------------------------------------------- sshd

SSHD_OK = (
    "permitrootlogin no\npasswordauthentication no\nkbdinteractiveauthentication no\n"
    "ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\nclientaliveinterval 300\n"
    "clientalivecountmax 2\nmaxauthtries 3\nx11forwarding no\nallowagentforwarding no\n"
    "allowtcpforwarding no\nallowstreamlocalforwarding no\npermittunnel no\ndisableforwarding no\n"
    "banner /etc/issue.net\nloglevel VERBOSE\n"
)
ROOT_OUT = "user=root,host=192.0.2.77,addr=192.0.2.77"
BOB_MGMT = "user=bob,host=10.1.0.1,addr=10.1.0.1,laddr=10.1.0.5,lport=22"


def _specs(**changed: str) -> dict[str, dict[str, list[str]]]:
    """Effective configs per connection: each keyword argument replaces one line for ROOT_OUT."""
    match = SSHD_OK
    for key, value in changed.items():
        match = re.sub(rf"^{key} .*$", f"{key} {value}", match, flags=re.MULTILINE)
    return {BOB_MGMT: probes.parse_sshd_t(SSHD_OK), ROOT_OUT: probes.parse_sshd_t(match)}


JUDGES = {
    "permitrootlogin": _sshd.sshd_equals("permitrootlogin", "no"),
    "passwordauthentication": _sshd.sshd_all_equal(("passwordauthentication", "kbdinteractiveauthentication"), "no"),
    "ciphers": _sshd.sshd_subset("ciphers", ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"]),
    "clientaliveinterval": _sshd.sshd_range({"clientaliveinterval": 300, "clientalivecountmax": 3}),
    "maxauthtries": _sshd.sshd_range({"maxauthtries": 4}),
    "allowtcpforwarding": _sshd.sshd_forwarding_off,
    "banner": _sshd.sshd_equals("banner", "/etc/issue.net", exact=True),
    "loglevel": _sshd.sshd_equals("loglevel", "verbose"),
}


@pytest.mark.parametrize("key", sorted(JUDGES))
def test_sshd_same_everywhere_passes(key: str) -> None:
    observed, ok = _sshd.sshd_over_specs(_specs(), JUDGES[key])
    assert ok
    assert not isinstance(observed, dict) or BOB_MGMT not in observed  # one value, not per connection


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("permitrootlogin", "yes"),  # the evasion: `Match Address 192.0.2.0/24` + PermitRootLogin yes
        ("permitrootlogin", "prohibit-password"),
        ("passwordauthentication", "yes"),
        ("ciphers", "aes256-cbc,chacha20-poly1305@openssh.com"),
        ("clientaliveinterval", "0"),
        ("maxauthtries", "10"),
        ("allowtcpforwarding", "yes"),
        ("allowstreamlocalforwarding", "yes"),
        ("permittunnel", "point-to-point"),
        ("banner", "none"),
        ("loglevel", "INFO"),
    ],
)
def test_sshd_match_block_evasions_fail(key: str, value: str) -> None:
    judge = JUDGES.get(key, _sshd.sshd_forwarding_off)
    observed, ok = _sshd.sshd_over_specs(_specs(**{key: value}), judge)
    assert not ok
    assert set(observed) == {BOB_MGMT, ROOT_OUT}  # the message names the connection


def test_sshd_over_no_specs_fails() -> None:
    assert _sshd.sshd_over_specs({}, JUDGES["loglevel"]) == ("no connection evaluated", False)


PASSWD = "root:x:0:0:root:/root:/bin/bash\nsvc:x:999:999::/:/usr/sbin/nologin\nbob:x:1000:1000::/home/bob:/bin/bash\n"


def test_sshd_match_specs_cover_users_zones_and_outside() -> None:
    specs = _sshd.sshd_match_specs(PASSWD, ["10.1.0.0/24", "fd00:1::/64", "10.9.0.0/16"], ["10.1.0.5", "fd00:1::5"], 22)
    assert specs == [
        f"user={user},host={addr},addr={addr},laddr={laddr},lport=22"
        for user in ("root", "bob")
        for addr, laddr in (
            ("10.1.0.1", "10.1.0.5"),
            ("fd00:1::1", "fd00:1::5"),
            ("10.9.0.1", "10.1.0.5"),
            ("192.0.2.77", "10.1.0.5"),
            ("2001:db8::77", "fd00:1::5"),
        )
    ]


def test_sshd_match_specs_any_source_and_no_human_user() -> None:
    specs = _sshd.sshd_match_specs("root:x:0:0::/root:/bin/bash\n", ["0.0.0.0/0"], [], 22)
    assert specs == [
        "user=root,host=0.0.0.1,addr=0.0.0.1",
        "user=root,host=2001:db8::77,addr=2001:db8::77",
        "user=nobody,host=0.0.0.1,addr=0.0.0.1",
        "user=nobody,host=2001:db8::77,addr=2001:db8::77",
    ]


SS_OK = (
    'LISTEN 0 128 10.1.0.5:22 0.0.0.0:* users:(("sshd",pid=412,fd=3))\n'
    'LISTEN 0 128 [fd00:1::5]:22 [::]:* users:(("sshd",pid=412,fd=4))\n'
    'LISTEN 0 4096 127.0.0.1:8080 0.0.0.0:* users:(("python3",pid=9,fd=3))\n'
)
MGMT = ("10.1.0.5", "fd00:1::5")
MGMT_NETS = ("10.1.0.0/24", "fd00:1::/64")
CONFIGURED = ["10.1.0.5:22", "[fd00:1::5]:22"]


def test_sshd_listen_compliant_passes() -> None:
    live = _sshd.ss_listen_addresses(SS_OK, [22])
    assert live == ["10.1.0.5:22", "[fd00:1::5]:22"]
    assert _sshd.sshd_listen_finding(CONFIGURED, live, MGMT, MGMT_NETS).ok


@pytest.mark.parametrize(
    ("ss", "problem"),
    [
        # the evasion: the config names the mgmt address, the running daemon (not restarted) listens everywhere
        ('LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))\n', "listening on 0.0.0.0:22"),
        (SS_OK + 'LISTEN 0 128 [::]:22 [::]:* users:(("sshd",pid=412,fd=5))\n', "listening on [::]:22"),
        ('LISTEN 0 4096 *:22 *:* users:(("systemd",pid=1,fd=50))\n', "listening on *:22"),  # ssh.socket
        (SS_OK + 'LISTEN 0 128 10.2.0.5:2222 0.0.0.0:* users:(("sshd",pid=7,fd=3))\n', "listening on 10.2.0.5:2222"),
        ("", "no listening address found"),
        (
            SS_OK + 'LISTEN 0 128 [fe80::1]%eth0:22 [::]:* users:(("sshd",pid=4,fd=3))\n',
            "listening on [fe80::1]%eth0:22",
        ),
    ],
)
def test_sshd_listen_evasions_fail(ss: str, problem: str) -> None:
    finding = _sshd.sshd_listen_finding(CONFIGURED, _sshd.ss_listen_addresses(ss, [22]), MGMT, MGMT_NETS)
    assert not finding.ok
    assert any(p.startswith(problem) for p in finding.problems), finding.problems


@pytest.mark.parametrize(
    "ss",
    [
        # sshd started at boot while the IPv6 address was tentative: it left that address out
        'LISTEN 0 128 10.1.0.5:22 0.0.0.0:* users:(("sshd",pid=412,fd=3))\n',
        'LISTEN 0 128 [fd00:1::5]:22 [::]:* users:(("sshd",pid=412,fd=4))\n',
    ],
)
def test_sshd_listen_missing_configured_address_fails(ss: str) -> None:
    finding = _sshd.sshd_listen_finding(CONFIGURED, _sshd.ss_listen_addresses(ss, [22]), MGMT, MGMT_NETS)
    assert not finding.ok
    assert len(finding.problems) == 1 and "sshd does not listen there" in finding.problems[0], finding.problems


def test_sshd_listen_unreadable_sockets_fail() -> None:
    finding = _sshd.sshd_listen_finding(CONFIGURED, "ss -Htlnp failed (rc 127): not found", MGMT, MGMT_NETS)
    assert not finding.ok
    assert finding.problems[0] == "ss -Htlnp failed (rc 127): not found"


@pytest.mark.parametrize(
    ("address", "bare"),
    [("10.1.0.5:22", "10.1.0.5"), ("[fd00:1::5]:22", "fd00:1::5"), ("[fe80::1]%eth0:22", "fe80::1"),
     ("10.1.0.5%eth0:22", "10.1.0.5"), ("*:22", "*"), ("[::]:22", "::")],
)  # fmt: skip
def test_sshd_listen_address_forms(address: str, bare: str) -> None:
    finding = _sshd.sshd_listen_finding([address], [address], (bare,), ("0.0.0.0/0", "::/0"))
    assert finding.ok is (bare not in {"*"}), finding.problems


# --------------------------------------------------------------------------- sshd: includes, Match User, forwarding


def test_sshd_includes_as_sshd_reads_them() -> None:
    text = (
        "# Include /etc/ssh/commented.conf\n"
        "Include sshd_config.d/*.conf /etc/ssh/extra.conf\n"
        "  include=/opt/ssh/one.conf\n"
        'Include "/etc/ssh/with space.conf"  # trailing comment\n'
        "Match User deploy\n"
        "    Include deploy.d/*\n"
    )
    assert _sshd.sshd_includes(text) == [
        "/etc/ssh/sshd_config.d/*.conf", "/etc/ssh/extra.conf", "/opt/ssh/one.conf", "/etc/ssh/with space.conf",
        "/etc/ssh/deploy.d/*",
    ]


def test_sshd_match_users_names_every_account_a_block_can_select() -> None:
    passwd = PASSWD + "deploy1:x:1001:1001::/home/d:/bin/bash\ndeploy2:x:1002:1002::/home/d:/bin/bash\n"
    texts = [
        "PermitRootLogin no\nMatch User deploy\n  AllowTcpForwarding yes\n",
        "match address 10.0.0.0/8 user ops,!root\n",
        "Match User deploy?,backup* Group wheel\nMatch All\n  X11Forwarding no\n",
        "# Match User commented\nMatch Group sudo\n",
    ]
    assert _sshd.sshd_match_users(texts, passwd) == ["deploy", "ops", "deploy1", "deploy2"]


def test_sshd_match_specs_add_the_match_users_and_refuse_odd_names() -> None:
    specs = _sshd.sshd_match_specs(PASSWD, ["10.1.0.0/24"], ["10.1.0.5"], 22, ["deploy", "bob", "x',y", "a,b"])
    users = [spec.split(",", 1)[0] for spec in specs]
    assert sorted(set(users)) == ["user=bob", "user=deploy", "user=root"]


@pytest.mark.parametrize(
    ("changed", "ok"),
    [
        ({}, True),
        ({"allowstreamlocalforwarding": "yes"}, False),
        ({"allowstreamlocalforwarding": "local"}, False),
        ({"permittunnel": "yes"}, False),
        ({"permittunnel": "ethernet"}, False),
        ({"disableforwarding": "yes", "allowtcpforwarding": "yes", "allowstreamlocalforwarding": "all"}, True),
        ({"disableforwarding": "yes", "permittunnel": "yes"}, False),  # DisableForwarding leaves tunnels on
    ],
)
def test_sshd_forwarding_covers_unix_sockets_and_tunnels(changed: dict[str, str], ok: bool) -> None:
    conf = probes.parse_sshd_t(SSHD_OK)
    conf.update({k: [v] for k, v in changed.items()})
    assert _sshd.sshd_forwarding_off(conf)[1] is ok


@pytest.mark.parametrize(
    ("lines", "ok"),
    [
        ("allowgroups sshusers", True),
        ("allowgroups sshusers\nallowgroups adm", True),
        ("allowusers hatang@10.0.0.0/8", True),
        ("allowgroups *\nallowusers hatang", True),  # a login must pass both lists
        ("", False),
        ("allowgroups *", False),
        ("allowgroups sshusers\nallowgroups *ops", False),
        ("allowgroups ?", False),
        ("allowusers *@*", False),
        ("allowusers hatang\nallowusers *@10.0.0.1", False),
        ("allowgroups *\nallowusers *", False),
    ],
)
def test_sshd_logins_limited_to_plain_names(lines: str, ok: bool) -> None:
    conf = probes.parse_sshd_t(SSHD_OK + "\n" + lines)
    assert _sshd.sshd_logins_limited(conf)[1] is ok


ROOT_0600 = {"user": "root", "group": "root", "mode": "0o600"}
MAIN = "/etc/ssh/sshd_config"
DROPIN = "/etc/ssh/sshd_config.d/50-ops.conf"
FOLDER = "/etc/ssh/sshd_config.d"


@pytest.mark.parametrize(
    ("dropin", "folder", "problem"),
    [
        (ROOT_0600, {"user": "root", "group": "root", "mode": "0o755"}, None),
        ({"user": "root", "group": "adm", "mode": "0o400"}, {"user": "root", "group": "root", "mode": "0o700"}, None),
        ({**ROOT_0600, "mode": "0o666"}, {"user": "root", "group": "root", "mode": "0o755"}, "mode 0o666, more than"),
        ({**ROOT_0600, "mode": "0o644"}, {"user": "root", "group": "root", "mode": "0o755"}, "mode 0o644, more than"),
        ({**ROOT_0600, "mode": "0o4600"}, {"user": "root", "group": "root", "mode": "0o755"}, "mode 0o4600"),
        ({**ROOT_0600, "user": "deploy"}, {"user": "root", "group": "root", "mode": "0o755"}, "owned by deploy"),
        (ROOT_0600, {"user": "root", "group": "root", "mode": "0o777"}, "others can add files"),
        (ROOT_0600, {"user": "root", "group": "staff", "mode": "0o775"}, "others can add files"),
        (ROOT_0600, {"user": "nobody", "group": "root", "mode": "0o755"}, "owned by nobody"),
        (ROOT_0600, "absent", None),
    ],
)
def test_sshd_files_judge_what_sshd_config_includes(
    dropin: dict[str, str], folder: dict[str, str] | str, problem: str | None
) -> None:
    stats = {MAIN: ROOT_0600, DROPIN: dropin, FOLDER: folder}
    finding = _sshd.sshd_files_finding(stats, [DROPIN], [FOLDER], 0o600)
    assert finding.ok is (problem is None), finding.problems
    if problem:
        assert any(problem in p for p in finding.problems), finding.problems


def test_sshd_files_judge_sshd_config_itself_exactly() -> None:
    for main in ({**ROOT_0600, "mode": "0o400"}, {**ROOT_0600, "group": "adm"}, "absent"):
        finding = _sshd.sshd_files_finding({MAIN: main}, [], [], 0o600)
        assert not finding.ok and "sshd_config is" in finding.problems[0]
    assert _sshd.sshd_files_finding({MAIN: ROOT_0600}, [], [], 0o600).ok


# --------------------------------------------------------------------------- auditd: logs kept


AUDITD_OK = (
    "log_file = /var/log/audit/audit.log\nmax_log_file = 8\nmax_log_file_action = KEEP_LOGS\n"
    "space_left_action = SYSLOG\nadmin_space_left_action = SUSPEND\ndisk_full_action = SUSPEND\n"
    "disk_error_action = SUSPEND\n"
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (AUDITD_OK, None),
        (AUDITD_OK + "max_log_file_action = rotate\n", "max_log_file_action = rotate"),  # a later line wins
        (AUDITD_OK.replace("KEEP_LOGS", "ignore"), "max_log_file_action = ignore"),
        (AUDITD_OK.replace("max_log_file_action = KEEP_LOGS\n", ""), "max_log_file_action = None"),
        ("", "max_log_file_action = None"),
        (AUDITD_OK.replace("disk_full_action = SUSPEND", "disk_full_action=rotate"), "disk_full_action = rotate"),
        (AUDITD_OK + "admin_space_left_action = Rotate\n", "admin_space_left_action = rotate"),
        (AUDITD_OK.replace("space_left_action = SYSLOG", "space_left_action = ROTATE"), "space_left_action = rotate"),
        (AUDITD_OK + "# disk_full_action = rotate\n", None),  # a comment changes nothing
    ],
)
def test_auditd_log_actions(text: str, problem: str | None) -> None:
    observed, problems = probes.auditd_log_actions(text)
    assert set(observed) == {"max_log_file_action", *probes.AUDITD_LOW_SPACE_ACTIONS}
    assert (not problems) is (problem is None), problems
    if problem:
        assert any(p.startswith(problem) for p in problems), problems


# --------------------------------------------------------------------------- umask outside login.defs


def test_shell_umasks_finds_every_command_not_the_comments() -> None:
    script = (
        "# umask 002\n"
        "umask 022\n"
        "true; umask u=rwx,g=rwx,o=rx  # shared folders\n"
        "if [ -n \"$PS1\" ]; then umask 077; fi\n"
        "alias um='umask'\n"
        "umask\n"
        "(umask -S 0027)\n"
        "   umask '002'\n"
    )
    assert probes.shell_umasks(script) == ["022", "u=rwx,g=rwx,o=rx", "077", "0027", "002"]


@pytest.mark.parametrize(
    ("value", "bits"),
    [("027", 0o027), ("0022", 0o022), ("7", 0o007), ("u=rwx,g=rx,o=", 0o027), ("u=rwx,g=rwx,o=rx", 0o002),
     ("a=rx", 0o222), ("=", 0o777), ("g+w", None), ("u=rwx,g-w", None), ("yes", None), ("0888", None)],
)
def test_umask_bits(value: str, bits: int | None) -> None:
    assert probes.umask_bits(value) == bits


def test_pam_umask_argument_is_in_the_session_stack() -> None:
    files = {
        "/etc/pam.d/common-session": "session required pam_unix.so\nsession optional pam_umask.so umask=0022\n",
        "/etc/pam.d/sshd": "@include common-session\n",
    }
    rules = _pam.pam_rules("sshd", "session", files.get)
    assert [(r.module, r.args) for r in rules if r.module == "pam_umask.so"] == [("pam_umask.so", ("umask=0022",))]


# --------------------------------------------------------------------------- sshd: the running daemon


SHOW = "MainPID=63\nExecMainStartTimestamp=Fri 2026-12-04 20:28:37.301593 UTC\n"
STARTED = 1796416117.301593  # 2026-12-04 20:28:37.301593 UTC


@pytest.mark.parametrize(
    ("show", "mtimes", "stale"),
    [
        (SHOW, f"{STARTED - 60:.9f} /etc/ssh/sshd_config\n", None),  # written, then restarted: fine
        (SHOW, f"{STARTED + 0.004:.9f} /etc/ssh/sshd_config\n", "/etc/ssh/sshd_config"),  # put back 4 ms after
        (SHOW, f"{STARTED - 9:.9f} /etc/ssh/sshd_config\n{STARTED + 5:.9f} /etc/ssh/sshd_config.d/a.conf\n",
         "/etc/ssh/sshd_config.d/a.conf"),  # an included file counts
        ("MainPID=0\nExecMainStartTimestamp=\n", f"{STARTED + 5:.9f} /etc/ssh/sshd_config\n", None),  # no daemon
        (SHOW, "", None),
        (SHOW, "garbage\n", None),
    ],
)
def test_sshd_started_before_its_files_changed(show: str, mtimes: str, stale: str | None) -> None:
    found = _sshd.sshd_started_before(show, mtimes)
    assert (found[0] if found else None) == stale
    if found:
        assert found[2] == pytest.approx(STARTED)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('declare -rx TMOUT="600"\n', ("600", "rx")),
        ('declare -r TMOUT=""\n', ("", "r")),
        ('declare -- TMOUT="0"\n', ("0", "")),
        ('declare -x TMOUT="6\\"00"\n', ('6\\"00', "x")),
        ("bash: declare: TMOUT: not found\n", None),
        ('declare -rx TMOUTX="600"\n', None),
        ('noise\ndeclare -ir TMOUT="300"\n', ("300", "ir")),
    ],
)
def test_bash_declared(text: str, found: tuple[str, str] | None) -> None:
    assert probes.bash_declared(text, "TMOUT") == found


def test_sysctl_conf_reads_keys_as_systemd_sysctl_does() -> None:
    text = (
        "# /etc/sysctl.d/10-hatang-net.conf\n"
        "net.ipv4.conf.all.send_redirects = 0\n"
        "net/ipv4/conf/default/send_redirects=0\n"
        "; a comment\n"
        "net.ipv4.conf.*.rp_filter = 2\n"  # a glob never overrides an explicit key
        "-net.ipv4.conf.all.rp_filter\n"  # an exclusion sets nothing
        "# /etc/sysctl.d/90-ops.conf\n"
        "-net.ipv4.conf.all.send_redirects = 1\n"  # applied: '-' only ignores a failure
        "net.ipv4.conf.default.send_redirects = 0\n"
        "- net.ipv4.tcp_syncookies = 0\n"
    )
    assert probes.sysctl_conf(text) == {
        "net.ipv4.conf.all.send_redirects": "1",
        "net.ipv4.conf.default.send_redirects": "0",
        "net.ipv4.tcp_syncookies": "0",
    }
    later = probes.sysctl_conf("a.b = 0\n-a.b = 1\na.b = 0\n")
    assert later == {"a.b": "0"}  # the last assignment wins, dashed or not


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("net.ipv6.conf.*.accept_ra = 0\n", "0"),
        ("net.ipv6.conf.*.accept_ra = 0\nnet.ipv6.conf.*.accept_ra = 1\n", "1"),  # the later glob
        ("net.ipv6.conf.eth*.accept_ra = 2\n", "2"),
        ("net/ipv6/conf/*/accept_ra = 2\n", "2"),
        ("net.ipv6.conf.*.accept_ra = 1\nnet.ipv6.conf.eth0.accept_ra = 0\n", "0"),  # explicit beats glob
        ("net.ipv6.conf.eth0.accept_ra = 0\nnet.ipv6.conf.*.accept_ra = 1\n", "0"),  # whatever the order
        ("-net.ipv6.conf.eth0.accept_ra\nnet.ipv6.conf.*.accept_ra = 1\n", None),  # kept off the glob
        ("net.ipv6.conf.ens*.accept_ra = 1\n", None),
        ("# net.ipv6.conf.*.accept_ra = 1\n", None),
    ],
)
def test_sysctl_boot_value_follows_globs_as_systemd_sysctl_does(text: str, value: str | None) -> None:
    assert probes.sysctl_boot_value(text, "net.ipv6.conf.eth0.accept_ra") == value


def test_sysctl_unit_writes_sees_sysctl_and_proc_sys_in_exec_lines() -> None:
    units = (
        "# /etc/systemd/system/ops-net.service\n[Unit]\nDescription=tuning\n[Service]\n"
        "ExecStart=/usr/sbin/sysctl -w net.ipv4.conf.all.accept_redirects=1\n"
        "ExecStartPost=-/bin/sh -c 'echo 0 > /proc/sys/net/ipv4/tcp_syncookies'\n"
        "ExecStop=/bin/sh -c \"echo -n 1 >> /proc/sys/net/ipv4/ip_forward; true\"\n"
        "# ExecStart=/usr/sbin/sysctl -w net.ipv4.ip_forward=0\n"
        "# /usr/lib/systemd/system/systemd-sysctl.service\n"
        "ExecStart=/usr/lib/systemd/systemd-sysctl\n"
        "ExecStart=sysctl --system\n"
        "ExecStart=/sbin/sysctl -q net/ipv4/conf/all/rp_filter=0 kernel.dmesg_restrict=0\n"
        "Environment=FOO=sysctl\n"
    )
    assert probes.sysctl_unit_writes(units) == [
        ("/etc/systemd/system/ops-net.service", "net.ipv4.conf.all.accept_redirects", "1"),
        ("/etc/systemd/system/ops-net.service", "net.ipv4.tcp_syncookies", "0"),
        ("/etc/systemd/system/ops-net.service", "net.ipv4.ip_forward", "1"),
        ("/usr/lib/systemd/system/systemd-sysctl.service", "net.ipv4.conf.all.rp_filter", "0"),
        ("/usr/lib/systemd/system/systemd-sysctl.service", "kernel.dmesg_restrict", "0"),
    ]


def test_sysctl_script_writes_sees_cron_lines_and_scripts() -> None:
    scripts = {
        "/etc/cron.d/ops-net": "SHELL=/bin/sh\n@reboot root /usr/sbin/sysctl -w net.ipv4.ip_forward=1\n",
        "/etc/rc.local": (
            "#!/bin/sh -e\n# sysctl -w net.ipv4.ip_forward=0\necho 0 > /proc/sys/net/ipv4/conf/all/log_martians\n"
        ),
        "/var/spool/cron/crontabs/root": "*/5 * * * * sysctl -q net.ipv4.conf.all.rp_filter=0 >/dev/null\n",
        "/etc/cron.daily/logrotate": "#!/bin/sh\nexec /usr/sbin/logrotate /etc/logrotate.conf\n",
    }
    assert probes.sysctl_script_writes(scripts) == [
        ("/etc/cron.d/ops-net", "net.ipv4.ip_forward", "1"),
        ("/etc/rc.local", "net.ipv4.conf.all.log_martians", "0"),
        ("/var/spool/cron/crontabs/root", "net.ipv4.conf.all.rp_filter", "0"),
    ]
