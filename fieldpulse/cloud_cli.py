"""The cloud side's commands: the demo, the one-machine run, the database, simulators.

Kept apart from `fieldpulse.cli` so a gateway installs only what the edge agent
needs (`pip install fieldpulse`): `fieldpulse.cli` names these (it does not
import them) and they load when run, with `pip install fieldpulse[cloud]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldpulse.cli_common import DatabaseUrl, DataDir, console, database_engine, setup_logging

TileUrl = Annotated[str, typer.Option(
    help="Leaflet tile URL template, e.g. https://tile.example/{z}/{x}/{y}.png "
         "(empty: the map works without background tiles).")]
Port = Annotated[int, typer.Option(help="HTTP port of the portal.")]

simulate_app = typer.Typer(help="Simulated gateways and fleets (demo, load and accuracy tests).",
                           no_args_is_help=True)
db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)


def demo(
    port: Port = 8000,
    data_dir: DataDir = Path("demo-data"),
    qr_dir: Annotated[Path, typer.Option(help="Where device QR codes are written.")] = Path("qr"),
    sites: Annotated[int, typer.Option(help="Customer sites in the simulated fleet.")] = 12,
    tile_url: TileUrl = "",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole system with a simulated fleet until stopped (Ctrl-C)."""
    from fieldpulse.demo import run_demo  # simulators are loaded only for the demo

    setup_logging(verbose)
    run_demo(data_dir=data_dir, qr_dir=qr_dir, port=port, sites=sites, tile_url=tile_url,
             console=console)


