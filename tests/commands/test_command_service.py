"""The command service on a database built by the migrations: what acks, retries and
deadlines do to a command, whatever order the network delivers them in."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from asset_registry.catalog import load_models
from commands import service
from commands.service import Caller
from commands.tables import DeviceCommand
from fieldpulse.fleet_import import import_fleet
from fieldpulse.parts import open_database
from fieldpulse.settings import Settings
from foundations.database import session_scope
from simulators.fleet import Fleet

MODELS = load_models()
T0 = 1_800_000_000_000
RETRY_MS = 5000


@pytest.fixture
def engine(tmp_path: Path, small_fleet: Fleet) -> Engine:
    engine = open_database(Settings(data_dir=tmp_path / "data"))
    import_fleet(engine, small_fleet)
    return engine


def new(engine: Engine, fleet: Fleet, expires_in_s: float = 60) -> tuple[str, str]:
    device = fleet.devices[0]
    with session_scope(engine) as session:
        command = service.create_command(
            session, MODELS, Caller("d", "dispatcher"), device.id, "read_now",
            {"metrics": [sorted(MODELS[device.model_id].attributes)[0]]}, expires_in_s, T0)
        return command.id, command.gateway_id


def sent(engine: Engine, online: set[str], now: int) -> list[str]:
    """What the link would publish at `now`, marked sent."""
    with session_scope(engine) as session:
        service.expire_due(session, now)
        due = service.due_for_sending(session, online, now)
        for command in due:
            service.mark_sent(session, command, now, RETRY_MS)
        return [c.id for c in due]


def ack(engine: Engine, gateway_id: str, doc: dict, now: int) -> str | None:
    with session_scope(engine) as session:
        return service.record_ack(session, gateway_id, {"v": 1, **doc}, now)


def state(engine: Engine, command_id: str) -> tuple[str, list[str], DeviceCommand]:
    with Session(engine) as session:
        command = session.get(DeviceCommand, command_id)
        assert command is not None
        return (command.status, [e.status for e in service.history(session, command_id)],
                command)


def test_held_while_offline_then_resent_until_the_receipt(engine, small_fleet) -> None:
    command_id, gw = new(engine, small_fleet)
    assert sent(engine, set(), T0) == []  # its gateway is offline
    assert sent(engine, {"gw-elsewhere"}, T0) == []
    assert sent(engine, {gw}, T0 + 1) == [command_id]
    assert sent(engine, {gw}, T0 + 2) == []  # not again before the retry is due
    assert sent(engine, {gw}, T0 + 1 + RETRY_MS) == [command_id]  # no receipt: again
    assert ack(engine, gw, {"id": command_id, "ok": True, "stage": "received"},
               T0 + 6000) == "delivered"
    assert sent(engine, {gw}, T0 + 20_000) == []  # received: never sent again
    status, history, command = state(engine, command_id)
    assert (status, history, command.attempts) == (
        "delivered", ["queued", "sent", "sent", "delivered"], 2)
    wire = orjson.loads(service.wire_payload(command))
    assert wire["id"] == command_id and wire["expires"] == T0 + 60_000


def test_an_answer_that_overtakes_the_receipt_counts_and_the_receipt_changes_nothing(
        engine, small_fleet) -> None:
    command_id, gw = new(engine, small_fleet)
    sent(engine, {gw}, T0)
    result = {"dev": "d", "ts": T0, "values": {"x": 1.5}}
    assert ack(engine, gw, {"id": command_id, "ok": True, "result": result}, T0 + 1) == \
        "succeeded"
    assert ack(engine, gw, {"id": command_id, "ok": True, "stage": "received"}, T0 + 2) is None
    assert ack(engine, gw, {"id": command_id, "ok": False, "error": "again"}, T0 + 3) is None
    status, history, command = state(engine, command_id)
    assert status == "succeeded" and history == ["queued", "sent", "succeeded"]
    assert orjson.loads(command.result or "null") == result and command.error is None


def test_only_the_commands_own_gateway_can_answer_it(engine, small_fleet) -> None:
    command_id, gw = new(engine, small_fleet)
    sent(engine, {gw}, T0)
    assert ack(engine, "gw-other", {"id": command_id, "ok": False, "error": "x"}, T0) is None
    assert ack(engine, gw, {"id": "c-unknown", "ok": True}, T0) is None
    assert state(engine, command_id)[0] == "sent"


def test_the_deadline_expires_it_whatever_its_stage_and_a_late_answer_is_ignored(
        engine, small_fleet) -> None:
    delivered_id, gw = new(engine, small_fleet, expires_in_s=10)
    sent(engine, {gw}, T0)
    ack(engine, gw, {"id": delivered_id, "ok": True, "stage": "received"}, T0 + 1)
    queued_id, _ = new(engine, small_fleet, expires_in_s=10)  # its gateway went offline
    assert sent(engine, {gw}, T0 + 10_000) == []  # at the deadline: expired, not sent
    assert state(engine, queued_id)[1] == ["queued", "expired"]
    assert state(engine, delivered_id)[1] == ["queued", "sent", "delivered", "expired"]
    assert ack(engine, gw, {"id": delivered_id, "ok": True, "result": {}}, T0 + 11_000) is None
    assert state(engine, delivered_id)[0] == "expired"


def test_a_command_sent_from_an_alert_puts_each_step_on_the_alerts_trail(
        engine, small_fleet) -> None:
    from sqlmodel import col, select

    from commands.service import CommandError
    from rules.tables import Alert, AlertEvent

    mine, other = small_fleet.devices[0], small_fleet.devices[-1]
    metric = sorted(MODELS[mine.model_id].attributes)[0]
    with session_scope(engine) as session:
        alerts = [Alert(device_id=d.id, rule_id="r", metric=metric, severity="high",
                        message="m", raised_at=T0, raised_value=1.0) for d in (mine, other)]
        session.add_all(alerts)
        session.flush()
        own_alert, other_alert = (a.id for a in alerts)
    with session_scope(engine) as session, pytest.raises(CommandError, match="not an alert"):
        service.create_command(session, MODELS, Caller("d", "dispatcher"), mine.id,
                               "read_now", {"metrics": [metric]}, 60, T0, other_alert)
    with session_scope(engine) as session:
        command = service.create_command(session, MODELS, Caller("d", "dispatcher"), mine.id,
                                         "read_now", {"metrics": [metric]}, 60, T0, own_alert)
        command_id, gateway_id = command.id, command.gateway_id
    sent(engine, {gateway_id}, T0 + 1)
    ack(engine, gateway_id, {"id": command_id, "ok": True, "stage": "received"}, T0 + 2)
    ack(engine, gateway_id, {"id": command_id, "ok": True, "result": {}}, T0 + 3)
    with Session(engine) as session:
        trail = session.exec(select(AlertEvent).where(AlertEvent.alert_id == own_alert)
                             .order_by(col(AlertEvent.id))).all()
        assert [e.note.split(" (")[0] for e in trail if e.action == "command"] == [
            "read_now queued", "read_now sent", "read_now delivered", "read_now succeeded"]
        assert all(command_id in e.note and e.by == "d" for e in trail)
        assert not session.exec(select(AlertEvent).where(
            AlertEvent.alert_id == other_alert)).all()  # the refusal left no trace
