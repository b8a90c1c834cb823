"""A CA and a server certificate for the broker's TLS listener (`fieldpulse provision tls`).

Made with the `openssl` command: it comes with every Debian/Raspberry Pi OS that
runs Mosquitto (the tests' machines install it), so this adds no Python
dependency (`cryptography` would be a compiled one, for a step done once per
deployment), and the commands are the ones an operator already knows to
inspect or replace the files. Keys are EC P-256, which Mosquitto, paho and the
TLS stacks of embedded gateways (mbedTLS, wolfSSL) all speak.

The CA is made once and kept (gateways carry its certificate as `ca_file`);
the server certificate can be made anew at any time, for more names or when it
nears its end, without touching a gateway.
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foundations.files import PRIVATE_FILE, private_dir

CA_DAYS = 3650
# Always in the server certificate: the built-in broker listens on loopback too.
LOCAL_NAMES = ("localhost", "127.0.0.1")


class TlsError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: Path  # what gateways verify the broker with
    cert_file: Path  # the broker's certificate, signed by the CA
    key_file: Path  # the broker's private key (owner-only)
    names: tuple[str, ...]  # the host names and addresses the certificate is valid for


def tls_files(directory: Path) -> TlsFiles:
    """Where `make_server_certificate` keeps its files in `directory`."""
    return TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key",
                    ())


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise TlsError("no openssl command found: install it (apt-get install openssl)")
    done = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _san(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"DNS:{name}"
    return f"IP:{name}"


def make_server_certificate(directory: Path, hosts: Sequence[str], days: int = 825
                            ) -> TlsFiles:
    """The CA in `directory` (made if missing) and a new server certificate it signs for
    `hosts` plus localhost and 127.0.0.1; private keys owner-only in an owner-only dir."""
    private_dir(directory)
    files = tls_files(directory)
    ca_key = directory / "ca.key"
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    if not files.ca_file.exists() or not ca_key.exists():
        _openssl("req", "-x509", *key, "-days", str(CA_DAYS), "-subj",
                 "/CN=FieldPulse broker CA", "-keyout", str(ca_key), "-out",
                 str(files.ca_file), "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    names = tuple(dict.fromkeys([*hosts, *LOCAL_NAMES]))
    request = directory / "server.csr"
    extensions = directory / "server.ext"
    extensions.write_text(f"subjectAltName={','.join(_san(n) for n in names)}\n"
                          "basicConstraints=critical,CA:FALSE\n"
                          "keyUsage=critical,digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage=serverAuth\n")
    try:
        _openssl("req", "-new", *key, "-subj", f"/CN={names[0]}", "-keyout",
                 str(files.key_file), "-out", str(request))
        _openssl("x509", "-req", "-in", str(request), "-CA", str(files.ca_file), "-CAkey",
                 str(ca_key), "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(days),
                 "-extfile", str(extensions), "-out", str(files.cert_file))
    finally:
        request.unlink(missing_ok=True)
        extensions.unlink(missing_ok=True)
    for private in (ca_key, files.key_file):
        private.chmod(PRIVATE_FILE)
    return TlsFiles(files.ca_file, files.cert_file, files.key_file, names)
