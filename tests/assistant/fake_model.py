"""A local stand-in for an OpenAI-compatible endpoint (`POST /v1/chat/completions`), served by uvicorn on loopback:
each request gets the next scripted answer (tool calls, a phrased answer, an HTTP error, a slow answer), and the
requests are kept for the test to read."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Step = Callable[[dict[str, Any]], Awaitable[Response]]


def completion(message: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"id": "chatcmpl-test", "object": "chat.completion", "model": "fake",
                         "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                      "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}]})


def calls(*picked: tuple[str, dict[str, Any] | str]) -> Step:
    """Answers with these tool calls (arguments as JSON text, as the API sends them)."""
    async def answer(_body: dict[str, Any]) -> Response:
        return completion({"content": None, "tool_calls": [
            {"id": f"call_{n}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for n, (name, args) in enumerate(picked)]})
    return answer


def says(text: str) -> Step:
    async def answer(_body: dict[str, Any]) -> Response:
        return completion({"content": text})
    return answer


def fails(status: int) -> Step:
    async def answer(_body: dict[str, Any]) -> Response:
        return JSONResponse({"error": {"message": "boom"}}, status_code=status)
    return answer


def after(wait: Callable[[], Awaitable[object]], then: Step) -> Step:
    """Answers as `then` once `wait()` is done (a sleep, or an event the test sets)."""
    async def answer(body: dict[str, Any]) -> Response:
        await wait()
        return await then(body)
    return answer


class FakeModel:
    def __init__(self) -> None:
        self.script: list[Step] = []
        self.requests: list[dict[str, Any]] = []
        self.asked = asyncio.Event()  # set when a request arrives
        self.arrived = asyncio.Condition()
        self.url = ""

    async def wait_for_requests(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.requests) >= count), 10)

    async def endpoint(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.asked.set()
        async with self.arrived:
            self.arrived.notify_all()
        step = self.script.pop(0) if self.script else fails(503)
        return await step(body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def fake_model() -> AsyncIterator[FakeModel]:
    fake = FakeModel()
    port = free_port()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}/v1"
    yield fake
    server.should_exit = True
    await task


def use_model(runtime, fake: FakeModel, **settings: Any) -> None:  # noqa: ANN001
    """The app's reply jobs call the fake endpoint from now on."""
    if isinstance(settings.get("llm_api_key"), str):
        settings["llm_api_key"] = SecretStr(settings["llm_api_key"])
    runtime.jobs.settings = runtime.jobs.settings.model_copy(update={
        "llm_base_url": fake.url, "llm_api_key": None, "llm_timeout_seconds": 5.0, **settings})
