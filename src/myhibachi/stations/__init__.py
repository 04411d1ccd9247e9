"""Stations: the business's bases, each with its time zone, address and staff."""
