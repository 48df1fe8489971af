"""TLS echo: the asyncio.Protocol echo server of proto_echo behind
loop.create_server(ssl=...), 1 KiB messages on 10 connections, driven by a
Python TLS ping-pong client (benchmarks/tls_client.py, always on asyncio's
own loop, pinned to the other CPU). The certificate is self-signed and made
at run time (the `cryptography` package if installed, else `openssl req`).
The client saturates before a fast server does, so echoes per server
CPU-second rank the loops."""
import os
import shutil
import subprocess
import sys

from . import _files
from .sock_echo import METRICS, QUICK_SECONDS, SECONDS, run_echo  # noqa: F401

OVERHEAD = 1.3          # the longer warm-up of the Python client

CONNS = 10
MSG_SIZE = 1024


def _with_cryptography(cert, key):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(pkey.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(minutes=5))
           .not_valid_after(now + datetime.timedelta(days=2))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                          critical=False)
           .sign(pkey, hashes.SHA256()))
    with open(key, "wb") as f:
        f.write(pkey.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    with open(cert, "wb") as f:
        f.write(crt.public_bytes(serialization.Encoding.PEM))


def _with_openssl(cert, key):
    if shutil.which("openssl") is None:
        raise RuntimeError("need the cryptography package or the openssl CLI "
                           "to make a certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost"],
                   check=True, capture_output=True)


def certificate():
    """(certfile, keyfile): a self-signed pair under the run's data
    directory, made once per run."""
    cert, key = _files.path("tls-cert.pem"), _files.path("tls-key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        tmp_cert, tmp_key = f"{cert}.{os.getpid()}", f"{key}.{os.getpid()}"
        try:
            import cryptography  # noqa: F401
        except ImportError:
            _with_openssl(tmp_cert, tmp_key)
        else:
            _with_cryptography(tmp_cert, tmp_key)
        os.replace(tmp_key, key)
        os.replace(tmp_cert, cert)
    return cert, key


def run_sample(loop_name, seconds, quick):
    cert, key = certificate()
    return run_echo(["benchmarks.servers.echo", "--kind", "protocol", "--tls", cert, key],
                    loop_name, seconds, quick, CONNS, MSG_SIZE,
                    client_cmd=[sys.executable, "-m", "benchmarks.tls_client"],
                    # The Python client needs longer to connect and settle.
                    warmup=0.5 if quick else 1.0)


cleanup = _files.cleanup
