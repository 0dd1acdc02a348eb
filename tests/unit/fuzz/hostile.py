"""Hypothesis strategies for hostile input (issue 12): valid and nearly-valid messages built
from a valid example, with wrong JSON types, extreme and non-finite numbers, long and
non-ASCII text, missing and extra fields, unknown enum values.

The budget comes from the Hypothesis profile: `Q2C_FUZZ=1` (make fuzz) runs many examples,
the default (make test) a few, derandomized so a run is reproducible."""

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile("q2c-test", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("q2c-fuzz", max_examples=int(os.environ.get("Q2C_FUZZ_EXAMPLES", "2000")), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("q2c-fuzz" if os.environ.get("Q2C_FUZZ") else "q2c-test")

EXTREME_DECIMALS = [
    "0", "-0", "0.00", "1", "3", "-1", "2.5", "0.00001", "0.000001", "1E-400", "1e400", "-1e400", "NaN", "-NaN",
    "sNaN", "Infinity", "-Infinity", "inf", "1000000000", "1000000000.00001", "1000000001", "922337203685477",
    "922337203685477.0001", "922337203685478", "-922337203685478", "9" * 500, "-" + "9" * 500, "0." + "0" * 499 + "1",
    "1_000", " 3 ", "", " ", "1,5", "1.2.3", "0x10", "½", "١٢٣", "3e", "+5", "1e999999999", "1E-999999999",
]

# Any JSON value: the wrong types a field may carry.
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=4)

decimal_strings = st.one_of(
    st.sampled_from(EXTREME_DECIMALS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=-10**6, max_value=10**6, places=2).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "é" * 301, "😀" * 101, "x" * 100, "x" * 101, "x" * 300, "x" * 301]),
    st.integers(min_value=0, max_value=3).map(lambda n: "y" * (10 ** (n + 2) + 1)),  # up to 100,001 characters
)
integers = st.one_of(st.integers(min_value=-3, max_value=10), st.sampled_from([99, 2**31, -(2**63), 192350000,
                                                                                   192350007, 776160002]))


def hostile(kind: str) -> st.SearchStrategy[Any]:
    """A value for a field of `kind` (text, money, quantity, integer, boolean): mostly of the
    right JSON type with hostile contents, sometimes of any JSON type."""
    right = {"text": texts, "money": decimal_strings, "quantity": decimal_strings, "integer": integers,
             "boolean": st.booleans()}[kind]
    return st.one_of(*[right] * 7, json_values)


def nearly(valid: dict[str, Any], kinds: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """`valid` itself, or with fields dropped, replaced by hostile values, other known fields
    added with hostile values, or unknown ones added."""
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in valid.items():
            fate = draw(st.integers(0, 11))
            if fate == 0:
                continue  # missing
            result[name] = draw(hostile(kinds.get(name, "text"))) if fate in (1, 2) else value
        others = sorted(set(kinds) - set(valid))
        for name in draw(st.lists(st.sampled_from(others), max_size=2, unique=True)) if others else []:
            result[name] = draw(hostile(kinds[name]))
        if draw(st.integers(0, 5)) == 0:
            result[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        return result
    return build()
