"""The admin users, audit log and "My account" pages over HTTP: inviting (the email and its link), changing and
taking away roles, deactivating, what each role may not grant (SPEC §3), the audit log's filters, pages and
before/after, and two-factor sign-in turned on and off."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pyotp
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select

from myhibachi.audit.commands import record_audit
from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import StationMembership, User
from myhibachi.auth.permissions import Role
from tests.conftest import PASSWORD, mail_text, read_mails
from tests.web.browserless import Page, admin_csrf, read, submit


@pytest.fixture
async def staff(station, make_user):  # noqa: ANN001, ANN201
    ids = {}
    for email, role, name in [("admin@example.com", Role.admin, "Ada Admin"),
                              ("manager@example.com", Role.manager, "Mona Manager"),
                              ("support@example.com", Role.support, "Sunny Support"),
                              ("chef@example.com", Role.chef, "Chen Chef")]:
        ids[email] = await make_user(email, role, station, name=name)
    ids["super@example.com"] = await make_user("super@example.com", Role.super_admin, name="Sam Super")
    return ids


@pytest.fixture
async def other_client(app) -> AsyncIterator[AsyncClient]:  # noqa: ANN001
    """A second browser."""
    async with AsyncClient(transport=ASGITransport(app=app, client=("203.0.113.8", 50000)),
                           base_url="http://testserver", headers={"Origin": "http://testserver"}) as http:
        yield http


async def sign_in(client: AsyncClient, email: str, password: str = PASSWORD, totp_code: str | None = None) -> Page:
    """Signs in like a browser; returns where it lands (the dashboard, or the refusal or the TOTP step)."""
    page = await submit(client, read(await client.get("/admin/login")), None, email=email, password=password)
    if totp_code is not None:
        page = await submit(client, page, None, totp_code=totp_code)
    return page


async def raw_post(client: AsyncClient, url: str, **fields: str):  # noqa: ANN201
    """A post made without the page's form (as a hand-made request would be), with a valid CSRF token."""
    return await client.post(url, data={"csrf_token": await admin_csrf(client), **fields})


async def role_of(db, user_id: int, station_id: int) -> str | None:  # noqa: ANN001
    async with db.session() as session:
        return await session.scalar(select(StationMembership.role).where(
            StationMembership.user_id == user_id, StationMembership.station_id == station_id))


async def user(db, email: str) -> User | None:  # noqa: ANN001
    async with db.session() as session:
        return await session.scalar(select(User).where(User.email == email))


async def audit(db, action: str) -> list[AuditEntry]:  # noqa: ANN001
    """The entries of an action made by a signed-in user (the fixtures' setup is done by the system)."""
    async with db.session() as session:
        return list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.actor_user_id.is_not(None)).order_by(AuditEntry.id)))


def options(html: str, name: str) -> list[str]:
    """The values offered by a radio group or a select."""
    radios = re.findall(rf'name="{name}" value="([^"]+)"', html)
    select_ = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    return radios or (re.findall(r'<option value="([^"]*)"', select_[1]) if select_ else [])


# --- users -----------------------------------------------------------------------------------------------------------


async def test_the_users_of_the_station_are_listed(client, staff, admin_sign_in):
    await admin_sign_in("admin@example.com")

    page = await client.get("/admin/users")

    assert page.status_code == 200 and "<h1>Users — Station FRE</h1>" in page.text
    for name in ("Ada Admin", "Mona Manager", "Sunny Support", "Chen Chef"):
        assert name in page.text
    assert "Sam Super" not in page.text  # not a member of the station
    assert re.search(r"Sunny Support</a></td>\s*<td>support@example.com</td>\s*<td>support</td>", page.text)
    assert 'href="/admin/users/new?station=' in page.text
    searched = await client.get("/admin/users", params={"q": "mona"})
    assert "Mona Manager" in searched.text and "Sunny Support" not in searched.text


async def test_a_super_admin_lists_every_user(client, staff, admin_sign_in, make_station, make_user):
    sac = await make_station("SAC")
    await make_user("sac.chef@example.com", Role.chef, sac, name="Sac Chef")
    await admin_sign_in("super@example.com")

    everyone = await client.get("/admin/users", params={"scope": "all"})

    assert "Sac Chef" in everyone.text and "Ada Admin" in everyone.text and "Sam Super" in everyone.text
    assert "Station SAC: chef" in everyone.text


