"""What the live WebSockets (/ws/chat, /ws/staff) share: the Origin check done before accepting (a page of another
site must not open a socket with our visitor's cookies), the per-connection limits (frame size, frames per window:
an error event, then close 1008 if it goes on), heartbeats (`{"type": "ping"}` every WS_HEARTBEAT_SECONDS; a client
silent for WS_IDLE_SECONDS is dropped, 1001), and one loop that reads the client, forwards the hub's events and runs
the caller's periodic check side by side until any of them ends the connection."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import structlog
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from myhibachi.core.http import origin_of, trusted_origins
from myhibachi.core.realtime import Event, Overflowed, Subscription
from myhibachi.settings import Settings

log = structlog.get_logger(__name__)
POLICY = 1008  # refused: foreign origin, no sign-in, over the limits
GOING_AWAY = 1001  # dropped: silent too long
TRY_AGAIN = 1013  # fell behind its events: reconnect and read the history
STRIKES = 3  # frames over the limits before the socket is closed
Closing = tuple[int, str] | None  # a handler's verdict: close with (code, reason), or carry on


def secure(connection: HTTPConnection) -> bool:
    return connection.url.scheme in ("https", "wss")


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """The handshake comes from a page of this site: BASE_URL's origin, or the address the socket was opened at
    (as the same-origin check of forms). Browsers always send Origin on a WebSocket handshake: none is refused."""
    sent = websocket.headers.get("origin")
    page_url = str(websocket.url).replace("ws", "http", 1)  # ws:// -> http://, wss:// -> https://
    return sent is not None and origin_of(sent) in trusted_origins(settings.base_url, page_url)


async def refuse(websocket: WebSocket, reason: str) -> None:
    """Close before accepting: the client sees the handshake refused (HTTP 403)."""
    log.info("websocket_refused", path=websocket.url.path, reason=reason, origin=websocket.headers.get("origin"))
    await websocket.close(code=POLICY, reason=reason)


class FrameLimits:
    """Frame size and frames per sliding window, for one connection."""

    def __init__(self, settings: Settings) -> None:
        self.max_bytes = settings.ws_max_message_bytes
        self.per_window, self.window = settings.ws_messages_per_window, settings.ws_rate_window_seconds
        self._times: deque[float] = deque()
        self.strikes = 0

    def problem(self, size: int) -> str | None:
        """Why this frame is refused ("too_large", "rate_limited"), or None; a refused frame is a strike."""
        now = time.monotonic()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        found = ("too_large" if size > self.max_bytes
                 else "rate_limited" if len(self._times) >= self.per_window else None)
        if found:
            self.strikes += 1
        else:
            self._times.append(now)
        return found


ERRORS = {"too_large": "The message is too long.", "rate_limited": "Too many messages; please slow down.",
          "bad_message": "A message is a JSON object with a type."}
FrameHandler = Callable[[dict[str, Any]], Awaitable[Closing]]
EventHandler = Callable[[str, Event], Awaitable[Closing]]
Check = Callable[[], Awaitable[Closing]]


class LiveSocket:
    """An accepted socket: sends are serialized (several tasks send), and `run` serves it until it ends."""

    def __init__(self, websocket: WebSocket, settings: Settings) -> None:
        self.websocket, self.settings = websocket, settings
        self.limits = FrameLimits(settings)
        self._sending = asyncio.Lock()

    async def send(self, event: Event) -> None:
        async with self._sending:
            await self.websocket.send_text(json.dumps(event))

    async def error(self, code: str, detail: str) -> None:
        await self.send({"type": "error", "code": code, "detail": detail})

    async def run(self, subscription: Subscription, *, on_frame: FrameHandler, on_event: EventHandler,
                  check: Check | None = None, check_seconds: float = 30.0) -> None:
        loops = [self._read(on_frame), self._forward(subscription, on_event), self._heartbeat()]
        if check is not None:
            loops.append(self._every(check_seconds, check))
        tasks = [asyncio.create_task(loop) for loop in loops]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._close(self._verdict(done.pop(), self.websocket))

    # --- the loops: each returns how the connection ends ------------------------------------------------------------

    async def _read(self, on_frame: FrameHandler) -> Closing:
        while True:
            try:
                message = await asyncio.wait_for(self.websocket.receive(), self.settings.ws_idle_seconds)
            except TimeoutError:
                return GOING_AWAY, "idle"
            if message["type"] == "websocket.disconnect":
                return None
            raw = message.get("text") or message.get("bytes") or ""
            size = len(raw.encode() if isinstance(raw, str) else raw)
            frame = self._parsed(raw) if (problem := self.limits.problem(size)) is None else None
            if problem is None and frame is None:
                problem = "bad_message"
                self.limits.strikes += 1
            if problem is not None:
                if self.limits.strikes >= STRIKES:
                    return POLICY, problem
                await self.error(problem, ERRORS[problem])
                continue
            assert frame is not None
            if frame["type"] != "pong" and (closing := await on_frame(frame)) is not None:
                return closing

    @staticmethod
    def _parsed(raw: str | bytes) -> dict[str, Any] | None:
        if not isinstance(raw, str):
            return None
        try:
            frame = json.loads(raw)
        except ValueError:
            return None
        return frame if isinstance(frame, dict) and isinstance(frame.get("type"), str) else None

    async def _forward(self, subscription: Subscription, on_event: EventHandler) -> Closing:
        while True:
            try:
                channel, event = await subscription.get()
            except Overflowed:
                return TRY_AGAIN, "fell behind: reconnect"
            if (closing := await on_event(channel, event)) is not None:
                return closing

    async def _heartbeat(self) -> Closing:
        while True:
            await asyncio.sleep(self.settings.ws_heartbeat_seconds)
            await self.send({"type": "ping"})

    @staticmethod
    async def _every(seconds: float, check: Check) -> Closing:
        while True:
            await asyncio.sleep(seconds)
            if (closing := await check()) is not None:
                return closing

    @staticmethod
    def _verdict(task: asyncio.Task[Closing], websocket: WebSocket) -> Closing:
        if task.cancelled():
            return None
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, WebSocketDisconnect | OSError):  # the client went away while we sent
            return None
        if isinstance(exc, RuntimeError) and WebSocketState.DISCONNECTED in (websocket.client_state,
                                                                           websocket.application_state):
            return None  # Starlette's "cannot send once closed": the client went away between two sends
        log.error("websocket_failed", exc_info=exc)
        return 1011, "server error"

    async def _close(self, closing: Closing) -> None:
        if closing is None or self.websocket.application_state != WebSocketState.CONNECTED:
            return
        with suppress(Exception):  # the client may be gone already
            async with self._sending:
                await self.websocket.close(code=closing[0], reason=closing[1])
