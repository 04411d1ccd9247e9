"""Reviews without gating (issue 18 item 7): the thank-you email's private feedback form asks everyone the same
way, the page after it shows the station's public review links whatever the rating, a low rating opens a call-back
task on the contact (its page and the dashboard, marked done by staff), and ratings are credited to the event's
chef and shown on the chef's admin page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.chefs.models import Chef
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import BusinessRules
from myhibachi.reviews.models import ContactTask, Feedback
from tests.automations.conftest import mails_to, past_event, run
from tests.bookings.conftest import NOW
from tests.conftest import mail_text
from tests.web.browserless import read, submit

ENDED = NOW + timedelta(hours=2)
DUE = ENDED + timedelta(hours=24)  # Wednesday 2026-12-02, 10:00 in Fremont
LINK = re.compile(r"http://testserver(/feedback/\S+?)(?=[\s)\]])")


async def review_pages(db, station) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        rules = (await get_rules(session, station.id)).model_dump()
        rules["review_links"] = [{"label": "Google", "url": "https://g.page/r/fremont-hibachi"},
                                 {"label": "Yelp", "url": "https://www.yelp.com/biz/fremont-hibachi"}]
        await update_rules(session, SYSTEM, station.id, BusinessRules.model_validate(rules))


async def thanked(db, runtime, settings, station, clock, email: str, **fields) -> str:  # noqa: ANN001
    """A completed party and its thank-you email; the feedback link's path."""
    await past_event(db, station, ENDED, email=email, **fields)
    await run(runtime, DUE, clock)
    [mail] = mails_to(settings, email)
    found = LINK.search(mail_text(mail))
    assert found, mail_text(mail)
    return found.group(1)


async def test_every_customer_is_asked_the_same_way_and_thanked_alike(client, db, runtime, settings, live, clock):
    await review_pages(db, live)
    unhappy = await thanked(db, runtime, settings, live, clock, "unhappy@example.com")
    happy = await thanked(db, runtime, settings, live, clock, "happy@example.com")
    for mail in mails_to(settings, "unhappy@example.com") + mails_to(settings, "happy@example.com"):
        assert "https://g.page/r/fremont-hibachi" in mail_text(mail)  # the email asks everyone for a review too

    pages = {}
    for path, stars in ((unhappy, "1"), (happy, "5")):
        form = read(await client.get(path))
        assert form.response.status_code == 200 and "How was your party?" in form.text
        assert form.form.radios["rating"] == ["5", "4", "3", "2", "1"]
        done = await submit(client, form, None, rating=stars, comment="Our words")
        assert done.response.status_code == 200 and str(done.response.url).endswith(path + "/thanks")
        pages[stars] = done.text.replace(path, "/feedback/TOKEN")

    assert pages["1"] == pages["5"]  # no gating: the same page, the same review links, whatever the rating
    assert "https://g.page/r/fremont-hibachi" in pages["1"] and "https://www.yelp.com/biz/fremont-hibachi" in pages["1"]
    async with db.transaction(write=False) as session:
        assert sorted(f.rating for f in await session.scalars(select(Feedback))) == [1, 5]


async def test_a_low_rating_opens_one_call_back_task_due_next_business_morning(client, db, runtime, settings, live,
                                                                               clock):
    path = await thanked(db, runtime, settings, live, clock, "dana@example.com", contact_name="Dana Lee")
    await submit(client, read(await client.get(path)), None, rating="2", comment="Rice was cold")
    again = read(await client.get(path))
    assert again.form.fields["comment"] == "Rice was cold"  # their answer, to change
    await submit(client, again, None, rating="1", comment="Rice was cold, and late")
    await submit(client, read(await client.get(path)), None, rating="5")

    async with db.transaction(write=False) as session:
        [task] = list(await session.scalars(select(ContactTask)))
        [feedback] = list(await session.scalars(select(Feedback)))
    assert task.title == "Call Dana Lee about their 2★ feedback" and "Rice was cold" in task.detail
    assert task.due_at == datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # Thursday 09:00 in Fremont
    assert (feedback.rating, task.done_at) == (5, None)


async def test_a_rating_above_the_stations_limit_opens_no_task(client, db, runtime, settings, live, clock):
    path = await thanked(db, runtime, settings, live, clock, "dana@example.com")
    await submit(client, read(await client.get(path)), None, rating="4")
    async with db.transaction(write=False) as session:
        assert list(await session.scalars(select(ContactTask))) == []


async def test_a_forged_or_unfinished_link_shows_nothing(client, db, runtime, settings, live, clock):
    path = await thanked(db, runtime, settings, live, clock, "dana@example.com")
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    for url in (forged, forged + "/thanks", "/feedback/1.2.3"):
        page = await client.get(url)
        assert page.status_code == 404 and "This link does not work" in page.text
    refused = await client.post(forged, data={"rating": "1"})
    assert refused.status_code == 404


async def test_staff_see_the_task_on_the_contact_and_the_dashboard_and_mark_it_done(client, db, runtime, settings,
                                                                                    live, clock, make_user,
                                                                                    admin_sign_in):
    path = await thanked(db, runtime, settings, live, clock, "dana@example.com", contact_name="Dana Lee")
    await submit(client, read(await client.get(path)), None, rating="1", comment="Never again")
    await make_user("support@example.com", Role.support, live)
    await admin_sign_in("support@example.com")

    dashboard = read(await client.get("/admin"))
    assert "Tasks due" in dashboard.text and "Call Dana Lee about their 1★ feedback" in dashboard.text
    async with db.transaction(write=False) as session:
        task = await session.scalar(select(ContactTask))
    contact = read(await client.get(f"/admin/contacts/{task.contact_id}"))
    assert "Call Dana Lee about their 1★ feedback" in contact.text and "Never again" in contact.text

    [done_form] = [f for f in contact.forms if f.action == f"/admin/tasks/{task.id}/done"]
    after = await submit(client, contact, None, form=done_form)
    assert str(after.response.url).endswith(f"/admin/contacts/{task.contact_id}") and "Done " in after.text
    assert "Call Dana Lee" not in read(await client.get("/admin")).text.split("Tasks due")[1].split("</section>")[0]
    async with db.transaction(write=False) as session:
        task = await session.get(ContactTask, task.id)
        audited = await session.scalar(select(AuditEntry).where(AuditEntry.action == "reviews.task_done"))
    assert task.done_at is not None and audited is not None


async def test_ratings_are_credited_to_the_chef_and_shown_on_their_page(client, db, runtime, settings, live, clock,
                                                                        make_user, admin_sign_in):
    async with db.transaction(write=False) as session:
        chef = await session.scalar(select(Chef).where(Chef.station_id == live.id).order_by(Chef.id))
    for n, (stars, words) in enumerate((("5", "Amazing show"), ("3", "Good food"), ("4", ""))):
        clock.move_to(NOW)
        path = await thanked(db, runtime, settings, live, clock, f"guest{n}@example.com", chef_id=chef.id)
        await submit(client, read(await client.get(path)), None, rating=stars, comment=words)
    await make_user("admin@example.com", Role.admin, live)
    await admin_sign_in("admin@example.com")

    page = await client.get(f"/admin/chefs/{chef.id}?station={live.id}")
    assert page.status_code == 200
    assert "4.0 ★</strong> average from 3 ratings" in page.text
    assert "Amazing show" in page.text and "Good food" in page.text
    async with db.transaction(write=False) as session:
        assert {f.chef_id for f in await session.scalars(select(Feedback))} == {chef.id}
