"""Showing integer cents to people."""

from __future__ import annotations

SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "€", "GBP": "£"}


def format_money(cents: int, currency: str = "USD") -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = SYMBOLS.get(currency)
    amount = f"{whole:,}.{part:02d}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"
