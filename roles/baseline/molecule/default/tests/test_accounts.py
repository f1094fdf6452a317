"""HT-AUTH-12, HT-AUTH-13 (tasks/accounts.yml)."""


def test_no_empty_passwords(host):
    shadow = host.file("/etc/shadow").content_string
    empty = [line.split(":")[0] for line in shadow.splitlines() if line.split(":")[1] == ""]
    assert empty == []


def test_only_root_has_uid0(host):
    passwd = host.file("/etc/passwd").content_string
    assert [line.split(":")[0] for line in passwd.splitlines() if line.split(":")[2] == "0"] == ["root"]
