"""The discount split between Sales' whole-line discount and SCM's per-unit line discount plus
a sales charge for the rounding residue (DOMAIN.md §4, DUALWRITE-REFERENCE §5.1):

    per_unit = round_half_up(total / qty, 2)
    charge   = qty × per_unit − total
    total    = qty × per_unit − charge          (the reverse is exact)

Expected values are worked out from the documents, not read from transforms.py.
"""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from dual_write_adapter.transforms import join_discount, split_discount

CENT = Decimal("0.01")


def D(text: str) -> Decimal:  # noqa: N802 - a short name keeps the tables readable
    return Decimal(text)


def documented_split(total: Decimal, qty: Decimal) -> tuple[Decimal, Decimal]:
    """DOMAIN.md §4, written out independently of the code under test."""
    per_unit = (total / qty).quantize(CENT, rounding=ROUND_HALF_UP)
    return per_unit, qty * per_unit - total


SPLITS = [
    # total, qty, per-unit line discount, sales charge
    pytest.param("10.00", "3", "3.33", "-0.01", id="worked-example-10.00-over-3"),
    pytest.param("20.00", "3", "6.67", "0.01", id="rounds-up-20.00-over-3"),
    pytest.param("100.00", "6", "16.67", "0.02", id="rounds-up-100.00-over-6"),
    pytest.param("1.00", "3", "0.33", "-0.01", id="small-1.00-over-3"),
    pytest.param("9.00", "3", "3.00", "0.00", id="exact-9.00-over-3"),
    pytest.param("10.00", "4", "2.50", "0.00", id="exact-10.00-over-4"),
    pytest.param("10.00", "1", "10.00", "0.00", id="single-unit"),
    pytest.param("0.00", "3", "0.00", "0.00", id="zero-discount"),
    pytest.param("0", "7", "0.00", "0.00", id="zero-discount-no-decimals"),
    # exactly half a cent: half-up, not banker's rounding (half-even would give 0.02 / 0.12)
    pytest.param("0.05", "2", "0.03", "0.01", id="half-cent-0.025-rounds-up"),
    pytest.param("0.25", "2", "0.13", "0.01", id="half-cent-0.125-rounds-up"),
    pytest.param("0.15", "2", "0.08", "0.01", id="half-cent-0.075-rounds-up"),
    pytest.param("0.01", "3", "0.00", "-0.01", id="one-cent-over-3"),
    pytest.param("0.02", "3", "0.01", "0.01", id="two-cents-over-3"),
]


@pytest.mark.parametrize(("total", "qty", "per_unit", "charge"), SPLITS)
def test_split_discount(total: str, qty: str, per_unit: str, charge: str) -> None:
    got_per_unit, got_charge = split_discount(D(total), D(qty))

    assert isinstance(got_per_unit, Decimal)
    assert isinstance(got_charge, Decimal)
    assert got_per_unit == D(per_unit)
    assert got_charge == D(charge)


@pytest.mark.parametrize(("total", "qty", "per_unit", "charge"), SPLITS)
def test_join_discount_is_the_exact_reverse(total: str, qty: str, per_unit: str, charge: str) -> None:
    assert join_discount(D(per_unit), D(charge), D(qty)) == D(total)


@pytest.mark.parametrize(
    ("per_unit", "charge", "qty", "total"),
    [
        pytest.param("3.33", "-0.01", "3", "10.00", id="reference-3x3.33-plus-0.01"),
        pytest.param("6.67", "0.01", "3", "20.00", id="3x6.67-minus-0.01"),
        pytest.param("16.67", "0.02", "6", "100.00", id="6x16.67-minus-0.02"),
        pytest.param("0.00", "0.00", "5", "0.00", id="no-discount"),
    ],
)
def test_join_discount(per_unit: str, charge: str, qty: str, total: str) -> None:
    assert join_discount(D(per_unit), D(charge), D(qty)) == D(total)


def test_split_residue_sign_follows_rounding_direction() -> None:
    # rounded down → SCM gives too little discount per unit → negative charge; and vice versa
    assert split_discount(D("10.00"), D("3"))[1] < 0
    assert split_discount(D("20.00"), D("3"))[1] > 0


def test_round_trip_is_exact_for_every_cent_and_quantity() -> None:
    """Property-style: every total from 0.00 to 50.00 (each cent) over quantities 1..12."""
    failures = []
    for cents in range(0, 5001):
        total = Decimal(cents) * CENT
        for q in range(1, 13):
            qty = Decimal(q)
            per_unit, charge = split_discount(total, qty)
            expected = documented_split(total, qty)
            if (per_unit, charge) != expected or join_discount(per_unit, charge, qty) != total:
                failures.append((str(total), q, str(per_unit), str(charge), expected))
            # SCM stores both as money: they must be whole cents
            if per_unit != per_unit.quantize(CENT) or charge != charge.quantize(CENT):
                failures.append((str(total), q, "not whole cents", str(per_unit), str(charge)))
    assert failures == []


@pytest.mark.parametrize(
    ("total", "qty", "back"),
    [
        pytest.param("10.00", "2.5", "10.00", id="10.00-over-2.5-exact"),
        pytest.param("1.00", "1.5", "0.995", id="1.00-over-1.5"),
        pytest.param("0.10", "0.3", "0.099", id="0.10-over-0.3"),
        pytest.param("7.77", "1.25", "7.765", id="7.77-over-1.25"),
    ],
)
def test_fractional_quantities_round_trip_within_half_a_cent(total: str, qty: str, back: str) -> None:
    """The charge is stored in cents (a money column), so with a fractional quantity the
    reverse can miss by less than half a cent (docs/decisions.md); integer quantities, the
    case of DOMAIN.md §4, round-trip exactly (test above)."""
    per_unit, charge = split_discount(D(total), D(qty))

    assert per_unit == (D(total) / D(qty)).quantize(CENT, rounding=ROUND_HALF_UP)
    assert charge == charge.quantize(CENT)
    assert join_discount(per_unit, charge, D(qty)) == D(back)
    assert abs(join_discount(per_unit, charge, D(qty)) - D(total)) <= D("0.005")
