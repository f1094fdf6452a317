"""HT-SSH-*: the effective sshd configuration of every kind of connection (`sshd -T -C`).

`sshd -T` alone ignores `Match` blocks: a `Match User root` or `Match Address 0.0.0.0/0` block
can hand one connection what the global section refuses. Each check therefore judges the
configuration sshd computes for representative connections (root and an ordinary user, from
every network allowed to reach SSH and from outside them; `_sshd.sshd_match_specs`)
and fails when ANY of them gets a non-compliant value; the message names that connection.
Those values are the files': a daemon started before its files last changed (and not reloaded
since) fails every such check, because what it really uses cannot be read (`_host.sshd_stale`).
"""

from __future__ import annotations

from typing import Any

from infra.audit import _sshd
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def _every_connection(host: Any, check: Check, judge: _sshd.Judge, expected: Any) -> None:
    """The files' values for every connection; and the running daemon must be using the files."""
    observed, ok = _sshd.sshd_over_specs(_host.sshd_connections(host, check.facts), judge)
    stale = _host.sshd_stale(host)
    if stale is not None:
        observed, ok = {"found": observed, "problems": [stale]}, False
    check.expect(observed, expected, ok=ok)


def test_sshd_root_login_disabled(host: Any, check: Check) -> None:
    """PermitRootLogin no, for every connection."""
    _every_connection(host, check, _sshd.sshd_equals("permitrootlogin", "no"), "no")


def test_sshd_password_auth_disabled(host: Any, check: Check) -> None:
    """PasswordAuthentication no and KbdInteractiveAuthentication no, for every connection."""
    keys = ("passwordauthentication", "kbdinteractiveauthentication")
    _every_connection(host, check, _sshd.sshd_all_equal(keys, "no"), dict.fromkeys(keys, "no"))


def _only_allowed(host: Any, check: Check, key: str) -> None:
    allowed = list(check.params["allowed"])
    _every_connection(host, check, _sshd.sshd_subset(key, allowed), {"subset_of": allowed})


def test_sshd_ciphers_restricted(host: Any, check: Check) -> None:
    """Ciphers: only those in `allowed` (AEAD and CTR), for every connection."""
    _only_allowed(host, check, "ciphers")


def test_sshd_macs_restricted(host: Any, check: Check) -> None:
    """MACs: only those in `allowed` (encrypt-then-MAC SHA-2), for every connection."""
    _only_allowed(host, check, "macs")


def test_sshd_kex_restricted(host: Any, check: Check) -> None:
    """KexAlgorithms: only those in `allowed`, for every connection."""
    _only_allowed(host, check, "kexalgorithms")


def test_sshd_idle_timeout(host: Any, check: Check) -> None:
    """ClientAliveInterval in 1..`max_interval` and ClientAliveCountMax in 1..`max_count`."""
    limits = {"clientaliveinterval": check.params["max_interval"], "clientalivecountmax": check.params["max_count"]}
    _every_connection(host, check, _sshd.sshd_range(limits), {k: f"1..{v}" for k, v in limits.items()})


def test_sshd_max_auth_tries_limited(host: Any, check: Check) -> None:
    """MaxAuthTries in 1..`max`, for every connection."""
    limit = check.params["max"]
    _every_connection(host, check, _sshd.sshd_range({"maxauthtries": limit}), {"maxauthtries": f"1..{limit}"})


def test_sshd_banner_set(host: Any, check: Check) -> None:
    """Banner is `path`, for every connection."""
    path = check.params["path"]
    _every_connection(host, check, _sshd.sshd_equals("banner", path, exact=True), path)


def test_sshd_forwarding_disabled(host: Any, check: Check) -> None:
    """X11, agent, TCP and stream-local forwarding off (or DisableForwarding yes), and PermitTunnel
    no, for every connection."""
    expected = dict.fromkeys((*_sshd.FORWARDING_KEYS, "permittunnel"), "no")
    _every_connection(host, check, _sshd.sshd_forwarding_off, expected)


def test_sshd_logins_limited(host: Any, check: Check) -> None:
    """AllowGroups (or AllowUsers) names who may log in, without a wildcard, for every connection."""
    _every_connection(host, check, _sshd.sshd_logins_limited, "AllowGroups or AllowUsers: plain names")


def test_sshd_config_protected(host: Any, check: Check) -> None:
    """/etc/ssh/sshd_config owned by root:root with mode `mode`; what it includes owned by root
    within `mode`, and the folders it includes from writable by root only."""
    tree = _host.sshd_tree(host)
    included = [path for path in tree.texts if path != f"{_sshd.SSHD_DIR}/sshd_config"]
    stats = _host.stat(host, f"{_sshd.SSHD_DIR}/sshd_config", *included, *tree.folders)
    finding = _sshd.sshd_files_finding(stats, included, tree.folders, int(check.params["mode"], 8))
    _host.expect(check, finding)


def test_sshd_empty_passwords_refused(host: Any, check: Check) -> None:
    """PermitEmptyPasswords no, for every connection."""
    _every_connection(host, check, _sshd.sshd_equals("permitemptypasswords", "no"), "no")


def test_sshd_log_level_verbose(host: Any, check: Check) -> None:
    """LogLevel VERBOSE (key fingerprints logged), for every connection."""
    _every_connection(host, check, _sshd.sshd_equals("loglevel", "verbose"), "VERBOSE")


def test_sshd_listens_on_mgmt_only(host: Any, check: Check) -> None:
    """ListenAddress is the host's mgmt-zone address(es) only (it cannot sit in a Match block),
    and the live sockets of sshd agree: none elsewhere, and one on each configured address."""
    finding = _sshd.sshd_listen_finding(
        _host.sshd(host).get("listenaddress", []),
        _host.sshd_sockets(host),
        check.facts.mgmt_addresses,
        check.facts.mgmt_networks,
    )
    _host.expect(check, finding)
