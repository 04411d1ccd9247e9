"""A process told to stop stops: each resource's release is bounded, and one that never finishes is logged by name
while the others are still released."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from myhibachi.core import runtime as runtime_module
from myhibachi.core.runtime import Runtime
from myhibachi.settings import Settings


async def test_a_release_that_never_finishes_is_logged_and_the_rest_still_released(settings: Settings,
                                                                                    monkeypatch: pytest.MonkeyPatch):
    runtime = Runtime(settings)
    await runtime.start()
    released = []

    async def never() -> None:
        await asyncio.Event().wait()

    async def live_closed() -> None:
        released.append("live events")

    monkeypatch.setattr(runtime_module, "STOP_STEP_SECONDS", 0.05)
    monkeypatch.setattr(runtime.cache, "close", never)
    monkeypatch.setattr(runtime.live, "close", live_closed)
    with capture_logs() as logs:
        await runtime.stop()
    assert [entry["step"] for entry in logs if entry["event"] == "runtime_stop_step_timed_out"] == ["cache"]
    assert released == ["live events"]
