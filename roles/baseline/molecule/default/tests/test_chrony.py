"""tasks/chrony.yml: beyond HT-TIME-01/02 (test_controls.py), the running chronyd uses the sources
it was configured with (the handler restarted it) and never steers a container's clock."""


def test_chrony_never_steers_the_clock_in_a_container(host):
    # -x: the container shares the test machine's clock
    assert "-x" in host.check_output("ps -o args= -C chronyd").split()


def test_chrony_runs_with_the_site_sources(host, hatang_host_facts):
    sources = host.check_output("chronyc -n sources | awk 'NR > 2 {print $2}'").split()
    assert sorted(sources) == sorted(hatang_host_facts.ntp)
