"""HT-NET-*: network and kernel sysctls, live, persisted in /etc/sysctl.d, and not rewritten by an
enabled unit, a timer's service, rc.local or cron (`sysctl -w`, `echo > /proc/sys`).

`net.*` keys belong to the network namespace and can be read in a container; `kernel.*` keys
belong to the machine's kernel, so in a container only their persisted values can be read.
"""

from __future__ import annotations

from typing import Any

from infra.audit import probes
from infra.audit.hosts import _host
from infra.audit.plugin import Check


def _both_families(template: str, families: tuple[str, ...] = ("ipv4", "ipv6")) -> list[str]:
    return [template.format(fam=f, scope=s) for f in families for s in ("all", "default")]


_REWRITTEN = "written by units, rc.local or cron"


def _at_boot(host: Any, expected: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The units that write one of the keys at boot with another value: {key: [(unit, value)]}."""
    boot = _host.sysctl_at_boot(host)
    return {k: bad for k in sorted(expected) if (bad := [(u, v) for u, v in boot.get(k, []) if v != expected[k]])}


def _interfaces_differing(host: Any, names: dict[str, str]) -> dict[str, str]:
    """Per-interface keys (`net.<family>.conf.<interface>.<name>`, every interface but the `all`
    and `default` pseudo-interfaces) whose value is not the one wanted, live or as the sysctl.d
    files set it at boot (an explicit key, else the last glob such as `net.ipv6.conf.*.name`):
    {key: value, or "value at boot (sysctl.d)"}."""
    out = {}
    files = _host.sysctl_files(host)
    for key, value in sorted(_host.sysctl_all(host).items()):
        parts = key.split(".")
        if len(parts) == 5 and parts[2] == "conf" and parts[3] not in {"all", "default"}:
            wanted = names.get(f"{parts[1]}.{parts[4]}")
            at_boot = probes.sysctl_boot_value(files, key)
            if wanted is not None and value != wanted:
                out[key] = value
            elif wanted is not None and at_boot is not None and at_boot != wanted:
                out[key] = f"{at_boot} at boot (sysctl.d)"
    return out


def _sysctls(host: Any, check: Check, expected: dict[str, str], per_interface: dict[str, str] | None = None) -> None:
    """`expected` live and persisted, nothing rewriting them at boot; `per_interface` ({"ipv4.name":
    value}) live on every interface, for the keys where the interface's own value counts too."""
    persisted = _host.sysctl_persisted(host)
    observed: dict[str, Any] = {
        key: {"live": _host.sysctl_live(host, key), "persisted": persisted.get(key)} for key in sorted(expected)
    }
    ok = all(v["live"] == expected[k] and v["persisted"] == expected[k] for k, v in observed.items())
    wanted: dict[str, Any] = {k: {"live": v, "persisted": v} for k, v in sorted(expected.items())}
    if boot := _at_boot(host, expected):
        observed[_REWRITTEN] = {k: [f"{u}: {v}" for u, v in units] for k, units in boot.items()}
        wanted[_REWRITTEN] = "nothing else"
        ok = False
    if per_interface and (differing := _interfaces_differing(host, per_interface)):
        observed["interfaces"] = differing
        wanted["interfaces"] = {
            "net.{}.conf.<every interface>.{}".format(*k.split(".")): v for k, v in per_interface.items()
        }
        ok = False
    check.expect(observed, wanted, ok=ok)


def test_ip_forward_only_on_routers(host: Any, check: Check) -> None:
    """ip_forward / forwarding (v4 and v6) are 1, live and persisted, only on groups with `routes:
    true`; elsewhere every interface's own forwarding is 0 too (IPv4 forwards what arrives on an
    interface whose own key says 1, whatever `all` says)."""
    value = "1" if check.facts.routes else "0"
    keys = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]
    per_interface = None if check.facts.routes else dict.fromkeys(["ipv4.forwarding", "ipv6.forwarding"], "0")
    _sysctls(host, check, dict.fromkeys(keys, value), per_interface)


