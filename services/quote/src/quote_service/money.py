"""The contract's decimal encoding, as the quote service uses it (q2c_contracts.decimals)."""

from q2c_contracts.decimals import CENT, NotADecimal, money, parse_decimal, quantity, round_money

__all__ = ["CENT", "NotADecimal", "money", "parse_decimal", "quantity", "round_money"]
