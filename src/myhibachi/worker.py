"""Entry point of `myhibachi worker`: the taskiq broker, built from settings, with the outbox sweeper."""

from myhibachi.bookings import jobs as bookings_jobs  # noqa: F401 - registers the periodic booking tasks
from myhibachi.core.jobs import worker_broker

broker = worker_broker()
