"""The customer's answer after a "Try this first" guide on the device's QR page.

"This fixed it": a self-service case closed with no visit (`service.self_service`);
"still broken": the answer waits for the fault report below it on the page, whose
case then lists what was already tried. The QR token is the only key, as on every
customer route; a customer may answer only for a guide published for their device's
model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import RedirectResponse

from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, public_csrf, public_rate_limit
from portal.context import ContextDep, SessionDep
from portal.i18n import N_
from portal.pages.customer import _device, known_code
from portal.queries.articles import as_guide, customer_article
from portal.schemas.common import RowId
from service.self_service import OUTCOMES, SelfHelpError, record_outcome

NO_SUCH_GUIDE = N_("no such guide for this device")

router = APIRouter(route_class=GuardedRoute, include_in_schema=False,
                   dependencies=[Depends(public_rate_limit)])


@router.post("/q/{token}/guides/{article_id}",
             dependencies=[Depends(public_csrf), Depends(known_code)])
def guide_outcome(token: str, article_id: RowId, ctx: ContextDep, session: SessionDep,
                  outcome: Annotated[str, Form(max_length=20)]) -> RedirectResponse:
    device = _device(session, token, ctx.support_contact)
    article = customer_article(session, article_id, device.model_id)
    if article is None:
        raise HTTPException(404, NO_SUCH_GUIDE)
    with session_scope(ctx.engine) as tx:
        try:
            attempt = record_outcome(tx, device_id=device.id, guide=as_guide(article),
                                     outcome=outcome, at=now_ms())
        except SelfHelpError as err:
            raise HTTPException(422, f"{err} (answers: {', '.join(OUTCOMES)})") from None
        record(tx, "customer:qr", f"guide.{outcome}", f"device:{device.id}",
               f"article {article.id} v{article.version}")
    if outcome == "fixed":
        return RedirectResponse(f"/q/{token}?fixed={attempt.case_id}", status_code=303)
    # On to the fault report, which carries what was tried.
    return RedirectResponse(f"/q/{token}?tried={attempt.id}#report", status_code=303)
