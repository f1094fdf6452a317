"""HT-AUTH-04, 05, 07, 08, 14 (tasks/login_defs.yml, tasks/accounts.yml): the host checks'
decisions with the catalogue's parameters."""

from conftest import pam_stacks, params, read

from infra.audit import _accounts, probes


def login_defs(host):
    return probes.parse_keyvalues(read(host, "/etc/login.defs") or "")


def test_password_max_age(host):
    assert 0 < int(login_defs(host)["PASS_MAX_DAYS"]) <= params("HT-AUTH-04")["max"]


def test_password_min_age(host):
    assert int(login_defs(host)["PASS_MIN_DAYS"]) >= params("HT-AUTH-05")["min"]


def test_inactive_accounts_disabled(host):
    # useradd -D for new accounts, and every existing account with a usable password (prepare.yml
    # adds one without aging, as an install leaves its first user)
    defaults = host.check_output("useradd -D")
    finding = _accounts.inactive_finding(defaults, read(host, "/etc/shadow"), params("HT-AUTH-07")["max"])
    assert finding.ok, finding.problems


def test_default_umask_restrictive(host):
    assert login_defs(host)["UMASK"] == params("HT-AUTH-08")["umask"]


def test_password_hash_strong(host):
    rules = pam_stacks(host, "password", ("common-password",))["common-password"]
    shadow = read(host, "/etc/shadow")
    finding = _accounts.password_hash_finding(login_defs(host), rules, shadow, params("HT-AUTH-14")["allowed"])
    assert finding.ok, finding.problems
