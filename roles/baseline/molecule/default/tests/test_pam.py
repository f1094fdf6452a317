"""tasks/pam.yml: beyond HT-AUTH-01/02/03/06 (test_controls.py), the stacks still authenticate."""


def test_pam_stack_still_authenticates(host):
    # a broken stack would refuse every login: pamtester is not installed, so check su as root works
    assert host.run("su -s /bin/sh -c true nobody").rc == 0
