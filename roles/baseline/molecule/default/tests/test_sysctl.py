"""tasks/sysctl.yml, tasks/container.yml: beyond HT-NET-01..07 (test_controls.py), in a container
only net.* keys are loaded (kernel.* belong to the machine's kernel)."""


def test_net_file_holds_only_net_keys(host):
    conf = host.file("/etc/sysctl.d/60-hatang-net.conf").content_string
    keys = [line.split("=")[0].strip() for line in conf.splitlines() if "=" in line and not line.startswith("#")]
    assert keys and all(key.startswith("net.") for key in keys)


def test_systemd_sysctl_limited_to_net_in_container(host):
    unit = host.check_output("systemctl cat systemd-sysctl.service")
    assert "ExecStart=/usr/lib/systemd/systemd-sysctl --prefix=net." in unit
