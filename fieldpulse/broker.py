"""Starting an MQTT broker for the one-machine set-up, the demo and the tests.

Mosquitto is run as a child process with a generated configuration. Queue
limits are set on purpose (MEASURED.md): Mosquitto's default of 1,000 queued
messages per client silently drops QoS 1 messages for a subscriber that falls
behind, and an unlimited queue grows until the machine runs out of memory.

Every client logs in: anonymous clients are refused, the ACL keeps each gateway
to its own topics, and the username is the client id, so no account can take
over another's session (`fieldpulse.broker_accounts`). A TLS listener is added
when given a certificate (`fieldpulse provision tls`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from fieldpulse.broker_accounts import MOSQUITTO_SETTINGS, BrokerAccounts
from foundations.processes import free_port, kill, terminate, wait_for_port

# Sized for an ingest restart of several minutes under a full demo fleet, and
# bounded in bytes so a long outage cannot exhaust memory.
MAX_QUEUED_MESSAGES = 200_000
MAX_QUEUED_BYTES = 512 * 1024 * 1024


# Listener addresses that 127.0.0.1 reaches (to wait for them at start).
LOOPBACK_REACHABLE = ("127.0.0.1", "localhost", "0.0.0.0", "::")


class BrokerError(RuntimeError):
    pass



def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )


@dataclass(frozen=True, slots=True)
class TlsListener:
    """A listener speaking MQTT over TLS with this certificate (`fieldpulse provision tls`)."""

    host: str
    port: int
    cert_file: Path
    key_file: Path


def mosquitto_config(port: int, data_dir: Path, accounts: BrokerAccounts, extra: str = "",
                     tls: TlsListener | None = None) -> str:
    tls_lines = [] if tls is None else [
        f"listener {tls.port} {tls.host}",
        f"certfile {tls.cert_file}",
        f"keyfile {tls.key_file}",
        "tls_version tlsv1.2",  # the oldest accepted
    ]
    return "\n".join([
        f"listener {port} 127.0.0.1",
        *tls_lines,
        *MOSQUITTO_SETTINGS,
        f"password_file {accounts.password_file}",
        f"acl_file {accounts.acl_file}",
        # Started as root (CI, sessions), Mosquitto would drop to the `mosquitto` user,
        # which cannot write into a root-owned temp dir: no persistence, no log, and
        # sessions silently lost on restart. Stay the user that started it.
        *(["user root"] if os.geteuid() == 0 else []),
        "persistence true",
        f"persistence_location {data_dir}/",
        "autosave_interval 10",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        "max_inflight_messages 100",
        # MQTT 3 clients' sessions expire too, so a vanished consumer cannot
        # make the broker queue for it forever.
        "persistent_client_expiration 1d",
        f"log_dest file {data_dir}/mosquitto.log",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        extra,
        "",
    ])



@dataclass
class MosquittoBroker:
    """A Mosquitto child process on loopback, with its config and data in `data_dir`.

    Its accounts (`BrokerAccounts`) are kept in `accounts_dir`, by default `data_dir`
    (where `fieldpulse provision --dir` finds them); with none, nobody gets in."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = None
    accounts_dir: Path | None = None
    tls: TlsListener | None = None

    @property
    def accounts(self) -> BrokerAccounts:
        return BrokerAccounts(self.accounts_dir or self.data_dir)

    def start(self) -> MosquittoBroker:
        binary = find_mosquitto()
        if binary is None:
            raise BrokerError("no mosquitto binary found: install it (apt-get install mosquitto)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        accounts = self.accounts
        accounts.write_broker_files()
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(mosquitto_config(self.port, self.data_dir, accounts, self.extra_config,
                                         self.tls))
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_port(self.port)
            if self.tls is not None and self.tls.host in LOOPBACK_REACHABLE:
                wait_for_port(self.tls.port)
        except TimeoutError:
            self.process.kill()
            err = self.process.stderr.read().decode() if self.process.stderr else ""
            raise BrokerError(f"mosquitto did not start: {err.strip()}") from None
        # Beside the accounts: `fieldpulse provision` signals this broker to reload them.
        accounts.pid_file.write_text(f"{self.process.pid}\n")
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.accounts.pid_file.unlink(missing_ok=True)

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files; connected clients stay."""
        if self.process is None or self.process.poll() is not None:
            raise BrokerError("mosquitto is not running")
        self.process.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        kill(self.process)

    def log(self) -> str:
        path = self.data_dir / "mosquitto.log"
        return path.read_text() if path.exists() else ""
