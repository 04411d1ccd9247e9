"""The admin chefs pages over HTTP: the roster, adding and editing chefs (working days change availability at
once), time-off entered by a manager or asked for by a chef and decided by a manager, and what a chef may not do."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff
from tests.web.browserless import admin_csrf, read, submit

API = "/api/v1"
THURSDAY = "2026-12-10"  # the frozen clock's week: Tuesday 2026-12-01


@pytest.fixture
async def roster(station, make_user, db):  # noqa: ANN001, ANN201
    """The station's two chefs, staff of every role, and a third chef, "Chen Chef", linked to the chef user."""
    for email, role in [("admin@example.com", Role.admin), ("manager@example.com", Role.manager),
                        ("support@example.com", Role.support)]:
        await make_user(email, role, station)
    chef_user = await make_user("chef@example.com", Role.chef, station, name="Chen Chef")
    async with db.transaction() as session:
        chen = Chef(station_id=station.id, name="Chen Chef", user_id=chef_user, working_weekdays=EVERY_WEEKDAY,
                    is_active=True)
        session.add(chen)
        await session.flush()
        others = list(await session.scalars(select(Chef.id).where(Chef.station_id == station.id,
                                                                  Chef.id != chen.id).order_by(Chef.id)))
    return {"station": station, "chen": chen.id, "first": others[0], "second": others[1]}


async def chef_row(db, chef_id: int) -> Chef:  # noqa: ANN001
    async with db.session() as session:
        return await session.get_one(Chef, chef_id)


async def time_off_rows(db) -> list[ChefTimeOff]:  # noqa: ANN001
    async with db.session() as session:
        return list(await session.scalars(select(ChefTimeOff).order_by(ChefTimeOff.id)))


async def remaining(client, station_id: int, day: str, time: str = "18:00") -> int:  # noqa: ANN001
    response = await client.get(f"{API}/stations/{station_id}/availability", params={"start": day, "end": day})
    [slot] = [s for s in response.json()["days"][0]["slots"] if s["time"] == time]
    return slot["remaining"]


async def post_chef_form(client, page, **fields):  # noqa: ANN001, ANN003, ANN201
    """Sends the chef form like a browser, with the weekday boxes (several values of one name) as given."""
    data = {k: v for k, v in page.form.fields.items() if k != "weekday"}
    data.update(fields)
    return read(await client.post(page.form.action, data=data, follow_redirects=True))


async def test_the_roster_lists_the_chefs_with_their_days_and_limits(client, roster, admin_sign_in):
    await admin_sign_in("manager@example.com")

    page = await client.get("/admin/chefs")

    assert page.status_code == 200 and "<h1>Chefs — Station FRE</h1>" in page.text
    for name in ("Chef FRE 1", "Chef FRE 2", "Chen Chef"):
        assert name in page.text
    assert "Every day" in page.text and "3 (station rule)" in page.text
    assert "Chen Chef (chef@example.com)" in page.text  # the linked staff account
    assert 'href="/admin/chefs/new?station=' in page.text
    assert "No request is waiting" in page.text


async def test_editing_working_days_changes_availability_at_once(client, roster, admin_sign_in, db):
    await admin_sign_in("manager@example.com")
    before = await remaining(client, roster["station"].id, THURSDAY)
    form = read(await client.get(f"/admin/chefs/{roster['first']}"))
    assert 'value="4" checked' in form.text

    saved = await post_chef_form(client, form, weekday=["1", "2", "3", "5", "6", "7"], max_events_per_day="2",
                                 go="confirm")

    assert saved.response.url.path == "/admin/chefs" and "Chef details saved." in saved.text
    chef = await chef_row(db, roster["first"])
    assert chef.working_weekdays == [1, 2, 3, 5, 6, 7] and chef.max_events_per_day == 2
    assert chef.user_id is None and chef.is_active
    assert await remaining(client, roster["station"].id, THURSDAY) == before - 1
    assert re.search(r"Chef FRE 1</a></td>\s*<td>Active</td>\s*<td>Mon, Tue, Wed, Fri, Sat, Sun</td>", saved.text)


