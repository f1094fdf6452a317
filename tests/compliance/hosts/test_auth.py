"""HT-AUTH-*: PAM, login.defs, shells, sudo and account files."""

from __future__ import annotations

from typing import Any

import _host

from infra.audit import probes
from infra.audit.plugin import Check


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def test_pam_faillock_enabled(host: Any, check: Check) -> None:
    conf = probes.parse_keyvalues(_host.read(host, "/etc/security/faillock.conf") or "", "=")
    auth = _host.pam_stack(host, "common-auth")
    in_stack = "pam_faillock.so" in auth
    deny = _int(_host.pam_option(auth, "pam_faillock.so", "deny") or conf.get("deny"))
    unlock = _int(_host.pam_option(auth, "pam_faillock.so", "unlock_time") or conf.get("unlock_time"))
    max_deny, min_unlock = check.params["max_deny"], check.params["min_unlock_time"]
    check.expect(
        {"in_common_auth": in_stack, "deny": deny, "unlock_time": unlock},
        {"in_common_auth": True, "deny": f"1..{max_deny}", "unlock_time": f">= {min_unlock} or 0"},
        ok=in_stack
        and deny is not None
        and 0 < deny <= max_deny
        and unlock is not None
        and (unlock == 0 or unlock >= min_unlock),
    )


def _pwquality(host: Any) -> dict[str, str]:
    text = (_host.read(host, "/etc/security/pwquality.conf") or "") + "\n"
    text += _host.read_glob(host, "/etc/security/pwquality.conf.d/*.conf")
    conf = probes.parse_keyvalues(text, "=")
    stack = _host.pam_stack(host, "common-password")
    for key in ("minlen", "minclass"):
        value = _host.pam_option(stack, "pam_pwquality.so", key)
        if value is not None:
            conf[key] = value
    conf["_in_stack"] = str("pam_pwquality.so" in stack)
    return conf


def test_password_min_length(host: Any, check: Check) -> None:
    conf = _pwquality(host)
    minlen = _int(conf.get("minlen"))
    ok = conf["_in_stack"] == "True" and minlen is not None and minlen >= check.params["min"]
    check.expect(
        {"pam_pwquality": conf["_in_stack"] == "True", "minlen": minlen},
        {"pam_pwquality": True, "minlen": f">= {check.params['min']}"},
        ok=ok,
    )


def test_password_complexity(host: Any, check: Check) -> None:
    conf = _pwquality(host)
    minclass = _int(conf.get("minclass"))
    ok = conf["_in_stack"] == "True" and minclass is not None and minclass >= check.params["min"]
    check.expect(
        {"pam_pwquality": conf["_in_stack"] == "True", "minclass": minclass},
        {"pam_pwquality": True, "minclass": f">= {check.params['min']}"},
        ok=ok,
    )


def test_password_max_age(host: Any, check: Check) -> None:
    days = _int(_host.login_defs(host).get("PASS_MAX_DAYS"))
    limit = check.params["max"]
    check.expect(days, f"1..{limit}", ok=days is not None and 0 < days <= limit)


def test_password_min_age(host: Any, check: Check) -> None:
    days = _int(_host.login_defs(host).get("PASS_MIN_DAYS"))
    check.expect(days, f">= {check.params['min']}", ok=days is not None and days >= check.params["min"])


def test_password_history(host: Any, check: Check) -> None:
    stack = _host.pam_stack(host, "common-password")
    conf = probes.parse_keyvalues(_host.read(host, "/etc/security/pwhistory.conf") or "", "=")
    remember = _int(_host.pam_option(stack, "pam_pwhistory.so", "remember") or conf.get("remember"))
    in_stack = "pam_pwhistory.so" in stack
    check.expect(
        {"pam_pwhistory": in_stack, "remember": remember},
        {"pam_pwhistory": True, "remember": f">= {check.params['min']}"},
        ok=in_stack and remember is not None and remember >= check.params["min"],
    )


def test_inactive_accounts_disabled(host: Any, check: Check) -> None:
    out = host.run("useradd -D").stdout
    days = _int(probes.parse_keyvalues(out, "=").get("INACTIVE"))
    limit = check.params["max"]
    check.expect(days, f"0..{limit}", ok=days is not None and 0 <= days <= limit)


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
    shadow = _host.read(host, "/etc/shadow") or ""
    empty = sorted(
        line.split(":")[0] for line in shadow.splitlines() if line.count(":") >= 2 and line.split(":")[1] == ""
    )
    check.expect(empty, [])


def test_only_root_has_uid0(host: Any, check: Check) -> None:
    passwd = _host.read(host, "/etc/passwd") or ""
    uid0 = sorted(
        line.split(":")[0] for line in passwd.splitlines() if line.count(":") >= 3 and line.split(":")[2] == "0"
    )
    check.expect(uid0, ["root"])


def test_password_hash_strong(host: Any, check: Check) -> None:
    method = (_host.login_defs(host).get("ENCRYPT_METHOD") or "").upper() or None
    check.expect(method, {"one_of": check.params["allowed"]}, ok=method in check.params["allowed"])
