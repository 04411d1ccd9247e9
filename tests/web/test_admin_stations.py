"""The admin stations pages over HTTP: the list, creating and editing a station (a super admin only), and the
business-rules editor — dollars typed, cents stored, errors beside their fields, a live preview priced by the rules as
typed, and a saved change that is audited and changes the public quote."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.pricing.models import StationRules
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from myhibachi.web.admin.stations import RULE_FIELDS, Unreadable, read_value, to_cents
from tests.web.browserless import admin_csrf, read, submit

API = "/api/v1"
WEIGHTS = ("Source: 15\nContact details: 10\nParty size: 15\nDays to the event: 15\nDistance: 10\nEngagement: 15\n"
           "Chefs free: 20")
NEW_STATION = {"code": "sjc", "name": "San Jose CA", "timezone": "America/Los_Angeles", "line1": "1 Market St",
               "city": "San Jose", "state": "ca", "zip_code": "95113", "latitude": "37.3382",
               "longitude": "-121.8863"}


@pytest.fixture
async def staff(station, make_user):  # noqa: ANN001, ANN201
    for email, role in [("admin@example.com", Role.admin), ("manager@example.com", Role.manager)]:
        await make_user(email, role, station)
    await make_user("super@example.com", Role.super_admin)
    return station


async def stations(db) -> list[Station]:  # noqa: ANN001
    async with db.session() as session:
        return list(await session.scalars(select(Station).order_by(Station.id)))


async def audit(db, action: str) -> list[AuditEntry]:  # noqa: ANN001
    async with db.session() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                          .order_by(AuditEntry.id)))


async def saved_rules(db, station_id: int) -> dict | None:  # noqa: ANN001
    async with db.session() as session:
        row = await session.get(StationRules, station_id)
        return None if row is None else dict(row.rules)


async def raw_post(client, url: str, **fields: str):  # noqa: ANN001, ANN201
    """A post made without the page's form (as a hand-made request would be), with a valid CSRF token."""
    return await client.post(url, data={"csrf_token": await admin_csrf(client), **fields})


# --- stations --------------------------------------------------------------------------------------------------------


async def test_a_super_admin_creates_a_station(client, staff, admin_sign_in, db):
    await admin_sign_in("super@example.com")
    listing = await client.get("/admin/stations")
    assert 'href="/admin/stations/new"' in listing.text and "Station FRE" in listing.text

    form = read(await client.get("/admin/stations/new"))
    created = await submit(client, form, ("go", "confirm"), **NEW_STATION)

    assert created.response.status_code == 200 and "The station is created." in created.text
    station = (await stations(db))[-1]
    assert (station.code, station.name, station.state, station.latitude) == ("SJC", "San Jose CA", "CA", 37.3382)
    assert created.response.url.path == f"/admin/stations/{station.id}"
    entry = (await audit(db, "stations.create"))[-1]  # the fixture's station was the first
    assert entry.after["code"] == "SJC" and entry.station_id == station.id and entry.actor_user_id is not None
    public = (await client.get(f"{API}/stations")).json()
    assert "SJC" in [s["code"] for s in public]


