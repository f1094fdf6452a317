"""The parsers the host checks rely on, over captured command output and file text."""

from __future__ import annotations

import pytest

from infra.audit import probes


def test_parse_keyvalues_separator_comments_last_wins() -> None:
    text = "# c\nStorage=auto\n[Journal]\nStorage = persistent # inline\n\nbad line\n"
    assert probes.parse_keyvalues(text, "=") == {"Storage": "persistent"}


def test_parse_keyvalues_whitespace_and_tabs() -> None:
    text = "PASS_MAX_DAYS\t99999\nUMASK  027\nENCRYPT_METHOD YESCRYPT\n"
    assert probes.parse_keyvalues(text) == {"PASS_MAX_DAYS": "99999", "UMASK": "027", "ENCRYPT_METHOD": "YESCRYPT"}


def test_parse_sshd_t_keeps_repeated_keys() -> None:
    text = "port 22\nlistenaddress 10.0.0.5:22\nlistenaddress [fd00::5]:22\nPermitRootLogin no\n"
    parsed = probes.parse_sshd_t(text)
    assert parsed["listenaddress"] == ["10.0.0.5:22", "[fd00::5]:22"]
    assert parsed["permitrootlogin"] == ["no"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1year", 31557600), ("12month", 12 * 2630016), ("365d", 365 * 86400), ("3600", 3600), ("1h 30min", 5400)],
)
def test_parse_timespan(value: str, seconds: float) -> None:
    assert probes.parse_timespan(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "forever", "1 fortnight", "12 monthsx"])
def test_parse_timespan_malformed(value: str) -> None:
    assert probes.parse_timespan(value) is None


def test_chrony_sources() -> None:
    text = "pool 2.debian.pool.ntp.org iburst\n# server 1.2.3.4\nserver 10.99.1.1 iburst\nsourcedir /run\n"
    assert probes.chrony_sources(text) == ["2.debian.pool.ntp.org", "10.99.1.1"]


def test_chrony_includes_follow_include_confdir_and_sourcedir() -> None:
    text = (
        "confdir /etc/chrony/conf.d\n# include /etc/commented.conf\nsourcedir /run/chrony-dhcp /var/lib/ops/\n"
        "include /etc/chrony/extra/*.conf  # trailing\nsourcedir\nserver 10.99.1.1 iburst\n"
    )
    assert probes.chrony_includes(text) == [
        "/etc/chrony/conf.d/*.conf", "/run/chrony-dhcp/*.sources", "/var/lib/ops/*.sources", "/etc/chrony/extra/*.conf",
    ]


def test_chronyc_sources_reads_every_source_the_daemon_uses() -> None:
    output = """MS Name/IP address         Stratum Poll Reach LastRx Last sample
===============================================================================
^* 10.99.1.1                     2   6   377    12   +123us[ +150us] +/-   20ms
^? 192.0.2.125                   0   6     0     -     +0ns[   +0ns] +/-    0ns
=- fd99:aa10:0:11:0:0:0:1        3   6   377    40   -1ms[  -1ms] +/-   30ms
#x PPS0                          0   4     0     -     +0ns[   +0ns] +/-    0ns
"""
    assert probes.chronyc_sources(output) == ["10.99.1.1", "192.0.2.125", "fd99:aa10:0:11::1", "PPS0"]
    assert probes.chronyc_sources("506 Cannot talk to daemon\n") == []



def test_chronyc_activity_counts_bursts_as_where_they_return() -> None:
    output = (
        "200 OK\n2 sources online\n1 sources offline\n1 sources doing burst (return to online)\n"
        "3 sources doing burst (return to offline)\n0 sources with unknown address\n"
    )
    assert probes.chronyc_activity(output) == {"online": 3, "offline": 4, "unknown address": 0}
    assert probes.chronyc_activity("506 Cannot talk to daemon\n") == {"online": 0, "offline": 0, "unknown address": 0}


def test_logrotate_days_stanza_and_defaults() -> None:
    text = "weekly\nrotate 4\n/var/log/syslog\n/var/log/auth.log\n{\n  monthly\n  rotate 13\n}\n/var/log/x { daily\n}\n"
    assert probes.logrotate_days(text, "/var/log/syslog") == 390
    assert probes.logrotate_days(text, "/var/log/nothing") is None


def test_logrotate_days_inherits_global_period() -> None:
    text = "weekly\nrotate 4\n/var/log/syslog {\n  missingok\n}\n"
    assert probes.logrotate_days(text, "/var/log/syslog") == 28


def test_apt_uris_one_line_and_deb822() -> None:
    text = (
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.dc/debian trixie main\n"
        "deb-src http://mirror.dc/debian trixie main\n"
        "Types: deb\nURIs: http://mirror.dc/debian-security http://other/debian\nSuites: trixie-security\n"
    )
    assert probes.apt_uris(text) == [
        "http://mirror.dc/debian",
        "http://mirror.dc/debian",
        "http://mirror.dc/debian-security",
        "http://other/debian",
    ]


OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nID=debian\n'


