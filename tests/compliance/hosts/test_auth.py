"""HT-AUTH-*: PAM, login.defs, shells, sudo and account files."""

from __future__ import annotations

from typing import Any

import _host

from infra.audit import _accounts, _pam
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
    _pwquality(host, check, "minlen")


def test_password_complexity(host: Any, check: Check) -> None:
    _pwquality(host, check, "minclass")


def test_password_max_age(host: Any, check: Check) -> None:
    days = _int(_host.login_defs(host).get("PASS_MAX_DAYS"))
    limit = check.params["max"]
    check.expect(days, f"1..{limit}", ok=days is not None and 0 < days <= limit)


def test_password_min_age(host: Any, check: Check) -> None:
    days = _int(_host.login_defs(host).get("PASS_MIN_DAYS"))
    check.expect(days, f">= {check.params['min']}", ok=days is not None and days >= check.params["min"])


def test_password_history(host: Any, check: Check) -> None:
    stacks = _stacks_or_fail(host, check, "password", _host.PASSWORD_SERVICES)
    _host.expect(check, _pam.pwhistory_finding(stacks, _host.pam_reader(host), check.params["min"]))


def test_inactive_accounts_disabled(host: Any, check: Check) -> None:
    rc, defaults, err = _host.run(host, "useradd -D")
    if rc != 0:
        check.expect(f"useradd -D failed (rc {rc}): {err.strip()}", "INACTIVE readable", ok=False)
    finding = _accounts.inactive_finding(defaults, _host.read(host, "/etc/shadow"), check.params["max"])
    _host.expect(check, finding)


def test_default_umask_restrictive(host: Any, check: Check) -> None:
    check.expect(_host.login_defs(host).get("UMASK"), check.params["umask"])


def test_shell_idle_timeout(host: Any, check: Check) -> None:
    text = _host.read_glob(host, "/etc/profile.d/*.sh")
    timeout: int | None = None
    readonly = False
    for line in text.splitlines():
        words = line.split("#", 1)[0].replace(";", " ").split()
        for word in words:
            if word.startswith("TMOUT="):
                timeout = _int(word.split("=", 1)[1])
        if ("readonly" in words or ("declare" in words and "-r" in words)) and any(
            w == "TMOUT" or w.startswith("TMOUT=") for w in words
        ):
            readonly = True
    limit = check.params["max"]
    check.expect(
        {"TMOUT": timeout, "readonly": readonly},
        {"TMOUT": f"1..{limit}", "readonly": True},
        ok=timeout is not None and 0 < timeout <= limit and readonly,
    )


def test_login_banner_set(host: Any, check: Check) -> None:
    words = [w.lower() for w in check.params["must_contain_any"]]
    observed: dict[str, str] = {}
    ok = True
    for path in check.params["files"]:
        text = _host.read(host, path)
        if text is None:
            observed[path] = "absent"
            ok = False
            continue
        leaks = [e for e in ("\\s", "\\r", "\\v", "\\m") if e in text]
        warns = any(w in text.lower() for w in words)
        observed[path] = "warning" if warns and not leaks else f"no warning or OS details {leaks}"
        ok = ok and warns and not leaks
    check.expect(observed, dict.fromkeys(check.params["files"], "warning"), ok=ok)


def test_sudo_logging_enabled(host: Any, check: Check) -> None:
    text = (_host.read(host, "/etc/sudoers") or "") + "\n" + _host.read_glob(host, "/etc/sudoers.d/*")
    defaults = [
        part.strip()
        for line in text.splitlines()
        if line.strip().startswith("Defaults")
        for part in line.strip().removeprefix("Defaults").split(",")
    ]
    logfile = next((d.split("=", 1)[1].strip('"') for d in defaults if d.startswith("logfile")), None)
    use_pty = "use_pty" in defaults
    check.expect(
        {"logfile": logfile, "use_pty": use_pty},
        {"logfile": "set", "use_pty": True},
        ok=bool(logfile) and use_pty,
    )


def test_no_empty_passwords(host: Any, check: Check) -> None:
    _host.expect(check, _accounts.empty_password_accounts(_host.read(host, "/etc/shadow")))


def test_only_root_has_uid0(host: Any, check: Check) -> None:
    passwd = _host.read(host, "/etc/passwd") or ""
    uid0 = sorted(
        line.split(":")[0] for line in passwd.splitlines() if line.count(":") >= 3 and line.split(":")[2] == "0"
    )
    check.expect(uid0, ["root"])


def test_password_hash_strong(host: Any, check: Check) -> None:
    stacks = _stacks_or_fail(host, check, "password", ("common-password",))
    finding = _accounts.password_hash_finding(
        _host.login_defs(host), stacks["common-password"], _host.read(host, "/etc/shadow"), check.params["allowed"]
    )
    _host.expect(check, finding)
