"""HT-TIME-01, HT-TIME-02 (tasks/chrony.yml)."""

from conftest import NTP_SERVERS


def test_chrony_running(host):
    chrony = host.service("chrony")
    assert chrony.is_enabled
    assert chrony.is_running


def test_chrony_never_steers_the_clock_in_a_container(host):
    # -x: the container shares the test machine's clock
    assert "-x" in host.check_output("ps -o args= -C chronyd").split()


def test_chrony_uses_site_ntp(host):
    sources = host.check_output("chronyc -n sources | awk 'NR > 2 {print $2}'").split()
    assert sorted(sources) == sorted(NTP_SERVERS)