async def test_a_chef_can_be_deactivated_and_given_back_the_station_rule(client, roster, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    form = read(await client.get(f"/admin/chefs/{roster['second']}"))

    await post_chef_form(client, form, weekday=[str(d) for d in EVERY_WEEKDAY], is_active="",
                         max_events_per_day="", go="confirm")

    chef = await chef_row(db, roster["second"])
    assert not chef.is_active and chef.max_events_per_day is None


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"weekday": ["1", "9"]}, "weekdays", "is not a day of the week"),
    ({"weekday": ["Funday"]}, "weekdays", "is not a day of the week"),
    ({"max_events_per_day": "lots"}, "max_events_per_day", "whole number"),
    ({"max_events_per_day": "11"}, "max_events_per_day", "10"),
    ({"name": ""}, "name", "Please fill this in."),
])
async def test_bad_chef_input_is_shown_beside_its_field_and_changes_nothing(client, roster, admin_sign_in, db,
                                                                            fields, field, message):
    await admin_sign_in("manager@example.com")
    form = read(await client.get(f"/admin/chefs/{roster['first']}"))

    refused = await post_chef_form(client, form, **{"weekday": ["1"], **fields, "go": "confirm"})

    assert refused.response.status_code == 422 and message in refused.errors[field]
    assert 'role="alert"' in refused.text
    chef = await chef_row(db, roster["first"])
    assert chef.working_weekdays == EVERY_WEEKDAY and chef.max_events_per_day is None and chef.name == "Chef FRE 1"


async def test_adding_a_chef(client, roster, admin_sign_in, db):
    await admin_sign_in("manager@example.com")
    form = read(await client.get("/admin/chefs/new"))

    added = await post_chef_form(client, form, name="Kenji Sato", weekday=["6", "7"], go="confirm")

    assert added.response.url.path == "/admin/chefs" and "The chef is on the roster." in added.text
    async with db.session() as session:
        kenji = await session.scalar(select(Chef).where(Chef.name == "Kenji Sato"))
    assert kenji.working_weekdays == [6, 7] and kenji.is_active and kenji.station_id == roster["station"].id


async def test_linking_an_account_already_linked_is_refused(client, roster, admin_sign_in, db):
    await admin_sign_in("manager@example.com")
    form = read(await client.get(f"/admin/chefs/{roster['first']}"))
    chef_user = (await chef_row(db, roster["chen"])).user_id

    refused = await post_chef_form(client, form, weekday=["1"], user_id=str(chef_user), go="confirm")

    assert refused.response.status_code == 409 and "already linked" in refused.text
    assert (await chef_row(db, roster["first"])).user_id is None


async def test_a_manager_enters_time_off_that_is_approved_at_once(client, roster, admin_sign_in, db):
    await admin_sign_in("manager@example.com")
    before = await remaining(client, roster["station"].id, THURSDAY)
    form = read(await client.get(f"/admin/chefs/{roster['first']}/time-off"))
    assert "<h1>Time off — Chef FRE 1</h1>" in form.text and "approved at once" in form.text

    done = await submit(client, form, ("go", "confirm"), first_day=THURSDAY, last_day=THURSDAY, reason="Dentist")

    assert "Time-off entered" in done.text and "Dentist" in done.text and "Approved" in done.text
    [entry] = await time_off_rows(db)
    assert entry.status == "approved" and entry.chef_id == roster["first"]
    assert await remaining(client, roster["station"].id, THURSDAY) == before - 1


async def test_a_chef_asks_for_time_off_and_a_manager_approves_it(client, roster, admin_sign_in, db):
    before = await remaining(client, roster["station"].id, "2026-12-24")
    await admin_sign_in("chef@example.com")
    mine = read(await client.get("/admin/chefs"))
    assert "<h1>My time off</h1>" in mine.text and 'href="/admin/bookings">My events</a>' in mine.text
    assert "You have no time off yet" in mine.text and "Chef FRE 1" not in mine.text  # no roster for a chef

    asked = await submit(client, mine, ("go", "confirm"), first_day="2026-12-24", last_day="2026-12-26",
                         reason="Family holiday")

    assert "Your time-off request is sent" in asked.text and "Awaiting a decision" in asked.text
    [entry] = await time_off_rows(db)
    assert (entry.status, entry.chef_id) == ("requested", roster["chen"])
    assert await remaining(client, roster["station"].id, "2026-12-24") == before  # still on duty

    client.cookies.clear()
    await admin_sign_in("manager@example.com")
    chefs = await client.get("/admin/chefs")
    assert "Time-off requests awaiting a decision" in chefs.text and "Family holiday" in chefs.text
    confirm = read(await client.get(f"/admin/chefs/time-off/{entry.id}/approve"))
    assert "<h1>Approve time off of Chen Chef</h1>" in confirm.text and "will be off duty" in confirm.text
    assert (await time_off_rows(db))[0].status == "requested"  # the preview changes nothing

    approved = await submit(client, confirm, ("go", "confirm"))

    assert approved.response.url.path == "/admin/chefs" and "Time-off approved" in approved.text
    assert (await time_off_rows(db))[0].status == "approved"
    assert await remaining(client, roster["station"].id, "2026-12-24") == before - 1
    again = await client.get(f"/admin/chefs/time-off/{entry.id}/reject")
    assert "already approved; there is nothing to decide" in again.text and 'value="confirm"' not in again.text