async def test_an_admin_sees_no_station_buttons_and_is_refused_anyway(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")

    listing = await client.get("/admin/stations")
    new_form = await client.get("/admin/stations/new")
    edit_form = await client.get(f"/admin/stations/{staff.id}")
    create = await raw_post(client, "/admin/stations/new", go="confirm", **NEW_STATION)
    edit = await raw_post(client, f"/admin/stations/{staff.id}", go="confirm", **{**NEW_STATION, "name": "Taken"})

    assert listing.status_code == 200 and "Station FRE" in listing.text
    assert "/admin/stations/new" not in listing.text and f'href="/admin/stations/{staff.id}"' not in listing.text
    assert f'href="/admin/stations/{staff.id}/rules"' in listing.text  # an admin edits the rules of their station
    assert new_form.status_code == 403 and edit_form.status_code == 403
    assert create.status_code == 403 and edit.status_code == 403
    assert [(s.code, s.name) for s in await stations(db)] == [("FRE", "Station FRE")]


async def test_a_manager_may_not_open_stations_and_rules(client, staff, admin_sign_in):
    await admin_sign_in("manager@example.com")

    assert (await client.get("/admin/stations")).status_code == 403
    assert (await client.get(f"/admin/stations/{staff.id}/rules")).status_code == 403
    assert (await raw_post(client, f"/admin/stations/{staff.id}/rules/preview")).status_code == 403


async def test_rules_of_another_station_do_not_exist_for_an_admin(client, staff, admin_sign_in, make_station, db):
    other = await make_station("SAC")
    await admin_sign_in("admin@example.com")

    page = await client.get(f"/admin/stations/{other.id}/rules")
    post = await raw_post(client, f"/admin/stations/{other.id}/rules", go="confirm", adult_price_cents="1.00")

    assert page.status_code == 404 and post.status_code == 404
    assert await saved_rules(db, other.id) is None


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"code": "X"}, "code", "2 to 16 letters"),
    ({"timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
    ({"state": "California"}, "state", "2-letter state code"),
    ({"zip_code": "9411"}, "zip_code", "5 digits"),
    ({"latitude": "north"}, "latitude", "decimal degrees"),
    ({"longitude": "-200"}, "longitude", "-180"),
    ({"name": ""}, "name", "Please fill this in."),
])
async def test_bad_station_input_is_shown_beside_its_field(client, staff, admin_sign_in, db, fields, field,
                                                           message):
    await admin_sign_in("super@example.com")
    form = read(await client.get("/admin/stations/new"))

    refused = await submit(client, form, ("go", "confirm"), **{**NEW_STATION, **fields})

    assert refused.response.status_code == 422 and message in refused.errors[field]
    assert 'role="alert"' in refused.text and refused.form.fields["city"] == "San Jose"  # the rest is kept
    assert len(await stations(db)) == 1


async def test_a_taken_code_is_refused(client, staff, admin_sign_in, db):
    await admin_sign_in("super@example.com")
    form = read(await client.get("/admin/stations/new"))

    refused = await submit(client, form, ("go", "confirm"), **{**NEW_STATION, "code": "fre"})

    assert refused.response.status_code == 409 and "already exists" in refused.errors["code"]
    assert len(await stations(db)) == 1


async def test_a_super_admin_edits_and_closes_a_station(client, staff, admin_sign_in, db):
    await admin_sign_in("super@example.com")
    form = read(await client.get(f"/admin/stations/{staff.id}"))
    assert form.form.fields["name"] == "Station FRE" and form.form.fields["is_active"] == "on"
    assert 'name="code"' not in form.text  # the code never changes

    saved = await submit(client, form, ("go", "confirm"), name="Fremont & Bay", is_active="")

    assert "Station saved." in saved.text
    [station] = await stations(db)
    assert station.name == "Fremont & Bay" and not station.is_active
    [entry] = await audit(db, "stations.update")
    assert entry.before == {"name": "Station FRE", "is_active": True}
    assert entry.after == {"name": "Fremont & Bay", "is_active": False}
    assert (await client.get(f"{API}/stations")).json() == []  # closed to customers


async def test_a_bad_edit_changes_nothing(client, staff, admin_sign_in, db):
    await admin_sign_in("super@example.com")
    form = read(await client.get(f"/admin/stations/{staff.id}"))

    refused = await submit(client, form, ("go", "confirm"), name="Renamed", latitude="91")

    assert refused.response.status_code == 422 and "90" in refused.errors["latitude"]
    assert refused.form.fields["name"] == "Renamed"  # as typed
    [station] = await stations(db)
    assert station.name == "Station FRE" and station.latitude == 37.5
    assert await audit(db, "stations.update") == []


# --- the rules editor -------------------------------------------------------------------------------------------------


def test_every_business_rule_is_on_the_form():
    assert set(RULE_FIELDS) == set(BusinessRules.model_fields)


@pytest.mark.parametrize(("typed", "cents"), [("61.50", 6150), ("$1,200", 120000), ("0", 0), ("61.5", 6150),
                                              (" 55.00 ", 5500)])
def test_dollars_become_cents(typed, cents):
    assert to_cents(typed) == cents


@pytest.mark.parametrize("typed", ["61.505", "0.001", "abc", "", "1e400", "NaN", "Infinity"])
def test_what_is_not_an_amount_in_cents_is_refused(typed):
    with pytest.raises(Unreadable):
        to_cents(typed)


def test_lists_and_prices_are_read_from_text():
    assert read_value("prices", "gyoza = 10.00\n\n edamame=5") == {"gyoza": 1000, "edamame": 500}
    assert [t.strftime("%H:%M") for t in read_value("times", "12:00, 9:30")] == ["12:00", "09:30"]
    assert read_value("codes", "Chicken, tofu,") == ["chicken", "tofu"]
    assert read_value("percents", "20, 25%") == [20, 25]
    assert str(read_value("decimal", "8.250")) == "8.25"  # the same rate, not a change
    assert read_value("weights", WEIGHTS.replace("Distance: 10", " distance = 0 ").upper()) == {
        "source": 15, "completeness": 10, "party_size": 15, "timing": 15, "distance": 0, "engagement": 15,
        "capacity": 20}
    with pytest.raises(Unreadable, match="Line 8"):
        read_value("weights", WEIGHTS + "\nSource 15")


