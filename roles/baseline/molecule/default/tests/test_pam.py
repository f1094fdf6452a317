"""HT-AUTH-01, HT-AUTH-02, HT-AUTH-03, HT-AUTH-06 (tasks/pam.yml)."""

from conftest import conf_values


def test_pam_faillock_enabled(host):
    auth = host.file("/etc/pam.d/common-auth").content_string
    account = host.file("/etc/pam.d/common-account").content_string
    assert "pam_faillock.so preauth" in auth
    assert "pam_faillock.so authfail" in auth
    assert "pam_faillock.so" in account
    # preauth comes before pam_unix, authfail after it
    assert auth.index("preauth") < auth.index("pam_unix.so") < auth.index("authfail")
    conf = conf_values(host.file("/etc/security/faillock.conf").content_string)
    assert int(conf["deny"]) <= 5
    assert int(conf["unlock_time"]) >= 900


def test_password_min_length_and_complexity(host):
    password = host.file("/etc/pam.d/common-password").content_string
    assert "pam_pwquality.so" in password
    conf = conf_values(host.file("/etc/security/pwquality.conf.d/60-hatang.conf").content_string)
    assert int(conf["minlen"]) >= 12
    assert int(conf["minclass"]) >= 3


def test_password_history(host):
    password = host.file("/etc/pam.d/common-password").content_string
    assert "pam_pwhistory.so" in password
    assert password.index("pam_pwhistory.so") < password.index("pam_unix.so")
    conf = conf_values(host.file("/etc/security/pwhistory.conf").content_string)
    assert int(conf["remember"]) >= 5


def test_pam_stack_still_authenticates(host):
    # a broken stack would refuse every login: pamtester is not installed, so check su as root works
    assert host.run("su -s /bin/sh -c true nobody").rc == 0
