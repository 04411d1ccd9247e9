"""`JsonRoute`: a well-formed JSON body skips FastAPI's request handling, and every answer, right or wrong, is the one
FastAPI's own route gives."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi import routing as fastapi_routing
from pydantic import BaseModel, Field

from myhibachi.core.errors import DomainError, install_problem_handlers
from myhibachi.core.runtime import Runtime
from myhibachi.core.web import JsonRoute, RuntimeDep


class Party(BaseModel):
    adults: Annotated[int, Field(ge=1, le=50, strict=True)]
    children: Annotated[int, Field(ge=0, strict=True)] = 0
    zip_code: Annotated[str, Field(pattern=r"^\d{5}$")]
    notes: dict[str, int] = Field(default_factory=dict)


class Priced(BaseModel):
    guests: int
    zip_code: str
    runtime_seen: bool
    shares: list[float]


class TooMany(DomainError):
    status, code = 409, "too_many"


async def price(body: Party, runtime: RuntimeDep) -> Priced:
    if body.adults == 49:
        raise TooMany("Forty-nine is too many.")
    guests = body.adults + body.children
    return Priced(guests=guests, zip_code=body.zip_code, runtime_seen=isinstance(runtime, Runtime),
                  shares=[1 / guests] * min(guests, 3))


def app_with(route_class: type, runtime: Runtime) -> FastAPI:
    router = APIRouter(route_class=route_class)
    router.post("/price", response_model=Priced)(price)
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.runtime = runtime
    return app


BODIES = [
    (b'{"adults": 3, "children": 2, "zip_code": "94536"}', "application/json"),
    (b'{"adults": 3, "zip_code": "94536", "notes": {"a": 1}}', "application/json; charset=utf-8"),
    (b'{"adults": 49, "zip_code": "94536"}', "application/json"),  # the endpoint's own refusal
    (b'{"adults": "3", "zip_code": "94536"}', "application/json"),  # strict: a string is not a count
    (b'{"adults": 0, "zip_code": "9453"}', "application/json"),
    (b'{"zip_code": "94536"}', "application/json"),
    (b'{"adults": 3, "zip_code": "94536"', "application/json"),  # not JSON
    (b"\xff\xfe", "application/json"),  # not UTF-8
    (b"[1, 2]", "application/json"),
    (b"", "application/json"),
    (b'{"adults": 3, "zip_code": "94536"}', "text/plain"),
    (b'{"adults": 3, "zip_code": "94536"}', "application/merge-patch+json"),
    (b'{"adults": 3, "zip_code": "94536"}', None),
]


@pytest.mark.parametrize(("body", "content_type"), BODIES)
async def test_every_answer_is_the_one_fastapis_route_gives(runtime, body, content_type):
    headers = {"content-type": content_type} if content_type else {}
    answers = []
    for route_class in (fastapi_routing.APIRoute, JsonRoute):
        transport = httpx.ASGITransport(app=app_with(route_class, runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/price", content=body, headers=headers)
        answers.append((response.status_code, response.headers["content-type"], response.content))
    assert answers[1] == answers[0]


@pytest.mark.parametrize(("body", "fastapi_solves"), [(b'{"adults": 3, "zip_code": "94536"}', 0),
                                                      (b'{"adults": 0, "zip_code": "94536"}', 1)])
async def test_only_a_body_the_model_refuses_goes_through_fastapis_handling(runtime, monkeypatch, body,
                                                                             fastapi_solves):
    solved = []
    solve = fastapi_routing.solve_dependencies

    async def counting_solve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        solved.append(1)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi_routing, "solve_dependencies", counting_solve)
    transport = httpx.ASGITransport(app=app_with(JsonRoute, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/price", content=body, headers={"content-type": "application/json"})
    assert response.status_code == (200 if not fastapi_solves else 422)
    assert len(solved) == fastapi_solves


def test_an_endpoint_taking_more_than_a_body_and_the_runtime_is_refused_when_declared():
    router = APIRouter(route_class=JsonRoute)

    async def with_query(body: Party, page: Annotated[int, Query()] = 1) -> Priced:
        raise AssertionError

    with pytest.raises(TypeError, match="one body model"):
        router.post("/price", response_model=Priced)(with_query)


@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD"])
async def test_another_method_gets_fastapis_405(runtime, method):
    answers = []
    for route_class in (fastapi_routing.APIRoute, JsonRoute):
        transport = httpx.ASGITransport(app=app_with(route_class, runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.request(method, "/price", content=b'{"adults": 3, "zip_code": "94536"}',
                                            headers={"content-type": "application/json"})
        answers.append((response.status_code, response.headers.get("allow"), response.content))
    assert answers[1] == answers[0]
    assert answers[0][0] == 405


async def test_dependencies_of_the_including_router_still_run(runtime):
    """A JsonRoute included under a router's own dependencies (a sign-in) is served by FastAPI's handling, which runs
    them: the fast path would skip them."""

    async def signed_in() -> None:
        raise TooMany("Sign in first.")

    answers = []
    for route_class in (fastapi_routing.APIRoute, JsonRoute):
        router = APIRouter(route_class=route_class)
        router.post("/price", response_model=Priced)(price)
        app = FastAPI()
        install_problem_handlers(app)
        app.include_router(router, prefix="/staff", dependencies=[Depends(signed_in)])
        app.state.runtime = runtime
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.post("/staff/price", json={"adults": 3, "zip_code": "94536"})
        answers.append((response.status_code, response.json()["code"]))
    assert answers == [(409, "too_many")] * 2