@pytest.mark.parametrize(
    ("banner", "leaks"),
    [
        ("Authorised use only.\n", []),
        ("Authorised use only.\n\\S\n", ["\\S"]),
        ("Authorised use only. \\s \\r \\v \\m\n", ["\\s", "\\r", "\\v", "\\m"]),
        ("Welcome to DEBIAN\n", ["debian"]),
        ("Welcome to debian-based systems\n", ["debian"]),
        ("Debianised? no: a word of its own only\n", []),
    ],
)
def test_banner_leaks_escapes_and_the_system_name(banner: str, leaks: list[str]) -> None:
    assert probes.banner_leaks(banner, OS_RELEASE) == leaks


SUDO_L = """\
Matching Defaults entries for root on aio1:
    env_reset, mail_badpass, secure_path=/usr/local/sbin\\:/usr/local/bin\\:/usr/sbin\\:/usr/bin\\:/sbin\\:/bin,
    use_pty, logfile=/var/log/sudo.log

User root may run the following commands on aio1:
    (ALL : ALL) ALL
"""


LOGS = {"logfile": "/var/log/sudo.log", "use_pty": True, "log_allowed": True, "timestamp_timeout": 15.0}


@pytest.mark.parametrize(
    ("listing", "found"),
    [
        (SUDO_L, LOGS),
        (SUDO_L.replace("logfile=/var/log/sudo.log", "logfile=/var/log/sudo.log, !logfile"),
         LOGS | {"logfile": None}),  # a later negation wins, as in sudo
        (SUDO_L.replace("use_pty, ", "use_pty, !use_pty, "), LOGS | {"use_pty": False}),
        (SUDO_L.replace("use_pty, logfile", "!use_pty, use_pty, logfile"), LOGS),
        (SUDO_L.replace("use_pty, ", "use_pty, !log_allowed, "), LOGS | {"log_allowed": False}),
        (SUDO_L.replace("use_pty, ", "use_pty, timestamp_timeout=5, timestamp_timeout=-1, "),
         LOGS | {"timestamp_timeout": -1.0}),  # never expires: the later one wins
        (SUDO_L.replace("use_pty, ", "use_pty, timestamp_timeout=60, !timestamp_timeout, "),
         LOGS | {"timestamp_timeout": 0.0}),  # negated: always ask
        (SUDO_L.replace("use_pty, ", "use_pty, timestamp_timeout=2.5, "), LOGS | {"timestamp_timeout": 2.5}),
        (SUDO_L.replace("use_pty, ", "use_pty, timestamp_timeout=yes, "), LOGS | {"timestamp_timeout": None}),
        ("User root is not allowed to run sudo on aio1.\n",
         {"logfile": None, "use_pty": False, "log_allowed": True, "timestamp_timeout": 15.0}),
        ("", {"logfile": None, "use_pty": False, "log_allowed": True, "timestamp_timeout": 15.0}),
    ],
)  # fmt: skip
def test_sudo_defaults_apply_in_sudos_order(listing: str, found: dict[str, object]) -> None:
    assert probes.sudo_defaults(listing) == found


BOUND = """\
Runas and Command-specific defaults for ops:
    Defaults>root !use_pty    Defaults!/usr/bin/bash, /bin/sh !logfile, log_allowed
    Defaults!/usr/bin/systemctl logfile=/dev/null    Defaults>www-data env_keep+=PATH
    Defaults>root timestamp_timeout=-1    Defaults!/usr/bin/ls timestamp_timeout=5
    Defaults>postgres timestamp_timeout=60    Defaults>backup !timestamp_timeout

"""


def test_defaults_bound_to_a_run_as_user_or_a_command_that_weaken_logging() -> None:
    assert probes.sudo_bound_weakenings(SUDO_L) == []
    assert probes.sudo_bound_weakenings(SUDO_L.replace("\n\nUser", "\n\n" + BOUND + "User")) == [
        "Defaults>root !use_pty",
        "Defaults!/usr/bin/bash, /bin/sh !logfile",
        "Defaults!/usr/bin/systemctl logfile=/dev/null",
        "Defaults>root timestamp_timeout=-1",
        "Defaults>postgres timestamp_timeout=60",
    ]


def test_sudo_listings_per_account() -> None:
    output = "=== user root\n" + SUDO_L + "=== rc 0\n=== user nobody\nUser nobody is not allowed\n=== rc 0\n"
    output += "=== user ops\nsudo: parse error in /etc/sudoers.d/zz\n=== rc 1\n"
    found = probes.sudo_listings(output)
    assert list(found) == ["root", "nobody", "ops"]
    assert found["root"] == (0, SUDO_L)
    assert found["ops"] == (1, "sudo: parse error in /etc/sudoers.d/zz\n")


def test_apt_config_reads_the_merged_dump() -> None:
    dump = (
        'APT::Periodic "";\nAPT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "0";\n'
        'Unattended-Upgrade::Origins-Pattern "";\n'
        'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,'
        'label=Debian-Security";\n'
        'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename},label=Debian";\n'
    )
    found = probes.apt_config(dump)
    assert found["APT::Periodic::Unattended-Upgrade"] == ["0"]
    assert len(found["Unattended-Upgrade::Origins-Pattern"]) == 2 and "APT::Periodic" not in found


