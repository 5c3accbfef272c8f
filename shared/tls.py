"""HTTPS for the gateway (and the clinic mounted in it).

Browsers only open the camera on a secure page (or on localhost), so a therapist and a
patient on two machines of a LAN need HTTPS even for a demo. ``TELEREHAB_TLS_CERT`` and
``TELEREHAB_TLS_KEY`` name a certificate chain and key (PEM); ``TELEREHAB_TLS_CERT=self-signed``
makes a local one once, kept in the state folder (the key 0600), for this machine's names
and addresses: browsers warn about it once, and the service's own clients trust it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from pathlib import Path

from shared.settings import SELF_SIGNED, WILDCARD_HOSTS, Settings

CERT_FILE, KEY_FILE = "tls-cert.pem", "tls-key.pem"


def certificate_paths(settings: Settings) -> tuple[Path, Path] | None:
    """(certificate, key) to serve with, making the self-signed pair first if asked."""
    if not settings.tls_cert:
        return None
    if settings.tls_cert != SELF_SIGNED:
        return Path(settings.tls_cert), Path(settings.tls_key or settings.tls_cert)
    folder = Path(settings.state_dir)
    cert, key = folder / CERT_FILE, folder / KEY_FILE
    if not (cert.exists() and key.exists()):
        make_self_signed(cert, key, settings.host)
    return cert, key


def server_context(settings: Settings) -> ssl.SSLContext | None:
    paths = certificate_paths(settings)
    if paths is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(*paths)
    return context


def client_context(settings: Settings) -> ssl.SSLContext:
    """What the service's own clients (the launcher, the clinic calling the gateway)
    verify with: the system's CAs and, with a self-signed certificate, that one."""
    context = ssl.create_default_context()
    paths = certificate_paths(settings) if settings.tls_cert == SELF_SIGNED else None
    if paths is not None:
        context.load_verify_locations(cafile=str(paths[0]))
    return context


def make_self_signed(cert: Path, key: Path, host: str) -> None:
    """An RSA key and a year's certificate for localhost, this machine's name and
    addresses, and ``host``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    addresses = {"127.0.0.1", "::1", *_own_addresses()}
    if host not in WILDCARD_HOSTS:
        addresses.add(host)
    for address in sorted(addresses):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "telerehab (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _own_addresses() -> set[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return {str(info[4][0]) for info in infos}
