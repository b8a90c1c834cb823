"""The one settings object. Built by the CLI and passed to every component."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # None: start our own broker; otherwise connect to this one.
    broker_host: str | None = None
    broker_port: int = 1883
    database_url: str | None = None  # default: SQLite file in data_dir
    # Leaflet tile URL template; empty = no background tiles (works offline).
    tile_url: str = ""
    # How customers reach the service desk (shown when a QR code is not valid).
    support_contact: str = ""
    # Where rotated device QR codes are written (None: only returned through the API).
    qr_dir: Path | None = None
    timezone: str = "Europe/Berlin"
    dispatch_time_limit_s: float = 2.0
    # Periodic re-plans are proposed for review instead of taking effect at once.
    dispatch_review: bool = False
    # How plans mind the parts a job needs: "prefer" an engineer whose van carries
    # them, "require" one (else the job waits), or "ignore" them (parts-blind).
    dispatch_parts: str = "prefer"
    # Telemetry store: "sql" (readings in the relational database) or
    # "victoriametrics" (line protocol to `victoriametrics_url`).
    telemetry_backend: str = "sql"
    victoriametrics_url: str = ""
    # This process's share of the gateways when several ingest processes run.
    ingest_partition: int = 0
    ingest_partitions: int = 1
    # A device silent this long is shown offline (0: only the gateway's status counts).
    device_stale_after_s: float = 300.0
    # SQL telemetry: raw readings kept this long, then hourly rollups (0: keep raw forever).
    telemetry_raw_retention_days: float = 30.0
    telemetry_rollup_retention_days: float = 730.0
    # Notifications by e-mail through this SMTP server (None: written to the log).
    # The password, if any, comes from $FIELDPULSE_SMTP_PASSWORD, never from a file.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "fieldpulse@localhost"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    # Who the "supervisor" audience of the rules is reached at.
    supervisor_email: str = ""
    # A background worker that failed is restarted after this, doubling per failure.
    restart_backoff_s: float = 1.0
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto the portal
    # believes; empty: nobody's (the peer address is the client, for rate limits).
    trusted_proxies: tuple[str, ...] = ()
    # Networks webhooks may reach although not public (loopback, private, ...);
    # empty: public addresses only.
    webhook_allowed_networks: tuple[str, ...] = ()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'fieldpulse.db'}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"
