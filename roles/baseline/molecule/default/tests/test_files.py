"""tasks/cron.yml: beyond HT-FILE-02 (test_controls.py), cron.allow lists root alone and no
cron.deny is left to widen it."""


def test_cron_allow_lists_root_only(host):
    assert host.file("/etc/cron.allow").content_string.split() == ["root"]
    assert not host.file("/etc/cron.deny").exists
