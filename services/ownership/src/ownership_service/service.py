"""Use cases of the ownership service: decide lifecycle requests, keep the features it
decides with, log ownership changes that took effect."""

from q2c_contracts.features import INTEGRATE_QUOTATION_LIFECYCLE, flag_default
from q2c_contracts.ownership import OwnershipDecision, OwnershipRequest
from q2c_contracts.quote import QuoteEvent
from q2c_contracts.scm import FeatureStateEvent
from q2c_contracts.topics import OWNERSHIP_DECISIONS
from q2c_messaging.consumer import Handling, Typed
from q2c_observability import get_logger

from .policy import Case, decide

log = get_logger(__name__)

SERVICE = "ownership"


async def on_request(handling: Handling[Typed[OwnershipRequest]]) -> None:
    """`ownership.requests` (inbox key: envelope id) → one decision, logged and published."""
    conn, request = handling.conn, handling.message.payload
    quote = request.quotation
    lifecycle = await conn.fetchval("SELECT value FROM feature_copy WHERE name = $1", INTEGRATE_QUOTATION_LIFECYCLE)
    # the catalog's default until heard otherwise
    lifecycle_integration = flag_default(INTEGRATE_QUOTATION_LIFECYCLE) if lifecycle is None else bool(lifecycle)
    new_ownership = request.data.get("ownership")
    case = Case(
        action=request.action, issuer=request.issuer.system, status=quote.SALESQUOTATIONSTATUS,
        origin=quote.SALESQUOTATIONHEADERCREATIONMETHOD, ownership=quote.SALESQUOTATIONOWNERSHIP,
        lifecycle_integration=lifecycle_integration, privileges=frozenset(request.issuer.privileges),
        new_ownership=new_ownership if isinstance(new_ownership, str) else None,
    )
    verdict = decide(case)
    outcome = "approved" if verdict.approved else "rejected"
    await conn.execute(
        """INSERT INTO decision_log (request_id, command_id, action, issuer_system, issuer_user, quotation_number,
                                     version, status, origin, ownership, requested_ownership,
                                     lifecycle_integration, outcome, code, text)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (request_id) DO NOTHING""",
        request.request_id, request.command_id, request.action, request.issuer.system, request.issuer.user,
        quote.SALESQUOTATIONNUMBER, request.version, case.status, case.origin, case.ownership,
        case.new_ownership, lifecycle_integration, outcome, verdict.code, verdict.text,
    )
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
    event = handling.message
    await handling.conn.execute(
        "INSERT INTO feature_copy (name, value) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", event.name, event.value)


async def on_quote_event(handling: Handling[QuoteEvent]) -> None:
    """`scm.quote.events`: an ownership change that took effect goes to the change log,
    with who asked for it (from the decision log) and the ownership before and after."""
    event = handling.message
    if event.type != "quote.ownership-changed" or event.caused_by is None:
        return
    decided = await handling.conn.fetchrow(
        """SELECT issuer_user, ownership FROM decision_log
           WHERE command_id = $1 AND action = 'change-ownership' AND outcome = 'approved'
           ORDER BY decided_at DESC LIMIT 1""", event.caused_by)
    await handling.conn.execute(
        """INSERT INTO ownership_change_log (command_id, quotation_number, changed_by, changed_at, from_ownership,
                                             to_ownership)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (command_id) DO NOTHING""",
        event.caused_by, event.quotation.SALESQUOTATIONNUMBER, decided["issuer_user"] if decided else None,
        event.occurred_at, decided["ownership"] if decided else "unknown", event.quotation.SALESQUOTATIONOWNERSHIP,
    )
    log.info("ownership.change_logged", quotation=event.quotation.SALESQUOTATIONNUMBER,
             to=event.quotation.SALESQUOTATIONOWNERSHIP)

