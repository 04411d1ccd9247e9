"""FastAPI glue shared by every router: the per-request unit of work and access to the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any, cast, get_type_hints

from fastapi import APIRouter, Depends, Path, Request
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette._utils import get_route_path
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from myhibachi.core.cache import CACHE_KEY
from myhibachi.core.db import MAX_ID, Database
from myhibachi.core.errors import DomainError
from myhibachi.core.outbox import forget_pending_ids, take_pending_ids
from myhibachi.core.runtime import Runtime

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A record id in the path; out-of-range numbers are a 422 before they reach the database.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


class PathGroup(APIRouter):
    """Routers whose paths all start with `path_prefix`, skipped at once for any other path. FastAPI tries every
    route of every included router in turn, so without it `GET /health` was matched against each API route first:
    two thirds of its time."""

    def __init__(self, path_prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path_prefix = path_prefix

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.path_prefix):
            return Match.NONE, {}
        return super().matches(scope)

    def _get_routes_version(self, seen: set[int] | None = None) -> int:
        """The group's own version, not the sum over every router below it. FastAPI sums them on each request, to
        notice a route added after inclusion, which cost an API request ~300 checks. Each included router still
        notices its own new routes (its branch checks its own version); only a frontend route group added deep
        below after inclusion would go unseen, and this app has none."""
        return self._routes_version


class InputlessRoute(APIRoute):
    """A route whose endpoint takes no input and returns its own Response (a liveness probe): served by calling it,
    without FastAPI's request handling (its Request, exit stacks, dependency solving and response validation: most of
    such a request's time); exceptions reach the app's handlers. Documented in the OpenAPI like any other route."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # FastAPI's 405
            return
        response = await self.endpoint()
        await response(scope, receive, send)


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain function dependency in a worker thread, a hand-off that costs more than this
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class JsonRoute(APIRoute):
    """A route whose endpoint takes one JSON body model (and the runtime, if it asks for it) and returns its response
    model: a well-formed request is parsed by the model's own JSON validator, handed to the endpoint and its answer
    dumped by the serializer of the type it returns, without FastAPI's request handling (its exit stacks, body parsing,
    dependency solving and response validation: 40 % of a quote's time); exceptions reach the app's handlers. Any
    other request (another method, no or another content type, a body the model refuses) is served by FastAPI's own
    handling, so its answers are FastAPI's to the byte. Documented like any route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # (called by APIRoute's __init__ once the dependant is built, and for each inclusion): FastAPI's own handler,
        # for what `handle` passes on; the fast path's parts are made here too, once.
        self._inputs = _json_route_inputs(self)
        self._body_model = self.dependant.body_params[0].field_info.annotation
        # What the endpoint says it returns, when it says: a type whose JSON is the response model's (a domain
        # object dumped as it is, say), else the response model itself
        returns = get_type_hints(self.endpoint, include_extras=True).get("return", self.response_model)
        self._dump_json = TypeAdapter(returns).dump_json
        return super().get_route_handler()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.methods or self._included_with_dependencies(scope) or \
                _media_type(scope) != b"application/json":
            await super().handle(scope, receive, send)
            return
        raw = await _whole_body(receive)
        try:
            body = self._body_model.model_validate_json(raw)
        except ValidationError:
            await super().handle(scope, _replaying(raw, receive), send)
            return
        body_name, runtime_name = self._inputs
        inputs = {body_name: body}
        if runtime_name is not None:
            inputs[runtime_name] = scope["app"].state.runtime
        answer = self._dump_json(await self.endpoint(**inputs))
        await send({"type": "http.response.start", "status": self.status_code or 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})

    def _included_with_dependencies(self, scope: Scope) -> bool:
        """Whether the router it was included by adds dependencies of its own (a sign-in, say): only FastAPI's
        handling runs them. (FastAPI leaves the route as that inclusion sees it in the scope; `core.metrics` reads
        its template there.)"""
        chosen = scope.get("fastapi", {}).get("effective_route_context")
        return chosen is not None and len(chosen.dependant.dependencies) != len(self.dependant.dependencies)


def _media_type(scope: Scope) -> bytes:
    """The request's content type without its parameters (`; charset=utf-8`), as sent; b"" when it has none."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.partition(b";")[0].strip()
    return b""


