"""The website chat's live side (SPEC §7 "Chat"). The widget first calls `GET /api/v1/chat/session`, which gives a
new visitor their signed, HttpOnly cookie (a WebSocket handshake cannot set one reliably: browsers ignore Set-Cookie
on a refused or upgraded handshake in places) and keeps a known visitor's; then it opens `/ws/chat`, which takes the
visitor from that cookie, refuses other sites' pages (Origin), sends the latest messages (`history`, so a reconnect
resumes) and then every message of their chat as it happens; `?station=CODE` says whose page it is on (a new
thread starts there). The visitor sends `{"type": "message", "body", "id"}`
(`id`: the widget's own, so a resend after a reconnect is stored once) and gets `{"type": "ack", "id",
"message_id"}`; `{"type": "typing"}` while they write tells the station's staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from myhibachi.core.errors import DomainError, NotFound
from myhibachi.core.realtime import Event
from myhibachi.core.runtime import Runtime
from myhibachi.core.web import RuntimeDep
from myhibachi.inbox.live import visitor_channel
from myhibachi.inbox.web_chat import (
    new_visitor_id,
    receive_visitor_message,
    visitor_cookie,
    visitor_from_cookie,
    visitor_history,
    visitor_typing,
)
from myhibachi.stations.queries import find_active_station
from myhibachi.web.sockets import Closing, LiveSocket, origin_allowed, refuse, secure

router = APIRouter()  # the socket
public = APIRouter(prefix="/chat", tags=["inbox"])  # the cookie, under /api/v1 (a public router: app.py)
SOCKET_PATH = "/ws/chat"


class ChatSession(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"socket": "/ws/chat", "new_visitor": True}]})

    socket: str = Field(description="The WebSocket to open next (same host).")
    new_visitor: bool = Field(description="The cookie was made now: no history yet.")


def cookie_name(connection: HTTPConnection) -> str:
    return "__Host-mh_chat" if secure(connection) else "mh_chat"


@public.get("/session", summary="The website chat's visitor cookie", response_model=ChatSession)
async def chat_session(request: Request, response: Response, runtime: RuntimeDep) -> ChatSession:
    """Gives the website chat's visitor their cookie (kept if they have one already): call it before opening
    `/ws/chat`. The cookie is renewed for `CHAT_VISITOR_DAYS` on each call."""
    settings = runtime.settings
    visitor = visitor_from_cookie(settings.secret_key, request.cookies.get(cookie_name(request)))
    new = visitor is None
    visitor = visitor or new_visitor_id()
    response.set_cookie(cookie_name(request), visitor_cookie(settings.secret_key, visitor),
                        max_age=settings.chat_visitor_days * 86400, httponly=True, samesite="lax", path="/",
                        secure=secure(request))
    response.headers["Cache-Control"] = "no-store"
    return ChatSession(socket=SOCKET_PATH, new_visitor=new)


@router.websocket(SOCKET_PATH)
async def chat_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    settings = runtime.settings
    if not origin_allowed(websocket, settings):
        return await refuse(websocket, "foreign origin")
    visitor = visitor_from_cookie(settings.secret_key, websocket.cookies.get(cookie_name(websocket)))
    if visitor is None:
        return await refuse(websocket, "no chat session")
    ip = websocket.client.host if websocket.client else "unknown"
    async with runtime.live.subscribe([visitor_channel(visitor)]) as subscription:  # before the history: no gap
        async with runtime.db.session(write=False) as session:
            try:
                station_id = await _station_asked(session, websocket.query_params.get("station"))
            except NotFound:
                return await refuse(websocket, "no such station")
            history = await visitor_history(session, visitor, settings.chat_history_messages)
        await websocket.accept()
        live = LiveSocket(websocket, settings)
        await live.send({"type": "history", "messages": history})

        async def on_frame(frame: dict[str, Any]) -> Closing:
            if frame["type"] == "typing":
                async with runtime.db.session(write=False) as session:
                    await visitor_typing(session, runtime.live, visitor)
            elif frame["type"] == "message":
                await _visitor_message(runtime, live, Sending(visitor, ip, station_id), frame)
            else:
                await live.error("unknown_type", 'The chat takes {"type": "message", "body", "id"} and '
                                                 '{"type": "typing"}.')
            return None

        async def on_event(_channel: str, event: Event) -> Closing:
            await live.send(event)
            return None

        await live.run(subscription, on_frame=on_frame, on_event=on_event)


@dataclass(frozen=True)
class Sending:
    """Who sends on this socket: the visitor, from which address, on which station's page."""

    visitor: str
    ip: str
    station_id: int | None


async def _station_asked(session: AsyncSession, code: str | None) -> int | None:
    """The station whose page the chat is on (`/ws/chat?station=FRE`), if it says."""
    if not code:
        return None
    if not (code.isascii() and code.isalnum() and len(code) <= 20):  # never a query with junk in it
        raise NotFound("No such station.")
    return (await find_active_station(session, code)).id


async def _visitor_message(runtime: Runtime, live: LiveSocket, sending: Sending, frame: dict[str, Any]) -> None:
    body, client_id = frame.get("body"), frame.get("id")
    if not isinstance(body, str) or not (client_id is None or isinstance(client_id, str)):
        await live.error("validation_error", "A message has a text `body` and may have a text `id`.")
        return
    try:
        await runtime.chat_messages_by_ip.reserve(sending.ip)
        async with runtime.jobs.unit_of_work() as session:
            received = await receive_visitor_message(session, sending.visitor, client_id, body,
                                                     station_id=sending.station_id)
    except DomainError as exc:
        await live.error(exc.code, exc.errors[0].message if exc.errors else exc.detail)
        return
    await live.send({"type": "ack", "id": client_id,
                     "message_id": received.message.id if received else None, "duplicate": received is None})
