"""tasks/journald.yml: beyond HT-LOG-01/02 (test_controls.py), the journal's folder exists, so
journald stores on disk from the first restart."""


def test_journald_folder_exists(host):
    assert host.file("/var/log/journal").is_directory
