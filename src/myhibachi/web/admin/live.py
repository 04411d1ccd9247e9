"""`/ws/staff`: the inbox as it happens, for the admin pages (SPEC §7 "Chat"). It takes the admin sign-in cookie and
the Origin of our own pages, and streams `{"type": "message" | "conversation", "conversation_id", "station_id", …}`
for the conversations of the stations where the staff member works the inbox (`engagement`). The sign-in is checked
again before each event and every WS_STAFF_RECHECK_SECONDS: signed out, deactivated, the cookie lapsed or no role
left that works the inbox, and the socket closes (1008); a station where the role was removed goes quiet at once.
Staff send `{"type": "typing", "conversation_id"}` while writing in a web chat thread: the visitor sees "typing"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.websockets import WebSocket

from myhibachi.auth.permissions import P
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import load_principal
from myhibachi.core.db import MAX_ID
from myhibachi.core.realtime import Event
from myhibachi.core.runtime import Runtime
from myhibachi.core.security import decode_token
from myhibachi.inbox.live import station_channel
from myhibachi.inbox.web_chat import staff_typing
from myhibachi.stations.models import Station
from myhibachi.web.admin import live_chat
from myhibachi.web.admin.session import TOKEN_KIND, cookie_name, signed_in
from myhibachi.web.sockets import POLICY, Closing, LiveSocket, origin_allowed, refuse

router = APIRouter()
router.include_router(live_chat.router)  # the widget's fragments: what it shows when this socket tells of a change
SIGNED_OUT: Closing = (POLICY, "signed out")


@router.websocket("/ws/staff")
async def staff_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not origin_allowed(websocket, runtime.settings):
        return await refuse(websocket, "foreign origin")
    async with runtime.db.session(write=False) as session:
        principal = await signed_in(websocket, session, runtime.settings)
        station_ids = list(await session.scalars(select(Station.id).order_by(Station.id)))
    watched = [sid for sid in station_ids if principal is not None and principal.can(P.engagement, sid)]
    if principal is None or not watched:
        return await refuse(websocket, "not signed in" if principal is None else "no inbox to watch")
    cookie = websocket.cookies.get(cookie_name(websocket), "")

    async def still_signed_in() -> Principal | None:
        """The staff member as they are now, while the cookie is unexpired and the sign-in lives."""
        decoded = decode_token(cookie, runtime.settings.secret_key, TOKEN_KIND)
        if decoded is None:
            return None
        async with runtime.db.session(write=False) as check_session:
            now = await load_principal(check_session, decoded[0], decoded[1])
        return now if now is not None and any(now.can(P.engagement, sid) for sid in watched) else None

    async with runtime.live.subscribe(station_channel(sid) for sid in watched) as subscription:
        await websocket.accept()
        live = LiveSocket(websocket, runtime.settings)
        await live.send({"type": "ready", "station_ids": watched})

        async def on_event(_channel: str, event: Event) -> Closing:
            now = await still_signed_in()
            if now is None:
                return SIGNED_OUT
            if now.can(P.engagement, int(event["station_id"])):
                await live.send(event)
            return None

        async def check() -> Closing:
            return SIGNED_OUT if await still_signed_in() is None else None

        async def on_frame(frame: dict[str, Any]) -> Closing:
            conversation_id = frame.get("conversation_id")
            if frame["type"] != "typing" or type(conversation_id) is not int or not 0 < conversation_id <= MAX_ID:
                await live.error("unknown_type", 'Staff send `{"type": "typing", "conversation_id"}` (and `pong`).')
                return None
            if (now := await still_signed_in()) is None:
                return SIGNED_OUT
            async with runtime.db.session(write=False) as session:
                told = await staff_typing(session, runtime.live, now, conversation_id)
            if not told:
                await live.error("not_found", "No web chat conversation of yours has that id.")
            return None

        await live.run(subscription, on_frame=on_frame, on_event=on_event, check=check,
                       check_seconds=runtime.settings.ws_staff_recheck_seconds)
