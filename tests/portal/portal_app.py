"""A portal app over a seeded SQLite database, without broker or background threads:
for the access-control tests, which call it in-process through TestClient."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.catalog import DeviceModel, load_models
from asset_registry.tables import Device, Site
from dispatch.dispatcher import Dispatcher
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from ingest.telemetry_store import SqlTelemetryStore
from integrations.webhooks.targets import TargetPolicy
from notifications.alert_notices import record_alert_notice
from portal.app import create_app
from portal.auth.accounts import create_user, issue_api_token
from portal.auth.ratelimit import RateLimiter
from portal.auth.tables import PortalUser
from portal.context import PortalContext
from rules.service import RulesService
from rules.tables import Alert
from service.cases import open_case
from service.job_reports import add_photo
from service.tables import WorkOrder
from simulators.fleet import Fleet
from support import Account, make_account

MODELS = load_models()
# The smallest valid PNG (1 x 1 pixel): a photo or a signature for the tests.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@dataclass
class Portal:
    app: FastAPI
    engine: Engine
    fleet: Fleet
    tokens: dict[str, str]  # device id -> QR token
    qr_dir: Path
    uploads_dir: Path
    accounts: dict[str, Account] = field(default_factory=dict)
    _serial: itertools.count = field(default_factory=itertools.count)

    def device(self, name: str) -> Device:
        """'A' (the customer's), 'B' (another customer's), 'C' (for QR rotation)."""
        with Session(self.engine) as session:
            devices = session.exec(select(Device, Site).join(Site).order_by(Device.id)).all()
        a, a_site = devices[0]
        others = [d for d, s in devices if s.customer_id != a_site.customer_id]
        return {"A": a, "B": others[0], "C": others[1]}[name]

    def engineer_id(self, which: str) -> str:
        """'own': the engineer of the 'engineer_own' account; 'other': someone else."""
        return self.fleet.engineers[0 if which == "own" else 1].id

    def next_serial(self) -> int:
        return next(self._serial)

    def new_alert(self, device_id: str) -> int:
        """A fresh open alert (its own rule id, so the one-open-alert index allows it)."""
        with session_scope(self.engine) as session:
            alert = Alert(device_id=device_id, rule_id=f"test-{self.next_serial()}",
                          metric="tds_ppm", severity="high", message="test alert",
                          raised_at=1, raised_value=1.0)
            session.add(alert)
            session.flush()
            assert alert.id is not None
            return alert.id

    def new_job(self, device_id: str, engineer_id: str, status: str = "assigned") -> int:
        """A work order of `engineer_id` (by default assigned, ready for 'en_route')."""
        with session_scope(self.engine) as session:
            _, order = open_case(session, device_id=device_id, source="alert", title="test job",
                                 skill="refrigeration", duration_min=30, priority=3)
            order.engineer_id, order.status = engineer_id, status
            session.add(order)
            session.flush()
            assert order.id is not None
            return order.id

    def new_photo(self, engineer_id: str) -> tuple[int, str]:
        """A job of `engineer_id` whose report holds one stored photo: (order id, file)."""
        order_id = self.new_job(self.device("B").id, engineer_id)
        name = f"photo-{self.next_serial()}.png"
        folder = self.uploads_dir / "work-orders" / str(order_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(PNG)
        with session_scope(self.engine) as session:
            add_photo(session, session.get(WorkOrder, order_id), name, 1)
        return order_id, name

    def _issue(self, username: str) -> tuple[int, str]:
        with session_scope(self.engine) as session:
            user = session.exec(select(PortalUser).where(PortalUser.username == username)).one()
            token, plain = issue_api_token(session, user, "tests")
            assert token.id is not None
            return token.id, plain

    def new_token_of(self, username: str) -> int:
        return self._issue(username)[0]

    def fresh_headers(self, caller: str) -> dict[str, str]:
        """A new API token of one of `accounts`: for tests that may revoke tokens."""
        return {"Authorization": f"Bearer {self._issue(self.accounts[caller].username)[1]}"}

    def new_login(self) -> Account:
        """A user to log in with (POST /login)."""
        with session_scope(self.engine) as session:
            user, password = create_user(session, f"login-{self.next_serial()}", "dispatcher")
        return Account(user.username, password, "")


def build_portal(tmp: Path, fleet: Fleet, public_limiter: RateLimiter | None = None,
                 models: dict[str, DeviceModel] | None = None) -> Portal:
    """`models`: a copy for tests that edit the parts catalogue (MODELS is shared)."""
    engine = make_engine(f"sqlite:///{tmp / 'portal.db'}")
    upgrade(engine)
    tokens = import_fleet(engine, fleet)
    models = MODELS if models is None else models
    rules = RulesService(engine, models, lambda _session, _request: 0,
                         record_notice=record_alert_notice)
    # Not started: proposals are solved on request only (briefly: these tests judge access).
    dispatcher = Dispatcher(engine, ZoneInfo("Europe/Berlin"), time_limit_s=0.2)
    ctx = PortalContext(engine=engine, models=models, rules=rules, qr_dir=tmp / "qr",
                        dispatcher=dispatcher,
                        uploads_dir=tmp / "uploads", telemetry=SqlTelemetryStore(engine),
                        public_limiter=public_limiter or RateLimiter(1000.0, 10_000),
                        login_limiter=RateLimiter(1000.0, 10_000),
                        # The tests' webhook receivers listen on loopback.
                        webhook_targets=TargetPolicy(("127.0.0.1/32",)))
    portal = Portal(create_app(ctx), engine, fleet, tokens, tmp / "qr", tmp / "uploads")
    portal.accounts = {
        "admin": make_account(engine, "admin"),
        "dispatcher": make_account(engine, "dispatcher"),
        "engineer_own": make_account(engine, "engineer", portal.engineer_id("own")),
        "engineer_other": make_account(engine, "engineer", portal.engineer_id("other")),
    }
    return portal
