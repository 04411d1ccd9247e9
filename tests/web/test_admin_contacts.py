"""The admin's contact page: its leads and bookings, and merging a duplicate found by email or phone, shown
before it is merged."""

from __future__ import annotations

from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.contacts.models import Contact
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import Lead, LeadSource
from tests.web.browserless import read, submit


async def test_staff_find_a_duplicate_see_it_and_merge_it(client, db, make_station, make_user, admin_sign_in):
    station = await make_station("FRE")
    async with db.transaction() as session:
        kept = await capture_lead(session, Inquiry(station_id=station.id, source=LeadSource.contact_form,
                                                   name="Dana Reyes", email="dana@example.com"))
        dup = await capture_lead(session, Inquiry(station_id=station.id, source=LeadSource.chat,
                                                  name="D. Reyes", phone="+15105550142", message="Grill?"))
    await make_user("support@example.com", Role.support, station)
    await admin_sign_in("support@example.com")

    page = read(await client.get(f"/admin/contacts/{kept.contact_id}"))
    assert page.response.status_code == 200 and f'href="/admin/leads/{kept.id}"' in page.text
    wrong = await submit(client, page, ("go", "preview"), other="nobody@example.com")
    assert wrong.response.status_code == 422 and "No contact you work with" in wrong.errors["other"]
    shown = await submit(client, page, ("go", "preview"), other="(510) 555-0142")
    assert shown.response.status_code == 200 and "Merge D. Reyes into Dana Reyes" in shown.text
    async with db.transaction(write=False) as session:
        assert await session.get(Contact, dup.contact_id) is not None  # nothing merged by looking

    done = await submit(client, shown, ("go", "confirm"))

    assert done.response.status_code == 200 and "Merged:" in done.text and "+15105550142" in done.text
    async with db.transaction(write=False) as session:
        assert await session.get(Contact, dup.contact_id) is None
        assert [lead.id for lead in await session.scalars(select(Lead))] == [kept.id]
