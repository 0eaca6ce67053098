"""Public lead intake and confirmation."""

from __future__ import annotations

from fastapi import APIRouter, status

from leadflow.api.deps import ClientAddress, Context, Tx
from leadflow.api.routes.common import API_PREFIX, errors
from leadflow.api.schemas.leads import ConfirmIn, LeadCreatedOut, LeadIn
from leadflow.services import intake

router = APIRouter(prefix=f"{API_PREFIX}/leads", tags=["intake"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LeadCreatedOut,
    responses=errors(422, 429),
)
async def submit_lead(body: LeadIn, context: Context, address: ClientAddress) -> LeadCreatedOut:
    """Submit a lead into an active niche (by slug). ``pending_confirmation`` when the niche
    requires confirmation (a token is mailed), else ``pending_approval``."""
    form = intake.LeadForm(
        niche=body.niche,
        name=body.name,
        email=body.email,
        phone=body.phone,
        postal_code=body.postal_code,
        attributes=body.attributes,
    )
    result = await intake.submit_lead_async(
        context.pool,
        context.autocommit_pool,
        form=form,
        client_address=address,
        rate=context.intake_rate,
    )
    return LeadCreatedOut(id=result.id, status=result.status)


@router.post("/confirm", response_model=LeadCreatedOut, responses=errors(404))
def confirm_lead(body: ConfirmIn, tx: Tx) -> LeadCreatedOut:
    """Confirm a lead with the token from its confirmation mail."""
    result = intake.confirm_lead(tx, token=body.token)
    return LeadCreatedOut(id=result.id, status=result.status)
