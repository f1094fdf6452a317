"""HT-AUTH-*: PAM, login.defs, shells, sudo and account files."""

from __future__ import annotations

from typing import Any

from infra.audit import _accounts, _pam, probes
from infra.audit._finding import Finding
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _stacks_or_fail(host: Any, check: Check, kind: str, services: tuple[str, ...]) -> dict[str, list[Any]]:
    stacks = _host.pam_stacks(host, kind, services)
    if isinstance(stacks, str):
        check.expect(stacks, f"readable {kind} stacks {list(services)}", ok=False)
        raise AssertionError(stacks)  # unreachable: expect raised
    return stacks


def test_pam_faillock_enabled(host: Any, check: Check) -> None:
    """In the auth stacks of common-auth, login and sshd, as Linux-PAM assembles and runs them
    (includes, substacks, `[value=action]` jumps): a pam_faillock `preauth` line guards every way to
    success, an `authfail` line runs when the password is wrong and a wrong password never ends in
    success; every faillock line runs (faillock.conf or `conf=`, then the line's options, then the
    module defaults) with deny in 1..`max_deny` and unlock_time 0 (never) or >= `min_unlock_time`."""
    stacks = _stacks_or_fail(host, check, "auth", _host.AUTH_SERVICES)
    finding = _pam.faillock_finding(
        stacks, _host.pam_reader(host), check.params["max_deny"], check.params["min_unlock_time"]
    )
    _host.expect(check, finding)


def _pwquality(host: Any, check: Check, key: str) -> None:
    stacks = _stacks_or_fail(host, check, "password", _host.PASSWORD_SERVICES)
    dropins = _host.read_files(host, "/etc/security/pwquality.conf.d/*.conf")
    ordered = [dropins[name] for name in sorted(dropins)]  # libpwquality: strcmp order
    main = _host.read(host, "/etc/security/pwquality.conf")
    _host.expect(check, _pam.pwquality_finding(stacks, main, ordered, key, check.params["min"]))


def test_password_min_length(host: Any, check: Check) -> None:
    """pam_pwquality guards every password stack (common-password, passwd: a failure cannot end
    in success, no line skips it) and runs with minlen >= `min` and enforcing on, as libpwquality
    reads its settings (pwquality.conf.d/*.conf, then pwquality.conf, then the PAM line's options)."""
    _pwquality(host, check, "minlen")


def test_password_complexity(host: Any, check: Check) -> None:
    """As password_min_length, with minclass >= `min`."""
    _pwquality(host, check, "minclass")


def test_password_max_age(host: Any, check: Check) -> None:
    """login.defs PASS_MAX_DAYS in 1..`max`, and the maximum age of every existing account with a
    usable password in /etc/shadow (login.defs reaches only accounts created later)."""
    shadow = _host.read(host, "/etc/shadow")
    _host.expect(check, _accounts.age_finding(_host.login_defs(host), shadow, "PASS_MAX_DAYS", check.params["max"]))


def test_password_min_age(host: Any, check: Check) -> None:
    """login.defs PASS_MIN_DAYS >= `min`, and the minimum age of every existing account with a
    usable password in /etc/shadow."""
    shadow = _host.read(host, "/etc/shadow")
    _host.expect(check, _accounts.age_finding(_host.login_defs(host), shadow, "PASS_MIN_DAYS", check.params["min"]))


def test_password_history(host: Any, check: Check) -> None:
    """pam_pwhistory guards every password stack (common-password, passwd) with remember >= `min`
    (pwhistory.conf or `conf=`, then the line's options; default 10)."""
    stacks = _stacks_or_fail(host, check, "password", _host.PASSWORD_SERVICES)
    _host.expect(check, _pam.pwhistory_finding(stacks, _host.pam_reader(host), check.params["min"]))


