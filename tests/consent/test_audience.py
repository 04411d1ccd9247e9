"""Who marketing may reach (`marketing_audience`): only a confirmed latest consent, an address not suppressed, and
neither the station nor the topic opted out of — one statement every sender filters by."""

from __future__ import annotations

from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentSource, OptOut, Suppression, SuppressionReason, Topic
from myhibachi.consent.queries import is_suppressed, marketing_audience, may_send_marketing_to
from myhibachi.contacts.commands import Identity, find_or_create_contact


async def person(session, email: str, *actions: ConsentAction) -> int:  # noqa: ANN001
    contact = await find_or_create_contact(session, Identity(email=email), name=email.split("@")[0])
    for action in actions:
        await record_consent(session, contact.id, action, ConsentSource.api)
    return contact.id


async def test_only_confirmed_unsuppressed_not_opted_out_contacts_are_reached(db, station, make_station):
    other = await make_station("OAK")
    async with db.transaction() as session:
        g, c, w = ConsentAction.granted, ConsentAction.confirmed, ConsentAction.withdrawn
        confirmed = await person(session, "yes@example.com", g, c)
        await person(session, "granted@example.com", g)
        await person(session, "withdrawn@example.com", g, c, w)
        again = await person(session, "again@example.com", g, c, w, g, c)  # came back through double opt-in
        await person(session, "never@example.com")
        await person(session, "bounced@example.com", g, c)
        session.add(Suppression(email="bounced@example.com", reason=SuppressionReason.hard_bounce, source="dsn"))
        no_station = await person(session, "not-here@example.com", g, c)
        session.add(OptOut(contact_id=no_station, scope="station", value=str(station.id)))
        no_news = await person(session, "no-news@example.com", g, c)
        session.add(OptOut(contact_id=no_news, scope="topic", value=Topic.news.value))

    async with db.transaction(write=False) as session:
        news_here = set(await session.scalars(marketing_audience(Topic.news, station.id)))
        news_there = set(await session.scalars(marketing_audience(Topic.news, other.id)))
        follow_ups_here = set(await session.scalars(marketing_audience(Topic.follow_ups, station.id)))
        assert news_here == {confirmed, again}
        assert news_there == {confirmed, again, no_station}
        assert follow_ups_here == {confirmed, again, no_news}
        assert await may_send_marketing_to(session, no_news, Topic.follow_ups, station.id)
        assert not await may_send_marketing_to(session, no_news, Topic.news, station.id)
        assert await is_suppressed(session, "bounced@example.com")
        assert not await is_suppressed(session, "yes@example.com")
