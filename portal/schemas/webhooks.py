"""Webhook subscriptions, their delivery queue and log, and replays."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from portal.schemas.common import MAX_ID

DeliveryStatus = Literal["pending", "delivered", "parked"]


URL_HELP = ("where events are POSTed: a public address, or one in the networks an admin "
            "allows (webhook_allowed_networks); a `user:password@` is sent as HTTP Basic "
            "authentication and shown masked")


class SubscriptionIn(BaseModel):
    url: AnyHttpUrl = Field(description=URL_HELP)
    record_types: list[str] = Field(default=[], description="empty: every record type")
    event_types: list[str] = Field(default=[], description="e.g. case.created; empty: all")
    description: str = Field(default="", max_length=500)


class SubscriptionChange(BaseModel):
    # Unknown fields are refused, not ignored: a new secret is POST …/{id}/secret.
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = Field(default=None, description=URL_HELP)
    record_types: list[str] | None = None
    event_types: list[str] | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class SubscriptionPublic(BaseModel):
    id: int
    url: str = Field(description="with the password of its userinfo masked (`user:***@`)")
    record_types: list[str]
    event_types: list[str]
    description: str
    active: bool
    cursor: int = Field(description="every outbox event up to this id is queued or skipped")
    pending: int
    parked: int
    delivered: int
    created_at: int
    created_by: str


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(description="shown only now: signs every delivery (HMAC-SHA256)")


class SecretRotated(BaseModel):
    id: int
    secret: str = Field(description="shown only now: signs every delivery from now on; "
                                    "the old secret signs nothing more")


class Replay(BaseModel):
    parked: bool = Field(default=False, description="re-queue every parked delivery")
    from_event_id: int | None = Field(default=None, ge=0, le=MAX_ID)
    to_event_id: int | None = Field(default=None, ge=0, le=MAX_ID)

    @model_validator(mode="after")
    def _one_kind(self) -> Replay:
        ranged = self.from_event_id is not None or self.to_event_id is not None
        if self.parked == ranged:
            raise ValueError("give either parked: true or from_event_id/to_event_id")
        return self


class Replayed(BaseModel):
    queued: int


class DeliveryPublic(BaseModel):
    event_id: int
    event_type: str
    record_type: str
    record_id: str
    sequence: int
    status: DeliveryStatus
    attempts: int = Field(description="failures since queued or replayed")
    next_attempt_at: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: int | None


class AttemptPublic(BaseModel):
    event_id: int
    at: int
    duration_ms: int
    status_code: int | None
    error: str | None
    outcome: str
