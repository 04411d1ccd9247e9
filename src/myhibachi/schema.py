"""Every table of the application, imported in one place for migrations and tests."""

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import AuthSession, PasswordToken, RefreshToken, StationMembership, User
from myhibachi.bookings.models import Booking, BookingIdempotencyKey
from myhibachi.chefs.models import Chef, ChefTimeOff
from myhibachi.consent.models import ConsentEvent
from myhibachi.contacts.models import Contact, ContactHandle
from myhibachi.core.db import Base
from myhibachi.core.outbox import OutboxMessage
from myhibachi.leads.models import FlowVisit, Lead, LeadActivity, LeadModel
from myhibachi.payments.models import DepositReminder, Payment, PaymentNotice, Refund, StripeEvent
from myhibachi.pricing.models import StationRules
from myhibachi.stations.models import Station

metadata = Base.metadata

__all__ = [
    "AuditEntry", "AuthSession", "Booking", "BookingIdempotencyKey", "Chef", "ChefTimeOff", "ConsentEvent", "Contact",
    "ContactHandle", "DepositReminder", "FlowVisit", "Lead", "LeadActivity", "LeadModel", "PaymentNotice",
    "OutboxMessage", "PasswordToken", "Payment", "RefreshToken", "Refund", "Station", "StationRules",
    "StationMembership", "StripeEvent", "User",
    "metadata",
]
