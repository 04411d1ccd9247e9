"""Every domain's outbox handlers, periodic tasks and cross-domain providers, loaded in one place: the server, the
worker and the CLI import this so that each process can run whatever job it is handed."""

from myhibachi.assistant import jobs as assistant_jobs
from myhibachi.auth import jobs as auth_jobs
from myhibachi.automations import jobs as automations_jobs
from myhibachi.bookings import jobs as bookings_jobs
from myhibachi.inbox import commands as inbox_commands
from myhibachi.inbox import email as inbox_email
from myhibachi.inbox import meta as inbox_meta
from myhibachi.inbox import sms as inbox_sms
from myhibachi.inbox import web_chat as inbox_web_chat
from myhibachi.leads import jobs as leads_jobs
from myhibachi.newsletters import jobs as newsletters_jobs
from myhibachi.payments import jobs as payments_jobs
from myhibachi.payments import ledger as payments_ledger
from myhibachi.payments import queries as payments_queries
from myhibachi.payments import webhooks as payments_webhooks

__all__ = ["assistant_jobs", "auth_jobs", "automations_jobs", "bookings_jobs", "inbox_commands", "inbox_email",
           "inbox_meta",
           "inbox_sms", "inbox_web_chat", "leads_jobs", "newsletters_jobs", "payments_jobs", "payments_ledger",
           "payments_queries",
           "payments_webhooks"]