async def test_roles_without_users_manage_have_no_users_page(client, staff, admin_sign_in):
    await admin_sign_in("support@example.com")

    assert (await client.get("/admin/users")).status_code == 403
    assert (await client.get("/admin/users/new")).status_code == 403
    assert (await client.get(f"/admin/users/{staff['chef@example.com']}")).status_code == 404


async def test_an_admin_invites_a_user_who_then_chooses_a_password(client, staff, admin_sign_in, settings, db):
    station_id = await role_station(db, staff)
    await admin_sign_in("admin@example.com")
    form = read(await client.get("/admin/users/new"))
    assert options(form.text, "role") == ["manager", "support", "chef"]  # an admin never grants admin

    invited = await submit(client, form, ("go", "confirm"), name="Kenji Tanaka", email="Kenji@Example.com",
                           role="chef")

    assert invited.response.status_code == 200 and "Invite sent" in invited.text
    new = await user(db, "kenji@example.com")
    assert new is not None and new.password_hash is None
    assert await role_of(db, new.id, station_id) == "chef"
    assert "Invited; has not chosen a password yet" in invited.text
    [entry] = await audit(db, "users.create")
    assert entry.after == {"email": "kenji@example.com", "name": "Kenji Tanaka", "role": "chef", "invited": True}
    [mail] = [m for m in read_mails(settings) if m["To"] == "kenji@example.com"]
    assert mail["Subject"] == "You're invited to MyHibachi" and "as chef at Station FRE" in mail_text(mail)
    link = re.search(r"http://testserver(/admin/set-password\?token=\S+)", mail_text(mail))[1]

    await client.post("/admin/logout", data={"csrf_token": await admin_csrf(client)})
    choose = read(await client.get(link))
    mismatch = await submit(client, choose, ("go", "confirm"), new_password="a-long-new-password",
                            repeat_password="another-password")
    done = await submit(client, mismatch, ("go", "confirm"), new_password="a-long-new-password",
                        repeat_password="a-long-new-password")
    again = await submit(client, choose, ("go", "confirm"), new_password="a-long-new-password",
                         repeat_password="a-long-new-password")

    assert mismatch.response.status_code == 422 and "not the same" in mismatch.errors["repeat_password"]
    assert "Your password is set" in done.text
    assert again.response.status_code == 400 and "already used" in again.text
    assert "<h1>Dashboard" in (await sign_in(client, "kenji@example.com", "a-long-new-password")).text


async def role_station(db, staff) -> int:  # noqa: ANN001
    """The fixture's station (the one the admin works at)."""
    async with db.session() as session:
        return await session.scalar(select(StationMembership.station_id).where(
            StationMembership.user_id == staff["admin@example.com"]))


@pytest.mark.parametrize(("fields", "field", "message", "status"), [
    ({"email": "not-an-email"}, "email", "Please enter an email address", 422),
    ({"name": ""}, "name", "Please fill this in.", 422),
    ({"email": "support@example.com"}, "email", "already exists", 409),
])
async def test_a_bad_invite_is_shown_beside_its_field(client, staff, admin_sign_in, db, fields, field, message,
                                                      status):
    await admin_sign_in("admin@example.com")
    form = read(await client.get("/admin/users/new"))

    refused = await submit(client, form, ("go", "confirm"), **{"name": "New Person", "email": "new@example.com",
                                                               "role": "support", **fields})

    assert refused.response.status_code == status and message in refused.errors[field]
    assert await user(db, "new@example.com") is None and await audit(db, "users.create") == []


