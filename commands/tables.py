"""Commands sent from the cloud to a device, tracked to the end: the command and its history."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel


class DeviceCommand(SQLModel, table=True):
    __tablename__ = "device_command"
    __table_args__ = (Index("ix_device_command_due", "status", "next_send_at"),)

    # The id on the wire (`id` in contract v1): the gateway's idempotency key.
    id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(foreign_key="device.id", index=True)
    gateway_id: str = Field(foreign_key="gateway.id", index=True)
    name: str  # a command of the device's model, the same name as on the wire
    params: str = "{}"  # JSON
    status: str = "queued"  # commands.states
    created_by: str
    created_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)
    # Publications so far, and when to publish again while no receipt came (ms epoch).
    attempts: int = 0
    next_send_at: int = Field(default=0, sa_type=BigInteger)
    result: str | None = None  # JSON: the device's answer, once it came
    error: str | None = None
    # Sent from this alert (the console's "Diagnose"): its steps go on the alert's trail.
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)


class DeviceCommandEvent(SQLModel, table=True):
    """One step of a command's life: its status, when, and a note (attempt, error)."""

    __tablename__ = "device_command_event"
    id: int | None = Field(default=None, primary_key=True)
    command_id: str = Field(foreign_key="device_command.id", index=True)
    status: str
    at: int = Field(sa_type=BigInteger)
    note: str = ""


class ConfigRollout(SQLModel, table=True):
    """A device model's edge settings and rules pushed to every gateway with one of its
    devices. Its id is the config `version` the gateways get: later rollouts win."""

    __tablename__ = "config_rollout"
    id: int | None = Field(default=None, primary_key=True)
    model_id: str = Field(index=True)
    # JSON: sample_period_s, batch_max_readings, batch_max_age_s and the edge rules
    # (contract v1's config rules, without `devices`: each gateway gets its own devices).
    settings: str
    rollback_of: int | None = None  # the rollout this one undid, restoring the one before
    created_by: str
    created_at: int = Field(sa_type=BigInteger)


class ConfigRolloutTarget(SQLModel, table=True):
    """One gateway of a rollout: pending (to publish), published, applied (its status runs
    the version), failed (its status names why), superseded (a newer rollout came first)."""

    __tablename__ = "config_rollout_target"
    rollout_id: int = Field(foreign_key="config_rollout.id", primary_key=True)
    gateway_id: str = Field(foreign_key="gateway.id", primary_key=True, index=True)
    status: str = Field(default="pending", index=True)
    published_at: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = None
    updated_at: int = Field(sa_type=BigInteger)
