"""HT-FILE-01, HT-FILE-02 (tasks/file_permissions.yml, tasks/cron.yml)."""


def test_account_files_protected(host):
    want = {
        "/etc/passwd": ("root", "root", 0o644),
        "/etc/group": ("root", "root", 0o644),
        "/etc/shadow": ("root", "shadow", 0o640),
        "/etc/gshadow": ("root", "shadow", 0o640),
    }
    for path, state in want.items():
        f = host.file(path)
        assert (f.user, f.group, f.mode) == state, path


def test_cron_restricted(host):
    crontab = host.file("/etc/crontab")
    assert (crontab.user, crontab.mode) == ("root", 0o600)
    allow = host.file("/etc/cron.allow")
    assert allow.exists and allow.content_string.split() == ["root"]
    assert not host.file("/etc/cron.deny").exists
