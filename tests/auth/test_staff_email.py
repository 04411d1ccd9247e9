"""A staff invite's address (issue 14, item 8): stored in its normal form, and refused when it mixes alphabets
the way a look-alike of a colleague's address does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from tests.api.test_problems import assert_problem
from tests.conftest import mail_files


@pytest.fixture
async def admin(make_station, make_user, login):  # noqa: ANN201
    station = await make_station("FRE")
    await make_user("admin@example.com", Role.admin, station)
    return station, await login("admin@example.com")


async def counts(db) -> tuple[int, int]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return (await session.scalar(select(func.count()).select_from(User)),
                await session.scalar(select(func.count()).select_from(AuditEntry)))


@pytest.mark.parametrize(("email", "scripts", "part"), [
    ("\u0430dmin@example.com", "Cyrillic and Latin", "name"),  # a Cyrillic "а" leading a Latin name
    ("kenji@ex\u0430mple.com", "Cyrillic and Latin", "domain"),
    ("kenji@\u03bfrder.example.com", "Greek and Latin", "domain"),  # a Greek omicron for "o"
])
async def test_an_invite_to_a_mixed_script_address_is_refused(client, admin, db, settings, email, scripts, part):
    station, headers = admin
    before = await counts(db)

    response = await client.post("/api/v1/users", headers=headers, json={
        "email": email, "name": "Kenji Tanaka", "role": "chef", "station_id": station.id})

    body = assert_problem(response, 422, "validation_error")
    [error] = body["errors"]
    assert error["field"] == "body.email"
    assert f"mixes alphabets ({scripts}) in its {part}" in error["message"]
    assert await counts(db) == before and not mail_files(settings)


@pytest.mark.parametrize(("email", "stored"), [
    ("\uff2b\uff45\uff4e\uff4a\uff49@Example.COM", "kenji@example.com"),  # full-width letters fold to ASCII
    ("\u0434\u0438\u043c\u0430@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "дима@пример.рф"),  # all Cyrillic
    ("\u3051\u3093\u3058\u5c71\u7530@example.com", "けんじ山田@example.com"),  # Hiragana with Han (and Latin)
])
async def test_an_invite_address_in_one_writing_system_is_kept_in_its_normal_form(client, admin, email, stored):
    station, headers = admin

    response = await client.post("/api/v1/users", headers=headers, json={
        "email": email, "name": "Kenji Tanaka", "role": "chef", "station_id": station.id})

    assert response.status_code == 201, response.text
    assert response.json()["email"] == stored


async def test_a_control_character_or_line_break_in_a_staff_name_is_refused(client, admin, db):
    station, headers = admin
    before = await counts(db)
    for name in ("Kenji\r\nBcc: eve@example.com", "Kenji\x00"):
        response = await client.post("/api/v1/users", headers=headers, json={
            "email": "kenji@example.com", "name": name, "role": "chef", "station_id": station.id})
        [error] = assert_problem(response, 422, "validation_error")["errors"]
        assert error["field"] == "body.name"
    assert await counts(db) == before
