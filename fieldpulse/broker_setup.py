"""The broker as the cloud uses it: the built-in one it starts (`fieldpulse run` without
`--broker`, the demo, the tests' `cloud` fixture), or an external one it logs in to.

Built-in: before the cloud connects, every gateway of the registry gets an account
(its generated password kept owner-only in `<data>/broker/credentials/`, for
whoever installs that gateway; an account made earlier with `fieldpulse provision
gateway` is left as it is), and the cloud's own account gets a new password,
held in memory only. A gateway added later gets its account from `fieldpulse
provision gateway ID --dir <data>/broker`, which makes the running broker reload.

External (`--broker HOST:PORT`): the account with `--broker-user`, its password
from `$FIELDPULSE_BROKER_PASSWORD` or `--broker-password-file` (never a
command-line value, which `ps` shows), TLS with `--broker-ca-file` (or the
system's CAs with `--broker-tls`) and optionally a client certificate.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.tables import Gateway
from fieldpulse.broker import MosquittoBroker, TlsListener
from fieldpulse.broker_accounts import BrokerAccounts, gateway_id_problem
from fieldpulse.broker_tls import make_server_certificate, tls_files
from ingest.consumer import BrokerAddress

PASSWORD_ENV = "FIELDPULSE_BROKER_PASSWORD"

log = logging.getLogger("fieldpulse")


def registry_gateway_accounts(accounts: BrokerAccounts, engine: Engine) -> list[str]:
    """An account for every gateway of the registry that has none; its password goes to
    `accounts.credential_file(id)` (owner-only). Returns the gateways given one."""
    with Session(engine) as session:
        ids = session.exec(select(Gateway.id)).all()
    have = set(accounts.users())
    new = []
    for gateway_id in ids:
        problem = gateway_id_problem(gateway_id)
        if problem is not None:
            log.warning("event=gateway_without_account gateway=%s reason=%s", gateway_id,
                        problem)
        elif gateway_id not in have:
            new.append(gateway_id)
    passwords = accounts.provision_gateways(new) if new else {}
    for gateway_id, password in passwords.items():
        accounts.save_credential(gateway_id, password)
    return sorted(passwords)


def builtin_login(broker: MosquittoBroker, engine: Engine, client_id: str) -> BrokerAddress:
    """Accounts for the registry's gateways and a new password for the cloud's account
    `client_id` (the consumer's client id, so its session stays the one it had); a running
    broker is told to reload. Returns how the cloud logs in."""
    accounts = broker.accounts
    created = registry_gateway_accounts(accounts, engine)
    if created:
        log.info("event=gateway_accounts created=%d credentials=%s", len(created),
                 accounts.credentials_dir)
    password = accounts.provision_cloud(client_id)
    if broker.process is not None and broker.process.poll() is None:
        broker.reload()
    return BrokerAddress("127.0.0.1", broker.port, username=client_id, password=password)


def tls_listener(broker_dir: Path, host: str, port: int) -> TlsListener:
    """The built-in broker's TLS listener on `host`:`port`, with the certificate made by
    `fieldpulse provision tls` (made here, for this host, if there is none yet)."""
    files = tls_files(broker_dir / "tls")
    if not files.cert_file.exists():
        names = [n for n in (host, socket.gethostname()) if n not in ("0.0.0.0", "::", "")]
        files = make_server_certificate(broker_dir / "tls", names)
    return TlsListener(host, port, files.cert_file, files.key_file)


def split_host_port(value: str, option: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{option} must be HOST:PORT, got '{value}'")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class BrokerLogin:
    """How the cloud logs in to an external broker (`--broker-user` and the rest)."""

    username: str | None = None
    password_file: Path | None = None  # else $FIELDPULSE_BROKER_PASSWORD
    tls: bool = False  # implied by ca_file or a client certificate
    ca_file: Path | None = None  # None with tls: the system's CA certificates
    cert_file: Path | None = None
    key_file: Path | None = None

    def address(self, value: str, environ: Mapping[str, str] = os.environ) -> BrokerAddress:
        """The broker at HOST:PORT `value` with this login; ValueError says what is wrong."""
        host, port = split_host_port(value, "--broker")
        password = environ.get(PASSWORD_ENV) or None
        if self.password_file is not None:
            try:
                password = self.password_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"--broker-password-file: cannot read {self.password_file}: "
                                 f"{exc.strerror}") from None
        if self.username is None and self.password_file is not None:
            raise ValueError("--broker-password-file needs --broker-user")
        if self.username is not None and not password:
            raise ValueError(f"--broker-user needs a password: ${PASSWORD_ENV} or "
                             "--broker-password-file")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("--broker-cert-file and --broker-key-file go together")
        if self.username is None:
            log.warning("event=broker_without_account broker=%s (a broker that takes "
                        "anonymous clients lets anyone publish as any gateway)", value)
        return BrokerAddress(
            host, port, username=self.username, password=password if self.username else None,
            tls=self.tls or self.ca_file is not None or self.cert_file is not None,
            ca_file=self.ca_file, cert_file=self.cert_file, key_file=self.key_file)
