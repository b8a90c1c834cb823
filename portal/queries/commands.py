"""A command as the API shows it, with its history: for the command routes and the
case timeline alike."""

from __future__ import annotations

from sqlmodel import Session

from commands.service import decoded, history
from commands.tables import DeviceCommand
from portal.schemas.commands import CommandEventPublic, CommandPublic


def command_public(session: Session, command: DeviceCommand) -> CommandPublic:
    return CommandPublic(
        id=command.id, device_id=command.device_id, gateway_id=command.gateway_id,
        command=command.name, params=decoded(command.params), status=command.status,
        created_by=command.created_by, created_at=command.created_at,
        expires_at=command.expires_at, updated_at=command.updated_at,
        attempts=command.attempts, result=decoded(command.result), error=command.error,
        alert_id=command.alert_id,
        history=[CommandEventPublic(status=e.status, at=e.at, note=e.note)
                 for e in history(session, command.id)])
