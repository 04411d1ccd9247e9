"""Customers: the people who book events, found by email (no password, no account)."""
