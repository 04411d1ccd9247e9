"""Leads: every door's inquiries, one open lead per station and contact, a pipeline, and explained scores."""
