"""Booking references (README: "a short reference (`MH-7K3Q9D`, no ambiguous letters)"): read aloud over the
phone or copied from an email, no character of one may be mistaken for another character a reference can hold."""

from __future__ import annotations

import re
import string

from myhibachi.bookings import commands

FORMAT = re.compile(r"MH-[A-Z0-9]{6}")
# Characters read or written alike (0/O, 1/I/l and their neighbours): references may use one of a pair, not both.
LOOK_ALIKES = [{"0", "O"}, {"0", "D"}, {"O", "Q"}, {"1", "I"}, {"1", "L"}, {"I", "L"}]
DRAWS = 2000  # 12,000 characters: every character the generator can draw shows up (each misses with p < 1e-160)


class NoneTaken:
    """A session in which no reference is taken yet."""

    async def scalar(self, _statement: object) -> None:
        return None


def confusable(characters: set[str]) -> list[set[str]]:
    return [pair for pair in LOOK_ALIKES if pair <= characters]


async def test_references_are_mh_and_six_unambiguous_characters():
    references = [await commands._new_reference(NoneTaken()) for _ in range(DRAWS)]
    used = set("".join(reference.removeprefix("MH-") for reference in references))

    assert all(FORMAT.fullmatch(reference) for reference in references), [
        r for r in references if not FORMAT.fullmatch(r)][:5]
    assert used <= set(string.ascii_uppercase + string.digits)
    assert confusable(used) == [], sorted(used)
    assert len(references) - len(set(references)) < 5  # drawn at random, not a counter or a constant


async def test_a_booking_gets_such_a_reference(station, book):
    created = await book(station.id)

    assert FORMAT.fullmatch(created["reference"]), created["reference"]
    assert confusable(set(created["reference"].removeprefix("MH-"))) == []
