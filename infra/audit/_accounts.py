"""Account decisions of the host checks over /etc/passwd, /etc/shadow, login.defs and `useradd -D`
(HT-AUTH-04/05 password ages, HT-AUTH-07 inactivity, HT-AUTH-12 empty passwords, HT-AUTH-13 uid 0,
HT-AUTH-14 hash methods, HT-AUTH-16 who may use su)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.audit import probes
from infra.audit._finding import Finding, to_int
from infra.audit._pam import PamRule, pam_guarded

__all__ = [
    "EMPTY_HASH_COMMAND",
    "ShadowEntry",
    "age_finding",
    "effective_hash_methods",
    "empty_password_accounts",
    "inactive_finding",
    "parse_shadow",
    "password_hash_finding",
    "shadow_hash_method",
    "su_restriction_finding",
    "uid0_accounts",
]

_NUMERIC_ID = re.compile(r"^\s*[+-]?\d+$")
"""An id field glibc reads as a number (strtoul: leading blanks and a sign allowed, then digits)."""


@dataclass(frozen=True)
class ShadowEntry:
    """One /etc/shadow line (fields as text; shadow(5))."""

    name: str
    password: str
    max_days: str
    inactive: str
    min_days: str = ""

    @property
    def usable(self) -> bool:
        """Whether a password can log in: not locked (`!`), not disabled (`*`), not empty."""
        return bool(self.password) and not self.password.startswith(("!", "*"))


def parse_shadow(text: str | None) -> list[ShadowEntry] | str:
    """Entries of /etc/shadow, or why it cannot be judged (unreadable, empty, truncated).

    A shadow file always has root's line: text without it is not a readable shadow file
    (an unreadable file read as "" must never look like "no accounts").
    """
    if text is None:
        return "/etc/shadow is absent or not readable by the audit"
    entries = []
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split(":")
        if len(fields) < 8:
            return f"/etc/shadow has a malformed line for {fields[0]!r} ({len(fields)} fields, expected 9)"
        entries.append(ShadowEntry(fields[0], fields[1], fields[4], fields[6], fields[3]))
    if not any(e.name == "root" for e in entries):
        return "/etc/shadow has no line for root: empty, truncated or not readable"
    return entries


def uid0_accounts(passwd: str) -> list[str]:
    """Names of the /etc/passwd accounts the system gives user id 0, sorted.

    The uid field is read as glibc's files parser reads it, not as text: `00`, `+0`, ` 0` and
    `-0` are all uid 0 (`id -u` says so), while a field that is not a number (`0x0`) makes the
    line no account at all, and so does a comment line.
    """
    names = []
    for line in passwd.splitlines():
        line = line.lstrip()  # as nss_files: leading blanks skipped, then empty and # lines ignored
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) >= 4 and _NUMERIC_ID.match(fields[2]) and int(fields[2]) == 0:
            names.append(fields[0])
    return sorted(names)


EMPTY_HASH_COMMAND = (
    "perl -F: -lane 'print $F[0] if length($F[1]) > 2 && $F[1] !~ /^[!*]/ && crypt(\"\", $F[1]) eq $F[1]' /etc/shadow"
)
"""Names of the shadow accounts whose hash is the crypt of the empty string, judged on the host
with its own libcrypt (yescrypt included); no hash leaves the host or appears on a command line."""


def empty_password_accounts(shadow: str | None, passwd: str = "", empty_hashes: Sequence[str] = ()) -> Finding:
    """HT-AUTH-12: no account logs in with an empty password. Three ways it can: an empty field in
    /etc/shadow; an empty password field in /etc/passwd (pam_unix takes the passwd field unless it
    is `x`, and never reads shadow then); a hash of the empty string (`empty_hashes`, the names
    EMPTY_HASH_COMMAND printed). An unreadable shadow fails."""
    entries = parse_shadow(shadow)
    if isinstance(entries, str):
        return Finding(entries, [], False, (entries,))
    problems = [f"{e.name} has an empty password in /etc/shadow" for e in entries if e.password == ""]
    for line in passwd.splitlines():
        fields = line.lstrip().split(":")
        if len(fields) >= 7 and not fields[0].startswith("#") and fields[1] == "":
            problems.append(f"{fields[0]} has an empty password field in /etc/passwd (not x: /etc/shadow is not read)")
    problems += [f"{name} has a hash of the empty string in /etc/shadow" for name in empty_hashes]
    names = sorted({p.split(" ", 1)[0] for p in problems})
    return Finding(names, [], not problems, tuple(sorted(problems)))


_HASH_PREFIXES = (
    ("$y$", "YESCRYPT"), ("$gy$", "GOST_YESCRYPT"), ("$7$", "SCRYPT"), ("$6$", "SHA512"), ("$5$", "SHA256"),
    ("$2a$", "BCRYPT"), ("$2b$", "BCRYPT"), ("$2y$", "BCRYPT"), ("$1$", "MD5"), ("$md5", "SUN_MD5"),
    ("_", "BSDI_DES"),
)  # fmt: skip
_SHA_MIN_ROUNDS = 5000
"""crypt(3)'s default SHA-crypt rounds: fewer is weaker than the method's documented strength."""
_YESCRYPT_MIN_COST = 5
"""yescrypt's default cost factor (login.defs YESCRYPT_COST_FACTOR, pam_unix rounds=)."""


