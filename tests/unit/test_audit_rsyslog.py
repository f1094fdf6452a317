"""HT-LOG-03's reading of rsyslog's loaded configuration: which targets every message reaches."""

from __future__ import annotations

import pytest

from infra.audit._rsyslog import DEFAULT_RULESET, LocalSource, rsyslog_forwarding

FORWARD = (
    'module(load="imuxsock") # local logging\n'
    "$FileOwner root\n"
    "$IncludeConfig /etc/rsyslog.d/*.conf\n"
    '*.* action(type="omfwd" target="10.196.1.6" port="514" protocol="tcp"\n'
    '           queue.type="LinkedList" # a comment with a "quote\n'
    '           action.resumeRetryCount="-1")\n'
    "*.*;auth,authpriv.none\t\t-/var/log/syslog\n"
)


def test_the_hardened_configuration_forwards_every_message() -> None:
    found = rsyslog_forwarding(FORWARD)
    assert (found.every_message, found.some_messages, found.discards) == (["10.196.1.6"], [], [])


@pytest.mark.parametrize(
    ("config", "why"),
    [
        ("*.* stop\n" + FORWARD, "10.196.1.6: after '*.* stop'"),
        ("*.* ~\n" + FORWARD, "10.196.1.6: after '*.* ~'"),
        ('if $programname == "x" then stop\n' + FORWARD, "10.196.1.6: after 'if $programname == \"x\" then stop'"),
        (':msg, contains, "x" ~\n' + FORWARD, "10.196.1.6: after ':msg, contains, \"x\" ~'"),
        ("kern.* /var/log/k\n& stop\n" + FORWARD, "10.196.1.6: after '& stop'"),
        (':programname, startswith, "haproxy" {\n  /var/log/haproxy.log\n  stop\n}\n' + FORWARD,
         "10.196.1.6: after 'stop (inside \\':programname, startswith, \"haproxy\"\\')'"),
        (FORWARD.replace("*.* action", "local7.* action"), "10.196.1.6: only the selector 'local7.*'"),
        (FORWARD.replace("*.* action", "*.*;auth.none action"), "10.196.1.6: only the selector '*.*;auth.none'"),
        ('if $x == "1" then {\n' + FORWARD + "}\n", "10.196.1.6: inside 'if $x == \"1\" then'"),
        ('ruleset(name="quiet") {\n' + FORWARD + "}\n", "10.196.1.6: in ruleset 'quiet'"),
    ],
    ids=["stop-first", "tilde-first", "if-stop", "property-filter-discard", "continuation-stop",
         "haproxy-package-block", "narrow-selector", "auth-excluded", "inside-if", "other-ruleset"],
)  # fmt: skip
def test_a_forward_not_every_message_reaches_is_not_counted(config: str, why: str) -> None:
    found = rsyslog_forwarding(config)
    assert found.every_message == []
    assert found.some_messages == [why]


def test_comments_and_the_default_ruleset_block_change_nothing() -> None:
    for config in (
        "/* *.* stop */\n# *.* stop\n" + FORWARD,
        'ruleset(name="RSYSLOG_DefaultRuleset") {\n' + FORWARD + "}\n",
        FORWARD + "*.* stop\n",
    ):
        assert rsyslog_forwarding(config).every_message == ["10.196.1.6"], config


def test_legacy_forwarding_both_transports_and_a_bare_action() -> None:
    config = (
        "*.* @@(o)[fd00::7]:514\nauth.* @10.1.0.5\n*.debug @10.1.0.6;RSYSLOG_ForwardFormat\n"
        'action(type="omfwd" target="10.1.1.1")\n& stop\n*.* @10.9.9.9\n'
    )
    found = rsyslog_forwarding(config)
    assert found.every_message == ["fd00::7", "10.1.0.6", "10.1.1.1"]
    assert found.some_messages == ["10.1.0.5: only the selector 'auth.*'", "10.9.9.9: after '& stop'"]
    assert found.discards == ["& stop"]


SYSTEM_SOCKET = LocalSource("imuxsock: the system log socket", DEFAULT_RULESET, via_journald=True)


def test_the_hardened_configuration_reads_the_system_socket_into_the_forwarding_ruleset() -> None:
    found = rsyslog_forwarding('module(load="imklog")\n' + FORWARD)
    assert found.sources == [SYSTEM_SOCKET, LocalSource("imklog", DEFAULT_RULESET, via_journald=False)]
    assert found.rulesets == {DEFAULT_RULESET: ["10.196.1.6"]}


def test_a_legacy_ruleset_switch_moves_the_forward_away_from_the_inputs() -> None:
    found = rsyslog_forwarding("$RuleSet quiet\n" + FORWARD)
    assert found.every_message == []
    assert found.rulesets == {DEFAULT_RULESET: [], "quiet": ["10.196.1.6"]}
    assert found.sources == [SYSTEM_SOCKET]
    assert found.some_messages == ["10.196.1.6: in ruleset 'quiet'"]
    back = rsyslog_forwarding("$RuleSet quiet\n*.* /var/log/q\n$RuleSet RSYSLOG_DefaultRuleset\n" + FORWARD)
    assert back.every_message == ["10.196.1.6"]


@pytest.mark.parametrize(
    ("inputs", "sources"),
    [
        ('module(load="imuxsock" SysSock.Use="off")\n'
         'input(type="imuxsock" Socket="/run/systemd/journal/syslog" ruleset="local")\n',
         [LocalSource("imuxsock: /run/systemd/journal/syslog", "local", via_journald=True)]),
        ('module(load="imuxsock" sysSock.use="0")\n', []),
        ("$ModLoad imuxsock.so\n$OmitLocalLogging on\n", []),
        ("$ModLoad imuxsock\n$AddUnixListenSocket /srv/chroot/dev/log\n",
         [SYSTEM_SOCKET, LocalSource("imuxsock: /srv/chroot/dev/log", DEFAULT_RULESET, via_journald=False)]),
        ('module(load="imjournal" StateFile="imjournal.state")\n',
         [LocalSource("imjournal", DEFAULT_RULESET, via_journald=False)]),
        ('module(load="imklog" RuleSet="kernel")\n', [LocalSource("imklog", "kernel", via_journald=False)]),
    ],
    ids=["socket-bound-elsewhere", "system-socket-off", "legacy-omit-local", "legacy-extra-socket", "imjournal",
         "kernel-bound-elsewhere"],
)  # fmt: skip
def test_the_inputs_of_local_messages_and_their_rulesets(inputs: str, sources: list[LocalSource]) -> None:
    config = inputs + 'ruleset(name="local") {\n  *.* /var/log/local.log\n}\n' + FORWARD.split("\n", 1)[1]
    found = rsyslog_forwarding(config)
    assert found.sources == sources
    assert found.rulesets == {DEFAULT_RULESET: ["10.196.1.6"], "local": []}
