"""Use cases of the ownership service: decide lifecycle requests, keep the features it
decides with, log ownership changes that took effect."""

from q2c_contracts.ownership import OwnershipDecision, OwnershipRequest
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.scm import FeatureStateEvent
from q2c_contracts.topics import OWNERSHIP_DECISIONS
from q2c_messaging.consumer import Handling, Typed
from q2c_observability import get_logger

from . import repository as repo
from .policy import Case, decide

log = get_logger(__name__)

SERVICE = "ownership"


async def on_request(handling: Handling[Typed[OwnershipRequest]]) -> None:
    """`ownership.requests` (inbox key: envelope id) → one decision, logged and published."""
    conn, request = handling.conn, handling.message.payload
    quote = request.quotation
    lifecycle_integration = await repo.lifecycle_integration(conn)
    new_ownership = request.data.get("ownership")
    case = Case(
        action=request.action, issuer=request.issuer.system, status=quote.SALESQUOTATIONSTATUS,
        origin=quote.SALESQUOTATIONHEADERCREATIONMETHOD, ownership=quote.SALESQUOTATIONOWNERSHIP,
        lifecycle_integration=lifecycle_integration, privileges=frozenset(request.issuer.privileges),
        new_ownership=new_ownership if isinstance(new_ownership, str) else None,
    )
    verdict = decide(case)
    outcome = "approved" if verdict.approved else "rejected"
    logged = repo.Decision(
        request_id=request.request_id, command_id=request.command_id, action=request.action,
        issuer_system=request.issuer.system, issuer_user=request.issuer.user,
        quotation_number=quote.SALESQUOTATIONNUMBER, version=request.version, status=case.status,
        origin=case.origin, ownership=case.ownership, requested_ownership=case.new_ownership,
        lifecycle_integration=lifecycle_integration, outcome=outcome, code=verdict.code, text=verdict.text,
    )
    if isinstance(handling.chunk, repo.DecisionLog):  # the route's chunk hooks: written at the chunk's end
        handling.chunk.add(logged)
    else:
        await repo.log_decision(conn, logged)
    decision = OwnershipDecision(
        request_id=request.request_id, command_id=request.command_id, quotation_number=quote.SALESQUOTATIONNUMBER,
        version=request.version, action=request.action, outcome=outcome, code=verdict.code, text=verdict.text,
    )
    log.info("ownership.decided", action=request.action, outcome=outcome, code=verdict.code,
             quotation=quote.SALESQUOTATIONNUMBER, version=request.version)
    await handling.outbox.append_envelope(OWNERSHIP_DECISIONS, quote.SALESQUOTATIONNUMBER, f"ownership.{outcome}",
                                          decision)


async def on_feature(handling: Handling[FeatureStateEvent]) -> None:
    """`scm.feature.events`: the features decisions are made with."""
    await repo.store_feature(handling.conn, handling.message.name, handling.message.value)


def logs_a_change(event: QuoteEvent) -> bool:
    """The quotation events `on_quote_event` logs; the others are passed over unread."""
    return event.type == "quote.ownership-changed" and event.caused_by is not None


async def on_quote_event(handling: Handling[QuoteEvent]) -> None:
    """`scm.quote.events`: an ownership change that took effect goes to the change log,
    with who asked for it (from the decision log) and the ownership before and after."""
    event = handling.message
    if not logs_a_change(event):
        return
    decided = await repo.approved_change_ownership(handling.conn, event.caused_by)
    await repo.log_ownership_change(
        handling.conn, command_id=event.caused_by, quotation_number=event.quotation.SALESQUOTATIONNUMBER,
        changed_by=decided["issuer_user"] if decided else None, changed_at=event.occurred_at,
        from_ownership=decided["ownership"] if decided else "unknown",
        to_ownership=event.quotation.SALESQUOTATIONOWNERSHIP,
    )
    log.info("ownership.change_logged", quotation=event.quotation.SALESQUOTATIONNUMBER,
             to=event.quotation.SALESQUOTATIONOWNERSHIP)
