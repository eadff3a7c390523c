"""The broker TLS settings the deployment gives every app (celery_stack), used by py-amqp
(Celery's AMQP client) against a real TLS server: a certificate from the deployment's CA
with the shared broker name passes; one from another CA, or without that name, is
refused before any password is sent."""

import datetime
import socket
import ssl
import sys
import threading
from pathlib import Path

import pytest
from amqp.transport import SSLTransport
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "roles" / "celery_app" / "files" / "celery-stack"))

from celery_stack.settings import broker_tls, deployment_settings  # noqa: E402


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(subject, key, issuer, issuer_key, ca, names=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def pki(tmp_path):
    """Two CAs; a broker certificate from the first, named rabbitmq and mq1."""
    files = {}
    for ca_name in ("ours", "other"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(f"{ca_name} CA", key, f"{ca_name} CA", key, ca=True)
        files[ca_name] = (cert, key)
        (tmp_path / f"{ca_name}-ca.pem").write_bytes(_pem(cert))
    ca_cert, ca_key = files["ours"]
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("mq1", key, "ours CA", ca_key, ca=False, names=("rabbitmq", "mq1"))
    (tmp_path / "broker.pem").write_bytes(_pem(cert) + _pem(ca_cert))
    (tmp_path / "broker.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path


@pytest.fixture
def tls_server(pki):
    """A TLS server with the broker certificate, accepting one handshake per connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "broker.pem", pki / "broker.key")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def _handshake(address, settings):
    transport = SSLTransport(address, connect_timeout=5, ssl=settings)
    try:
        transport.connect()
    finally:
        transport.close()


def test_no_ca_means_no_tls_settings():
    assert broker_tls({}) is None
    assert "broker_use_ssl" not in deployment_settings({})


def test_the_settings_name_the_ca_and_the_shared_broker_name():
    settings = deployment_settings({"CELERY_BROKER_CA_FILE": "/etc/app/broker-ca.pem",
                                    "CELERY_BROKER_TLS_NAME": "rabbitmq"})["broker_use_ssl"]
    assert settings == {"ca_certs": "/etc/app/broker-ca.pem", "cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "rabbitmq"}


def test_a_broker_certificate_from_the_ca_with_the_shared_name_passes(pki, tls_server):
    _handshake(tls_server, broker_tls({"CELERY_BROKER_CA_FILE": str(pki / "ours-ca.pem"), "CELERY_BROKER_TLS_NAME": "rabbitmq"}))


def test_a_broker_certificate_from_another_ca_is_refused(pki, tls_server):
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _handshake(tls_server, broker_tls({"CELERY_BROKER_CA_FILE": str(pki / "other-ca.pem"), "CELERY_BROKER_TLS_NAME": "rabbitmq"}))


def test_a_broker_certificate_without_the_shared_name_is_refused(pki, tls_server):
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _handshake(tls_server, broker_tls({"CELERY_BROKER_CA_FILE": str(pki / "ours-ca.pem"), "CELERY_BROKER_TLS_NAME": "orders-broker"}))