def test_icmp_redirects_refused(host: Any, check: Check) -> None:
    """accept_redirects (v4 and v6), send_redirects and secure_redirects (v4) are 0, live and
    persisted, and live on every interface: the kernel accepts or sends a redirect when `all` or
    the interface says so (IPv4, a host that does not forward), or by the interface alone (IPv6)."""
    keys = _both_families("net.{fam}.conf.{scope}.accept_redirects")
    keys += _both_families("net.{fam}.conf.{scope}.send_redirects", ("ipv4",))
    keys += _both_families("net.{fam}.conf.{scope}.secure_redirects", ("ipv4",))
    names = ["ipv4.accept_redirects", "ipv6.accept_redirects", "ipv4.send_redirects", "ipv4.secure_redirects"]
    _sysctls(host, check, dict.fromkeys(keys, "0"), dict.fromkeys(names, "0"))


def test_source_route_refused(host: Any, check: Check) -> None:
    """accept_source_route is 0 (v4 and v6, all and default), live and persisted, and live on every
    interface (IPv6 reads the interface's own key)."""
    names = dict.fromkeys(["ipv4.accept_source_route", "ipv6.accept_source_route"], "0")
    _sysctls(host, check, dict.fromkeys(_both_families("net.{fam}.conf.{scope}.accept_source_route"), "0"), names)


def test_router_advertisements_refused(host: Any, check: Check) -> None:
    """IPv6 accept_ra is 0 (all and default), live and persisted, and live on every interface: the
    kernel reads the interface's own key when an advertisement arrives (`default` is what a new
    interface starts with; `all` decides nothing for an existing one)."""
    keys = _both_families("net.{fam}.conf.{scope}.accept_ra", ("ipv6",))
    _sysctls(host, check, dict.fromkeys(keys, "0"), {"ipv6.accept_ra": "0"})


def test_reverse_path_filter_on(host: Any, check: Check) -> None:
    """rp_filter is 1 (all and default), live and persisted."""
    _sysctls(host, check, dict.fromkeys(_both_families("net.{fam}.conf.{scope}.rp_filter", ("ipv4",)), "1"))


def test_tcp_syncookies_on(host: Any, check: Check) -> None:
    """net.ipv4.tcp_syncookies is 1, live and persisted."""
    _sysctls(host, check, {"net.ipv4.tcp_syncookies": "1"})


def test_martians_logged(host: Any, check: Check) -> None:
    """log_martians is 1 (all and default), live and persisted."""
    _sysctls(host, check, dict.fromkeys(_both_families("net.{fam}.conf.{scope}.log_martians", ("ipv4",)), "1"))


def test_kernel_sysctls_hardened(host: Any, check: Check) -> None:
    """The sysctls of `values`, persisted (always) and live (needs a VM: not checkable in a container)."""
    expected: dict[str, str] = dict(check.params["values"])
    persisted = _host.sysctl_persisted(host)
    observed_persisted = {k: persisted.get(k) for k in sorted(expected)}
    if boot := _at_boot(host, expected):
        check.expect(
            {"persisted": observed_persisted,
             _REWRITTEN: {k: [f"{u}: {v}" for u, v in units] for k, units in boot.items()}},
            {"persisted": expected, _REWRITTEN: "nothing else"}, ok=False,
        )  # fmt: skip
    if observed_persisted != dict(sorted(expected.items())):
        check.expect({"persisted": observed_persisted}, {"persisted": expected}, ok=False)
    if check.in_container:
        check.not_checkable(
            "persisted values are right; live kernel.* values belong to the machine's kernel (needs a VM)",
            observed={"persisted": observed_persisted},
            expected={"persisted": expected},
        )
    live = {k: _host.sysctl_live(host, k) for k in sorted(expected)}
    check.expect(
        {"persisted": observed_persisted, "live": live},
        {"persisted": expected, "live": expected},
        ok=live == dict(sorted(expected.items())),
    )