def run(
    port: Port = 8000,
    data_dir: DataDir = Path("var"),
    broker: Annotated[str | None, typer.Option(
        help="HOST:PORT of an MQTT broker to use instead of starting one.")] = None,
    broker_user: Annotated[str | None, typer.Option(
        help="The cloud's account on --broker (`fieldpulse provision cloud`); its password "
             "comes from $FIELDPULSE_BROKER_PASSWORD or --broker-password-file.")] = None,
    broker_password_file: Annotated[Path | None, typer.Option(
        help="A file holding --broker-user's password.")] = None,
    broker_tls: Annotated[bool, typer.Option(
        help="Speak TLS to --broker and verify it with the system's CA certificates.")
    ] = False,
    broker_ca_file: Annotated[Path | None, typer.Option(
        help="Speak TLS to --broker and verify it with this CA certificate.")] = None,
    broker_cert_file: Annotated[Path | None, typer.Option(
        help="Client certificate for --broker, if it asks for one (with --broker-key-file).")
    ] = None,
    broker_key_file: Annotated[Path | None, typer.Option(
        help="Private key of --broker-cert-file.")] = None,
    commands_password_file: Annotated[Path | None, typer.Option(
        help="With --broker: the password of the command link's own account there, "
             "fieldpulse-commands (`fieldpulse provision cloud --name fieldpulse-commands`); "
             "TLS as for --broker-user. Without it, commands sent through the portal wait, "
             "unsent.")] = None,
    mqtt_tls: Annotated[str | None, typer.Option(
        help="HOST:PORT on which the built-in broker also speaks MQTT over TLS, e.g. "
             "0.0.0.0:8883 (certificate: `fieldpulse provision tls --dir DATA_DIR/broker`, "
             "made for this host if missing).")] = None,
    tile_url: TileUrl = "",
    smtp: Annotated[str | None, typer.Option(
        help="HOST:PORT of the SMTP server notifications go out through "
             "(default: they are written to the log). Password: $FIELDPULSE_SMTP_PASSWORD."
    )] = None,
    smtp_from: Annotated[str, typer.Option(help="Sender address of notifications.")
                         ] = "fieldpulse@localhost",
    smtp_user: Annotated[str | None, typer.Option(help="SMTP login name.")] = None,
    smtp_starttls: Annotated[bool, typer.Option(help="Upgrade the SMTP connection to TLS.")
                             ] = False,
    supervisor_email: Annotated[str, typer.Option(
        help="Where the service supervisor's notifications go.")] = "",
    support_contact: Annotated[str, typer.Option(
        help="How customers reach the service desk (phone or e-mail), shown on the page "
             "a QR code that is not valid opens.")] = "",
    review_plans: Annotated[bool, typer.Option(
        help="Periodic re-plans wait for a dispatcher to accept them in the console "
             "(emergencies still go in at once).")] = False,
    parts: Annotated[str, typer.Option(
        help="How plans mind the parts a job needs: 'prefer' an engineer whose van "
             "carries them, 'require' one, or 'ignore' them.")] = "prefer",
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        help="A reverse proxy (address or network) whose X-Forwarded-For/-Proto the portal "
             "believes; repeat for several. Default: none, the peer is the client.")] = None,
    webhook_allow: Annotated[list[str] | None, typer.Option(
        help="A network webhooks may reach although it is not public (e.g. 10.20.0.0/16 "
             "for a CRM on the LAN); repeat for several. Default: public addresses only.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the cloud side (ingest, rules, dispatch, portal) on one machine."""
    from dataclasses import replace

    from commands.link import COMMANDS_CLIENT
    from fieldpulse.broker_setup import BrokerLogin, split_host_port
    from fieldpulse.runner import run_cloud

    setup_logging(verbose)
    login = BrokerLogin(broker_user, broker_password_file, broker_tls, broker_ca_file,
                        broker_cert_file, broker_key_file)
    try:
        if broker is None and login != BrokerLogin():
            raise ValueError("--broker-user, --broker-password-file, --broker-tls and the "
                             "--broker-*-file options are for an external broker (--broker)")
        if broker is not None and mqtt_tls is not None:
            raise ValueError("--mqtt-tls is for the built-in broker, not with --broker")
        address = None if broker is None else login.address(broker)
        commands = None
        if commands_password_file is not None:
            if broker is None:
                raise ValueError("--commands-password-file is for an external broker "
                                 "(--broker); the built-in one makes the account itself")
            commands = replace(login, username=COMMANDS_CLIENT,
                               password_file=commands_password_file).address(broker)
        tls_at = None if mqtt_tls is None else split_host_port(mqtt_tls, "--mqtt-tls")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    mail = {}
    if smtp:
        host, _, smtp_port = smtp.rpartition(":")
        if not host or not smtp_port.isdigit():
            raise typer.BadParameter(f"expected HOST:PORT, got '{smtp}'", param_hint="--smtp")
        mail = {"smtp_host": host, "smtp_port": int(smtp_port)}
    run_cloud(data_dir=data_dir, port=port, broker=address, mqtt_tls=tls_at, tile_url=tile_url,
              console=console, commands_broker=commands,
              smtp_from=smtp_from, smtp_user=smtp_user, smtp_starttls=smtp_starttls,
              supervisor_email=supervisor_email, dispatch_review=review_plans,
              dispatch_parts=parts,
              support_contact=support_contact,
              trusted_proxies=tuple(trusted_proxy or ()),
              webhook_allowed_networks=tuple(webhook_allow or ()), **mail)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None) -> None:
    """Bring the database to the newest schema (every start does this too)."""
    from fieldpulse.schema import upgrade

    upgrade(database_engine(data_dir, database_url))
    console.print("database schema is up to date")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")],
    data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None,
) -> None:
    """Write the next migration from the difference between the database and the tables."""
    from fieldpulse.schema import new_revision, upgrade

    engine = database_engine(data_dir, database_url)
    upgrade(engine)
    new_revision(engine, message)


@simulate_app.command("gateway")
def simulate_gateway(
    config: Annotated[Path, typer.Argument(help="Gateway config JSON written by the demo.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one edge agent whose driver is the device simulator."""
    from simulators.gateway_process import run_gateway

    setup_logging(verbose)
    run_gateway(config)
