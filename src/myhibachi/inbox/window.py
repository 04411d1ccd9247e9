"""When a reply may go out on a channel. Meta lets a page answer a person for 24 hours after their last message;
after that only a person (not the assistant) may, within 7 days, with the HUMAN_AGENT tag. Other channels have no
window (SMS and email have their own consent rules, checked elsewhere)."""

from __future__ import annotations

from datetime import datetime, timedelta

from myhibachi.inbox.models import Channel, Conversation

META_CHANNELS = (Channel.messenger, Channel.instagram)
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
HUMAN_AGENT = "HUMAN_AGENT"


def reply_tag(conversation: Conversation, now: datetime, *, human: bool,
              human_agent: bool) -> tuple[str | None, str | None]:
    """(the tag the reply goes with, None) when it may go now; (None, why not) when it may not."""
    if Channel(conversation.channel) not in META_CHANNELS:
        return None, None
    if conversation.last_inbound_at is None:
        return None, "This person has not written to the page yet: Meta lets a page answer only after they do."
    since = now - conversation.last_inbound_at
    if since <= STANDARD_WINDOW:
        return None, None
    if since > HUMAN_AGENT_WINDOW:
        return None, ("Meta's reply window closed: the person last wrote more than 7 days ago. Reach them another way "
                      "(email or a text, if they gave one).")
    if not human:
        return None, "The 24-hour window is closed: only a person may answer now (with the human agent tag)."
    if not human_agent:
        return None, ("The 24-hour window is closed. A person may still answer within 7 days of their last message: "
                      "send it as a human agent reply.")
    return HUMAN_AGENT, None
