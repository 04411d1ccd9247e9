"""The throttles' limits: the README's defaults (settings table), and every throttle of the runtime built from its
settings, so that changing a setting changes the throttle; a reservation counts and refuses in one step, so
simultaneous callers cannot all pass a check before any of them is counted (on memory and on Redis). The throttles'
effect on each endpoint (429, Retry-After, what counts) is tested with the endpoints (tests/auth,
tests/api/test_problems.py, tests/bookings, tests/web)."""

from __future__ import annotations

import asyncio

import pytest

from myhibachi.core.errors import RateLimited
from myhibachi.core.ratelimit import Throttle
from myhibachi.settings import Settings

README_DEFAULTS = {
    "login_failures_per_account": 5,
    "login_failures_per_ip": 30,
    "login_failure_window_seconds": 15 * 60,
    "booking_holds_per_ip": 10,
    "booking_hold_window_seconds": 3600,
    "public_form_posts_per_ip": 120,
    "public_form_window_seconds": 600,
}

# Every value differs from its default and from the others, so a throttle built from a constant or from the wrong
# setting is caught; every window is below its default, so a default window would show in Retry-After.
CHANGED = {
    "login_failures_per_account": 2,
    "login_failures_per_ip": 3,
    "login_failure_window_seconds": 600,
    "booking_holds_per_ip": 4,
    "booking_hold_window_seconds": 1800,
    "public_form_posts_per_ip": 6,
    "public_form_window_seconds": 300,
}


def test_the_defaults_are_the_readmes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in README_DEFAULTS:
        monkeypatch.delenv(name.upper(), raising=False)

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]

    assert {name: getattr(defaults, name) for name in README_DEFAULTS} == README_DEFAULTS


async def assert_limits(throttle: Throttle, limit: int, window: int) -> None:
    """`limit` events inside the window are allowed, one more is refused for (nearly) the whole window."""
    for _ in range(limit):
        await throttle.reserve("203.0.113.7")
    await throttle.reserve("198.51.100.1")  # counted per key
    with pytest.raises(RateLimited) as refused:
        await throttle.reserve("203.0.113.7")
    retry_after = int(refused.value.headers["Retry-After"])
    assert window // 2 < retry_after <= window, (retry_after, window)


class TestThrottlesFollowTheSettings:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update=CHANGED)

    @pytest.mark.parametrize(("throttle", "limit", "window"), [
        ("login_failures_by_account", "login_failures_per_account", "login_failure_window_seconds"),
        ("login_failures_by_ip", "login_failures_per_ip", "login_failure_window_seconds"),
        ("booking_holds_by_ip", "booking_holds_per_ip", "booking_hold_window_seconds"),
        ("public_form_posts_by_ip", "public_form_posts_per_ip", "public_form_window_seconds"),
    ])
    async def test_each_throttle_takes_its_limit_and_window_from_the_settings(self, runtime, throttle: str,
                                                                               limit: str, window: str) -> None:
        assert runtime.settings.model_dump(include=set(CHANGED)) == CHANGED
        await assert_limits(getattr(runtime, throttle), CHANGED[limit], CHANGED[window])


async def test_password_reset_emails_are_three_per_account_an_hour(runtime) -> None:
    """Not a setting: README, "At most 3 reset emails per account per hour"."""
    await assert_limits(runtime.password_resets_by_account, 3, 3600)


async def outcomes(throttle: Throttle, key: str, attempts: int) -> list[bool]:
    """Reserve `attempts` times at once: True for each admitted, False for each refused."""
    async def attempt() -> bool:
        try:
            await throttle.reserve(key)
        except RateLimited:
            return False
        return True

    return list(await asyncio.gather(*(attempt() for _ in range(attempts))))


async def test_simultaneous_reservations_admit_exactly_the_limit(runtime) -> None:
    throttle = Throttle(runtime.booking_holds_by_ip.storage, "test-race", 10, 3600)

    admitted = await outcomes(throttle, "203.0.113.7", 15)

    assert admitted.count(True) == 10
    assert await outcomes(throttle, "203.0.113.7", 1) == [False]  # the refused ones were not counted as events


async def test_a_released_reservation_is_given_back_once(runtime) -> None:
    throttle = Throttle(runtime.booking_holds_by_ip.storage, "test-release", 2, 3600)
    first = await throttle.reserve("203.0.113.7")
    await throttle.reserve("203.0.113.7")

    await first.release()
    await first.release()  # a second release gives nothing more back

    assert await outcomes(throttle, "203.0.113.7", 2) == [True, False]


async def test_refusals_do_not_use_up_what_a_release_gives_back(runtime) -> None:
    """Refused reservations leave the count at the limit, so one release admits exactly one more."""
    throttle = Throttle(runtime.booking_holds_by_ip.storage, "test-refusals", 3, 3600)
    reservations = [await throttle.reserve("203.0.113.7") for _ in range(3)]
    assert await outcomes(throttle, "203.0.113.7", 5) == [False] * 5

    await reservations[0].release()

    assert (await outcomes(throttle, "203.0.113.7", 5)).count(True) == 1
