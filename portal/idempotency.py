"""Idempotency keys on the API: the `Idempotency-Key` header of the intake API's writes,
and their answer, replayed with `Idempotent-Replayed: true` (`integrations.idempotency`
keeps the keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from integrations.idempotency import Action, KeyConflict, request_hash, run_once
from portal.auth.accounts import Principal
from portal.context import PortalContext

REPLAYED_HEADER = "Idempotent-Replayed"

KeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="send the same key to retry safely: the first answer is returned again")]


def once(ctx: PortalContext, principal: Principal, key: str | None, request: Request,
         body: BaseModel, action: Action) -> tuple[JSONResponse, bool]:
    """Run `action` once per idempotency key; (the response, whether it ran now)."""
    fingerprint = request_hash(request.method, request.url.path,
                               body.model_dump(mode="json", exclude_unset=True))
    try:
        answer = run_once(ctx.engine, principal.actor, key, fingerprint, action)
    except KeyConflict as exc:
        raise HTTPException(exc.status, str(exc)) from None
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else None
    return JSONResponse(answer.body, answer.status_code, headers=headers), not answer.replayed
