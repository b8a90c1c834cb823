"""Commands to devices: who may send which, checked against the device's model, and what
the gateways' answers do to them. The portal's router and the command link both call here.

Who may do what:
- dispatchers and admins: every command of the device's model, on every device;
- engineers: `diagnostic` (read-only) commands only, and only on a device of one of their
  own open jobs; they may read those devices' commands too, nobody else's.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel
from asset_registry.command_spec import CommandSpec, CommandSpecError, validate_params
from asset_registry.tables import Device
from commands import states
from commands.tables import DeviceCommand, DeviceCommandEvent
from rules.tables import Alert, AlertEvent
from service.tables import WorkOrder

DEFAULT_EXPIRES_S = 300
MAX_EXPIRES_S = 7 * 24 * 3600
STAFF = ("dispatcher", "admin")


class CommandError(Exception):
    """Refused; `status` is the HTTP status that fits (404, 403, 422)."""

    status = 422


class CommandNotFound(CommandError):
    status = 404


class CommandForbidden(CommandError):
    status = 403


@dataclass(frozen=True, slots=True)
class Caller:
    username: str
    role: str  # admin | dispatcher | engineer
    engineer_id: str | None = None


def new_command_id() -> str:
    """Unguessable and within the contract's id pattern ("c-" + 16 URL-safe characters)."""
    return "c-" + secrets.token_urlsafe(12)


def _on_own_job(session: Session, caller: Caller, device_id: str) -> bool:
    if caller.role in STAFF:
        return True
    if caller.role != "engineer" or caller.engineer_id is None:
        return False
    query = select(WorkOrder.id).where(
        WorkOrder.device_id == device_id, WorkOrder.engineer_id == caller.engineer_id,
        WorkOrder.status != "done").limit(1)
    return session.exec(query).first() is not None


