"""Bookings: chef-aware availability, holding a date, and the booking lifecycle."""
