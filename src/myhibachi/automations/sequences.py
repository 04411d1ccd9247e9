"""What each kind of sequence is: its trigger and goal in words, the placeholders its steps may use, and the steps a
station starts with (editable afterwards). Filling the placeholders is here too: a body is markdown typed by staff,
and what is filled in is escaped, so a customer's name cannot add a link or a heading to the email."""

from __future__ import annotations

import re
from dataclasses import dataclass

from myhibachi.automations.models import AutomationKind

DAY = 24 * 60


@dataclass(frozen=True)
class StepCopy:
    delay_minutes: int
    subject: str
    body_markdown: str


@dataclass(frozen=True)
class Sequence:
    kind: AutomationKind
    title: str
    trigger: str  # who is enrolled, when
    goal: str  # what stops it
    marketing: bool  # needs a confirmed subscription (else: answers the person's own request or event)
    placeholders: tuple[str, ...]
    steps: tuple[StepCopy, ...]


COMMON = ("first_name", "station", "booking_link")
SEQUENCES: dict[AutomationKind, Sequence] = {seq.kind: seq for seq in (
    Sequence(
        AutomationKind.abandoned_quote, "Quote follow-up",
        "An open lead with an email address and no booking at the station.",
        "They book at the station (a hold or a confirmed booking), or the lead is won or lost.",
        marketing=False, placeholders=COMMON, steps=(
            StepCopy(DAY, "Still planning your hibachi party?",
                     "Hi {first_name},\n\nThanks for asking about a hibachi party with {station}. Dates fill up "
                     "fast, so if you would like a chef at your place, you can pick a time and see the full price "
                     "here:\n\n[Book your party]({booking_link})\n\nJust reply if you have a question."),
            StepCopy(3 * DAY, "Your date may still be free",
                     "Hi {first_name},\n\nA quick note from {station}: the date you had in mind may still be "
                     "open. Booking takes two minutes and a deposit holds your chef.\n\n"
                     "[See free times]({booking_link})"),
        )),
    Sequence(
        AutomationKind.thank_you, "Thank you and review request",
        "A completed event: the first step goes 24 hours after it ended.",
        "The customer gave their private feedback.",
        marketing=False, placeholders=(*COMMON, "review_links", "feedback_link"), steps=(
            StepCopy(DAY, "Thank you for celebrating with {station}",
                     "Hi {first_name},\n\nThank you for having us! We hope you and your guests enjoyed the "
                     "show.\n\nHow did we do? Tell us privately, it takes a minute:\n\n"
                     "[Share your feedback]({feedback_link})\n\nIf you have a moment, a public review helps "
                     "other families find us:\n\n{review_links}"),
        )),
    Sequence(
        AutomationKind.reactivation, "Come back",
        "A past customer whose latest event at the station was 11 months ago, with no booking since. "
        "Subscribers only.",
        "A new booking at the station.",
        marketing=True, placeholders=COMMON, steps=(
            StepCopy(0, "Time for another hibachi night?",
                     "Hi {first_name},\n\nIt has been almost a year since your party with {station}. Birthdays, "
                     "graduations, a summer evening in the backyard: the grill is ready when you are.\n\n"
                     "[Pick a date]({booking_link})"),
        )),
    Sequence(
        AutomationKind.occasion, "Birthday and anniversary",
        "A completed event that celebrated a birthday or an anniversary: 3 weeks before the same date the "
        "next year. Subscribers only.",
        "A new booking at the station.",
        marketing=True, placeholders=(*COMMON, "occasion"), steps=(
            StepCopy(0, "Your {occasion} is coming up",
                     "Hi {first_name},\n\nA year ago we cooked for your {occasion}. If you are celebrating again, "
                     "{station} would love to be there.\n\n[Book your party]({booking_link})"),
        )),
)}

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """Plain text that renders as itself in markdown (a name like "[x](http://…)" stays text)."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", " ".join(text.split()))


def unknown_placeholders(kind: AutomationKind, *texts: str) -> list[str]:
    allowed = SEQUENCES[kind].placeholders
    return sorted({name for text in texts for name in PLACEHOLDER.findall(text) if name not in allowed})


def fill(text: str, values: dict[str, str]) -> str:
    """The text with each known `{name}` replaced by its (already markdown-safe) value; anything else stays."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)
