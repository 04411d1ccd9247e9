"""The keyset cursor every list gives out: it reads back as written, and anything else is a clear 422."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from myhibachi.core.cursors import decode_cursor, encode_cursor
from myhibachi.core.db import MAX_ID
from myhibachi.core.errors import ValidationFailed


def test_a_cursor_reads_back_as_written() -> None:
    moment = datetime(2026, 12, 6, 18, 30, 15, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, 42)) == (moment, 42)


@pytest.mark.parametrize("cursor", [
    "", "!!!", "bm90IGpzb24",  # not base64 / not JSON
    encode_cursor(datetime(2026, 1, 1), 1),  # no time zone
    encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), 0),
    encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), MAX_ID + 1),
    encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), "7"),  # type: ignore[arg-type]
    encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), True),  # type: ignore[arg-type]
])
def test_anything_else_is_refused_on_the_cursor_parameter(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor(cursor)
    assert refused.value.errors[0].field == "query.cursor"
