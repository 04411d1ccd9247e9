"""How every form (customer and staff) reads what people type: money, whole numbers, record ids, dates and times
of day, and how it writes money back into a field. One reading for each, so "$1,250.50" means the same on every
page."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation

from myhibachi.core.dates import parse_day
from myhibachi.core.db import MAX_ID
from myhibachi.core.errors import ValidationFailed

WHOLE = re.compile(r"[0-9]{1,9}")
CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")


def cents_of(text: str, example: str = "61.50") -> int:
    """Dollars as typed ("61.50", "$1,200", "1 250") in integer cents. A fraction of a cent is refused, never
    rounded; ValueError says how to write it (like `example`)."""
    cleaned = text.replace("$", "").replace(",", "").replace(" ", "").strip()
    if not cleaned:
        raise ValueError("Please fill this in.")
    hint = f"Enter an amount in dollars, like {example}."
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(hint) from None
    if not amount.is_finite() or abs(amount) >= 10**9:
        raise ValueError(hint)
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError("Use whole cents: at most 2 digits after the point.")
    return int(cents)


def positive_cents(form: dict[str, str], name: str, example: str = "100.00") -> int:
    """A form's amount of money above zero, or ValidationFailed on that field."""
    try:
        cents = cents_of(form.get(name, ""), example)
    except ValueError as exc:
        raise ValidationFailed.on(name, str(exc)) from None
    if cents <= 0:
        raise ValidationFailed.on(name, "Enter an amount above zero.")
    return cents


def dollars(cents: int) -> str:
    """Cents as a form field shows them: 6150 → "61.50"."""
    return f"{Decimal(cents) / 100:.2f}"


def whole_number(text: str | None) -> int | None:
    """A count typed in a form or a URL ("12"); None for anything else (signs, decimals, nine digits or more)."""
    return int(text) if text and WHOLE.fullmatch(text) else None


def record_id(text: str | None) -> int | None:
    """A record's id from a URL or a form; None for anything that cannot be one."""
    number = int(text) if text and text.isdigit() and len(text) <= 19 else 0
    return number if 0 < number <= MAX_ID else None


def day_of(text: str | None) -> date | None:
    """A YYYY-MM-DD within the accepted years; None otherwise (a typed URL never fails)."""
    return parse_day((text or "")[:10])


def time_of(text: str | None) -> time | None:
    """A time of day on the 24-hour clock ("18:00", "9:30"); None for anything else."""
    match = CLOCK.fullmatch((text or "").strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))