async def test_the_editor_shows_the_rules_in_dollars(client, staff, admin_sign_in):
    await admin_sign_in("admin@example.com")

    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    fields = page.form.fields
    assert fields["adult_price_cents"] == "55.00" and fields["party_minimum_cents"] == "550.00"
    assert fields["slot_times"] == "12:00, 15:00, 18:00, 21:00" and fields["tax_rate_percent"] == "8.25"
    assert fields["protein_upgrades"] == "Salmon: $5.00\nScallops: $5.00\nFilet mignon: $5.00\nLobster tail: $15.00"
    assert "Gyoza: $10.00" in fields["addons"]
    assert fields["base_proteins"] == "Chicken, NY strip, Shrimp, Calamari, Tofu"
    assert not re.search(r"filet_mignon|lobster_tail|ny_strip|yakisoba_noodles|fried_rice", page.text)  # no codes
    assert fields["preview_zip"] == "94538" and fields["preview_adults"] == "10"
    assert fields["lead_weights"] == WEIGHTS and (fields["lead_hot_min"], fields["lead_warm_min"]) == ("70", "40")
    assert fields["lead_lost_reasons"] == "Price, Date unavailable, No response, Chose another caterer, " \
                                          "Plans changed, Other"
    assert "Adult (13+) × 10" in page.text and "$550.00" in page.text  # the preview with the saved rules


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"adult_price_cents": "61.505"}, "adult_price_cents", "whole cents"),
    ({"child_price_cents": "thirty"}, "child_price_cents", "like 61.50"),
    ({"deposit_cents": "-5"}, "deposit_cents", "at least $0.00"),
    ({"reschedule_fee_cents": "200000"}, "reschedule_fee_cents", "at most $100,000.00"),
    ({"slot_times": "12:00, 25:00"}, "slot_times", "not a time"),
    ({"slot_times": "12:00, 12:00"}, "slot_times", "must not repeat"),
    ({"addons": "gyoza 10"}, "addons", "Line 1"),
    ({"addons": "Gyoza!: 10"}, "addons", "letters, digits and spaces"),
    ({"base_proteins": "chicken, salmon"}, "protein_upgrades", "both base and upgrade"),
    ({"adults_min": "60"}, "adults_min", "must not exceed “Most adults”"),
    ({"tax_rate_percent": "8.2555"}, "tax_rate_percent", "3 digits after the point"),
    ({"event_minutes": "ninety"}, "event_minutes", "whole number"),
    ({"currency": "dollars"}, "currency", "Three capital letters"),
    ({"base_proteins": ""}, "base_proteins", "at least 1"),
    ({"lead_weights": WEIGHTS + "\nCharm: 10"}, "lead_weights", "“Charm” is not a factor we score"),
    ({"lead_weights": WEIGHTS.replace("Party size: 15", "Party size: lots")}, "lead_weights",
     "Line 3: the weight of Party size must be a whole number from 0 to 100"),
    ({"lead_weights": WEIGHTS.replace("Party size: 15", "Party size: 150")}, "lead_weights", "from 0 to 100"),
    ({"lead_weights": "Source: 15\nSource: 20"}, "lead_weights", "Source is listed twice"),
    ({"lead_weights": "Source: 15"}, "lead_weights", "missing: Contact details, Party size"),
    ({"lead_weights": re.sub(r"\d+", "0", WEIGHTS)}, "lead_weights", "at least one factor some weight"),
    ({"lead_warm_min": "80"}, "lead_warm_min", "“Warm from score” must be below “Hot from score”"),
    ({"lead_hot_min": "0"}, "lead_hot_min", "at least 1"),
    ({"lead_lost_reasons": ""}, "lead_lost_reasons", "at least 1"),
])
async def test_invalid_rules_are_shown_beside_their_fields_and_nothing_is_saved(client, staff, admin_sign_in, db,
                                                                                fields, field, message):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    refused = await submit(client, page, ("go", "confirm"), **{"adult_price_cents": "61.50", **fields})

    assert refused.response.status_code == 422, refused.errors
    assert message in refused.errors[field], refused.errors
    assert 'role="alert"' in refused.text and "nothing was saved" in refused.text
    assert all(refused.form.fields[name] == value for name, value in fields.items())  # as typed
    assert await saved_rules(db, staff.id) is None and await audit(db, "rules.update") == []


