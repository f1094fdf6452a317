"""tasks/banner.yml: beyond HT-AUTH-10 (test_controls.py), the banners are readable by everyone."""

from conftest import params


def test_banners_readable_by_everyone(host):
    for path in params("HT-AUTH-10")["files"]:
        assert host.file(path).mode == 0o644, path
