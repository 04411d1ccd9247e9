"""The long-lived resources of one process (database, jobs, mail, throttles), built from settings."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog

from myhibachi.core.cache import cache_for
from myhibachi.core.changes import RedisChanges, changes_for
from myhibachi.core.db import Database
from myhibachi.core.email import mail_transport
from myhibachi.core.jobs import JobQueue
from myhibachi.core.outbox import OutboxContext
from myhibachi.core.ratelimit import Throttle, limiter_storage
from myhibachi.core.realtime import hub_for
from myhibachi.settings import Settings

log = structlog.get_logger(__name__)
STOP_STEP_SECONDS = 10.0


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = cache_for(settings.redis_url, settings.cache_ttl_reference_seconds)
        self.changes = changes_for(settings.redis_url)
        self.live = hub_for(settings.redis_url)  # chat and inbox events for open WebSockets
        self.db = Database(settings.database_url, cache=self.cache, changes=self.changes, live=self.live)
        self.mail = mail_transport(settings.smtp_url, settings.mail_dir)
        self.jobs = JobQueue(settings, self.db, OutboxContext(settings=settings, mail=self.mail, live=self.live))
        storage = limiter_storage(settings.redis_url)
        window = settings.login_failure_window_seconds
        self.login_failures_by_ip = Throttle(storage, "login-ip", settings.login_failures_per_ip, window)
        self.login_failures_by_account = Throttle(
            storage, "login-account", settings.login_failures_per_account, window
        )
        self.password_resets_by_account = Throttle(storage, "password-reset", 3, 3600)
        # Unpaid holds take chefs off the market for a day: a client may not hold more than a few an hour.
        self.booking_holds_by_ip = Throttle(storage, "booking-hold-ip", settings.booking_holds_per_ip,
                                            settings.booking_hold_window_seconds)
        self.public_form_posts_by_ip = Throttle(storage, "public-form-ip", settings.public_form_posts_per_ip,
                                                settings.public_form_window_seconds)
        # A website visitor's first message makes a contact and a lead: a client address may send only so many.
        self.chat_messages_by_ip = Throttle(storage, "chat-message-ip", settings.chat_messages_per_ip,
                                            settings.chat_message_window_seconds)
        # A campaign's test send mails any address a staff member types: a few an hour each.
        self.campaign_tests_by_user = Throttle(storage, "campaign-test", 20, 3600)
        self._following: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.jobs.start()
        if isinstance(self.changes, RedisChanges):  # other processes' commits drop this one's near-cached data
            self._following = asyncio.create_task(self.changes.follow(self.cache.near))
            with suppress(TimeoutError):  # serve at once either way; the near cache joins once it hears
                await asyncio.wait_for(self.cache.near.heard.wait(), 2.0)

    async def stop(self) -> None:
        """Release everything, each step bounded: a process told to stop must stop, and a step that hangs (a
        connection whose peer never answers) is logged by name instead of holding the shutdown forever."""
        if self._following is not None:
            self._following.cancel()
        steps = {"change feed listener": self._stopped_following(), "jobs": self.jobs.stop(),
                 "database": self.db.dispose(), "cache": self.cache.close(), "change feed": self.changes.close(),
                 "live events": self.live.close()}
        for name, step in steps.items():
            try:
                await asyncio.wait_for(step, STOP_STEP_SECONDS)
            except TimeoutError:
                log.error("runtime_stop_step_timed_out", step=name, seconds=STOP_STEP_SECONDS)

    async def _stopped_following(self) -> None:
        if self._following is not None:
            with suppress(asyncio.CancelledError):
                await self._following
