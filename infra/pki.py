"""The site CA: one certificate authority per site, kept on the machine running Ansible.

Every controller's TLS front gets a certificate signed by it, so a client that trusts the one CA
reaches any controller and the controllers' shared address alike. The CA is made on first use in
the site's secrets folder (like the generated passwords) and read back later; a host's key never
leaves the host, only its signing request travels. The Ansible lookup `hatang_site_ca`
(plugins/lookup) is a shim over `site_ca` and `issue`: a lookup runs where Ansible runs, whatever
connection the hosts use. Built on `cryptography` (the library community.crypto uses too).
"""

from __future__ import annotations

import datetime
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.errors import HatangError

__all__ = ["CA_CERT", "CA_KEY", "RENEW_BEFORE", "PkiError", "SiteCa", "issue", "site_ca"]

CA_KEY, CA_CERT = "ca.key", "ca.crt"
RENEW_BEFORE = datetime.timedelta(days=30)
"""A certificate this close to its end is issued again on the next run."""


class PkiError(HatangError):
    """The site CA's folder cannot be used, or a signing request is not one."""


@dataclass(frozen=True)
class SiteCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _new_ca(common_name: str, days: int) -> SiteCa:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    return SiteCa(key, cert)


def site_ca(directory: Path, common_name: str = "hatang site CA", days: int = 3650) -> SiteCa:
    """The site CA in `directory`, made on first use (a lock keeps parallel Ansible forks to one CA).

    Raises:
        PkiError: the folder cannot be created, or holds a key or certificate that cannot be read.
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with (directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            key_path, cert_path = directory / CA_KEY, directory / CA_CERT
            if not key_path.exists() and not cert_path.exists():
                made = _new_ca(common_name, days)
                _write_private(key_path, made.key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ))
                _write_private(cert_path, made.pem.encode())
                cert_path.chmod(0o644)
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(
            f"{directory}: cannot use the site CA ({exc}); fix: restore {CA_KEY} and {CA_CERT} from the "
            "secrets backup, or remove both to make a new CA (every host's certificate is then issued again)"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise PkiError(f"{directory}: {CA_KEY} is not the key of {CA_CERT}; fix: restore the pair from the backup")
    return SiteCa(key, cert)


def _sans(cert_or_csr: x509.Certificate | x509.CertificateSigningRequest) -> set[x509.GeneralName]:
    try:
        return set(cert_or_csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


_USAGES = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
"""What a host may ask for: serving TLS, and being a TLS client (OVN's Raft peers and chassis are both)."""


def _usages(cert_or_csr: x509.Certificate | x509.CertificateSigningRequest) -> set[x509.ObjectIdentifier]:
    """The extended key usages asked for or granted; serverAuth when a request names none."""
    try:
        return set(cert_or_csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return {ExtendedKeyUsageOID.SERVER_AUTH}


def _still_fits(ca: SiteCa, csr: x509.CertificateSigningRequest, current: x509.Certificate) -> bool:
    """Signed by this CA, for this key, names, usages and subject, and not about to expire."""
    try:
        current.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return (
        current.public_key() == csr.public_key()
        and current.subject == csr.subject
        and _sans(current) == _sans(csr)
        and _usages(current) == _usages(csr)
        and current.not_valid_after_utc - _now() > RENEW_BEFORE
    )


def issue(ca: SiteCa, csr_pem: str, current_pem: str = "", days: int = 365) -> str:
    """A host certificate for the request: `current_pem` again while it still fits, else a new one.

    It carries the request's names and extended key usages (serverAuth, clientAuth; serverAuth
    when the request names none).

    Raises:
        PkiError: the request is not a PEM signing request, its signature is wrong, or it asks for
            a usage other than serverAuth or clientAuth.
    """
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise PkiError(f"not a certificate signing request: {exc}") from exc
    if not csr.is_signature_valid:
        raise PkiError("the certificate signing request's signature does not match its key")
    usages = _usages(csr)
    if not usages <= _USAGES:
        refused = ", ".join(sorted(oid._name for oid in usages - _USAGES))
        raise PkiError(f"the site CA signs for serverAuth and clientAuth only, not {refused}")
    if current_pem.strip():
        try:
            current = x509.load_pem_x509_certificate(current_pem.encode())
        except ValueError:
            current = None
        if current is not None and _still_fits(ca, csr, current):
            return current_pem
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=days), ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(sorted(usages, key=lambda oid: oid.dotted_string)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    sans = _sans(csr)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = builder.sign(ca.key, hashes.SHA384())
    return cert.public_bytes(serialization.Encoding.PEM).decode()
