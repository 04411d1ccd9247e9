"""Static assets with content hashes in their URLs, so browsers may cache them for a year and still never see a
stale file after a release."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
router = APIRouter(include_in_schema=False)


@cache
def fingerprints() -> dict[str, str]:
    """{"css/site.css": "css/site.3f9c2a1b.css"} for every file shipped in static/."""
    found = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            relative = path.relative_to(STATIC_DIR).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            found[relative] = f"{relative.rsplit('.', 1)[0]}.{digest}.{path.suffix.lstrip('.')}"
    return found


def asset_url(relative: str) -> str:
    """The URL of a shipped file (a template helper); unknown names fail loudly."""
    return f"/static/{fingerprints()[relative]}"


@router.get("/static/{name:path}")
async def static_file(name: str) -> Response:
    served = {fingerprinted: relative for relative, fingerprinted in fingerprints().items()}
    relative = served.get(name)
    if relative is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC_DIR / relative, headers={"Cache-Control": IMMUTABLE})
