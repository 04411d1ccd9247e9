"""The actions on a booking, each with the one permission it needs: the commands authorize with it and
`queries.staff_actions` reports it, so the API, the admin pages and the permission tables cannot disagree. The
values are the actions' path segments in the API and the admin (`/bookings/{id}/assign-chef`)."""

from __future__ import annotations

from enum import StrEnum

from myhibachi.auth.permissions import Permission


class BookingAction(StrEnum):
    record_payment = "payment"
    confirm = "confirm"
    assign_chef = "assign-chef"
    unassign_chef = "unassign-chef"
    reschedule = "reschedule"
    change_party = "party"
    complete = "complete"
    no_show = "no-show"
    cancel = "cancel"
    decline_cancellation = "decline-cancellation"
    request_cancellation = "cancel-request"

    @property
    def permission(self) -> Permission:
        return PERMISSIONS[self]


PERMISSIONS: dict[BookingAction, Permission] = {
    BookingAction.record_payment: Permission.payments_record,
    BookingAction.confirm: Permission.payments_record,  # a waived or otherwise settled deposit
    BookingAction.assign_chef: Permission.chefs_manage,
    BookingAction.unassign_chef: Permission.chefs_manage,
    BookingAction.reschedule: Permission.bookings_write,
    BookingAction.change_party: Permission.bookings_write,
    BookingAction.complete: Permission.bookings_write,
    BookingAction.no_show: Permission.bookings_write,
    BookingAction.cancel: Permission.bookings_cancel,
    BookingAction.decline_cancellation: Permission.bookings_cancel,
    BookingAction.request_cancellation: Permission.bookings_cancel_request,
}
# Each action as what a role does, for the sentence that tells a staff member who may: "Only an admin can …".
DOING: dict[BookingAction, str] = {
    BookingAction.record_payment: "record payments",
    BookingAction.confirm: "confirm a booking without a payment",
    BookingAction.assign_chef: "assign chefs",
    BookingAction.unassign_chef: "unassign chefs",
    BookingAction.reschedule: "reschedule bookings",
    BookingAction.change_party: "change the guests or the menu",
    BookingAction.complete: "mark events completed",
    BookingAction.no_show: "mark no-shows",
    BookingAction.cancel: "cancel bookings",
    BookingAction.decline_cancellation: "decline cancellation requests",
    BookingAction.request_cancellation: "ask for a cancellation",
}
# What the customer's manage link may do itself (the link is their credential; SPEC §4 "Customer self-service").
CUSTOMER_ACTIONS = frozenset({BookingAction.reschedule, BookingAction.change_party, BookingAction.cancel})
