"""Contact shapes and the one reading of a typed phone number."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import AfterValidator, StringConstraints


def e164_phone(value: str) -> str:
    """A valid phone number, stored as E.164 (US numbers may omit +1)."""
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Phone = Annotated[str, StringConstraints(max_length=40), AfterValidator(e164_phone)]
