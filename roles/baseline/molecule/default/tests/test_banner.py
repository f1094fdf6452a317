"""HT-AUTH-10 (tasks/banner.yml)."""


def test_login_banner_set(host):
    for path in ("/etc/issue", "/etc/issue.net"):
        banner = host.file(path)
        assert banner.mode == 0o644
        assert "Authorised use only" in banner.content_string
