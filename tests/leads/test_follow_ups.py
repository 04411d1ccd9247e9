"""Follow-up reminders (`leads.remind_follow_ups`): once per due follow-up, to the assignee or, unassigned, to the
station's staff who work leads; a new follow-up time is reminded again; closed or not yet due leads are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.core.email import SEND_EMAIL_TOPIC
from myhibachi.core.outbox import OutboxMessage
from myhibachi.leads.jobs import remind_follow_ups

API = "/api/v1"


@pytest.fixture
async def fremont(make_station):
    return await make_station("FRE")


@pytest.fixture
async def support(fremont, make_user, login):
    await make_user("support@example.com", Role.support, fremont, name="Sam Support")
    await make_user("manager@example.com", Role.manager, fremont)
    await make_user("chef@example.com", Role.chef, fremont)
    return await login("support@example.com")


async def new_lead(client, station, email: str) -> int:
    response = await client.post(f"{API}/leads", json={"station_id": station.id, "name": "Dana Reyes",
                                                       "email": email, "guests": 12})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def plan(client, headers, lead_id: int, **body) -> None:
    response = await client.patch(f"{API}/leads/{lead_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text


def hours(n: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=n)).isoformat()


async def reminders(db) -> list[tuple[str, str]]:
    async with db.transaction(write=False) as session:
        return [(m.payload["to"], m.payload["subject"]) for m in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == SEND_EMAIL_TOPIC).order_by(OutboxMessage.id))]


async def test_a_due_follow_up_reminds_the_assignee_once_and_again_when_moved(client, db, runtime, fremont, support):
    lead_id = await new_lead(client, fremont, "dana@example.com")
    me = (await client.get(f"{API}/auth/me", headers=support)).json()["id"]
    await plan(client, support, lead_id, assignee_id=me, next_follow_up_at=hours(-1))

    assert await remind_follow_ups(runtime.jobs) == 1
    assert await remind_follow_ups(runtime.jobs) == 0  # once
    assert await reminders(db) == [("support@example.com", f"Follow up with Dana Reyes — lead #{lead_id}")]

    await plan(client, support, lead_id, next_follow_up_at=hours(-0.5))
    assert await remind_follow_ups(runtime.jobs) == 1
    assert len(await reminders(db)) == 2


async def test_an_unassigned_lead_reminds_the_staff_who_work_leads(client, db, runtime, fremont, support):
    lead_id = await new_lead(client, fremont, "dana@example.com")
    await plan(client, support, lead_id, next_follow_up_at=hours(-1))

    assert await remind_follow_ups(runtime.jobs) == 1
    assert sorted(to for to, _ in await reminders(db)) == ["manager@example.com", "support@example.com"]


async def test_nothing_is_reminded_before_it_is_due_or_once_closed(client, db, runtime, fremont, support):
    later = await new_lead(client, fremont, "later@example.com")
    await plan(client, support, later, next_follow_up_at=hours(2))
    lost = await new_lead(client, fremont, "lost@example.com")
    await plan(client, support, lost, next_follow_up_at=hours(-1))
    await plan(client, support, lost, status="lost", lost_reason="price")

    assert await remind_follow_ups(runtime.jobs) == 0
    assert await reminders(db) == []