async def test_a_rule_change_is_saved_audited_and_quoted_on_the_public_site(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    saved = await submit(client, page, ("go", "confirm"), adult_price_cents="61.50")

    assert saved.response.url.path == f"/admin/stations/{staff.id}/rules"
    assert "Business rules saved" in saved.text and saved.form.fields["adult_price_cents"] == "61.50"
    assert (await saved_rules(db, staff.id))["adult_price_cents"] == 6150
    [entry] = await audit(db, "rules.update")
    assert entry.before == {"adult_price_cents": 5500} and entry.after == {"adult_price_cents": 6150}

    log = await client.get("/admin/audit", params={"action": "rules.update"})
    assert re.search(r"Adult \(13\+\), per person(<[^>]+>)*\s*</th><td>55\.00</td><td>61\.50</td>", log.text)

    quote = await client.get("/quote", params={"station_id": staff.id, "zip_code": "94538", "adults": "10"})
    assert quote.status_code == 200 and "Adult (13+) × 10</th><td>$615.00</td>" in quote.text
    api = await client.post(f"{API}/quotes", json={"station_id": staff.id, "zip_code": "94538", "adults": 10})
    [adult] = [line for line in api.json()["lines"] if line["code"] == "adult"]
    assert adult["unit_cents"] == 6150 and adult["amount_cents"] == 61500


async def test_the_lead_rules_are_typed_in_words_and_saved(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    saved = await submit(client, page, ("go", "confirm"), lead_hot_min="80", lead_warm_min="50",
                         lead_lost_reasons="Price, No response, Went vegan",
                         lead_weights=WEIGHTS.replace("Engagement: 15", "Engagement: 40"))

    assert "Business rules saved" in saved.text, saved.errors
    rules = BusinessRules.model_validate(await saved_rules(db, staff.id))
    assert (rules.lead_hot_min, rules.lead_warm_min) == (80, 50)
    assert rules.lead_lost_reasons == ["price", "no_response", "went_vegan"]
    assert rules.lead_weights == {"source": 15, "completeness": 10, "party_size": 15, "timing": 15, "distance": 10,
                                  "engagement": 40, "capacity": 20}
    assert saved.form.fields["lead_weights"] == WEIGHTS.replace("Engagement: 15", "Engagement: 40")
    [entry] = await audit(db, "rules.update")
    assert entry.after["lead_weights"]["engagement"] == 40 and entry.after["lead_hot_min"] == 80


async def test_saving_unchanged_rules_writes_nothing(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    same = await submit(client, page, ("go", "confirm"))

    assert "Nothing was changed" in same.text
    assert await saved_rules(db, staff.id) is None and await audit(db, "rules.update") == []


async def test_the_preview_prices_the_rules_as_typed_without_saving(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))
    fields = {**page.form.fields, "adult_price_cents": "61.50", "preview_adults": "12", "preview_children": "2"}

    response = await client.post(f"/admin/stations/{staff.id}/rules/preview", data=fields)

    assert response.status_code == 200 and "<html" not in response.text
    assert "Adult (13+) × 12</th><td>$738.00</td>" in response.text
    assert "Child (6–12) × 2</th><td>$60.00</td>" in response.text
    assert re.search(r"<th scope=\"row\">Adult \(13\+\), per person</th><td>55\.00</td><td>61\.50</td>", response.text)
    assert await saved_rules(db, staff.id) is None and await audit(db, "rules.update") == []


async def test_the_preview_says_why_there_is_no_quote(client, staff, admin_sign_in):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))
    url = f"/admin/stations/{staff.id}/rules/preview"

    bad_rule = await client.post(url, data={**page.form.fields, "adult_price_cents": "61.505"})
    far = await client.post(url, data={**page.form.fields, "preview_zip": "10001"})
    too_many = await client.post(url, data={**page.form.fields, "adults_max": "8"})
    forged = await client.post(url, data={**page.form.fields, "csrf_token": "forged-token-0123456789"})

    assert bad_rule.status_code == 200 and "Adult (13+), per person: Use whole cents" in bad_rule.text
    assert "Nothing can be saved until" in bad_rule.text
    assert far.status_code == 200 and "we travel up to 150 miles" in far.text
    assert too_many.status_code == 200 and "Adults must be between 1 and 8" in too_many.text
    assert "Most adults" in too_many.text  # what saving would change, even without a quote
    assert forged.status_code == 403


