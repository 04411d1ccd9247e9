"""Entry point of `myhibachi worker`: the taskiq broker, built from settings, with the outbox sweeper."""

from myhibachi import tasks  # noqa: F401 - every domain's handlers and periodic tasks
from myhibachi.core.jobs import worker_broker

broker = worker_broker()
