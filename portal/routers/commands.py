"""Commands to devices: send one (`POST /api/devices/{id}/commands`), follow it
(`GET /api/commands/{id}`), list a device's (`GET /api/devices/{id}/commands`), and the
commands its model takes (`GET /api/devices/{id}/command-specs`, for the console's forms).

Who may send which command is the service's rule (`commands.service`): dispatchers and
admins any command of the device's model; engineers read-only diagnostics on the devices
of their own open jobs. Every command sent is in the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from commands.service import (
    Caller,
    CommandError,
    available_commands,
    command_for,
    create_command,
    device_commands,
)
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, JobActor
from portal.context import ContextDep, SessionDep
from portal.queries.commands import command_public
from portal.schemas.commands import (
    CommandIn,
    CommandPublic,
    CommandSpecPublic,
    ParamSpecPublic,
)

router = APIRouter(route_class=GuardedRoute, tags=["commands"])

def _caller(principal: Principal) -> Caller:
    return Caller(principal.username, principal.role, principal.engineer_id)


@router.post("/api/devices/{device_id}/commands", status_code=201)
def send_command(device_id: str, body: CommandIn, ctx: ContextDep, principal: JobActor
                 ) -> CommandPublic:
    """Queue a command for the device; it goes to the gateway as soon as the gateway is
    online, until `expires_in_s`. 403: not yours to send; 422: not a command of the
    device's model, or a parameter is wrong (the message names it)."""
    with session_scope(ctx.engine) as session:
        try:
            command = create_command(session, ctx.models, _caller(principal), device_id,
                                     body.command, body.params, body.expires_in_s, now_ms(),
                                     body.alert_id)
        except CommandError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        record(session, principal.actor, "command.send", f"device:{device_id}",
               f"{command.name} {command.params} as {command.id}")
        answer = command_public(session, command)
    ctx.on_command_queued()
    return answer


@router.get("/api/commands/{command_id}")
def get_command(command_id: str, session: SessionDep, principal: JobActor) -> CommandPublic:
    """The command's status, its history and the device's answer (`result`)."""
    try:
        command = command_for(session, _caller(principal), command_id)
    except CommandError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return command_public(session, command)


@router.get("/api/devices/{device_id}/commands")
def list_commands(device_id: str, session: SessionDep, principal: JobActor,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[CommandPublic]:
    """The device's commands, newest first."""
    try:
        found = device_commands(session, _caller(principal), device_id, limit)
    except CommandError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return [command_public(session, c) for c in found]


@router.get("/api/devices/{device_id}/command-specs")
def list_command_specs(device_id: str, ctx: ContextDep, session: SessionDep,
                       principal: JobActor) -> list[CommandSpecPublic]:
    """The commands of the device's model with their parameters, and whether the caller
    may send each (an engineer: the read-only diagnostics)."""
    try:
        model, specs = available_commands(session, ctx.models, _caller(principal), device_id)
    except CommandError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    metrics = sorted(model.attributes) if model else []
    return [CommandSpecPublic(
        name=spec.name, label=spec.label, kind=spec.kind, allowed=allowed,
        params=[ParamSpecPublic(name=p.name, type=p.type, required=p.required, min=p.min,
                                max=p.max, choices=metrics if p.type == "metrics" else [])
                for p in spec.params.values()])
        for spec, allowed in specs]
