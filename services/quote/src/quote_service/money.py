"""The contract's decimal encoding, as the quote service uses it (q2c_contracts.decimals)."""

from q2c_contracts.decimals import CENT, NotADecimal, line_amount, money, parse_decimal, quantity, round_money

__all__ = ["CENT", "NotADecimal", "line_amount", "money", "parse_decimal", "quantity", "round_money"]
