"""Keyset pagination's cursor, as every list writes it: the last row's sort moment and id, opaque to the caller
(URL-safe base64 of JSON), and refused as a clear 422 on `query.cursor` if it is not one we gave out."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from myhibachi.core.db import MAX_ID
from myhibachi.core.errors import ValidationFailed


def encode_cursor(moment: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment.isoformat(), row_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or type(row_id) is not int or not 0 < row_id <= MAX_ID:
            raise ValueError("not a cursor of ours")
        return moment, row_id
    except (ValueError, TypeError):  # bad base64, JSON, shape or date (UnicodeDecodeError is a ValueError)
        raise ValidationFailed.on("query.cursor", "This cursor is not one we gave out.") from None
