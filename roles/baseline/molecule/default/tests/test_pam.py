"""HT-AUTH-01, HT-AUTH-02, HT-AUTH-03, HT-AUTH-06 (tasks/pam.yml): the stacks as Linux-PAM runs
them, judged by the host checks' decisions with the catalogue's parameters."""

import _host
import pytest
from conftest import AUTH_SERVICES, PASSWORD_SERVICES, pam_reader, pam_stacks, params, read

from infra.audit import _pam


def test_pam_faillock_enabled(host):
    limits = params("HT-AUTH-01")
    stacks = pam_stacks(host, "auth", AUTH_SERVICES)
    finding = _pam.faillock_finding(stacks, pam_reader(host), limits["max_deny"], limits["min_unlock_time"])
    assert finding.ok, finding.problems


@pytest.mark.parametrize(("control", "key"), [("HT-AUTH-02", "minlen"), ("HT-AUTH-03", "minclass")])
def test_password_min_length_and_complexity(host, control, key):
    stacks = pam_stacks(host, "password", PASSWORD_SERVICES)
    dropins = _host.read_files(host, "/etc/security/pwquality.conf.d/*.conf")
    texts = [dropins[name] for name in sorted(dropins)]  # libpwquality: strcmp order
    main = read(host, "/etc/security/pwquality.conf")
    finding = _pam.pwquality_finding(stacks, main, texts, key, params(control)["min"])
    assert finding.ok, finding.problems


def test_password_history(host):
    stacks = pam_stacks(host, "password", PASSWORD_SERVICES)
    finding = _pam.pwhistory_finding(stacks, pam_reader(host), params("HT-AUTH-06")["min"])
    assert finding.ok, finding.problems


def test_pam_stack_still_authenticates(host):
    # a broken stack would refuse every login: pamtester is not installed, so check su as root works
    assert host.run("su -s /bin/sh -c true nobody").rc == 0