def shadow_hash_method(password: str) -> str | None:
    """The crypt method of a shadow password field (a lock `!` is looked through), None when
    there is no hash (`*`, `!`, `!*`, empty). Thirteen characters with no `$` is DES."""
    value = password.lstrip("!")
    if not value or value.startswith("*"):
        return None
    for prefix, name in _HASH_PREFIXES:
        if value.startswith(prefix):
            if name == "SHA512":
                rounds = re.match(r"\$6\$rounds=(\d+)\$", value)
                if rounds and int(rounds[1]) < _SHA_MIN_ROUNDS:
                    return f"SHA512 (rounds={rounds[1]})"
            return name
    if re.fullmatch(r"[./0-9A-Za-z]{13}", value):
        return "DES"
    return "UNKNOWN"


_PAM_UNIX_METHODS = {
    "md5": "MD5", "bigcrypt": "BIGCRYPT", "sha256": "SHA256", "sha512": "SHA512", "blowfish": "BCRYPT",
    "gost_yescrypt": "GOST_YESCRYPT", "yescrypt": "YESCRYPT",
}  # fmt: skip


def effective_hash_methods(password_rules: Sequence[PamRule], login_defs: Mapping[str, str]) -> dict[str, str]:
    """The hash method each pam_unix password line uses (`where` -> method).

    pam_unix picks the method from its options; with none it uses login.defs ENCRYPT_METHOD
    (Linux-PAM >= 1.4). When a line names several methods, each one is reported (pam_unix's
    choice among them depends on its version, so the audit does not guess). `rounds=` below
    the method's default is reported with the method.
    """
    out: dict[str, str] = {}
    default = (login_defs.get("ENCRYPT_METHOD") or "DES").upper()
    for rule in password_rules:
        if rule.module != "pam_unix.so":
            continue
        named = [_PAM_UNIX_METHODS[a] for a in rule.args if a in _PAM_UNIX_METHODS]
        methods = named or [default]
        rounds = to_int(rule.arg("rounds"))
        labels = []
        for method in methods:
            weak = (method == "SHA512" and rounds is not None and rounds < _SHA_MIN_ROUNDS) or (
                method == "YESCRYPT" and rounds is not None and rounds < _YESCRYPT_MIN_COST
            )
            labels.append(f"{method} (rounds={rounds})" if weak else method)
        out[rule.where] = "+".join(labels)
    return out


def _login_defs_method(login_defs: Mapping[str, str]) -> str:
    method = (login_defs.get("ENCRYPT_METHOD") or "").upper() or "unset"
    if method == "SHA512":
        for key in ("SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS"):
            rounds = to_int(login_defs.get(key))
            if rounds is not None and rounds < _SHA_MIN_ROUNDS:
                return f"SHA512 ({key}={rounds})"
    if method == "YESCRYPT":
        cost = to_int(login_defs.get("YESCRYPT_COST_FACTOR"))
        if cost is not None and cost < _YESCRYPT_MIN_COST:
            return f"YESCRYPT (YESCRYPT_COST_FACTOR={cost})"
    return method