async def test_a_manager_rejects_a_request(client, roster, admin_sign_in, db):
    await admin_sign_in("chef@example.com")
    await submit(client, read(await client.get("/admin/chefs")), ("go", "confirm"), first_day="2026-12-24",
                 last_day="2026-12-24")
    [entry] = await time_off_rows(db)
    client.cookies.clear()
    await admin_sign_in("manager@example.com")

    rejected = await submit(client, read(await client.get(f"/admin/chefs/time-off/{entry.id}/reject")),
                            ("go", "confirm"))

    assert "Time-off rejected" in rejected.text and (await time_off_rows(db))[0].status == "rejected"


async def test_time_off_ending_before_it_starts_is_refused(client, roster, admin_sign_in, db):
    await admin_sign_in("chef@example.com")
    mine = read(await client.get("/admin/chefs"))

    refused = await submit(client, mine, ("go", "confirm"), first_day="2026-12-26", last_day="2026-12-24")
    empty = await submit(client, mine, ("go", "confirm"), first_day="", last_day="2026-12-24")

    assert refused.response.status_code == 422
    assert refused.errors["last_day"] == "The last day must be on or after the first day."
    assert refused.form.fields["first_day"] == "2026-12-26"  # what was typed is kept
    assert empty.response.status_code == 422 and "first_day" in empty.errors
    assert await time_off_rows(db) == []


async def test_a_chef_cannot_approve_or_see_other_chefs(client, roster, admin_sign_in, db, login):
    headers = await login("manager@example.com")
    other = await client.post(f"{API}/stations/{roster['station'].id}/chefs/{roster['first']}/time-off",
                              headers=headers, json={"first_day": "2026-12-20", "last_day": "2026-12-21",
                                                     "reason": "Secret surgery"})
    assert other.status_code == 201
    await admin_sign_in("chef@example.com")
    await submit(client, read(await client.get("/admin/chefs")), ("go", "confirm"), first_day="2026-12-24",
                 last_day="2026-12-24")
    mine = [t for t in await time_off_rows(db) if t.chef_id == roster["chen"]][0]

    own_page = await client.get("/admin/chefs")
    others_page = await client.get(f"/admin/chefs/{roster['first']}/time-off")
    edit_page = await client.get(f"/admin/chefs/{roster['first']}")
    decide_page = await client.get(f"/admin/chefs/time-off/{mine.id}/approve")
    posted = await client.post(f"/admin/chefs/time-off/{mine.id}/approve",
                               data={"csrf_token": await admin_csrf(client), "go": "confirm"})
    entered = await client.post(f"/admin/chefs/{roster['first']}/time-off", data={
        "csrf_token": await admin_csrf(client), "first_day": "2026-12-28", "last_day": "2026-12-28",
        "go": "confirm"})

    assert "Secret surgery" not in own_page.text and "Awaiting a decision" in own_page.text
    assert others_page.status_code == 403 and "Secret surgery" not in others_page.text
    assert edit_page.status_code == 403 and decide_page.status_code == 403
    assert posted.status_code == 403 and "<h1>Not allowed</h1>" in posted.text
    assert entered.status_code == 403
    assert [t.status for t in await time_off_rows(db)] == ["approved", "requested"]


async def test_a_chef_without_a_roster_record_is_told_what_to_do(client, roster, make_user, admin_sign_in):
    await make_user("new-chef@example.com", Role.chef, roster["station"])
    await admin_sign_in("new-chef@example.com")

    page = await client.get("/admin/chefs")

    assert page.status_code == 200 and "not linked to a chef" in page.text
    assert 'action="/admin/chefs/' not in page.text  # no form to ask for time off as nobody


async def test_support_may_not_open_the_roster(client, roster, admin_sign_in, db):
    await admin_sign_in("support@example.com")

    roster_page = await client.get("/admin/chefs")
    posted = await client.post(f"/admin/chefs/{roster['first']}", data={
        "csrf_token": await admin_csrf(client), "name": "Hacked", "weekday": "1", "go": "confirm"})

    assert roster_page.status_code == 403 and posted.status_code == 403
    assert (await chef_row(db, roster["first"])).name == "Chef FRE 1"


async def test_another_stations_chef_does_not_exist(client, roster, make_station, make_user, admin_sign_in):
    other = await make_station("SAC")
    await make_user("sac-manager@example.com", Role.manager, other)
    await admin_sign_in("sac-manager@example.com")

    response = await client.get(f"/admin/chefs/{roster['first']}")
    time_off = await client.get(f"/admin/chefs/{roster['first']}/time-off")

    assert response.status_code == 404 and time_off.status_code == 404
