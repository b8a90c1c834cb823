"""Devices' QR codes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class QrCodeIssued(BaseModel):
    device_id: str
    url: str
    files: list[str] = Field(description="QR files written on the server (none without a "
                                         "QR directory)")