def password_hash_finding(
    login_defs: Mapping[str, str], password_rules: Sequence[PamRule], shadow: str | None, allowed: Sequence[str]
) -> Finding:
    """HT-AUTH-14: new passwords are hashed with an allowed method, by the shadow tools
    (login.defs ENCRYPT_METHOD) and by PAM (pam_unix in the password stack), and every stored
    hash already uses one. A locked account's hash (`!$1$…`) counts: unlocking restores it, and
    a stolen shadow file exposes it either way."""
    allowed_set = {a.upper() for a in allowed}
    problems: list[str] = []
    login = _login_defs_method(login_defs)
    if login not in allowed_set:
        problems.append(f"/etc/login.defs ENCRYPT_METHOD is {login}, expected one of {sorted(allowed_set)}")
    pam = effective_hash_methods(password_rules, login_defs)
    if not pam:
        problems.append("pam_unix is not in the password stack: the hash method of passwd is unknown")
    for where, method in pam.items():
        bad = [m for m in method.split("+") if m not in allowed_set]
        if bad:
            problems.append(f"{where} pam_unix hashes with {method}, expected one of {sorted(allowed_set)}")
    entries = parse_shadow(shadow)
    stored: dict[str, str] = {}
    if isinstance(entries, str):
        problems.append(entries)
    else:
        for entry in entries:
            found = shadow_hash_method(entry.password)
            if found is not None and found not in allowed_set:
                stored[entry.name] = found
                problems.append(f"/etc/shadow: {entry.name} has a {found} hash, expected one of {sorted(allowed_set)}")
    observed: dict[str, Any] = {"login.defs": login, "pam_unix": pam, "weak stored hashes": stored}
    if isinstance(entries, str):
        observed["weak stored hashes"] = entries
    return Finding(
        observed,
        {"login.defs": f"one of {sorted(allowed_set)}", "pam_unix": "same", "weak stored hashes": {}},
        not problems,
        tuple(problems),
    )


def _within_max(days: int, limit: int) -> bool:
    return 0 < days <= limit


def _at_least(days: int, limit: int) -> bool:
    return days >= limit


_AGES: dict[str, tuple[str, int, Callable[[int, int], bool], str]] = {
    "PASS_MAX_DAYS": ("max_days", 99999, _within_max, "1..{}"),
    "PASS_MIN_DAYS": ("min_days", 0, _at_least, ">= {}"),
}
"""login.defs key -> shadow field, what an empty field means, the rule and how it is written."""


def age_finding(login_defs: Mapping[str, str], shadow: str | None, key: str, limit: int) -> Finding:
    """HT-AUTH-04 (`PASS_MAX_DAYS`: passwords expire within 1..limit days) or HT-AUTH-05
    (`PASS_MIN_DAYS`: not changed again within `limit` days), where both decide it: login.defs
    for accounts created later, and the shadow entry of every existing account with a usable
    password, which login.defs never reaches. An empty shadow field means 99999 days of maximum
    age (never expires) or 0 of minimum age. An unreadable shadow fails.
    """
    field, unset, holds, wanted_text = _AGES[key]
    wanted = wanted_text.format(limit)
    default = to_int(login_defs.get(key))
    problems = (
        []
        if default is not None and holds(default, limit)
        else [f"login.defs {key}={default} for new accounts, expected {wanted}"]
    )
    entries = parse_shadow(shadow)
    accounts: dict[str, str] = {}
    if isinstance(entries, str):
        problems.append(entries)
    else:
        for entry in (e for e in entries if e.usable):
            text = getattr(entry, field)
            days = to_int(text) if text else unset
            if days is None or not holds(days, limit):
                accounts[entry.name] = f"{field}={text or 'unset'}"
                problems.append(
                    f"/etc/shadow: {entry.name} has a password and {field}={text or 'unset'}, expected {wanted}"
                )
    return Finding(
        {key: default, "accounts": accounts if not isinstance(entries, str) else entries},
        {key: wanted, "accounts": {}},
        not problems,
        tuple(problems),
    )


