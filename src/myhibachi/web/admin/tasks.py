"""Admin: marking a follow-up task done (from the dashboard's "Tasks due" panel or the contact's page), through the
reviews domain; and how a task's times are shown (the station's clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.core.web import PathId
from myhibachi.reviews.commands import complete_task
from myhibachi.stations.models import Station
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, submit

router = APIRouter(include_in_schema=False)


def task_clock(stations: list[Station]) -> Callable[[datetime, int], str]:
    """A task's instant in its station's time zone."""
    zones = {s.id: s.timezone for s in stations}
    return lambda moment, station_id: local_time(moment, zones.get(station_id, "UTC"))


def _back(where: str) -> str:
    """Only an admin page of ours (no other site, no scheme-relative "//" address)."""
    return where if where.startswith("/admin") and not where.startswith("//") and "\\" not in where else "/admin"


@router.post("/admin/tasks/{task_id}/done", response_class=HTMLResponse)
async def task_done(task_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        await complete_task(visit.session, visit.principal, task_id)
        return _back(form.get("back", "/admin"))

    async def refused(_: dict[str, str], trouble: Trouble | None) -> Response:
        return await visit.page("denied.html", title="Not possible", status=trouble.status if trouble else 400,
                                heading="Not possible", detail=trouble.message if trouble else "")

    return await submit(visit, act=act, show=refused)
