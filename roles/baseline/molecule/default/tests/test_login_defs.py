"""HT-AUTH-04, 05, 07, 08, 14 (tasks/login_defs.yml)."""


def login_defs(host):
    values = {}
    for line in host.file("/etc/login.defs").content_string.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#"):
            values[parts[0]] = parts[1]
    return values


def test_password_max_age(host):
    assert int(login_defs(host)["PASS_MAX_DAYS"]) <= 90


def test_password_min_age(host):
    assert int(login_defs(host)["PASS_MIN_DAYS"]) >= 1


def test_inactive_accounts_disabled(host):
    inactive = host.check_output("useradd -D | sed -n 's/^INACTIVE=//p'")
    assert 0 <= int(inactive) <= 35


def test_default_umask_restrictive(host):
    assert login_defs(host)["UMASK"] == "027"


def test_password_hash_strong(host):
    assert login_defs(host)["ENCRYPT_METHOD"] in {"YESCRYPT", "SHA512"}