def test_inactive_accounts_disabled(host: Any, check: Check) -> None:
    """`useradd -D` INACTIVE in 0..`max` for new accounts, and in /etc/shadow every account
    with a usable password (not `!`/`*`-prefixed, any uid, root included) has an inactive field in
    0..`max` and a password that expires (max days set, below 99999); an unreadable or truncated
    shadow fails."""
    rc, defaults, err = _host.run(host, "useradd -D")
    if rc != 0:
        check.expect(f"useradd -D failed (rc {rc}): {err.strip()}", "INACTIVE readable", ok=False)
    finding = _accounts.inactive_finding(defaults, _host.read(host, "/etc/shadow"), check.params["max"])
    _host.expect(check, finding)


UMASK_SHELL_FILES = ("/etc/profile", "/etc/bash.bashrc", "/etc/profile.d/*.sh")
"""What a login shell runs for every user, where a `umask` command undoes login.defs."""
SESSION_SERVICES = ("common-session", "common-session-noninteractive", "login", "sshd")
"""PAM session stacks, where `pam_umask.so umask=...` overrides login.defs."""


def test_default_umask_restrictive(host: Any, check: Check) -> None:
    """login.defs UMASK is `umask`; no umask a login shell runs (/etc/profile, bash.bashrc,
    profile.d) and no `pam_umask.so umask=` of a session stack lets more through than `umask`."""
    required = int(check.params["umask"], 8)
    observed: dict[str, Any] = {"login.defs": _host.login_defs(host).get("UMASK")}
    problems = []
    if observed["login.defs"] != check.params["umask"]:
        problems.append(f"login.defs UMASK is {observed['login.defs']}, not {check.params['umask']}")

    def judge(where: str, value: str) -> None:
        observed[where] = value
        bits = probes.umask_bits(value)
        if bits is None:
            problems.append(f"{where}: umask {value} cannot be judged alone (write it in octal)")
        elif required & ~bits:
            problems.append(f"{where}: umask {value} lets through what {check.params['umask']} masks")

    for pattern in UMASK_SHELL_FILES:
        for path, text in _host.read_files(host, pattern).items():
            for i, value in enumerate(probes.shell_umasks(text)):
                judge(f"{path} #{i + 1}", value)
    stacks = _host.pam_stacks(host, "session", SESSION_SERVICES)
    if isinstance(stacks, str):
        problems.append(stacks)
    else:
        for rules in stacks.values():
            for rule in rules:
                for arg in rule.args if rule.module == "pam_umask.so" else ():
                    if arg.startswith("umask="):
                        judge(f"{rule.where} pam_umask", arg.removeprefix("umask="))
    _host.expect(check, Finding(observed, {"umask": check.params["umask"], "nowhere weaker": True},
                                not problems, tuple(problems)))


LOGIN_SHELL = (
    "timeout 20 runuser -u nobody -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ TERM=dumb "
    "bash --login -i -c 'declare -p TMOUT' </dev/null"
)
"""An interactive login shell of an ordinary account, asked what TMOUT it ends up with: bash runs
/etc/profile, bash.bashrc and profile.d in its own order, conditions and `readonly` included."""


def test_shell_idle_timeout(host: Any, check: Check) -> None:
    """An interactive login shell gets a read-only TMOUT in 1..`max` seconds (whatever file sets it)."""
    rc, out, err = _host.run(host, LOGIN_SHELL)
    declared = probes.bash_declared(out, "TMOUT")
    timeout = _int(declared[0]) if declared else None
    readonly = declared is not None and "r" in declared[1]
    limit = check.params["max"]
    observed: dict[str, Any] = {"TMOUT": declared[0] if declared else None, "readonly": readonly}
    if declared is None and rc != 0 and "not found" not in err:
        observed["login shell"] = f"failed (rc {rc}): {err.strip()[-200:]}"
    check.expect(
        observed,
        {"TMOUT": f"1..{limit}", "readonly": True},
        ok=timeout is not None and 0 < timeout <= limit and readonly,
    )


