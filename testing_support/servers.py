"""Throwaway PostgreSQL and VictoriaMetrics processes on free loopback ports.

Used by the tests and by `fieldpulse bench ingest`: each server lives in a
temporary directory, can be killed with SIGKILL and started again on the same
port and data. PostgreSQL refuses to run as root, so when we are root the
cluster is created and run as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from foundations.processes import free_port, kill, terminate, wait_for_port

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")


class ServerError(RuntimeError):
    pass


def find_pg_bin() -> Path | None:
    found = next((Path(d) for d in PG_BIN_DIRS if Path(d, "initdb").exists()), None)
    on_path = shutil.which("initdb")
    return found or (Path(on_path).resolve().parent if on_path else None)


def find_victoria_metrics() -> str | None:
    return shutil.which("victoria-metrics") or shutil.which("victoria-metrics-prod")


def _as_postgres() -> dict:
    """Popen arguments that run the child as `postgres` when we are root.

    The child itself switches user before exec (no `runuser` in between), so the
    process we hold *is* the postmaster and SIGKILL reaches it.
    """
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": pw.pw_dir, "USER": "postgres"}}


def _postgres_dir() -> Path:
    """A fresh directory the server may use: pytest's and mkdtemp's are root-only (0700)."""
    path = Path(tempfile.mkdtemp(prefix="fieldpulse-pg-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in its own temporary directory, owned by `postgres` if we are root.

    `remove()` deletes the directory; until then `start()` after `kill()` reuses the data.
    """

    data_dir: Path = field(default_factory=_postgres_dir)
    port: int = field(default_factory=free_port)
    database: str = "fieldpulse"
    _bin: Path | None = None
    _process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        # Over TCP on loopback, trust auth: a throwaway cluster for tests and benchmarks.
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> PostgresServer:
        self._bin = find_pg_bin()
        if self._bin is None:
            raise ServerError("no PostgreSQL binaries found (apt-get install postgresql-15)")
        pgdata = self.data_dir / "pgdata"
        if not pgdata.exists():
            self._run([str(self._bin / "initdb"), "-D", str(pgdata), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--no-sync"])
        # After a SIGKILL the old backends hold the shared memory for a moment and the
        # new postmaster refuses to start: try again until they are gone.
        for _ in range(40):
            if self._launch(pgdata):
                break
            time.sleep(0.25)
        else:
            raise ServerError(f"PostgreSQL did not start on port {self.port}: {self.log()}")
        try:
            self._wait_ready()
        except ServerError:
            self.kill()
            raise
        return self

    def _launch(self, pgdata: Path) -> bool:
        log = (self.data_dir / "postgres.log").open("ab")
        self._process = subprocess.Popen(
            [str(self._bin / "postgres"), "-D", str(pgdata),
             "-p", str(self.port), "-k", str(self.data_dir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on",
             "-c", "synchronous_commit=on", "-c", "max_connections=50"],
            stdout=log, stderr=subprocess.STDOUT, **_as_postgres(),
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.05)
        self.kill()
        return False

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                     dbname="postgres", autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                          (self.database,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise ServerError(f"PostgreSQL on port {self.port} did not become ready: {self.log()}")

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.data_dir,
                              **_as_postgres())
        if done.returncode != 0:
            raise ServerError(f"{cmd[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends notice and exit."""
        kill(self._process)
        self._process = None

    def stop(self) -> None:
        # SIGTERM is PostgreSQL's fast shutdown (a smart one would wait for clients).
        terminate(self._process, timeout_s=20)
        self._process = None

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log(self) -> str:
        path = self.data_dir / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


@dataclass
class VictoriaMetricsServer:
    """A single-node VictoriaMetrics with its storage in `data_dir`."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    _process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetricsServer:
        binary = find_victoria_metrics()
        if binary is None:
            raise ServerError("no victoria-metrics binary (apt-get install victoria-metrics)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "victoria-metrics.log").open("ab")
        self._process = subprocess.Popen(
            [binary, f"-storageDataPath={self.data_dir / 'storage'}",
             f"-httpListenAddr=127.0.0.1:{self.port}",
             "-retentionPeriod=100y",
             # A redelivered batch writes the same samples again: keep one per ms.
             "-dedup.minScrapeInterval=1ms",
             # Serve just-written samples to range queries (default hides the last 30 s).
             "-search.latencyOffset=0s",
             "-search.disableCache"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for_port(self.port, timeout_s=30)
            self._wait_healthy()
        except Exception:
            self.kill()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise ServerError(f"VictoriaMetrics on port {self.port} is not healthy")

    def kill(self) -> None:
        kill(self._process)
        self._process = None

    def stop(self) -> None:
        terminate(self._process, timeout_s=20)
        self._process = None
