"""HT-SSH-*: the effective sshd configuration (`sshd -T`)."""

from __future__ import annotations

from typing import Any

import _host

from infra.audit._facts import within
from infra.audit.plugin import Check


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def test_sshd_root_login_disabled(host: Any, check: Check) -> None:
    check.expect(_lower(_host.sshd_value(host, "permitrootlogin")), "no")


def test_sshd_password_auth_disabled(host: Any, check: Check) -> None:
    observed = {
        key: _lower(_host.sshd_value(host, key)) for key in ("passwordauthentication", "kbdinteractiveauthentication")
    }
    check.expect(observed, {"passwordauthentication": "no", "kbdinteractiveauthentication": "no"})


def _only_allowed(host: Any, check: Check, key: str) -> None:
    observed = (_host.sshd_value(host, key) or "").split(",")
    allowed = list(check.params["allowed"])
    extra = sorted(set(observed) - set(allowed))
    check.expect(observed, {"subset_of": allowed}, ok=not extra and observed != [""])


def test_sshd_ciphers_restricted(host: Any, check: Check) -> None:
    _only_allowed(host, check, "ciphers")


def test_sshd_macs_restricted(host: Any, check: Check) -> None:
    _only_allowed(host, check, "macs")


def test_sshd_kex_restricted(host: Any, check: Check) -> None:
    _only_allowed(host, check, "kexalgorithms")


def test_sshd_idle_timeout(host: Any, check: Check) -> None:
    interval = int(_host.sshd_value(host, "clientaliveinterval") or 0)
    count = int(_host.sshd_value(host, "clientalivecountmax") or 0)
    max_interval, max_count = check.params["max_interval"], check.params["max_count"]
    check.expect(
        {"clientaliveinterval": interval, "clientalivecountmax": count},
        {"clientaliveinterval": f"1..{max_interval}", "clientalivecountmax": f"1..{max_count}"},
        ok=0 < interval <= max_interval and 0 < count <= max_count,
    )


def test_sshd_max_auth_tries_limited(host: Any, check: Check) -> None:
    tries = int(_host.sshd_value(host, "maxauthtries") or 0)
    check.expect(tries, f"<= {check.params['max']}", ok=0 < tries <= check.params["max"])


def test_sshd_banner_set(host: Any, check: Check) -> None:
    check.expect(_host.sshd_value(host, "banner"), check.params["path"])


def test_sshd_forwarding_disabled(host: Any, check: Check) -> None:
    keys = ("x11forwarding", "allowagentforwarding", "allowtcpforwarding")
    observed = {key: _lower(_host.sshd_value(host, key)) for key in keys}
    disable = _lower(_host.sshd_value(host, "disableforwarding"))
    ok = disable == "yes" or all(v == "no" for v in observed.values())
    check.expect({**observed, "disableforwarding": disable}, dict.fromkeys(keys, "no"), ok=ok)


def test_sshd_config_protected(host: Any, check: Check) -> None:
    observed = _host.stat(host, "/etc/ssh/sshd_config")["/etc/ssh/sshd_config"]
    expected = {"user": "root", "group": "root", "mode": oct(int(check.params["mode"], 8))}
    check.expect(observed, expected)


def test_sshd_empty_passwords_refused(host: Any, check: Check) -> None:
    check.expect(_lower(_host.sshd_value(host, "permitemptypasswords")), "no")


def test_sshd_log_level_verbose(host: Any, check: Check) -> None:
    check.expect(_host.sshd_value(host, "loglevel"), "VERBOSE")


def test_sshd_listens_on_mgmt_only(host: Any, check: Check) -> None:
    observed = sorted(_host.sshd(host).get("listenaddress", []))
    addresses = [a.rsplit(":", 1)[0].strip("[]") for a in observed]
    expected = sorted(check.facts.mgmt_addresses)
    ok = bool(addresses) and all(a in expected for a in addresses)
    ok = ok and all(within(a, check.facts.mgmt_networks) for a in addresses)
    check.expect(observed, expected, ok=ok)
