"""tasks/shell_timeout.yml: beyond HT-AUTH-09 (test_controls.py), the readonly TMOUT file can be
sourced twice (a login shell that sources /etc/profile again) without an error."""


def test_shell_timeout_sourced_twice_is_harmless(host):
    result = host.run("bash -lc '. /etc/profile.d/hatang-tmout.sh && echo ok'")
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""
