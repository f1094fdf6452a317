"""The site CA: made once, read back, and a certificate issued again only when it no longer fits."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.pki import CA_CERT, CA_KEY, PkiError, issue, site_ca


def _csr(key: ec.EllipticCurvePrivateKey, *names: str, usages: tuple[x509.ObjectIdentifier, ...] = ()) -> str:
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    if usages:
        request = request.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def _verify(tmp_path: Path, ca_dir: Path, pem: str) -> str:
    (tmp_path / "leaf.pem").write_text(pem)
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca_dir / CA_CERT), str(tmp_path / "leaf.pem")],
        capture_output=True, text=True, check=False,
    )
    return result.stdout.strip() or result.stderr.strip()


def test_the_ca_is_made_once_private_and_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    first = site_ca(folder, "Thai Nguyen site CA")
    assert (folder / CA_KEY).stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    again = site_ca(folder, "another name")
    assert again.pem == first.pem, "read back, not made again"
    constraints = first.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0


def test_parallel_forks_agree_on_one_ca(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        pems = set(pool.map(lambda _: site_ca(tmp_path / "pki").pem, range(16)))
    assert len(pems) == 1


def test_a_certificate_is_reissued_only_when_it_no_longer_fits(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    ca = site_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = _csr(key, "10.20.2.11", "ctl01", "10.20.2.10")
    cert = issue(ca, csr)
    assert _verify(tmp_path, folder, cert).endswith("OK")
    leaf = x509.load_pem_x509_certificate(cert.encode())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.20.2.10") in sans.get_values_for_type(x509.IPAddress), "the shared address"
    assert issue(ca, csr, cert) == cert, "a second run keeps it"
    # a new name, a new key, another CA, a near end, garbage in place: each gets a new certificate
    assert issue(ca, _csr(key, "10.20.2.11", "ctl01"), cert) != cert
    assert issue(ca, _csr(ec.generate_private_key(ec.SECP256R1()), "10.20.2.11", "ctl01", "10.20.2.10"), cert) != cert
    other = site_ca(tmp_path / "other", "other CA")
    assert issue(ca, csr, issue(other, csr)) != issue(other, csr)
    short = issue(ca, csr, "", days=10)
    assert issue(ca, csr, short) != short
    assert _verify(tmp_path, folder, issue(ca, csr, "not a certificate")).endswith("OK")


def test_a_certificate_never_outlives_the_ca(tmp_path: Path) -> None:
    ca = site_ca(tmp_path / "pki", days=100)
    pem = issue(ca, _csr(ec.generate_private_key(ec.SECP256R1()), "h"), days=365)
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.not_valid_after_utc <= ca.cert.not_valid_after_utc
    assert cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < datetime.timedelta(days=101)


@pytest.mark.parametrize("damage", ["empty key", "key only", "foreign key"])
def test_a_damaged_ca_folder_is_an_error_with_the_fix(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "pki"
    site_ca(folder)
    if damage == "empty key":
        (folder / CA_KEY).write_text("")
    elif damage == "key only":
        (folder / CA_CERT).unlink()
    else:
        foreign = site_ca(tmp_path / "o").key
        (folder / CA_KEY).write_bytes(foreign.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))
    with pytest.raises(PkiError, match="restore"):
        site_ca(folder)


def test_a_request_that_is_not_one_is_refused(tmp_path: Path) -> None:
    ca = site_ca(tmp_path / "pki")
    with pytest.raises(PkiError, match="not a certificate signing request"):
        issue(ca, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")


def _granted(pem: str) -> set[x509.ObjectIdentifier]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_a_certificate_carries_the_usages_asked_for_and_no_other(tmp_path: Path) -> None:
    ca = site_ca(tmp_path / "pki")
    key = ec.generate_private_key(ec.SECP256R1())
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    assert _granted(issue(ca, _csr(key, "ctl01"))) == {server}, "none asked for: a server's"
    both = _csr(key, "ctl01", usages=(server, client))
    cert = issue(ca, both)
    assert _granted(cert) == {server, client}, "an OVN peer is server and client"
    assert issue(ca, both, cert) == cert, "a second run keeps it"
    assert _granted(issue(ca, _csr(key, "ctl01", usages=(server,)), cert)) == {server}, "a usage dropped: issued again"
    with pytest.raises(PkiError, match="serverAuth and clientAuth only, not codeSigning"):
        issue(ca, _csr(key, "ctl01", usages=(client, ExtendedKeyUsageOID.CODE_SIGNING)))
