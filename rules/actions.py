"""What a raised alert asks for, by its rule's severity (the device model's `actions`):
notifications to an audience, and a work order the service desk opens.

Both go to callables the assembly passes in: `AlertNotice`s to the notifications'
recorder (`notifications.alert_notices`), `WorkOrderRequest`s to the case opener
(`service.alert_cases`). So this component never imports the layers above it, and
never sends anything itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from asset_registry.parts import PartNeed

# A model's action -> the audience it notifies.
AUDIENCES = {"notify_owner": "owner", "notify_supervisor": "supervisor",
             "notify_customer": "customer"}
OPEN_WORK_ORDER = "open_work_order"
# The work order's priority (1..5) by the alert's severity.
PRIORITY_BY_SEVERITY = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


@dataclass(frozen=True, slots=True)
class WorkOrderRequest:
    """What an alert asks the service desk to open: a case with one work order."""

    device_id: str
    alert_id: int
    title: str
    description: str
    skill: str
    duration_min: int
    priority: int
    parts: tuple[PartNeed, ...] = ()  # what the model says the rule's fault needs


# Opens a case and work order inside the caller's session; returns the case id.
OpenWorkOrder = Callable[[Session, WorkOrderRequest], int]


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """A notification an alert calls for: to whom by role, not by address."""

    alert_id: int
    device_id: str
    audience: str  # owner | supervisor | customer
    message: str
    at: int


# Records a notification inside the caller's session, to be sent after the commit.
RecordNotice = Callable[[Session, AlertNotice], None]


def work_order_request(model: DeviceModel, *, device_id: str, alert_id: int, message: str,
                       severity: str, description: str = "",
                       priority: int | None = None, rule_id: str = "") -> WorkOrderRequest:
    """The work order an alert on a device of `model` calls for: the model's service
    skill and time; its priority by the severity unless a person chose one."""
    return WorkOrderRequest(
        device_id=device_id, alert_id=alert_id, title=f"{model.name}: {message}",
        description=description, skill=model.service_skill,
        duration_min=model.service_minutes,
        priority=priority or PRIORITY_BY_SEVERITY.get(severity, 3),
        parts=model.parts.needed_for("rule", rule_id))
