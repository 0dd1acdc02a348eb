"""The origin and ownership vocabulary of a quotation and an order (DOMAIN.md §1), once:
the values, their literal types, and the effective-owner rule they define. Pure."""

from typing import Final, Literal

Origin = Literal["SCM", "Dynamics365Sales"]
Ownership = Literal["BasedOnOrigin", "SCM", "Dynamics365Sales"]

SCM: Final = "SCM"
SALES: Final = "Dynamics365Sales"
BASED_ON_ORIGIN: Final = "BasedOnOrigin"

ORIGINS: tuple[str, ...] = (SCM, SALES)
OWNERSHIPS: tuple[str, ...] = (BASED_ON_ORIGIN, SCM, SALES)


def effective_owner(origin: str, ownership: str) -> str:
    """DOMAIN.md §1: the owner is the origin when the ownership is BasedOnOrigin, else the
    system the ownership names."""
    return origin if ownership == BASED_ON_ORIGIN else ownership
