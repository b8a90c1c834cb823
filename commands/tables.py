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


class DeviceCommandEvent(SQLModel, table=True):
    """One step of a command's life: its status, when, and a note (attempt, error)."""

    __tablename__ = "device_command_event"
    id: int | None = Field(default=None, primary_key=True)
    command_id: str = Field(foreign_key="device_command.id", index=True)
    status: str
    at: int = Field(sa_type=BigInteger)
    note: str = ""