async def test_a_manager_may_grant_only_chef(client, staff, admin_sign_in, db):
    station_id = await role_station(db, staff)
    await admin_sign_in("manager@example.com")
    form = read(await client.get("/admin/users/new"))
    support_page = await client.get(f"/admin/users/{staff['support@example.com']}")

    as_admin = await raw_post(client, "/admin/users/new", name="Evil Twin", email="twin@example.com", role="admin",
                              go="confirm")
    promote = await raw_post(client, f"/admin/users/{staff['chef@example.com']}/stations/{station_id}/role",
                             role="admin", go="confirm")
    demote_support = await raw_post(client, f"/admin/users/{staff['support@example.com']}/stations/{station_id}/role",
                                    role="chef", go="confirm")

    assert options(form.text, "role") == ["chef"]
    assert "Change role" not in support_page.text and "Deactivate" not in support_page.text
    assert as_admin.status_code == 403 and await user(db, "twin@example.com") is None
    assert promote.status_code == 403 and await role_of(db, staff["chef@example.com"], station_id) == "chef"
    assert demote_support.status_code == 403
    assert await role_of(db, staff["support@example.com"], station_id) == "support"
    assert await audit(db, "users.create") == [] and await audit(db, "users.role_change") == []


async def test_an_admin_changes_a_role_after_seeing_what_it_means(client, staff, admin_sign_in, db):
    station_id = await role_station(db, staff)
    support = staff["support@example.com"]
    await admin_sign_in("admin@example.com")
    detail = await client.get(f"/admin/users/{support}")
    assert f'href="/admin/users/{support}/stations/{station_id}/role"' in detail.text

    chooser = await client.get(f"/admin/users/{support}/stations/{station_id}/role")
    review = read(await client.get(f"/admin/users/{support}/stations/{station_id}/role", params={"role": "manager"}))
    assert options(chooser.text, "role") == ["manager", "chef"]  # not admin, not the role they have
    assert "Sunny Support becomes manager" in review.text and "manage chefs and time off" in review.text
    assert "create, edit and reschedule bookings" in review.text  # what they lose
    assert await role_of(db, support, station_id) == "support"  # nothing changed by looking

    changed = await submit(client, review, ("go", "confirm"))

    assert "Role changed" in changed.text and await role_of(db, support, station_id) == "manager"
    [entry] = await audit(db, "users.role_change")
    assert entry.before == {"role": "support"} and entry.after == {"role": "manager"}


async def test_removing_from_a_station_needs_a_reason(client, staff, admin_sign_in, db):
    station_id = await role_station(db, staff)
    chef = staff["chef@example.com"]
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/users/{chef}/stations/{station_id}/remove"))
    assert "loses the role <strong>chef</strong>" in page.text

    no_reason = await submit(client, page, ("go", "confirm"), reason="")
    removed = await submit(client, page, ("go", "confirm"), reason="Moved to Sacramento")

    assert no_reason.response.status_code == 422 and "say why" in no_reason.errors["reason"]
    assert "Removed from the station" in removed.text and await role_of(db, chef, station_id) is None
    [entry] = await audit(db, "users.role_revoke")
    assert entry.reason == "Moved to Sacramento" and entry.before == {"role": "chef"}


async def test_a_deactivated_user_cannot_sign_in_until_reactivated(client, other_client, staff, admin_sign_in, db):
    support = staff["support@example.com"]
    assert "<h1>Dashboard" in (await sign_in(other_client, "support@example.com")).text
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/users/{support}/deactivate"))
    assert "signed out everywhere" in page.text

    no_reason = await submit(client, page, ("go", "confirm"), reason="no")
    assert no_reason.response.status_code == 422 and (await user(db, "support@example.com")).is_active
    done = await submit(client, page, ("go", "confirm"), reason="Left the company")

    assert "Account deactivated" in done.text and not (await user(db, "support@example.com")).is_active
    assert (await other_client.get("/admin")).status_code == 303  # the open session ended at once
    refused = await sign_in(other_client, "support@example.com")
    assert refused.response.status_code == 401
    [entry] = await audit(db, "users.deactivate")
    assert entry.reason == "Left the company"

    back = read(await client.get(f"/admin/users/{support}/reactivate"))
    await submit(client, back, ("go", "confirm"))
    assert "<h1>Dashboard" in (await sign_in(other_client, "support@example.com")).text


