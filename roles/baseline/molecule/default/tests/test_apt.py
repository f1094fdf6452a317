"""tasks/apt_sources.yml: beyond HT-PKG-01 (test_controls.py), APT still works on the site mirror."""


def test_apt_still_works(host):
    assert host.run("apt-get -q update").rc == 0