async def test_the_preview_button_works_without_javascript(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    previewed = await submit(client, page, ("go", "preview"), adult_price_cents="70", preview_adults="10")

    assert previewed.response.status_code == 200 and "Adult (13+) × 10</th><td>$700.00</td>" in previewed.text
    assert previewed.form.fields["adult_price_cents"] == "70"
    assert await saved_rules(db, staff.id) is None


async def test_the_station_switcher_opens_the_same_page_of_the_chosen_station(client, staff, admin_sign_in,
                                                                              make_station):
    other = await make_station("SAC")
    await admin_sign_in("super@example.com")

    rules = await client.get(f"/admin/stations/{staff.id}/rules", params={"station": other.id})
    edit = await client.get(f"/admin/stations/{staff.id}", params={"station": other.id})

    assert rules.status_code == 303 and rules.headers["location"] == f"/admin/stations/{other.id}/rules"
    assert edit.status_code == 303 and edit.headers["location"] == f"/admin/stations/{other.id}"


async def test_menu_items_are_typed_by_their_labels_and_saved_by_their_codes(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))
    addons = page.form.fields["addons"] + "\nWagyu beef: $25.00"

    saved = await submit(client, page, ("go", "confirm"), addons=addons,
                         protein_upgrades="Salmon: 5\nScallops: 5.00\nFilet mignon: $6.50\nlobster_tail = 15.00")

    assert "Business rules saved" in saved.text
    rules = await saved_rules(db, staff.id)
    assert rules["addons"]["wagyu_beef"] == 2500 and rules["addons"]["gyoza"] == 1000
    assert rules["protein_upgrades"] == {"salmon": 500, "scallops": 500, "filet_mignon": 650, "lobster_tail": 1500}
    assert "Wagyu beef: $25.00" in saved.form.fields["addons"]
    log = await client.get("/admin/audit", params={"action": "rules.update"})
    assert "Filet mignon: $6.50" in log.text and "filet_mignon" not in log.text


async def test_an_item_whose_label_loses_part_of_its_code_still_saves_unchanged(client, staff, admin_sign_in, db,
                                                                                 make_user, login):
    """A code the label cannot spell back (a trailing underscore) is matched by its label: sending the form back
    unchanged saves nothing."""
    await make_user("root@example.com", Role.super_admin)
    headers = await login("root@example.com")
    rules = (await client.get(f"{API}/stations/{staff.id}/rules", headers=headers)).json()
    put = await client.put(f"{API}/stations/{staff.id}/rules", headers=headers,
                           json={**rules, "addons": {**rules["addons"], "house_sauce_": 300}})
    assert put.status_code == 200, put.text
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))

    same = await submit(client, page, ("go", "confirm"))

    assert "House sauce : $3.00" in page.form.fields["addons"]
    assert "Nothing was changed" in same.text
    assert (await saved_rules(db, staff.id))["addons"]["house_sauce_"] == 300


def test_every_default_menu_code_reads_back_from_its_label():
    from myhibachi.pricing.quote import label_of
    from myhibachi.pricing.rules import DEFAULT_RULES
    from myhibachi.web.admin.stations import code_of, menu_codes

    codes = menu_codes(DEFAULT_RULES)
    assert codes and all(code_of(label_of(code)) == code for code in codes)  # without knowing them, too
    assert read_value("prices", "Filet mignon: €5.00\nGyoza: 10.00 EUR") == {"filet_mignon": 500, "gyoza": 1000}
    assert read_value("codes", "Chicken, NY strip") == ["chicken", "ny_strip"]


async def test_email_tracking_is_switched_off_and_on_from_a_list(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/stations/{staff.id}/rules"))
    assert page.form.fields["email_tracking"] == "On" and "Track opens and clicks" in page.text

    saved = await submit(client, page, ("go", "confirm"), email_tracking="Off")

    assert "Business rules saved" in saved.text, saved.errors
    assert saved.form.fields["email_tracking"] == "Off"
    assert (await saved_rules(db, staff.id))["email_tracking"] is False
    [entry] = await audit(db, "rules.update")
    assert (entry.before["email_tracking"], entry.after["email_tracking"]) == (True, False)
    refused = await submit(client, saved, ("go", "confirm"), email_tracking="maybe")
    assert refused.errors["email_tracking"] == "Choose on or off."
