"""Every table of the application, imported in one place for migrations and tests."""

from myhibachi.assistant.models import AssistantMemory
from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import AuthSession, PasswordToken, RefreshToken, StationMembership, User
from myhibachi.automations.models import Automation, AutomationMessage, AutomationStep, Enrollment
from myhibachi.bookings.models import Booking, BookingIdempotencyKey
from myhibachi.chefs.models import Chef, ChefTimeOff
from myhibachi.consent.models import ConsentEvent, OptOut, Suppression
from myhibachi.contacts.models import Contact, ContactHandle, ContactTag
from myhibachi.core.db import Base
from myhibachi.core.outbox import OutboxMessage
from myhibachi.inbox.models import CannedReply, Conversation, ConversationLabel, Message
from myhibachi.leads.models import FlowVisit, Lead, LeadActivity, LeadModel
from myhibachi.newsletters.models import BounceEvent, Campaign, CampaignRecipient, Segment, TrackingEvent
from myhibachi.payments.day_totals import PaymentDayTotal
from myhibachi.payments.models import DepositReminder, Payment, PaymentNotice, Refund, StripeEvent
from myhibachi.pricing.models import StationRules
from myhibachi.reviews.models import ContactTask, Feedback
from myhibachi.stations.models import Station

metadata = Base.metadata

__all__ = [
    "CannedReply", "Conversation", "ConversationLabel", "Message",
    "Automation", "AutomationMessage", "AutomationStep", "BounceEvent", "Campaign", "CampaignRecipient",
    "ContactTag", "ContactTask", "Enrollment", "Feedback", "OptOut", "Segment", "Suppression", "TrackingEvent",
    "AssistantMemory",
    "AuditEntry", "AuthSession", "Booking", "BookingIdempotencyKey", "Chef", "ChefTimeOff", "ConsentEvent", "Contact",
    "ContactHandle", "DepositReminder", "FlowVisit", "Lead", "LeadActivity", "LeadModel", "PaymentNotice",
    "OutboxMessage", "PasswordToken", "Payment", "PaymentDayTotal", "RefreshToken", "Refund", "Station", "StationRules",
    "StationMembership", "StripeEvent", "User",
    "metadata",
]
