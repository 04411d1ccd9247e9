"""The tracked links of campaign mail (SPEC §7): the open pixel `GET /t/o/{token}.gif` and the click redirect
`GET /t/c/{token}`. What a token means, and what is recorded, is newsletters.tracking's; here only the answers: a
1×1 GIF nobody caches, a redirect to the campaign's own URL, or the site's 404 for anything we did not sign."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from myhibachi.core.web import RuntimeDep
from myhibachi.newsletters.tracking import follow_click, record_open

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=120)]
# The smallest transparent GIF (1×1, one colour): what a mail client loading the pixel gets.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
NOT_CACHED = {"Cache-Control": "no-store, private"}  # each load is an open; a cache would swallow them


@router.get("/t/o/{token}.gif")
async def open_pixel(token: Token, runtime: RuntimeDep) -> Response:
    """A GET that writes, as the pixel is one: its own write transaction (a GET's unit of work only reads)."""
    async with runtime.db.transaction() as session:
        ours = await record_open(session, runtime.settings, token)
    if not ours:
        raise HTTPException(status_code=404)
    return Response(PIXEL, media_type="image/gif", headers=NOT_CACHED)


@router.get("/t/c/{token}")
async def click(token: Token, runtime: RuntimeDep) -> Response:
    async with runtime.db.transaction() as session:
        url = await follow_click(session, runtime.settings, token)
    if url is None:
        raise HTTPException(status_code=404)
    return RedirectResponse(url, status_code=302, headers=NOT_CACHED)
