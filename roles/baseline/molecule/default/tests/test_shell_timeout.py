"""HT-AUTH-09 (tasks/shell_timeout.yml)."""


def test_shell_idle_timeout(host):
    out = host.check_output("bash -lc 'echo $TMOUT; readonly -p | grep -c \" TMOUT=\"'")
    tmout, readonly = out.split()
    assert 0 < int(tmout) <= 900
    assert readonly == "1"


def test_shell_timeout_sourced_twice_is_harmless(host):
    result = host.run("bash -lc '. /etc/profile.d/hatang-tmout.sh && echo ok'")
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""
