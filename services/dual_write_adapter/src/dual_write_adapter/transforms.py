"""The named transforms of the table maps. Pure, exact (decimal.Decimal, never float)."""

from decimal import ROUND_HALF_UP, Decimal

from q2c_contracts.decimals import money, quantity

CENT = Decimal("0.01")
__all__ = ["STATE_TRANSFORMS", "join_discount", "money", "quantity", "split_discount"]

# DOMAIN.md §1: the Sales state (statecode, statuscode) q2c writes for each SCM quotation status.
QUOTE_SALES_STATE = {
    "created": (0, 1), "sent": (1, 2), "confirmed": (2, 4), "lost": (3, 5), "cancelled": (3, 6), "revised": (3, 7),
}
# DOMAIN.md §7, docs/contract.md §2.1: the Sales order status each processing status gives
# (Active 0/1, Fulfilled 3/100001, Invoiced 4/100003, Canceled 2/4).
ORDER_SALES_STATE = {
    "active": (0, 1), "confirmed": (0, 1), "picked": (0, 1), "partiallydelivered": (0, 1),
    "partiallyinvoiced": (0, 1), "delivered": (3, 100001), "deliveredpartiallyinvoiced": (3, 100001),
    "invoiced": (4, 100003), "canceled": (2, 4),
}
# One SCM enum → several Sales columns.
STATE_TRANSFORMS = {"quote-sales-state": QUOTE_SALES_STATE, "order-sales-state": ORDER_SALES_STATE}
DISCOUNT_SPLIT = "discount-split"
TRANSFORMS = frozenset({*STATE_TRANSFORMS, DISCOUNT_SPLIT})


def split_discount(total: Decimal, qty: Decimal) -> tuple[Decimal, Decimal]:
    """Sales' whole-line discount → SCM's per-unit line discount and the sales charge that
    holds the rounding residue (DOMAIN.md §4): 10.00 over 3 → 3.33 and −0.01."""
    if qty == 0:
        return Decimal("0.00"), (-total).quantize(CENT)
    per_unit = (total / qty).quantize(CENT, rounding=ROUND_HALF_UP)
    charge = (qty * per_unit - total).quantize(CENT, rounding=ROUND_HALF_UP)
    return per_unit, charge


def join_discount(per_unit: Decimal, charge: Decimal, qty: Decimal) -> Decimal:
    """The exact reverse: total = qty × per-unit − charge (3 × 3.33 − (−0.01) = 10.00)."""
    return qty * per_unit - charge