def _device(session: Session, caller: Caller, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise CommandNotFound(f"no device '{device_id}'")
    if not _on_own_job(session, caller, device_id):
        raise CommandForbidden(f"device '{device_id}' is not on one of "
                               f"'{caller.username}''s open jobs")
    return device


def _event(session: Session, command: DeviceCommand, status: str, at: int,
           note: str = "") -> None:
    session.add(DeviceCommandEvent(command_id=command.id, status=status, at=at,
                                   note=note[:2000]))
    if command.alert_id is not None:  # the alert's trail tells the diagnosis too
        text = f"{command.name} {status} ({command.id})" + (f": {note}" if note else "")
        session.add(AlertEvent(alert_id=command.alert_id, action="command",
                               by=command.created_by, at=at, note=text[:2000]))


def create_command(session: Session, models: Mapping[str, DeviceModel], caller: Caller,
                   device_id: str, name: str, params: Mapping[str, Any],
                   expires_in_s: object, now: int, alert_id: int | None = None
                   ) -> DeviceCommand:
    """A new queued command (added to `session`; the caller commits), or CommandError.
    `alert_id`: the device's alert it was sent from."""
    device = _device(session, caller, device_id)
    if alert_id is not None:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.device_id != device.id:
            raise CommandError(f"alert {alert_id} is not an alert of device '{device.id}'")
    model = models.get(device.model_id)
    spec = model.commands.get(name) if model else None
    if model is None or spec is None:
        known = ", ".join(sorted(model.commands)) if model else ""
        raise CommandError(f"device model '{device.model_id}' has no command '{name}' "
                           f"(it has: {known or 'none'})")
    if not spec.read_only and caller.role not in STAFF:
        raise CommandForbidden(f"'{name}' changes the device ({spec.kind}): only dispatchers "
                               f"and admins may send it; '{caller.username}' is {caller.role}")
    if (isinstance(expires_in_s, bool) or not isinstance(expires_in_s, int | float)
            or not math.isfinite(expires_in_s) or not 1 <= expires_in_s <= MAX_EXPIRES_S):
        raise CommandError(f"expires_in_s must be a number of seconds from 1 to "
                           f"{MAX_EXPIRES_S}, got {expires_in_s!r}")
    try:
        clean = validate_params(spec, params, model.attributes)
    except CommandSpecError as exc:
        raise CommandError(str(exc)) from None
    command = DeviceCommand(
        id=new_command_id(), device_id=device.id, gateway_id=device.gateway_id, name=name,
        params=orjson.dumps(clean).decode(), status=states.QUEUED, created_by=caller.username,
        created_at=now, updated_at=now, expires_at=now + int(expires_in_s * 1000),
        next_send_at=now, alert_id=alert_id)
    session.add(command)
    session.flush()
    _event(session, command, states.QUEUED, now, f"by {caller.username}")
    return command


def available_commands(session: Session, models: Mapping[str, DeviceModel], caller: Caller,
                       device_id: str) -> tuple[DeviceModel | None, list[tuple[CommandSpec, bool]]]:
    """The device's model and its commands, each with whether `caller` may send it (the
    same rule as `create_command`: the console offers only what would be accepted)."""
    device = _device(session, caller, device_id)
    model = models.get(device.model_id)
    if model is None:
        return None, []
    return model, [(spec, spec.read_only or caller.role in STAFF)
                   for spec in model.commands.values()]


def command_for(session: Session, caller: Caller, command_id: str) -> DeviceCommand:
    command = session.get(DeviceCommand, command_id)
    if command is None:
        raise CommandNotFound(f"no command '{command_id}'")
    _device(session, caller, command.device_id)
    return command


def history(session: Session, command_id: str) -> list[DeviceCommandEvent]:
    query = select(DeviceCommandEvent).where(DeviceCommandEvent.command_id == command_id
                                             ).order_by(col(DeviceCommandEvent.id))
    return list(session.exec(query))


def device_commands(session: Session, caller: Caller, device_id: str,
                    limit: int = 100) -> list[DeviceCommand]:
    """The device's commands, newest first."""
    _device(session, caller, device_id)
    query = select(DeviceCommand).where(DeviceCommand.device_id == device_id).order_by(
        col(DeviceCommand.created_at).desc(), col(DeviceCommand.id)).limit(limit)
    return list(session.exec(query))


def case_commands(session: Session, device_id: str, opened_at: int, closed_at: int | None,
                  alert_id: int | None) -> list[DeviceCommand]:
    """The commands that belong to a case's story, oldest first: those sent to its device
    while the case was open (`closed_at` None: still open), and any sent from the alert
    that opened it."""
    during = col(DeviceCommand.created_at) >= opened_at
    if closed_at is not None:
        during = and_(during, col(DeviceCommand.created_at) <= closed_at)
    belongs = during if alert_id is None else or_(during, col(DeviceCommand.alert_id) == alert_id)
    query = select(DeviceCommand).where(DeviceCommand.device_id == device_id, belongs)
    return list(session.exec(query.order_by(col(DeviceCommand.created_at),
                                            col(DeviceCommand.id))))


# -- what the command link does ----------------------------------------------------------


def _move(session: Session, command: DeviceCommand, status: str, now: int,
          note: str = "") -> None:
    command.status = states.move(command.status, status)
    command.updated_at = now
    session.add(command)
    _event(session, command, status, now, note)


def expire_due(session: Session, now: int) -> list[str]:
    """Commands past their deadline and not final become expired; their ids."""
    query = select(DeviceCommand).where(
        col(DeviceCommand.status).in_((states.QUEUED, states.SENT, states.DELIVERED)),
        DeviceCommand.expires_at <= now)
    expired = list(session.exec(query))
    for command in expired:
        _move(session, command, states.EXPIRED, now,
              f"deadline passed while {command.status}")
    return [c.id for c in expired]


def due_for_sending(session: Session, online: Collection[str], now: int,
                    limit: int = 200) -> list[DeviceCommand]:
    """Commands the gateway has not acked receipt of, due to be (re)published, for the
    gateways in `online`, oldest first."""
    if not online:
        return []
    query = select(DeviceCommand).where(
        col(DeviceCommand.status).in_(states.UNDELIVERED),
        col(DeviceCommand.gateway_id).in_(list(online)),
        DeviceCommand.next_send_at <= now, DeviceCommand.expires_at > now,
    ).order_by(col(DeviceCommand.created_at), col(DeviceCommand.id)).limit(limit)
    return list(session.exec(query))


def mark_sent(session: Session, command: DeviceCommand, now: int, retry_ms: int) -> None:
    """About to be published: published again after `retry_ms` unless the receipt came."""
    command.attempts += 1
    command.next_send_at = now + retry_ms
    if command.status == states.QUEUED:
        _move(session, command, states.SENT, now, "attempt 1")
    else:
        command.updated_at = now
        session.add(command)
        _event(session, command, states.SENT, now, f"attempt {command.attempts}")


def wire_payload(command: DeviceCommand) -> bytes:
    """The `cmd` document of contract v1."""
    return orjson.dumps({"v": 1, "id": command.id, "cmd": command.name,
                         "dev": command.device_id, "args": orjson.loads(command.params),
                         "expires": command.expires_at})


def record_ack(session: Session, gateway_id: str, doc: Mapping[str, Any], now: int
               ) -> str | None:
    """A contract-valid `cmd_ack` from `gateway_id`: the command's new status, or None when
    it changes nothing (unknown id, another gateway's command, a repeat, a late answer)."""
    command = session.get(DeviceCommand, doc["id"])
    if command is None or command.gateway_id != gateway_id:
        return None  # a gateway cannot touch another gateway's commands
    if doc.get("stage") == "received":
        new = states.DELIVERED
    else:
        new = states.SUCCEEDED if doc["ok"] else states.FAILED
    if not states.can_move(command.status, new):
        return None
    if new != states.DELIVERED:
        if "result" in doc:
            command.result = orjson.dumps(doc["result"]).decode()
        command.error = doc.get("error")
    _move(session, command, new, now, doc.get("error", "") if new == states.FAILED else "")
    return new


def decoded(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)