def inactive_finding(useradd_defaults: str, shadow: str | None, maximum: int) -> Finding:
    """HT-AUTH-07: accounts are disabled at most `maximum` days after their password expires.

    Two places decide it: `useradd -D` INACTIVE for new accounts, and the inactive field of
    every existing account that can log in with a password (a hash that is not locked `!` or
    disabled `*`; any uid, root included, as CIS 5.4.1.5 does). Locked or disabled accounts are
    fine: no password logs in. An account whose password never expires (max days empty or
    99999) is never disabled by INACTIVE either, so it fails too. An empty password field is
    HT-AUTH-12's finding, not this one's.
    """
    problems: list[str] = []
    default = to_int(probes.parse_keyvalues(useradd_defaults, "=").get("INACTIVE"))
    if default is None or not 0 <= default <= maximum:
        problems.append(f"useradd -D INACTIVE={default} for new accounts, expected 0..{maximum}")
    entries = parse_shadow(shadow)
    accounts: dict[str, str] = {}
    if isinstance(entries, str):
        problems.append(entries)
    else:
        for entry in entries:
            if not entry.usable:
                continue
            inactive, max_days = to_int(entry.inactive), to_int(entry.max_days)
            if inactive is None or not 0 <= inactive <= maximum:
                accounts[entry.name] = f"inactive={entry.inactive or 'unset'}"
                problems.append(
                    f"/etc/shadow: {entry.name} has a password and inactive={entry.inactive or 'unset'}, "
                    f"expected 0..{maximum}"
                )
            elif max_days is None or max_days >= 99999:
                accounts[entry.name] = f"password never expires (max={entry.max_days or 'unset'})"
                problems.append(
                    f"/etc/shadow: {entry.name} has a password that never expires "
                    f"(max={entry.max_days or 'unset'}), so inactivity never disables it"
                )
    return Finding(
        {"useradd -D INACTIVE": default, "accounts": accounts if not isinstance(entries, str) else entries},
        {"useradd -D INACTIVE": f"0..{maximum}", "accounts": {}},
        not problems,
        tuple(problems),
    )


def _restricts_su(rule: PamRule) -> bool:
    """A pam_wheel line that refuses callers outside its group (`deny` turns it the other way)."""
    return rule.module == "pam_wheel.so" and "deny" not in rule.args


def _wheel_group(rule: PamRule, groups: str, passwd: str) -> tuple[str, list[str] | None]:
    """The group a pam_wheel line checks and who is in it (None: no such group, pam_wheel refuses
    everyone): `group=`, else `wheel`, else the group of gid 0, as pam_wheel picks it; members
    are the group's list and the accounts whose primary group it is."""
    entries = [fields for line in groups.splitlines() if len(fields := line.split(":")) >= 4]
    named = rule.arg("group")
    if named is not None:
        found = next((e for e in entries if e[0] == named), None)
    else:
        found = next((e for e in entries if e[0] == "wheel"), None)
        found = found or next((e for e in entries if to_int(e[2]) == 0), None)
    if found is None:
        return named or "wheel", None
    listed = [name for name in found[3].split(",") if name]
    primary = [
        f[0] for line in passwd.splitlines() if len(f := line.split(":")) >= 4 and to_int(f[3]) == to_int(found[2])
    ]
    return found[0], sorted({*listed, *primary})


def su_restriction_finding(su_auth: Sequence[PamRule], groups: str, passwd: str) -> Finding:
    """HT-AUTH-16: only root switches user with su. Every way through su's auth stack that ends in
    success for a caller other than root (pam_rootok fails for them) runs a pam_wheel line that
    checks the caller's uid (`use_uid`) for every target account (no `root_only`) against a group
    nobody is in (`getent group` and `getent passwd`: listed members and primary members)."""
    problems = pam_guarded(su_auth, _restricts_su, "pam_wheel", unprivileged_caller=True)
    observed: dict[str, list[str] | str] = {}
    for rule in filter(_restricts_su, su_auth):
        if "use_uid" not in rule.args:
            problems.append(f"{rule.describe()} checks the login name of the terminal, not the caller (no use_uid)")
        if "root_only" in rule.args:
            problems.append(f"{rule.describe()} guards only su to root (root_only): su to any other account is open")
        name, members = _wheel_group(rule, groups, passwd)
        observed[name] = "no such group: pam_wheel refuses everyone" if members is None else members
        if members:
            problems.append(f"group {name} of {rule.describe()} has members: {', '.join(members)}")
    expected = {"pam_wheel": "on every way to success, use_uid, a group nobody is in"}
    return Finding({"su groups": observed}, expected, not problems, tuple(problems))