@pytest.mark.parametrize(("value", "on"), [
    ("1", True), ("7", True), ("12h", True), ("always", True), ("0", False), ("0d", False), (None, False),
    ("yes", False), ("-1", False), ("", False),
])
def test_apt_interval_on(value: str | None, on: bool) -> None:
    assert probes.apt_interval_on(value) is on


@pytest.mark.parametrize(("value", "off"), [("0", True), ("false", True), ("No", True), ("1", False), (None, False)])
def test_apt_periodic_enable_off(value: str | None, off: bool) -> None:
    assert probes.apt_interval_off(value) is off


def test_rsyslog_create_modes_reads_legacy_and_script_forms() -> None:
    text = (
        '$FileCreateMode 0640\n# $FileCreateMode 0644\nmodule(load="builtin:omfile" fileCreateMode="0600")\n'
        'auth.* action(type="omfile" file="/var/log/x.log" FILECREATEMODE = "0644") # later\n'
    )
    assert probes.rsyslog_create_modes(text) == ["0640", "0600", "0644"]
    assert probes.rsyslog_create_modes("*.* /var/log/syslog\n") == []


ROTATE = """create
include /etc/logrotate.d
/var/log/other.log { create 0644 root root }
"""


@pytest.mark.parametrize(("stanza", "mode", "how"), [
    ("/var/log/syslog\n{\n weekly\n create 0640 root adm\n}\n", 0o640, "create 0640"),
    ("/var/log/syslog { weekly }\n", None, "no mode of its own"),  # the global `create` keeps the mode
    ("/var/log/syslog { create root adm }\n", None, "no mode of its own"),
    ("/var/log/syslog { nocreate }\n", None, "no mode of its own"),
    ("/var/log/*.log /var/log/sys* {\n create 644 root root\n}\n", 0o644, "create 644"),
])
def test_logrotate_create_mode_of_the_stanza_naming_the_file(stanza: str, mode: int | None, how: str) -> None:
    assert probes.logrotate_create_mode(ROTATE, "/var/log/syslog", lambda _: {"/etc/logrotate.d/rsyslog": stanza}) == (
        mode, how)


def test_logrotate_create_mode_inherits_the_global_and_fails_closed_on_an_unreadable_include() -> None:
    text = "create 0644 root root\n/var/log/syslog { weekly }\n"
    assert probes.logrotate_create_mode(text, "/var/log/syslog") == (0o644, "create 0644")
    assert probes.logrotate_create_mode("include /etc/ops\n", "/var/log/syslog", lambda _: None) == (
        None, "include /etc/ops cannot be read")
    assert probes.logrotate_create_mode("", "/var/log/syslog")[0] is None


def test_packet_socket_findings_allow_only_packaged_link_layer_daemons() -> None:
    allowed = ["/usr/lib/openvswitch-switch/ovs-vswitchd", "/usr/sbin/lldpd"]
    raw = "p_raw UNCONN 0 0 *:* * users:((\"x\",pid=7,fd=3))"
    output = "\n".join([
        f"/usr/lib/openvswitch-switch/ovs-vswitchd\tpackaged\t{raw}",
        f"/usr/bin/python3.13\tpackaged\t{raw}",
        f"/usr/sbin/lldpd\tunpackaged\t{raw}",
        f"/usr/sbin/lldpd\tchanged-since-installed\t{raw}",
        f"-\t-\t{raw}",
        "",
    ])  # fmt: skip
    assert probes.packet_socket_findings(output, allowed) == [
        "/usr/bin/python3.13 (packaged): p_raw UNCONN 0 0 *:*",
        "/usr/sbin/lldpd (changed-since-installed): p_raw UNCONN 0 0 *:*",
        "/usr/sbin/lldpd (unpackaged): p_raw UNCONN 0 0 *:*",
        "p_raw UNCONN 0 0 *:* (no visible process)",
    ]
    assert probes.packet_socket_findings("", allowed) == []


def test_systemd_exec_reads_each_command_and_ignored_errors() -> None:
    value = (
        "{ path=/usr/sbin/nft ; argv[]=/usr/sbin/nft -f /etc/nftables.conf ; ignore_errors=no ; start_time=[n/a] ; "
        "stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 } "
        "{ path=/usr/sbin/nft ; argv[]=/usr/sbin/nft flush ruleset ; ignore_errors=yes ; start_time=[n/a] ; "
        "stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }"
    )
    assert probes.systemd_exec(value) == [
        (["/usr/sbin/nft", "-f", "/etc/nftables.conf"], False),
        (["/usr/sbin/nft", "flush", "ruleset"], True),
    ]
    assert probes.systemd_exec("") == []


def test_core_limits_per_account() -> None:
    output = "root 0\nsync 0\nops unlimited\ncoreops failed\n\nweird\n"
    assert probes.core_limits(output) == {
        "root": "0", "sync": "0", "ops": "unlimited", "coreops": "failed", "weird": "failed",
    }  # fmt: skip
