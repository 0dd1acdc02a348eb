"""Sales state changes → lifecycle commands (CONTRACT.md §1). Pure."""

from . import dataverse as dv

CLOSE_REASON = {dv.LOST: "quote.lose", dv.CANCELED: "quote.cancel", dv.REVISED: "quote.revise"}


def lifecycle_command(old_state: int | None, new_state: int | None, new_status: int | None) -> str | None:
    """The command for a change of a quote's statecode (None when the state did not change):
    Draft→Active = send, →Won = confirm, →Closed = lose / cancel / revise by status reason.
    A step Sales' own rules forbid (say Draft→Won) is still forwarded: the ownership service
    refuses it and Sales is told why and put back."""
    if new_state is None or new_state == old_state:
        return None
    if new_state == dv.ACTIVE:
        return "quote.send"
    if new_state == dv.WON:
        return "quote.confirm"
    if new_state == dv.CLOSED:
        return CLOSE_REASON.get(new_status)  # type: ignore[arg-type]
    return None  # back to Draft: not a lifecycle step Sales offers
