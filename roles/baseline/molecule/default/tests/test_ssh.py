"""HT-SSH-01 .. HT-SSH-13 (tasks/ssh.yml)."""

ALLOWED_CIPHERS = {
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
}
ALLOWED_KEX = {
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
}


def test_sshd_root_login_disabled(sshd_config):
    assert sshd_config["permitrootlogin"] == ["no"]


def test_sshd_password_auth_disabled(sshd_config):
    assert sshd_config["passwordauthentication"] == ["no"]
    assert sshd_config["kbdinteractiveauthentication"] == ["no"]


def test_sshd_ciphers_restricted(sshd_config):
    assert set(sshd_config["ciphers"][0].split(",")) <= ALLOWED_CIPHERS


def test_sshd_macs_restricted(sshd_config):
    for mac in sshd_config["macs"][0].split(","):
        assert mac.startswith("hmac-sha2-") and mac.endswith("-etm@openssh.com"), mac


def test_sshd_kex_restricted(sshd_config):
    assert set(sshd_config["kexalgorithms"][0].split(",")) <= ALLOWED_KEX


def test_sshd_idle_timeout(sshd_config):
    assert 0 < int(sshd_config["clientaliveinterval"][0]) <= 300
    assert 0 < int(sshd_config["clientalivecountmax"][0]) <= 3


def test_sshd_max_auth_tries_limited(sshd_config):
    assert int(sshd_config["maxauthtries"][0]) <= 4


def test_sshd_banner_set(sshd_config):
    assert sshd_config["banner"] == ["/etc/issue.net"]


def test_sshd_forwarding_disabled(sshd_config):
    assert sshd_config["x11forwarding"] == ["no"]
    assert sshd_config["allowagentforwarding"] == ["no"]
    assert sshd_config["allowtcpforwarding"] == ["no"]


def test_sshd_config_protected(host):
    config = host.file("/etc/ssh/sshd_config")
    assert (config.user, config.group, config.mode) == ("root", "root", 0o600)


def test_sshd_empty_passwords_refused(sshd_config):
    assert sshd_config["permitemptypasswords"] == ["no"]


def test_sshd_log_level_verbose(sshd_config):
    assert sshd_config["loglevel"] == ["VERBOSE"]


def test_sshd_listens_on_mgmt_only(host, sshd_config, expected):
    addresses = sshd_config["listenaddress"]
    if expected["mgmt"] is None:
        assert set(addresses) == {"0.0.0.0:22", "[::]:22"}
    else:
        assert addresses == [f"{expected['mgmt']}:22"]
        assert host.socket(f"tcp://{expected['mgmt']}:22").is_listening
        assert not host.socket("tcp://0.0.0.0:22").is_listening


def test_sshd_running(host):
    assert host.service("ssh").is_running
