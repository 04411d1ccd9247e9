"""Opens and clicks of campaign mail: the open pixel `GET /t/o/{token}.gif` and the click redirect `GET /t/c/{token}`.

A token is signed with SECRET_KEY (HMAC) and names the recipient row, and for a click the link's place in the
campaign's own body (`rendering.markdown_links`): a click can only lead to a URL that campaign has, so the redirect
is not an open one, and a forged or unknown token finds nothing (404). A station may turn tracking off (its
`email_tracking` rule): its mail then has no pixel and keeps its links as written, and nothing is recorded."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.db import utcnow
from myhibachi.newsletters.models import Campaign, CampaignRecipient, TrackingEvent, TrackingKind
from myhibachi.newsletters.rendering import LinkRewriter, markdown_links
from myhibachi.pricing.queries import get_rules
from myhibachi.settings import Settings

NO_LINK = -1  # what an open token signs in place of a link's place


def _mac(secret: str, kind: TrackingKind, recipient_id: int, link: int) -> str:
    digest = hmac.digest(secret.encode(), f"track:{kind.value}:{recipient_id}:{link}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest[:18]).decode()  # 144 bits, 24 characters, no padding


def open_token(secret: str, recipient_id: int) -> str:
    return f"{recipient_id}.{_mac(secret, TrackingKind.open, recipient_id, NO_LINK)}"


def click_token(secret: str, recipient_id: int, link: int) -> str:
    return f"{recipient_id}.{link}.{_mac(secret, TrackingKind.click, recipient_id, link)}"


def _read(secret: str, kind: TrackingKind, token: str) -> tuple[int, int] | None:
    """(recipient id, link place) a token of this kind names, if we signed it."""
    parts = token.split(".")
    numbers = parts[:-1]
    if len(numbers) != (2 if kind is TrackingKind.click else 1) or not all(
            n.isdigit() and len(n) <= 18 for n in numbers):
        return None
    recipient_id, link = int(numbers[0]), int(numbers[1]) if kind is TrackingKind.click else NO_LINK
    if not hmac.compare_digest(parts[-1].encode(), _mac(secret, kind, recipient_id, link).encode()):
        return None
    return recipient_id, link


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


@dataclass(frozen=True)
class Tracking:
    """How one recipient's message is tracked: its pixel, and its links rewritten to the click redirect."""

    open_pixel_url: str
    rewrite_link: LinkRewriter


def tracking_for(settings: Settings, recipient_id: int, links: list[str]) -> Tracking:
    """`links`: the campaign's `markdown_links`, whose places the click tokens sign."""

    def rewrite(href: str) -> str:
        if href not in links:
            return href
        return f"{_base(settings)}/t/c/{click_token(settings.secret_key, recipient_id, links.index(href))}"

    return Tracking(f"{_base(settings)}/t/o/{open_token(settings.secret_key, recipient_id)}.gif", rewrite)


async def _tracked(session: AsyncSession, recipient_id: int) -> tuple[CampaignRecipient, Campaign, bool] | None:
    """The recipient, its campaign, and whether the campaign's station tracks now."""
    found = (await session.execute(select(CampaignRecipient, Campaign).join(
        Campaign, Campaign.id == CampaignRecipient.campaign_id).where(CampaignRecipient.id == recipient_id))).first()
    if found is None:
        return None
    recipient, campaign = found
    return recipient, campaign, (await get_rules(session, campaign.station_id)).email_tracking


async def _first(session: AsyncSession, recipient_id: int, column: str) -> bool:
    """Sets the recipient's `opened_at` / `clicked_at` unless set already; True if this was the first."""
    stamp = getattr(CampaignRecipient, column)
    done = await session.execute(update(CampaignRecipient).where(CampaignRecipient.id == recipient_id,
                                                                 stamp.is_(None)).values({column: utcnow()}))
    return done.rowcount == 1  # type: ignore[attr-defined]


def _event(session: AsyncSession, recipient: CampaignRecipient, kind: TrackingKind, url: str | None = None) -> None:
    session.add(TrackingEvent(campaign_id=recipient.campaign_id, recipient_id=recipient.id, kind=kind.value, url=url,
                              at=utcnow()))


async def record_open(session: AsyncSession, settings: Settings, token: str) -> bool:
    """The pixel was loaded: the first open on the recipient, and an event each time. False: not our token."""
    read = _read(settings.secret_key, TrackingKind.open, token)
    tracked = await _tracked(session, read[0]) if read else None
    if tracked is None:
        return False
    recipient, _, tracking_on = tracked
    if tracking_on:
        await _first(session, recipient.id, "opened_at")
        _event(session, recipient, TrackingKind.open)
        await session.flush()
    return True


async def follow_click(session: AsyncSession, settings: Settings, token: str) -> str | None:
    """Where a tracked link leads: the URL at the signed place of that recipient's campaign's body, recorded as a
    click (and as the first open, if the pixel was not loaded: images are often blocked). None: not our token."""
    read = _read(settings.secret_key, TrackingKind.click, token)
    tracked = await _tracked(session, read[0]) if read else None
    if read is None or tracked is None:
        return None
    recipient, campaign, tracking_on = tracked
    links = markdown_links(campaign.body_markdown)
    if not 0 <= read[1] < len(links):
        return None
    url = links[read[1]]
    if tracking_on:
        if await _first(session, recipient.id, "opened_at"):
            _event(session, recipient, TrackingKind.open)
        await _first(session, recipient.id, "clicked_at")
        _event(session, recipient, TrackingKind.click, url)
        await session.flush()
    return url