async def test_nobody_deactivates_themselves_or_a_super_admin(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    own = await client.get(f"/admin/users/{staff['admin@example.com']}")
    post_own = await raw_post(client, f"/admin/users/{staff['admin@example.com']}/deactivate", reason="Bored now",
                              go="confirm")
    post_super = await raw_post(client, f"/admin/users/{staff['super@example.com']}/deactivate", reason="Why not",
                                go="confirm")

    assert "This is you" in own.text and "/deactivate" not in own.text
    assert post_own.status_code == 409 and "your own account" in post_own.text
    assert post_super.status_code == 404  # a super admin is no member of the admin's station
    assert (await user(db, "admin@example.com")).is_active and (await user(db, "super@example.com")).is_active
    assert await audit(db, "users.deactivate") == []


# --- the audit log ---------------------------------------------------------------------------------------------------


@pytest.fixture
async def history(staff, make_station, db, clock):  # noqa: ANN001, ANN201
    """Entries at FRE by the admin and the manager a few days apart, and one at SAC (not the admin's station)."""
    sac = await make_station("SAC")
    async with db.session() as session:
        fre = (await session.scalars(select(StationMembership.station_id)
                                     .where(StationMembership.user_id == staff["admin@example.com"]))).first()
    clock.shift(timedelta(days=-3))
    async with db.transaction() as session:
        await record_audit(session, actor_user_id=staff["manager@example.com"], action="chefs.update",
                           target_type="chef", target_id=1, station_id=fre, before={"name": "Old"},
                           after={"name": "New"})
    clock.shift(timedelta(days=3))
    async with db.transaction() as session:
        await record_audit(session, actor_user_id=staff["admin@example.com"], action="rules.update",
                           target_type="station_rules", target_id=fre, station_id=fre,
                           before={"deposit_cents": 10000, "slot_times": ["12:00", "18:00"]},
                           after={"deposit_cents": 12500, "slot_times": ["12:00", "19:00"]})
        await record_audit(session, actor_user_id=staff["super@example.com"], action="rules.update",
                           target_type="station_rules", target_id=sac.id, station_id=sac.id,
                           before={"deposit_cents": 10000}, after={"deposit_cents": 9000})
    return {"fre": fre, "sac": sac.id}


def rows(html: str) -> list[str]:
    """The actions of the listed entries (as the page words them), newest first."""
    return re.findall(r'<td><a href="/admin/audit\?[^"]*action=[^"]*">([^<]+)</a></td>', html)


RULES, CHEF, STATION, NEW_CHEF = "Business rules changed", "Chef changed", "Station created", "Chef added"


async def test_the_audit_log_shows_the_admins_stations_with_before_and_after(client, history, admin_sign_in):
    await admin_sign_in("admin@example.com")

    page = await client.get("/admin/audit")

    assert page.status_code == 200
    assert rows(page.text)[:2] == [RULES, CHEF] and "90.00" not in page.text  # not SAC's
    assert ">Business rules of Station FRE</a>" in page.text and "rules.update<" not in page.text
    assert re.search(r"Deposit(<[^>]+>)*\s*</th><td>100\.00</td><td>125\.00</td>", page.text)
    assert re.search(r"Start times(<[^>]+>)*\s*</th><td>12:00, 18:00</td><td>12:00, 19:00</td>", page.text)
    assert "Ada Admin" in page.text and "Mona Manager" in page.text


async def test_the_audit_filters(client, history, admin_sign_in, staff):
    await admin_sign_in("super@example.com")

    by_action = await client.get("/admin/audit", params={"action": "chefs.update"})
    by_actor = await client.get("/admin/audit", params={"actor": "MANAGER@example.com"})
    by_station = await client.get("/admin/audit", params={"station_id": history["sac"]})
    by_type = await client.get("/admin/audit", params={"target_type": "chef"})
    recent = await client.get("/admin/audit", params={"from": "2026-11-30", "to": "2026-12-01",
                                                      "action": "rules.update"})
    older = await client.get("/admin/audit", params={"from": "2026-11-01", "to": "2026-11-29"})
    nobody = await client.get("/admin/audit", params={"actor": "ghost@example.com"})

    assert rows(by_action.text) == [CHEF] and rows(by_actor.text) == [CHEF]
    assert rows(by_type.text) == [CHEF]
    assert rows(by_station.text) == [RULES, STATION] and "90.00" in by_station.text
    assert rows(recent.text) == [RULES, RULES]
    assert rows(older.text) == [CHEF]
    assert '<option value="chefs.update" selected>Chef changed</option>' in by_action.text
    assert '<option value="chef" selected>Chef</option>' in by_type.text
    assert "No staff user has the email ghost@example.com" in nobody.text and rows(nobody.text) == []


async def test_the_audit_log_pages_and_ignores_nonsense(client, history, admin_sign_in, db, staff):
    async with db.transaction() as session:
        for n in range(55):
            await record_audit(session, actor_user_id=staff["admin@example.com"], action="chefs.create",
                               target_type="chef", target_id=n, station_id=history["fre"], after={"name": f"C{n}"})
    await admin_sign_in("admin@example.com")

    first = await client.get("/admin/audit")
    second = await client.get(re.search(r'href="(/admin/audit\?cursor=\d+)">Older entries', first.text)[1]
                              .replace("&amp;", "&"))
    nonsense = await client.get("/admin/audit", params={"station_id": "abc", "from": "yesterday", "cursor": "-1",
                                                        "to": "2026-13-45", "action": "x" * 500})
    foreign = await client.get("/admin/audit", params={"station_id": history["sac"]})

    assert len(rows(first.text)) == 50 and set(rows(first.text)) == {NEW_CHEF}
    assert rows(second.text)[:7] == [NEW_CHEF] * 5 + [RULES, CHEF]
    assert "Newest entries" in second.text
    assert nonsense.status_code == 200 and len(rows(nonsense.text)) == 50
    assert "90.00" not in foreign.text  # another station's: ignored, not shown


async def test_roles_without_audit_read_are_refused(client, history, admin_sign_in):
    await admin_sign_in("manager@example.com")

    assert (await client.get("/admin/audit")).status_code == 403


# --- my account -------------------------------------------------------------------------------------------------------


async def test_two_factor_sign_in_turned_on_then_asked_for_then_off(client, staff, admin_sign_in, db):
    await admin_sign_in("admin@example.com")
    account = read(await client.get("/admin/settings"))
    assert "Ada Admin" in account.text and "admin@example.com" in account.text
    assert "<strong>Off.</strong>" in account.text

    setup = await submit(client, account, ("go", "confirm"), form=account.forms[1])
    secret = setup.form.fields["secret"]
    assert secret and secret.replace(" ", "") in setup.text.replace(" ", "")
    assert "otpauth://totp/" in setup.text and setup.response.headers["cache-control"] == "no-store"
    wrong = await submit(client, setup, ("go", "confirm"), code="000000")
    assert wrong.response.status_code == 401 and "does not match" in wrong.errors["code"]
    assert not (await user(db, "admin@example.com")).totp_enabled and wrong.form.fields["secret"] == secret

    on = await submit(client, wrong, ("go", "confirm"), code=pyotp.TOTP(secret).now())
    assert "Two-factor sign-in is on" in on.text and (await user(db, "admin@example.com")).totp_enabled
    assert [e.after for e in await audit(db, "auth.totp_enable")] == [{"totp_enabled": True}]

    await client.post("/admin/logout", data={"csrf_token": await admin_csrf(client)})
    asked = await sign_in(client, "admin@example.com")
    assert "Code from your authenticator app" in asked.text and (await client.get("/admin")).status_code == 303
    signed = await submit(client, asked, None, totp_code=pyotp.TOTP(secret).now())
    assert "<h1>Dashboard" in signed.text

    off_page = read(await client.get("/admin/settings/totp/disable"))
    wrong_password = await submit(client, off_page, ("go", "confirm"), password="not-my-password")
    assert wrong_password.response.status_code == 401 and "wrong" in wrong_password.errors["password"]
    off = await submit(client, off_page, ("go", "confirm"), password=PASSWORD)
    assert "Two-factor sign-in is off" in off.text and not (await user(db, "admin@example.com")).totp_enabled


async def test_a_password_change_link_is_emailed(client, staff, admin_sign_in, settings):
    await admin_sign_in("manager@example.com")
    account = read(await client.get("/admin/settings"))

    sent = await submit(client, account, ("go", "confirm"), form=account.forms[-1])

    assert "We sent a link" in sent.text
    [mail] = [m for m in read_mails(settings) if m["To"] == "manager@example.com"]
    assert "/admin/set-password?token=" in mail_text(mail)