def test_login_banner_set(host: Any, check: Check) -> None:
    """Each of `files` carries a warning (one of `must_contain_any`) and no OS details: neither
    agetty's escapes (`\\s`, `\\S`, `\\r`, `\\v`, `\\m`) nor the system's name (os-release `ID`)."""
    words = [w.lower() for w in check.params["must_contain_any"]]
    os_release = _host.read(host, "/etc/os-release") or ""
    observed: dict[str, str] = {}
    ok = True
    for path in check.params["files"]:
        text = _host.read(host, path)
        if text is None:
            observed[path] = "absent"
            ok = False
            continue
        leaks = probes.banner_leaks(text, os_release)
        warns = any(w in text.lower() for w in words)
        observed[path] = "warning" if warns and not leaks else f"no warning or OS details {leaks}"
        ok = ok and warns and not leaks
    check.expect(observed, dict.fromkeys(check.params["files"], "warning"), ok=ok)


def test_sudo_logging_enabled(host: Any, check: Check) -> None:
    """For every account sudo lets run a command (`sudo -l -U` for each account `getent passwd`
    knows), sudo applies Defaults logfile=..., use_pty and log_allowed as it lists them (the files
    sudo parses, in its order: a later negation wins, a dotted sudoers.d name is skipped, a
    `Defaults:user` counts), an authentication lasts 0..`max_timestamp_timeout` minutes (never
    "does not expire"), and no Defaults bound to a run-as user or a command
    (`Defaults>root`, `Defaults!/usr/bin/bash`) switches them off, moves the log or lengthens it."""
    limit = float(check.params["max_timestamp_timeout"])
    _, output, _ = _host.run(host, probes.SUDO_EVERY_USER)
    listings = probes.sudo_listings(output)
    wanted = {"logfile": "set", "use_pty": True, "log_allowed": True, "timestamp_timeout": f"0..{limit:g} minutes"}
    observed: dict[str, Any] = {}
    compliant = True
    for user, (rc, listing) in listings.items():
        if rc != 0:
            observed[user] = f"sudo -l -U {user} failed (rc {rc}): {listing.strip()[-200:]}"
            compliant = False
            continue
        if "Matching Defaults entries for " not in listing:
            continue  # sudo lets this account run nothing
        found = probes.sudo_defaults(listing)
        weakened = probes.sudo_bound_weakenings(listing, limit)
        timeout = found["timestamp_timeout"]
        ok = (
            bool(found["logfile"]) and found["use_pty"] is True and found["log_allowed"] is True
            and isinstance(timeout, float) and 0 <= timeout <= limit and not weakened
        )  # fmt: skip
        if user == "root" or not ok:
            observed[user] = found | ({"bound to a run-as user or command": weakened} if weakened else {})
        compliant = compliant and ok
    expected = {"root": wanted, "every other account sudo lets run commands": wanted}
    ok = compliant and "root" in observed
    check.expect(observed or "sudo lists no account, root included", expected, ok=ok)


LOGIN_SESSIONS = ("sshd", "login")
"""The PAM services a person logs in through: their session stacks apply the limits."""


def _applies_limits_files(rule: _pam.PamRule) -> bool:
    return rule.module == "pam_limits.so" and rule.arg("conf") is None


