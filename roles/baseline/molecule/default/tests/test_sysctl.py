"""HT-NET-01 .. HT-NET-07 (tasks/sysctl.yml, tasks/container.yml)."""


def live(host, key):
    return host.check_output(f"sysctl -n {key}")


def test_ip_forward_only_on_routers(host, expected):
    want = "1" if expected["routes"] else "0"
    assert live(host, "net.ipv4.ip_forward") == want
    assert live(host, "net.ipv6.conf.all.forwarding") == want


def test_icmp_redirects_refused(host):
    for key in (
        "net.ipv4.conf.all.accept_redirects",
        "net.ipv6.conf.all.accept_redirects",
        "net.ipv4.conf.all.send_redirects",
        "net.ipv4.conf.all.secure_redirects",
    ):
        assert live(host, key) == "0", key


def test_source_route_refused(host):
    for key in ("net.ipv4.conf.all.accept_source_route", "net.ipv6.conf.all.accept_source_route"):
        assert live(host, key) == "0", key


def test_reverse_path_filter_on(host):
    assert live(host, "net.ipv4.conf.all.rp_filter") == "1"


def test_tcp_syncookies_on(host):
    assert live(host, "net.ipv4.tcp_syncookies") == "1"


def test_martians_logged(host):
    assert live(host, "net.ipv4.conf.all.log_martians") == "1"


def test_kernel_sysctls_persisted(host):
    conf = host.file("/etc/sysctl.d/61-hatang-kernel.conf").content_string
    for line in ("kernel.kptr_restrict = 2", "kernel.dmesg_restrict = 1", "kernel.randomize_va_space = 2"):
        assert line in conf


def test_net_file_holds_only_net_keys(host):
    conf = host.file("/etc/sysctl.d/60-hatang-net.conf").content_string
    keys = [line.split("=")[0].strip() for line in conf.splitlines() if "=" in line and not line.startswith("#")]
    assert keys and all(key.startswith("net.") for key in keys)


def test_systemd_sysctl_limited_to_net_in_container(host):
    unit = host.check_output("systemctl cat systemd-sysctl.service")
    assert "ExecStart=/usr/lib/systemd/systemd-sysctl --prefix=net." in unit
