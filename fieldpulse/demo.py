"""`fieldpulse demo`: the whole system with a simulated fleet, on embedded defaults.

Builds a fleet around Munich, seeds the registry, starts a broker with an
account per gateway (passwords owner-only in the data directory), writes QR
codes, starts the cloud side in this process and one edge-agent process per
gateway, each logging in with its own account, then serves the portal until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from fieldpulse.broker_accounts import BrokerAccounts
from fieldpulse.fleet_import import import_fleet
from fieldpulse.parts import open_database
from fieldpulse.runner import start_broker
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem, wait_for_signal
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.accounts import create_user, issue_api_token
from portal.qr_codes import customer_url, write_qr_codes
from simulators.faults import Fault, demo_engineer, fault_schedule, write_labels
from simulators.fleet import Fleet, generate_fleet

SEED = 7
# The demo's service desk, as a customer with a code that is not valid is told.
DEMO_SUPPORT_CONTACT = "service@fieldpulse.example, +49 89 1234 5678"
TOKEN_FILE = "demo-token.txt"  # in the working directory, git-ignored
CREDENTIALS_FILE = "demo-credentials.txt"  # in the data directory, git-ignored


def _write_secret(path: Path, text: str) -> None:
    # Readable by the owner only, created so from the start.
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def create_demo_users(engine: Engine, engineer_id: str) -> tuple[list[tuple[str, str, str]], str]:
    """One user per role with a random password, and an admin API token.

    Returns [(username, role, password)] and the token; none of it is stored in plain.
    """
    with session_scope(engine) as session:
        accounts = []
        for username, role, engineer in (("admin", "admin", None),
                                         ("dispatcher", "dispatcher", None),
                                         ("engineer", "engineer", engineer_id)):
            user, password = create_user(session, username, role, engineer_id=engineer)
            accounts.append((username, role, password))
            if role == "admin":
                _, token = issue_api_token(session, user, "demo")
    return accounts, token


def _gateway_configs(fleet: Fleet, data_dir: Path, broker_port: int,
                     accounts: BrokerAccounts) -> list[Path]:
    fleet_file = data_dir / "fleet.json"
    fleet_file.write_text(json.dumps(fleet.to_dict(), indent=1))
    paths = []
    for gateway in fleet.gateways:
        path = data_dir / "gateways" / f"{gateway.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "gateway_id": gateway.id,
            "state_dir": str(data_dir / "gateways" / gateway.id),
            # Its own account; the password stays in its owner-only file.
            "broker": {"host": "127.0.0.1", "port": broker_port, "reconnect_max_s": 10.0,
                       "username": gateway.id,
                       "password_file": str(accounts.credential_file(gateway.id))},
            "sampling": {"sample_period_s": 1.0, "batch_max_readings": 100,
                         "batch_max_age_s": 2.0},
            "outbox": {"max_bytes": 16 * 1024 * 1024},
            "driver": {"fleet": str(fleet_file), "faults": str(data_dir / "faults.jsonl"),
                       "seed": SEED},
        }, indent=1))
        paths.append(path)
    return paths


def _start_gateways(stack: ExitStack, configs: list[Path], log_dir: Path) -> None:
    procs = []
    for config in configs:
        log = (log_dir / f"{config.stem}.log").open("w")
        stack.callback(log.close)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "fieldpulse", "simulate", "gateway", str(config)],
            stdout=log, stderr=subprocess.STDOUT,
        ))

    def stop_all() -> None:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    stack.callback(stop_all)


def run_demo(data_dir: Path, qr_dir: Path, port: int, sites: int, tile_url: str,
             console: Console) -> None:
    data_dir = data_dir.resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)  # every demo starts from a clean, known fleet
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir, http_port=port, tile_url=tile_url,
                        support_contact=DEMO_SUPPORT_CONTACT,
                        qr_dir=qr_dir.resolve())
    with ExitStack() as stack:
        fleet = generate_fleet(seed=SEED, sites=sites)
        engine = open_database(settings)
        tokens = import_fleet(engine, fleet)
        # After the import: every gateway of the fleet gets its account.
        broker, commands = start_broker(stack, settings, engine, console)
        system = CloudSystem(settings, broker, engine=engine, commands_broker=commands)
        written = write_qr_codes(tokens.items(), settings.base_url, qr_dir.resolve())
        faults = fault_schedule(fleet, start_ms=now_ms(), seed=SEED,
                                first_after_s=15)
        # The engineer account is one who can take the faults' work now (not simply
        # the first engineer, whose skills and shift may fit none of it).
        engineer = next(e for e in fleet.engineers if e.id == demo_engineer(
            fleet, faults, datetime.now(ZoneInfo(fleet.city.tz))))
        accounts, api_token = create_demo_users(system.engine, engineer.id)
        _write_secret(Path(TOKEN_FILE).resolve(), api_token + "\n")
        _write_secret(data_dir / CREDENTIALS_FILE,
                      "".join(f"{u}\t{r}\t{p}\n" for u, r, p in accounts))

        write_labels(faults, data_dir / "faults.jsonl")
        system.start()
        stack.callback(system.stop)
        configs = _gateway_configs(fleet, data_dir, broker.port,
                                   BrokerAccounts(data_dir / "broker"))
        _start_gateways(stack, configs, data_dir / "gateways")

        _print_welcome(console, settings, fleet, tokens, qr_dir.resolve(), written, faults,
                       data_dir)
        _print_accounts(console, accounts, data_dir, engineer.name)
        wait_for_signal()


def _print_welcome(console: Console, settings: Settings, fleet: Fleet, tokens: dict[str, str],
                   qr_dir: Path, written: int, faults: list[Fault], data_dir: Path) -> None:
    base = settings.base_url
    console.rule("[bold]FieldPulse demo")
    console.print(f"{len(fleet.devices)} simulated devices at {len(fleet.sites)} sites around "
                  f"{fleet.city.name}, {len(fleet.gateways)} gateways, "
                  f"{len(fleet.engineers)} engineers.")
    table = Table()
    table.add_column("page")
    table.add_column("URL", overflow="fold")  # never cut a token URL short
    table.add_row("Dispatcher map", f"{base}/dispatch")
    first = fleet.devices[0]
    table.add_row(f"Customer page ({first.serial})", customer_url(base, tokens[first.id]))
    for engineer in fleet.engineers:
        table.add_row(f"Engineer {engineer.name}", f"{base}/engineer/{engineer.id}")
    table.add_row("API docs", f"{base}/docs")
    console.print(table)
    console.print(f"QR codes for {written} devices (SVG and PNG): {qr_dir}")
    console.print(f"Injected faults (labels in {data_dir / 'faults.jsonl'}): the first start in "
                  f"~15 s on {', '.join(sorted({f.device_id for f in faults[:2]}))}.")


def _print_accounts(console: Console, accounts: list[tuple[str, str, str]], data_dir: Path,
                    engineer_name: str) -> None:
    table = Table(title="Log in at /login (passwords are new every run)")
    for column in ("user", "role", "password"):
        table.add_column(column)
    for username, role, password in accounts:
        table.add_row(username, role + (f" ({engineer_name})" if role == "engineer" else ""),
                      password)
    console.print(table)
    console.print(f"Also in {data_dir / CREDENTIALS_FILE}; an admin API token for "
                  f"'Authorization: Bearer' is in {Path(TOKEN_FILE).resolve()}.")
    console.print("Press Ctrl-C to stop.")
