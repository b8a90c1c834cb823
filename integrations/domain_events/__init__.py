"""Domain events: every change to a case, work order, opportunity or alert, written
to an outbox in the same database transaction as the change itself, for delivery
to external CRMs (`integrations/webhooks`).

Record types register with `track` (the cloud's own below); the outbox writer
(`outbox.py`, a hook on every ORM session's flush, installed when this package is
imported) records their changes. Nothing here talks HTTP, and the components whose
tables are tracked never import it: it sits above them.
"""

from __future__ import annotations

from integrations.domain_events import outbox
from integrations.domain_events.tracking import SPECS, TRACKED, Tracking, record_types, track
from rules.tables import Alert
from sales.tables import Opportunity
from service.tables import Case, Settlement, WorkOrder

__all__ = ["SPECS", "TRACKED", "Tracking", "record_types", "track"]

track(Case, "case")
# Every plan rewrites each open order's ETA and route position: alone, plan
# bookkeeping would flood receivers; it rides along with the next real change.
track(WorkOrder, "work_order", ignore=("updated_at", "eta", "route_seq", "unassigned_reason",
                                       "plan_note", "pickup_from"))
# A job settled at the door: "work_order.settled", its payload the invoice lines.
track(Settlement, "work_order", created="settled")
track(Alert, "alert", created="raised")
track(Opportunity, "opportunity")
outbox.install()
