"""The long-lived resources of one process (database, jobs, mail, throttles), built from settings."""

from __future__ import annotations

from myhibachi.core.db import Database
from myhibachi.core.email import mail_transport
from myhibachi.core.jobs import JobQueue
from myhibachi.core.outbox import OutboxContext
from myhibachi.core.ratelimit import FailureThrottle, limiter_storage
from myhibachi.settings import Settings


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.mail = mail_transport(settings.smtp_url, settings.mail_dir)
        self.jobs = JobQueue(settings, self.db, OutboxContext(settings=settings, mail=self.mail))
        storage = limiter_storage(settings.redis_url)
        window = settings.login_failure_window_seconds
        self.login_failures_by_ip = FailureThrottle(storage, "login-ip", settings.login_failures_per_ip, window)
        self.login_failures_by_account = FailureThrottle(
            storage, "login-account", settings.login_failures_per_account, window
        )
        self.password_resets_by_account = FailureThrottle(storage, "password-reset", 3, 3600)

    async def start(self) -> None:
        await self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.db.dispose()