def test_core_dumps_disabled(host: Any, check: Check) -> None:
    """Every account with a login shell, root included, logs in with a hard core-file limit of 0:
    asked of PAM as a login is (`runuser -l`: pam_limits reads limits.conf then limits.d in order,
    an account's or a group's line before `*`, a later line for the same one replacing an earlier);
    and the session stacks of sshd and login run pam_limits on every way to success, reading those
    files (no `conf=` elsewhere)."""
    stacks = _stacks_or_fail(host, check, "session", LOGIN_SESSIONS)
    unguarded = {
        service: problems[0]
        for service, rules in stacks.items()
        if (problems := _pam.pam_runs_unskipped(rules, _applies_limits_files, "pam_limits (limits.conf, limits.d)"))
    }
    rc, output, err = _host.run(host, probes.CORE_LIMIT_EVERY_LOGIN)
    limits = probes.core_limits(output)
    if rc != 0 or "root" not in limits:
        check.expect(f"the limits of logins could not be read (rc {rc}): {err.strip()[-200:]}", "read", ok=False)
    over = {name: limit for name, limit in limits.items() if limit != "0"}
    observed: dict[str, Any] = {"root": limits["root"], **over}
    if unguarded:
        observed["session stacks"] = unguarded
    expected = {"root": "0", "every account with a login shell": "0", "session stacks": "pam_limits on every path"}
    check.expect(observed, expected, ok=not over and not unguarded)


def test_su_restricted(host: Any, check: Check) -> None:
    """Only root switches user with su: su's auth stack, as Linux-PAM assembles and runs it for a
    caller who is not root, cannot succeed without a pam_wheel line (`use_uid`, no `deny` or
    `root_only`) whose group has no member, listed or primary (`getent`)."""
    stacks = _stacks_or_fail(host, check, "auth", ("su",))
    rc_groups, groups, err_groups = _host.run(host, "getent group")
    rc_passwd, passwd, err_passwd = _host.run(host, "getent passwd")
    if rc_groups or rc_passwd:
        check.expect(f"getent failed: {(err_groups + err_passwd).strip()[-200:]}", "groups and accounts", ok=False)
    _host.expect(check, _accounts.su_restriction_finding(stacks["su"], groups, passwd))


def test_no_empty_passwords(host: Any, check: Check) -> None:
    """No account logs in with an empty password: no empty field in /etc/shadow or /etc/passwd, no
    hash of the empty string (checked on the host with its libcrypt); and no pam_unix line of the
    auth stacks (common-auth, login, sshd) lets one in (`nullok`), should an account get one."""
    stacks = _stacks_or_fail(host, check, "auth", _host.AUTH_SERVICES)
    rc, names, err = _host.run(host, _accounts.EMPTY_HASH_COMMAND)
    if rc != 0:
        check.expect(f"the empty-hash test failed (rc {rc}): {err.strip()}", "readable", ok=False)
    shadow, passwd = _host.read(host, "/etc/shadow"), _host.read(host, "/etc/passwd") or ""
    accounts = _accounts.empty_password_accounts(shadow, passwd, names.split())
    nullok = _pam.nullok_lines(stacks)
    finding = Finding(
        {"accounts": accounts.observed, "pam_unix nullok": nullok},
        {"accounts": accounts.expected, "pam_unix nullok": []},
        accounts.ok and not nullok,
        (*accounts.problems, *nullok),
    )
    _host.expect(check, finding)


def test_only_root_has_uid0(host: Any, check: Check) -> None:
    """uid 0 is root alone in /etc/passwd, the uid read as a number (`00` is 0)."""
    check.expect(_accounts.uid0_accounts(_host.read(host, "/etc/passwd") or ""), ["root"])


def test_password_hash_strong(host: Any, check: Check) -> None:
    """One of `allowed` everywhere a password is hashed or kept: login.defs ENCRYPT_METHOD
    (SHA_CRYPT rounds >= 5000, YESCRYPT_COST_FACTOR >= 5 when set), every pam_unix line of
    common-password (its hash option, else ENCRYPT_METHOD; rounds= below the method's default fails)
    and every stored hash in /etc/shadow, locked ones included (MD5 `$1$`, DES, SHA-256, bcrypt,
    SHA-512 under 5000 rounds fail)."""
    stacks = _stacks_or_fail(host, check, "password", ("common-password",))
    finding = _accounts.password_hash_finding(
        _host.login_defs(host), stacks["common-password"], _host.read(host, "/etc/shadow"), check.params["allowed"]
    )
    _host.expect(check, finding)