async def _whole_body(receive: Receive) -> bytes:
    """A request's body, all of it (as Starlette's `Request.body`, without making a Request)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` of a request whose body was read already: the body again, then whatever comes next."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _json_route_inputs(route: APIRoute) -> tuple[str, str | None]:
    """The names of a JsonRoute endpoint's body and runtime parameters; TypeError for an endpoint taking more."""
    dependant = route.dependant
    runtimes = [dependency.name for dependency in dependant.dependencies if dependency.call is get_runtime]
    other_inputs = (dependant.path_params or dependant.query_params or dependant.header_params
                    or dependant.cookie_params or len(runtimes) != len(dependant.dependencies))
    if len(dependant.body_params) != 1 or other_inputs:
        raise TypeError(f"{route.path}: a JsonRoute's endpoint takes one body model and, optionally, the runtime")
    return dependant.body_params[0].name, runtimes[0] if runtimes else None


class PayloadTooLarge(DomainError):
    status, code = 413, "payload_too_large"


async def capped_body(request: Request, limit: int) -> bytes:
    """The raw body (a webhook's signature is over its exact bytes), refused (413) past `limit` bytes without
    reading the rest."""
    too_large = PayloadTooLarge(f"The body is larger than {limit // 1024:,} KB.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def unit_of_work(request: Request, runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: one commit after the handler, rollback on any error.

    Commands only flush. Jobs written to the outbox are enqueued once the commit has succeeded.
    """
    session = runtime.db.session(write=request.method not in READ_ONLY_METHODS)
    try:
        yield session
        if not session.in_transaction() and session.info.keys() <= {CACHE_KEY}:
            return  # served from caches: nothing began or was noted, so nothing to commit, close or announce
        await session.commit()
    except DomainError as exc:
        if not exc.keeps_changes:
            await session.rollback()
            forget_pending_ids(session)
            raise
        await session.commit()
        await runtime.db.committed(session)
        await runtime.jobs.enqueue_outbox(take_pending_ids(session))
        raise
    except BaseException:
        await session.rollback()
        forget_pending_ids(session)
        raise
    finally:
        await _close_if_used(session)
    await runtime.db.committed(session)
    await runtime.jobs.enqueue_outbox(take_pending_ids(session))


@asynccontextmanager
async def reading(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A read session for a public handler that writes nothing and is mostly served from caches, opened in the
    handler instead of through the unit of work: FastAPI's generator dependencies cost such a request a quarter of
    its time. Made on first use and closed only if it was used."""
    lazy = LazyReadSession(runtime.db)
    try:
        yield cast(AsyncSession, lazy)  # it stands in for one: every use but `info` reaches a real session
    finally:
        if lazy.made is not None:
            await _close_if_used(lazy.made)


class LazyReadSession:
    """A read session that is only made when something besides the cache lookup (`info`) needs it: a request
    answered from the near cache (a quote: its station and rules) never does, and making an AsyncSession cost such a
    request a twelfth of its time."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.made: AsyncSession | None = None
        self.info: dict[str, Any] = {CACHE_KEY: db.cache} if db.cache is not None else {}

    def __getattr__(self, name: str) -> Any:  # only for what the instance lacks: anything but `info` and `made`
        if self.made is None:
            self.made = self._db.session(write=False)
            self.info = self.made.info  # one dict from now on: tags noted by a flush are seen by the cache lookup
        return getattr(self.made, name)


async def _close_if_used(session: AsyncSession) -> None:
    """Closing a session nothing used still runs through SQLAlchemy's greenlet: a quarter of a cached quote's time."""
    if session.in_transaction() or session.identity_map:
        await session.close()


async def discard_changes(session: AsyncSession) -> None:
    """For a handler that catches a domain error to show it on a page: undo what the failed command wrote, so
    the unit of work has nothing half-done to commit."""
    await session.rollback()
    forget_pending_ids(session)


# scope="function": commit before the response is sent, so a failed commit is an error response.
DbSession = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
