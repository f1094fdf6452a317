"""HT-AUTH-12, HT-AUTH-13 (tasks/accounts.yml)."""

from conftest import read

from infra.audit import _accounts


def test_no_empty_passwords(host):
    finding = _accounts.empty_password_accounts(read(host, "/etc/shadow"))
    assert finding.ok, finding.problems


def test_only_root_has_uid0(host):
    passwd = host.file("/etc/passwd").content_string
    assert [line.split(":")[0] for line in passwd.splitlines() if line.split(":")[2] == "0"] == ["root"]
