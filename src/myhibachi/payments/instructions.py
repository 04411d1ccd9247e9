"""The manual payment methods a customer is offered, from settings: a handle to send to and a sentence saying how.
Read by `queries.payment_options` (everything a customer is shown about paying) and by the card refusal's detail."""

from __future__ import annotations

from dataclasses import dataclass

from myhibachi.payments.schemas import ManualMethod
from myhibachi.settings import Settings

LABELS = {ManualMethod.zelle: "Zelle", ManualMethod.venmo: "Venmo"}
MEMO = {ManualMethod.zelle: "memo", ManualMethod.venmo: "note"}  # what each app calls the message with a transfer


@dataclass(frozen=True)
class ManualWay:
    method: ManualMethod
    handle: str | None  # None: the configured words say where to send it (an older install's whole instruction)
    words: str | None  # the install's own words about this method

    @property
    def label(self) -> str:
        return LABELS[self.method]

    def sentence(self, amount: str | None = None, reference: str | None = None) -> str:
        """How to pay this way: "Send $100.00 by Zelle to payments@… and write MH-7K3Q9D in the memo." """
        if self.handle is None:
            return self.words or ""
        sent = f"Send {amount} by {self.label}" if amount else f"Send by {self.label}"
        memo = f"write {reference} in the {MEMO[self.method]}" if reference else \
            f"write your booking reference in the {MEMO[self.method]}"
        return f"{sent} to {self.handle} and {memo}." + (f" {self.words}" if self.words else "")


def manual_ways(settings: Settings) -> list[ManualWay]:
    """The methods offered: those with a handle, or with words of their own (an empty handle and no words: off)."""
    ways = []
    for method, handle, words in ((ManualMethod.zelle, settings.zelle_handle, settings.zelle_instructions),
                                  (ManualMethod.venmo, settings.venmo_handle, settings.venmo_instructions)):
        handle, words = (handle or "").strip() or None, (words or "").strip() or None
        if handle or words:
            ways.append(ManualWay(method, handle, words))
    return ways
